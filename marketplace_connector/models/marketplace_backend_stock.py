# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A backend's stock: allocation and buffers, fan-out of quantities to the
channel (push jobs), reconciliation, and the stock levels of its bindings."""

import datetime
import math
import time
from contextlib import closing

from odoo import _, api, fields, models, sql_db
from odoo.exceptions import ValidationError

from ..services.job_errors import retry_later
from ..services.job_sql import delay_now
from ..services.stock_ledger import create_lock_rows
from ..services.stock_push import StockPusher
from ..services.stock_reconciliation import StockReconciler
from .marketplace_stock_dirty import (
    PUSH_PRIORITY_DECREMENT,
    PUSH_PRIORITY_INCREMENT,
    PUSH_SLOT_SECONDS,
)

#: a waiting push job due sooner than this may start before the transaction
#: counting on it commits (seconds)
PUSH_JOB_START_MARGIN = 0.2


class MarketplaceBackend(models.Model):
    _inherit = "marketplace.backend"

    channel_location_ids = fields.One2many(
        "marketplace.channel.location",
        "backend_id",
        string="Channel Locations",
        help="Each channel location sells the free stock of one Odoo location.",
    )
    stock_push_enabled = fields.Boolean(
        string="Push Stock",
        default=True,
        help="Push available-to-sell to the channel when it changes.",
    )
    stock_share = fields.Float(
        string="Allocation Share",
        default=1.0,
        digits=(3, 2),
        help="Fraction (0-1) of the free stock after buffer this channel may "
        "sell. When the channels selling a product have shares adding up to "
        "more than 1, each gets its share of the total, so together they "
        "never offer more than the free stock.",
    )
    stock_buffer_units = fields.Integer(
        string="Safety Buffer (units)", help="Units never offered on this channel."
    )
    stock_buffer_percent = fields.Float(
        string="Safety Buffer (%)",
        digits=(5, 2),
        help="Percentage of the free stock never offered (rounded up).",
    )
    stock_max_quantity = fields.Integer(
        string="Maximum Shown", help="Never show more than this; 0 = no maximum."
    )
    stock_push_delay = fields.Integer(
        string="Push Delay (s)",
        default=1,
        help="Changes are collected for this long before one push, so a "
        "burst of changes to a SKU becomes one write.",
    )
    stock_drift_threshold = fields.Integer(
        string="Drift Threshold",
        default=5,
        help="Reconciliation corrects a channel quantity that differs from "
        "available-to-sell by up to this many units, and escalates larger "
        "differences to a person.",
    )
    oversold_count = fields.Integer(compute="_compute_stock_counts")
    drift_count = fields.Integer(compute="_compute_stock_counts")

    def _compute_stock_counts(self):
        oversold = dict(
            self.env["sale.order"]._read_group(
                [
                    ("marketplace_backend_id", "in", self.ids),
                    ("marketplace_oversold", "=", True),
                ],
                ["marketplace_backend_id"],
                ["__count"],
            )
        )
        drift = dict(
            self.env["marketplace.stock.level"]._read_group(
                [
                    ("backend_id", "in", self.ids),
                    ("state", "in", ("drift", "escalated")),
                ],
                ["backend_id"],
                ["__count"],
            )
        )
        for backend in self:
            backend.oversold_count = oversold.get(backend, 0)
            backend.drift_count = drift.get(backend, 0)

    @api.constrains("stock_share", "stock_buffer_percent", "stock_buffer_units")
    def _check_stock_policy(self):
        for backend in self:
            if not 0 <= backend.stock_share <= 1:
                raise ValidationError(_("The allocation share is between 0 and 1."))
            if (
                backend.stock_buffer_units < 0
                or not 0 <= backend.stock_buffer_percent <= 100
            ):
                raise ValidationError(_("Safety buffers cannot be negative."))

    def _enqueue_stock_push(self, decrement=False, eta=None):
        """A push job for each backend, unless one will start after this
        transaction commits (and so see the rows it queued): one waiting job
        per backend and slot, however many transactions queue rows.
        Decreases have a job of their own at a higher priority; pushes due
        later (``eta``) one per 10-second slot, run at the slot's end."""
        now = time.time()
        for backend in self:
            if eta is None:
                delay = backend.stock_push_delay
                slot = "decrement" if decrement else "increment"
            else:
                slot_end = (
                    math.ceil((now + eta) / PUSH_SLOT_SECONDS) * PUSH_SLOT_SECONDS
                )
                delay = max(0, slot_end - now) + 1  # clocks differ a little
                slot = f"at-{slot_end}"
            identity_key = f"marketplace-push-stock-{backend.id}-{slot}"
            if backend._push_job_waiting(identity_key):
                continue
            # queue_job's own identity check would look with this
            # transaction's snapshot: the check above is the one that counts
            delay_now(
                backend._job_push_stock,
                identity_key=identity_key,
                priority=PUSH_PRIORITY_DECREMENT
                if decrement
                else PUSH_PRIORITY_INCREMENT,
                eta=datetime.timedelta(seconds=delay),
                description=f"Push stock to {backend.name}",
            )

    def _push_job_waiting(self, identity_key):
        """Whether a push job with this key will start after this
        transaction commits, as the database is now -- not as this
        transaction's snapshot shows it.

        A long transaction (an inventory adjustment, an import while pushes
        run) sees as waiting a job that has started since, without the rows
        about to be committed; and it cannot see a job that another
        transaction queued since, which would do. So the jobs are asked on a
        connection of their own. A job counts only while it is pending and
        due a moment after now (``PUSH_JOB_START_MARGIN``): one due already
        may start before this transaction commits. A job only this
        transaction sees was queued by this very transaction, and waits. A
        push that finds rows committed after its snapshot
        (``StockPusher.release``) asks the same.
        """
        self.env["queue.job"].flush_model(["identity_key", "state"])
        self.env.cr.execute(
            "SELECT uuid FROM queue_job WHERE identity_key = %s "
            "AND state IN ('pending', 'enqueued')",
            (identity_key,),
        )
        seen_waiting = [row[0] for row in self.env.cr.fetchall()]
        with closing(sql_db.db_connect(self.env.cr.dbname).cursor()) as cr:
            cr.execute(
                "SELECT uuid, state = 'pending' AND eta > (now() at time zone "
                "'UTC') + make_interval(secs => %s) FROM queue_job "
                "WHERE identity_key = %s "
                "AND (uuid = ANY(%s) OR state IN ('pending', 'enqueued'))",
                (PUSH_JOB_START_MARGIN, identity_key, seen_waiting),
            )
            waiting_now = dict(cr.fetchall())
        queued_here = any(uuid not in waiting_now for uuid in seen_waiting)
        return queued_here or any(waiting_now.values())

    def _job_push_stock(self):
        self.ensure_one()
        with retry_later():
            return StockPusher(self).run()

    @api.model
    def _cron_push_pending_stock(self):
        """Safety net: a queued change whose push job was lost gets one."""
        self.env.cr.execute(
            "SELECT DISTINCT backend_id FROM marketplace_stock_dirty "
            "WHERE due_at < (now() at time zone 'UTC') - interval '1 minute'"
        )
        self.browse([row[0] for row in self.env.cr.fetchall()])._enqueue_stock_push()

    @api.model
    def _cron_reconcile_stock(self):
        self.search([("stock_push_enabled", "=", True)])._enqueue_reconcile()

    def _enqueue_reconcile(self):
        self._enqueue_each("_job_reconcile_stock", "Reconcile stock of", 30)

    def _job_reconcile_stock(self):
        self.ensure_one()
        with retry_later():
            record = StockReconciler(self).run()
        return (
            f"{record.checked} checked, {record.in_sync} in sync, "
            f"{record.corrected} corrected, {record.escalated} escalated"
        )

    def action_reconcile_stock_now(self):
        self._enqueue_reconcile()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": _("A stock reconciliation was queued."),
                "type": "info",
            },
        }

    def _escalate_drift(self, record):
        self._schedule_once(
            _("Stock drift to review"),
            _(
                "%(count)s channel quantities differ from available-to-sell by "
                "more than %(threshold)s units and were left as they are. Check "
                "the mappings and counts (Channel Stock, filter Drift or error), "
                "e.g.: %(examples)s",
                count=record.escalated,
                threshold=self.stock_drift_threshold,
                examples=record.escalation_examples,
            ),
        )

    def _ensure_stock_levels(self, product_ids):
        """The levels (binding x channel location) of these products,
        created where missing."""
        self.ensure_one()
        bindings = self.env["marketplace.product.binding"].search(
            [
                ("backend_id", "=", self.id),
                ("product_id", "in", list(product_ids)),
                ("channel_item_ref", "!=", False),
            ]
        )
        locations = self.channel_location_ids
        levels = self.env["marketplace.stock.level"].search(
            [("binding_id", "in", bindings.ids)]
        )
        existing = {(lvl.binding_id.id, lvl.channel_location_id.id) for lvl in levels}
        missing = [
            {
                "binding_id": binding.id,
                "backend_id": self.id,
                "product_id": binding.product_id.id,
                "channel_location_id": location.id,
            }
            for binding in bindings
            for location in locations
            if (binding.id, location.id) not in existing
        ]
        if missing:
            levels |= self.env["marketplace.stock.level"].create(missing)
            # before their first sale, which would otherwise create them
            create_lock_rows(self.env.cr, {vals["product_id"] for vals in missing})
        return levels
