# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A backend's health: the figures of its Overview card, the alerts that
reach its responsible without Prometheus, the retention of its inbox, and
what its jobs record for the metrics (last successful poll and push, push
lag samples, calls to the channel's API).

Alerts are activities on the backend, one per condition (not one per
event), opened by the health cron (every minute) when a threshold is
crossed and marked done by it once the condition clears. The thresholds and
what each one means are under *Operations > Monitoring* in the README.
"""

import datetime
import logging
import threading
import time

from odoo import _, api, fields, models

from ..lib import metrics as lib
from ..services import metrics
from .marketplace_stock_push_sample import SAMPLE_RETENTION_DAYS

_logger = logging.getLogger(__name__)

#: rows deleted per statement (and per transaction) by the retention purge
PURGE_BATCH = 2000
#: a purge run stops after this long; the next day's run goes on
PURGE_SECONDS = 600


def _epoch_to_datetime(value):
    if not value:
        return False
    return datetime.datetime.fromtimestamp(value, datetime.UTC).replace(
        tzinfo=None, microsecond=0
    )


class MarketplaceBackend(models.Model):
    _inherit = "marketplace.backend"

    def _alert_summaries(self):
        """The activity summary of each alert. Failed events and escalations
        share theirs with the activities the connector already raises at the
        first failure and at each escalating reconciliation: one activity each,
        whoever opens it. A method, so that ``_`` finds the language (a
        cron has no request)."""
        return {
            lib.ALERT_QUEUE_LAG: _("Marketplace imports lag behind"),
            lib.ALERT_FAILED_EVENTS: _("Marketplace events failed"),
            lib.ALERT_POLL_FAILING: _("Marketplace polling fails"),
            lib.ALERT_PUSH_FAILING: _("Marketplace stock pushes fail"),
            lib.ALERT_ESCALATIONS: _("Stock drift to review"),
        }

    event_retention_days = fields.Integer(
        string="Keep Processed Events (days)",
        default=30,
        help="Done and ignored events older than this are deleted every night "
        "with their finished jobs. Failed and dead events are kept until "
        "they are handled. 0 keeps everything.",
    )
    alert_queue_lag_minutes = fields.Integer(
        string="Alert: Queue Lag (min)",
        default=15,
        help="An activity when the oldest queued event is older than this. "
        "0: no alert.",
    )
    alert_failed_events = fields.Integer(
        string="Alert: Failed Events",
        default=1,
        help="An activity when this many events are failed or dead. 0: no alert.",
    )
    alert_poll_failing_minutes = fields.Integer(
        string="Alert: Poll Failing (min)",
        default=30,
        help="An activity when polling is on and has not succeeded for this "
        "long. 0: no alert.",
    )
    alert_push_failing_minutes = fields.Integer(
        string="Alert: Push Failing (min)",
        default=15,
        help="An activity when a stock change has waited this long for its "
        "push. 0: no alert.",
    )
    alert_escalations = fields.Integer(
        string="Alert: Escalations",
        default=1,
        help="An activity when the last reconciliation escalated this many "
        "levels. 0: no alert.",
    )
    last_poll_success_at = fields.Datetime(readonly=True, copy=False)

    health_state = fields.Selection(
        [("ok", "OK"), ("alert", "Alert")], compute="_compute_health"
    )
    health_alerts = fields.Char(compute="_compute_health")
    health_intake_ok = fields.Boolean(
        compute="_compute_health",
        help="No delivery was answered 503 (not stored) since the last one stored.",
    )
    health_intake_errors = fields.Integer(compute="_compute_health")
    health_last_delivery_at = fields.Datetime(compute="_compute_health")
    health_queue_depth = fields.Integer(compute="_compute_health")
    health_queue_lag_minutes = fields.Float(compute="_compute_health", digits=(12, 1))
    health_failed_count = fields.Integer(compute="_compute_health")
    health_last_push_at = fields.Datetime(compute="_compute_health")
    health_push_pending_minutes = fields.Float(
        compute="_compute_health", digits=(12, 1)
    )
    health_last_reconciliation_at = fields.Datetime(compute="_compute_health")
    health_escalated = fields.Integer(compute="_compute_health")
    health_throttled = fields.Integer(
        compute="_compute_health", help="Calls the channel throttled, in all."
    )

    # Health

    def _health_figures(self):
        return metrics.read_health(self.env.cr, self.ids)

    def _health(self, figures):
        """The :class:`~..lib.metrics.Health` of this backend."""
        self.ensure_one()
        now = fields.Datetime.now()
        poll_failing = 0.0
        if self.poll_enabled:
            since = self.last_poll_success_at or self.create_date or now
            poll_failing = (now - since).total_seconds()
        return lib.Health(
            queue_lag_seconds=figures["queue_lag"],
            failed_events=figures["failed"],
            poll_failing_seconds=poll_failing,
            push_pending_seconds=figures["push_pending"],
            escalations=figures["escalated"],
        )

    def _thresholds(self):
        self.ensure_one()
        return lib.Thresholds(
            queue_lag_minutes=self.alert_queue_lag_minutes,
            failed_events=self.alert_failed_events,
            poll_failing_minutes=self.alert_poll_failing_minutes,
            push_failing_minutes=self.alert_push_failing_minutes,
            escalations=self.alert_escalations,
        )

    def _compute_health(self):
        all_figures = self._health_figures()
        summaries = self._alert_summaries()
        last_reconciliations = dict(
            self.env["marketplace.stock.reconciliation"]._read_group(
                [("backend_id", "in", self.ids)], ["backend_id"], ["create_date:max"]
            )
        )
        for backend in self:
            figures = all_figures.get(backend.id)
            if not figures:  # a new record, not in the database yet
                backend.update(
                    {
                        name: False
                        for name, field in self._fields.items()
                        if name.startswith("health_")
                    }
                )
                continue
            active = lib.evaluate(backend._health(figures), backend._thresholds())
            alerts = [summaries[code] for code in lib.ALERTS if active[code]]
            last_ok = figures["last_intake_ok"]
            last_error = figures["last_intake_error"]
            backend.update(
                {
                    "health_state": "alert" if alerts else "ok",
                    "health_alerts": ", ".join(alerts),
                    "health_intake_ok": not last_error
                    or bool(last_ok and last_ok > last_error),
                    "health_intake_errors": figures["intake_errors"],
                    "health_last_delivery_at": _epoch_to_datetime(last_ok),
                    "health_queue_depth": figures["queued"],
                    "health_queue_lag_minutes": figures["queue_lag"] / 60,
                    "health_failed_count": figures["failed"],
                    "health_last_push_at": _epoch_to_datetime(figures["last_push"]),
                    "health_push_pending_minutes": figures["push_pending"] / 60,
                    "health_last_reconciliation_at": last_reconciliations.get(
                        backend, False
                    ),
                    "health_escalated": figures["escalated"],
                    "health_throttled": figures["throttled"],
                }
            )

    @api.model
    def _cron_check_health(self):
        """Open one activity per condition that holds, mark done those whose
        condition cleared (the thresholds of each backend)."""
        backends = self.search([])
        all_figures = backends._health_figures()
        summaries = self._alert_summaries()
        for backend in backends:
            active = lib.evaluate(
                backend._health(all_figures[backend.id]), backend._thresholds()
            )
            for code, holds in active.items():
                if holds:
                    backend._schedule_once(summaries[code], backend._alert_note(code))
                else:
                    backend._close_activity(summaries[code])

    def _alert_note(self, code):
        notes = {
            lib.ALERT_QUEUE_LAG: _(
                "The oldest event of %(name)s waiting to be imported is older "
                "than %(minutes)s minutes. Check that the job runner runs and "
                "that the channel %(channel)s has capacity (Queue > Jobs), "
                "then look for a job stuck in started.",
                name=self.name,
                minutes=self.alert_queue_lag_minutes,
                channel="root.marketplace.inbound",
            ),
            lib.ALERT_FAILED_EVENTS: _(
                "Events of %(name)s failed and wait for a fix. Open the "
                "backend's failed events, fix the cause shown on each, "
                "then press Retry.",
                name=self.name,
            ),
            lib.ALERT_POLL_FAILING: _(
                "Polling of %(name)s has not succeeded for %(minutes)s minutes "
                "(last error: %(error)s). Check the credentials (Test "
                "connection) and the poll jobs' errors.",
                name=self.name,
                minutes=self.alert_poll_failing_minutes,
                error=self.last_poll_error or _("none recorded, see the jobs"),
            ),
            lib.ALERT_PUSH_FAILING: _(
                "A stock change of %(name)s has waited more than %(minutes)s "
                "minutes for its push: the channel may show quantities we no "
                "longer have. Check the push jobs (Queue > Jobs) and the "
                "Channel Stock errors.",
                name=self.name,
                minutes=self.alert_push_failing_minutes,
            ),
            lib.ALERT_ESCALATIONS: _(
                "The last stock reconciliation of %(name)s escalated channel "
                "quantities that differ from available-to-sell by more than "
                "%(threshold)s units. Check the mappings and counts (Channel "
                "Stock, filter Drift or error).",
                name=self.name,
                threshold=self.stock_drift_threshold,
            ),
        }
        return notes[code]

    def _close_activity(self, summary):
        """Mark done the open activity of ``summary``: its condition cleared."""
        for backend in self:
            activities = backend.activity_ids.filtered(lambda a: a.summary == summary)
            if activities:
                activities.action_feedback(
                    feedback=_("Cleared: the condition no longer holds.")
                )

    def _close_failed_events_activity(self):
        """The "events failed" activity is done once no failed or dead event
        of the backend is left (retried, or handled otherwise)."""
        if not self:
            return
        still_failed = {
            backend.id
            for backend, _count in self.env["marketplace.event"]._read_group(
                [("backend_id", "in", self.ids), ("state", "in", ("failed", "dead"))],
                ["backend_id"],
                ["__count"],
            )
        }
        self.filtered(lambda b: b.id not in still_failed)._close_activity(
            self._alert_summaries()[lib.ALERT_FAILED_EVENTS]
        )

    # What jobs and the intake record for the metrics

    @api.model
    def _find_by_webhook_token(self, token):
        """Tell the metrics which backend the current delivery is for (its
        answer is counted once the request is over)."""
        backend = super()._find_by_webhook_token(token)
        threading.current_thread().marketplace_backend_id = backend.id or 0
        return backend

    def _get_adapter(self, rate_gate=None):
        """The adapter, its calls to the channel counted by operation."""
        adapter = super()._get_adapter(rate_gate=rate_gate)
        return metrics.instrument_adapter(adapter, self.env.cr.dbname, self.id)

    def _job_poll_orders(self):
        result = super()._job_poll_orders()
        if not self.last_poll_error:
            self.last_poll_success_at = self.last_poll_at
        return result

    def _job_push_stock(self):
        """Push, then record a lag sample per product written, from the
        stock changes it took (read in the same snapshot as the push)."""
        self.ensure_one()
        started = fields.Datetime.now()
        self.env.cr.execute(
            """
            SELECT product_id, min(COALESCE(changed_at, due_at))
              FROM marketplace_stock_dirty
             WHERE backend_id = %s
               AND due_at <= (clock_timestamp() at time zone 'UTC')
                             + interval '1 second'
             GROUP BY product_id
            """,
            (self.id,),
        )
        changes = self.env.cr.fetchall()
        result = super()._job_push_stock()
        if changes:
            self._record_push_samples(changes, started)
        metrics.mark(self.env.cr.dbname, self.id, "push")
        return result

    def _record_push_samples(self, changes, started):
        """One sample per product of ``changes`` whose level this push wrote
        (``pushed_at`` since ``started``): changed -> now."""
        self.env["marketplace.stock.level"].flush_model(["pushed_at"])
        products, changed = zip(*changes, strict=True)
        self.env.cr.execute(
            """
            INSERT INTO marketplace_stock_push_sample
                   (backend_id, product_id, changed_at, pushed_at, lag_seconds)
            SELECT %(backend)s, c.product_id, c.changed_at,
                   clock_timestamp() at time zone 'UTC',
                   GREATEST(EXTRACT(EPOCH FROM
                       (clock_timestamp() at time zone 'UTC') - c.changed_at), 0)
              FROM unnest(%(products)s::int[], %(changed)s::timestamp[])
                   AS c(product_id, changed_at)
             WHERE EXISTS (
                   SELECT 1 FROM marketplace_stock_level level
                    WHERE level.backend_id = %(backend)s
                      AND level.product_id = c.product_id
                      AND level.pushed_at >= %(started)s)
            """,
            {
                "backend": self.id,
                "products": list(products),
                "changed": list(changed),
                "started": started,
            },
        )

    def _job_reconcile_stock(self):
        result = super()._job_reconcile_stock()
        metrics.mark(self.env.cr.dbname, self.id, "reconciliation")
        return result

    # Retention

    @api.model
    def _cron_purge_events(self, batch=PURGE_BATCH, max_seconds=PURGE_SECONDS):
        """Delete done and ignored events older than each backend's
        retention, with their finished jobs, and push lag samples older than
        two days. In batches of ``batch`` rows, each committed at once: no
        lock is held for long, and rows another transaction holds are
        skipped (the next run takes them). Failed and dead events stay.

        :return: ``(events, jobs, samples)`` deleted.
        """
        deadline = time.monotonic() + max_seconds
        totals = [0, 0, 0]
        now = fields.Datetime.now()
        backends = self.with_context(active_test=False).search(
            [("event_retention_days", ">", 0)]
        )
        for backend in backends:
            cutoff = now - datetime.timedelta(days=backend.event_retention_days)
            while time.monotonic() < deadline:
                events, jobs = backend._purge_event_batch(cutoff, batch)
                totals[0] += events
                totals[1] += jobs
                self._commit_purge_batch()
                if events < batch:
                    break
        cutoff = now - datetime.timedelta(days=SAMPLE_RETENTION_DAYS)
        while time.monotonic() < deadline:
            self.env.cr.execute(
                """
                DELETE FROM marketplace_stock_push_sample WHERE id IN (
                    SELECT id FROM marketplace_stock_push_sample
                     WHERE pushed_at < %s LIMIT %s)
                """,
                (cutoff, batch),
            )
            deleted = self.env.cr.rowcount
            totals[2] += deleted
            self._commit_purge_batch()
            if deleted < batch:
                break
        if any(totals):
            _logger.info(
                "Marketplace retention: %d events, %d jobs, %d push samples deleted",
                *totals,
            )
        return tuple(totals)

    def _purge_event_batch(self, cutoff, batch):
        """Delete one batch of this backend's old done and ignored events and
        the finished jobs (done or cancelled) that processed them; a job
        queue_job still has a use for is left to queue_job's own cleanup."""
        self.ensure_one()
        self.env.cr.execute(
            """
            WITH doomed AS (
                SELECT id FROM marketplace_event
                 WHERE backend_id = %s AND state IN ('done', 'ignored')
                   AND processed_at < %s
                 ORDER BY processed_at
                 LIMIT %s
                   FOR UPDATE SKIP LOCKED
            )
            DELETE FROM marketplace_event event USING doomed
             WHERE event.id = doomed.id
            RETURNING event.job_uuid
            """,
            (self.id, cutoff, batch),
        )
        uuids = [row[0] for row in self.env.cr.fetchall() if row[0]]
        deleted = self.env.cr.rowcount
        jobs = 0
        if uuids:
            self.env.cr.execute(
                "DELETE FROM queue_job WHERE uuid = ANY(%s) "
                "AND state IN ('done', 'cancelled')",
                (uuids,),
            )
            jobs = self.env.cr.rowcount
        self.env["marketplace.event"].invalidate_model()
        return deleted, jobs

    def _commit_purge_batch(self):
        # each batch commits at once so that no lock outlives its batch;
        # tests run in one transaction they roll back
        if not self.env.registry.in_test_mode():
            self.env.cr.commit()  # pylint: disable=invalid-commit

    # Actions of the Overview

    def _open(self, xmlid, domain, **context):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["domain"] = domain
        action["context"] = context
        return action

    def action_open_queued_events(self):
        return self._open(
            "marketplace_connector.action_marketplace_event",
            [("backend_id", "=", self.id), ("state", "=", "queued")],
        )

    def action_open_deliveries(self):
        return self._open(
            "marketplace_connector.action_marketplace_event",
            [("backend_id", "=", self.id), ("source", "=", "webhook")],
        )

    def action_open_polled_events(self):
        return self._open(
            "marketplace_connector.action_marketplace_event",
            [("backend_id", "=", self.id), ("source", "=", "poll")],
        )

    def action_open_drift_levels(self):
        return self._open(
            "marketplace_connector.action_marketplace_stock_level",
            [("backend_id", "=", self.id), ("state", "in", ("drift", "escalated"))],
        )

    def action_open_pending_levels(self):
        return self._open(
            "marketplace_connector.action_marketplace_stock_level",
            [("backend_id", "=", self.id), ("state", "in", ("pending", "error"))],
        )

    def action_open_push_samples(self):
        return self._open(
            "marketplace_connector.action_marketplace_stock_push_sample",
            [("backend_id", "=", self.id)],
        )

    def action_open_reconciliations(self):
        return self._open(
            "marketplace_connector.action_marketplace_stock_reconciliation",
            [("backend_id", "=", self.id)],
        )

    def action_open_oversold_orders(self):
        return self._open(
            "sale.action_orders",
            [
                ("marketplace_backend_id", "=", self.id),
                ("marketplace_oversold", "=", True),
                ("state", "!=", "cancel"),
            ],
        )

    def action_open_rate_budgets(self):
        return self._open(
            "marketplace_connector.action_marketplace_rate_budget",
            [("backend_id", "=", self.id)],
        )

    def action_open_event_analysis(self):
        return self._open(
            "marketplace_connector.action_marketplace_event_report",
            [("backend_id", "=", self.id)],
        )
