# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""One configured marketplace account (a Shopify shop, an Amazon seller...).

The backend holds what the adapter needs (URL, credentials, webhook secrets),
what the importer needs (company, warehouse, team, pricelist, import policy)
and the polling cursor. Secrets are stored encrypted (see
``lib/secrets_box.py``); their plaintext fields are computed, never stored,
and only managers can read or write them.
"""

import datetime
import logging
import math
import os
import secrets
import time
from contextlib import closing
from itertools import islice

import psycopg2

from odoo import _, api, fields, models, sql_db, tools
from odoo.exceptions import UserError, ValidationError

from odoo.addons.queue_job.job import identity_exact

from ..lib.adapter import BackendConfig, get_adapter_class
from ..lib.database_errors import CONCURRENCY_ERRORS
from ..lib.errors import (
    AuthenticationError,
    MarketplaceError,
    WebhookRejected,
)
from ..lib.order import FINANCIAL_STATES
from ..lib.secrets_box import CONFIG_OPTION, ENV_VARIABLE, SecretBox
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

_logger = logging.getLogger(__name__)

MANAGER_GROUP = "marketplace_connector.group_marketplace_manager"
#: (dbname, backend id) -> (write_date, adapter): see _get_intake_adapter
_INTAKE_ADAPTERS = {}
INTAKE_ATTEMPTS = 3
WEBHOOK_ROUTE = "/marketplace/webhook/"
#: a waiting push job due sooner than this may start before the transaction
#: counting on it commits (seconds)
PUSH_JOB_START_MARGIN = 0.2
#: polled states looked up in the inbox at once (one page of Shopify's)
POLL_CHUNK = 250
#: the encrypted column behind each plaintext secret field
SECRET_FIELDS = {
    "access_token": "access_token_encrypted",
    "webhook_secret": "webhook_secret_encrypted",
    "webhook_secret_previous": "webhook_secret_previous_encrypted",
}


def _new_webhook_token(*_args):
    return secrets.token_urlsafe(32)


def get_secret_box():
    """The box built from the key in the configuration file or environment."""
    return SecretBox(tools.config.get(CONFIG_OPTION) or os.environ.get(ENV_VARIABLE))


class MarketplaceBackend(models.Model):
    _name = "marketplace.backend"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _description = "Marketplace Backend"
    _order = "sequence, name"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    marketplace_type = fields.Selection(
        selection=[],
        required=True,
        help="Which marketplace this backend talks to; each adapter addon "
        "adds its own type.",
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    warehouse_id = fields.Many2one(
        "stock.warehouse",
        required=True,
        check_company=True,
        default=lambda self: self.env["stock.warehouse"].search(
            [("company_id", "=", self.env.company.id)], limit=1
        ),
        help="Imported orders ship from this warehouse.",
    )
    team_id = fields.Many2one("crm.team", string="Sales Team", check_company=True)
    user_id = fields.Many2one(
        "res.users",
        string="Responsible",
        default=lambda self: self.env.user,
        help="Receives the activities raised for this backend "
        "(orders to review, failures).",
    )
    pricelist_id = fields.Many2one(
        "product.pricelist",
        check_company=True,
        help="Pricelist for orders in its currency. Orders in another "
        "currency use a pricelist of that currency; without one the import "
        "fails and says which pricelist to create.",
    )
    import_financial_states = fields.Char(
        default="paid,partially_paid,authorized",
        required=True,
        help="Comma-separated financial states an order must have to be "
        "imported. Known states: " + ", ".join(FINANCIAL_STATES),
    )
    auto_confirm = fields.Boolean(
        default=True,
        help="Confirm imported orders: deliveries are created and stock is "
        "reserved through Odoo's normal flow.",
    )

    # Connection
    api_url = fields.Char(
        string="API URL",
        help="Base URL of the marketplace API, e.g. https://acme.myshopify.com",
    )
    shop_domain = fields.Char(help="e.g. acme.myshopify.com")
    api_version = fields.Char(string="API Version")
    request_timeout = fields.Float(default=10.0, help="Seconds per API call.")
    max_body_bytes = fields.Integer(
        string="Max Webhook Size (bytes)", default=2 * 1024 * 1024
    )
    access_token_encrypted = fields.Char(groups=MANAGER_GROUP, copy=False)
    webhook_secret_encrypted = fields.Char(groups=MANAGER_GROUP, copy=False)
    webhook_secret_previous_encrypted = fields.Char(groups=MANAGER_GROUP, copy=False)
    access_token = fields.Char(
        compute="_compute_secrets",
        inverse="_inverse_access_token",
        groups=MANAGER_GROUP,
    )
    webhook_secret = fields.Char(
        compute="_compute_secrets",
        inverse="_inverse_webhook_secret",
        groups=MANAGER_GROUP,
        help="The secret deliveries are signed with.",
    )
    webhook_secret_previous = fields.Char(
        compute="_compute_secrets",
        inverse="_inverse_webhook_secret_previous",
        groups=MANAGER_GROUP,
        help="During a secret rotation the marketplace may keep signing with "
        "the previous secret for a while: deliveries signed with it are "
        "accepted too. Clear it when the rotation is over.",
    )
    webhook_token = fields.Char(
        default=_new_webhook_token,
        required=True,
        copy=False,
        readonly=True,
        groups=MANAGER_GROUP,
    )
    webhook_url = fields.Char(compute="_compute_webhook_url", groups=MANAGER_GROUP)

    # Polling
    poll_enabled = fields.Boolean(
        default=True,
        help="Poll orders updated since the last poll: catches what webhooks "
        "missed (the marketplaces do not guarantee delivery).",
    )
    poll_cursor = fields.Datetime(
        copy=False,
        help="updated_at of the newest order seen by polling (UTC).",
    )
    poll_overlap_minutes = fields.Integer(
        default=10,
        help="Each poll starts this much before the cursor, against clock "
        "skew and late visibility; overlapping orders are deduplicated.",
    )
    poll_initial_days = fields.Integer(
        default=2, help="How far back the first poll looks."
    )
    last_poll_at = fields.Datetime(readonly=True, copy=False)
    last_poll_error = fields.Text(readonly=True, copy=False)

    # Stock: allocation, buffers, fan-out
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

    event_ids = fields.One2many("marketplace.event", "backend_id")
    event_failed_count = fields.Integer(compute="_compute_event_counts")
    order_binding_count = fields.Integer(compute="_compute_order_binding_count")

    _sql_constraints = [
        (
            "webhook_token_unique",
            "UNIQUE(webhook_token)",
            "The webhook token must be unique.",
        ),
    ]

    @api.depends("access_token_encrypted", "webhook_secret_encrypted")
    def _compute_secrets(self):
        box = None
        for backend in self:
            values = {
                plain: backend.sudo()[encrypted]
                for plain, encrypted in SECRET_FIELDS.items()
            }
            if any(values.values()) and box is None:
                box = get_secret_box()
            for plain, token in values.items():
                backend[plain] = box.decrypt(token) if token else False

    def _set_secret(self, plain_field):
        box = get_secret_box()
        for backend in self:
            backend.sudo()[SECRET_FIELDS[plain_field]] = box.encrypt(
                backend[plain_field]
            )

    def _inverse_access_token(self):
        self._set_secret("access_token")

    def _inverse_webhook_secret(self):
        self._set_secret("webhook_secret")

    def _inverse_webhook_secret_previous(self):
        self._set_secret("webhook_secret_previous")

    @api.depends("webhook_token")
    def _compute_webhook_url(self):
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url")
        for backend in self:
            backend.webhook_url = f"{base_url}{WEBHOOK_ROUTE}{backend.webhook_token}"

    def _compute_event_counts(self):
        groups = self.env["marketplace.event"]._read_group(
            [("backend_id", "in", self.ids), ("state", "in", ("failed", "dead"))],
            ["backend_id"],
            ["__count"],
        )
        counts = {backend.id: count for backend, count in groups}
        for backend in self:
            backend.event_failed_count = counts.get(backend.id, 0)

    def _compute_order_binding_count(self):
        groups = self.env["marketplace.order.binding"]._read_group(
            [("backend_id", "in", self.ids), ("order_id", "!=", False)],
            ["backend_id"],
            ["__count"],
        )
        counts = {backend.id: count for backend, count in groups}
        for backend in self:
            backend.order_binding_count = counts.get(backend.id, 0)

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

    @api.constrains("import_financial_states")
    def _check_import_financial_states(self):
        for backend in self:
            unknown = set(backend._get_import_financial_states()) - set(
                FINANCIAL_STATES
            )
            if unknown:
                raise ValidationError(
                    _(
                        "Unknown financial state(s) %(states)s. Known states: "
                        "%(known)s.",
                        states=", ".join(sorted(unknown)),
                        known=", ".join(FINANCIAL_STATES),
                    )
                )

    # Actions

    def action_test_connection(self):
        self.ensure_one()
        try:
            message = self._get_adapter().test_connection()
        except MarketplaceError as err:
            raise UserError(
                _("Connection to %(name)s failed: %(error)s", name=self.name, error=err)
            ) from err
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Connection OK"),
                "message": message,
                "type": "success",
            },
        }

    def action_regenerate_webhook_token(self):
        for backend in self:
            backend.webhook_token = _new_webhook_token()

    def action_poll_now(self):
        self._enqueue_poll()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": _("A poll was queued."), "type": "info"},
        }

    def action_view_failed_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "marketplace_connector.action_marketplace_event"
        )
        action["domain"] = [
            ("backend_id", "=", self.id),
            ("state", "in", ("failed", "dead")),
        ]
        return action

    # Adapter

    def _get_backend_config(self):
        """Everything the adapter may know, secrets decrypted."""
        self.ensure_one()
        backend = self.sudo()
        box = get_secret_box()
        secrets_ = tuple(
            s
            for s in (
                box.decrypt(backend.webhook_secret_encrypted),
                box.decrypt(backend.webhook_secret_previous_encrypted),
            )
            if s
        )
        return BackendConfig(
            backend_id=backend.id,
            name=backend.name,
            api_url=(backend.api_url or "").rstrip("/"),
            shop_domain=backend.shop_domain or "",
            api_version=backend.api_version or "",
            access_token=box.decrypt(backend.access_token_encrypted),
            webhook_secrets=secrets_,
            timeout=backend.request_timeout or 10.0,
            max_body_bytes=backend.max_body_bytes,
        )

    def _get_adapter(self):
        self.ensure_one()
        return get_adapter_class(self.marketplace_type)(self._get_backend_config())

    def _get_import_financial_states(self):
        self.ensure_one()
        return [
            s.strip()
            for s in (self.import_financial_states or "").split(",")
            if s.strip()
        ]

    # Webhook intake

    @api.model
    def _find_by_webhook_token(self, token):
        """The active backend of a webhook URL, with what the intake reads
        fetched in the same query."""
        if not token:
            return self.browse()
        return self.sudo().search_fetch(
            [("webhook_token", "=", token)],
            ["name", "company_id", "marketplace_type", "max_body_bytes", "write_date"],
            limit=1,
        )

    def _get_intake_adapter(self):
        """The adapter that verifies webhooks, kept per process until the
        backend changes (secrets are decrypted once, not per delivery)."""
        key = (self.env.cr.dbname, self.id)
        cached = _INTAKE_ADAPTERS.get(key)
        if cached and cached[0] == self.write_date:
            return cached[1]
        adapter = self._get_adapter()
        _INTAKE_ADAPTERS[key] = (self.write_date, adapter)
        return adapter

    def _receive_webhook(self, headers, body):
        """Verify a delivery and store it durably before it is acknowledged.

        :return: ``(http_status, short_text)``
        """
        self.ensure_one()
        try:
            inbound = self._get_intake_adapter().verify_webhook(headers, body)
        except WebhookRejected as rejected:
            if rejected.status >= 400:
                _logger.info(
                    "Webhook for %s rejected (%s): %s",
                    self.name,
                    rejected.status,
                    rejected.reason,
                )
            return rejected.status, rejected.reason
        except MarketplaceError as err:
            _logger.error("Webhook for %s cannot be verified: %s", self.name, err)
            return 503, "temporarily unable to verify"
        for attempt in range(1, INTAKE_ATTEMPTS + 1):  # noqa: B007
            try:
                # no savepoint: on any error the whole transaction is rolled
                # back (two round trips fewer per delivery)
                event = self.env["marketplace.event"]._store_inbound(self, inbound)
                # Durable before ack: the event and its job are committed
                # before the 200 leaves; if the commit fails the marketplace
                # gets a 503 and delivers again.
                self.env.cr.commit()  # pylint: disable=invalid-commit
                return 200, "stored" if event else "duplicate"
            except CONCURRENCY_ERRORS as err:
                # a duplicate delivered at the same instant committed first;
                # a new transaction sees it and stores nothing
                self.env.cr.rollback()
                failure = err
            except psycopg2.Error as err:
                self.env.cr.rollback()
                failure = err
                break
        _logger.warning(
            "Webhook for %s not stored after %s attempt(s), answering 503: %s",
            self.name,
            attempt,
            failure.__class__.__name__,
        )
        return 503, "temporarily unable to store the delivery"

    # Stock fan-out

    def _enqueue_each(self, method, label, priority, **properties):
        """One job per backend, by default not queued twice while one is
        waiting (``identity_key``)."""
        properties.setdefault("identity_key", identity_exact)
        for backend in self:
            delayed = backend.with_delay(
                priority=priority,
                description=f"{label} {backend.name}",
                **properties,
            )
            getattr(delayed, method)()

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

    def _schedule_once(self, summary, note):
        """One open to-do per summary for the responsible, however many
        times the same problem is raised before it is dealt with."""
        if not self.activity_ids.filtered(lambda a: a.summary == summary):
            self.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=summary,
                note=note,
                user_id=(self.user_id or self.env.user).id,
            )

    def _ensure_stock_levels(self, product_ids):
        """The levels (binding x channel location) of these products,
        created where missing."""
        self.ensure_one()
        bindings = self.env["marketplace.product.binding"].search(
            [
                ("backend_id", "=", self.id),
                ("product_id", "in", list(product_ids)),
                ("inventory_item_id", "!=", False),
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

    # Polling

    @api.model
    def _cron_poll_orders(self):
        self.search([("poll_enabled", "=", True)])._enqueue_poll()

    def _enqueue_poll(self):
        self._enqueue_each("_job_poll_orders", "Poll orders of", 20)

    def _job_poll_orders(self):
        """Store every order updated since the cursor as an inbox event.

        Events and the new cursor commit in one transaction: if anything
        fails midway the cursor does not move and the next poll fetches the
        same orders again (their events are deduplicated).
        """
        self.ensure_one()
        since = self._poll_since()
        adapter = self._get_adapter()
        inbox = self.env["marketplace.event"]
        newest = self.poll_cursor
        seen = created = 0
        try:
            # a 429 storm postpones the poll without spending its retries;
            # timeouts and 5xx spend one
            with retry_later():
                polled = adapter.iter_updated_orders(since)
                for chunk in iter(lambda: list(islice(polled, POLL_CHUNK)), []):
                    known = inbox._known_dedupe_keys(
                        self, [inbound.dedupe_key for inbound in chunk]
                    )
                    for inbound in chunk:
                        seen += 1
                        if inbound.dedupe_key not in known and self._store_polled(
                            inbox, inbound
                        ):
                            created += 1
                        if inbound.external_updated_at and (
                            not newest or inbound.external_updated_at > newest
                        ):
                            newest = inbound.external_updated_at
        except AuthenticationError as err:
            self._record_poll_error(str(err))
            return f"Poll failed: {err}"
        self.write(
            {
                "poll_cursor": newest,
                "last_poll_at": fields.Datetime.now(),
                "last_poll_error": False,
            }
        )
        _logger.info(
            "Polled %s: %d orders seen, %d new events", self.name, seen, created
        )
        return f"{seen} orders seen, {created} new events"

    def _store_polled(self, inbox, inbound):
        """Store a polled order state unless the inbox has it. A poll is a
        long transaction (many pages): a webhook that stored the same state
        after the poll began is invisible to it, and the insert then fails to
        serialise instead of finding the duplicate -- which it is. Without
        this, a poll during a flash sale failed again and again, reading
        every page each time."""
        try:
            with self.env.cr.savepoint(flush=False):
                return inbox._store_inbound(self, inbound)
        except psycopg2.errors.SerializationFailure:
            return inbox.browse()

    def _poll_since(self):
        if self.poll_cursor:
            return self.poll_cursor - datetime.timedelta(
                minutes=self.poll_overlap_minutes
            )
        return fields.Datetime.now() - datetime.timedelta(days=self.poll_initial_days)

    def _notify_failure(self, event, message):
        """Make a failed event visible: on its order (if any) and as one open
        activity on the backend for the responsible, however many fail."""
        self.ensure_one()
        binding = self.env["marketplace.order.binding"].search(
            [("backend_id", "=", self.id), ("external_id", "=", event.external_id)],
            limit=1,
        )
        if binding.order_id:
            binding.write({"sync_state": "error", "sync_message": message})
        self._schedule_once(
            _("Marketplace events failed"),
            _(
                "Events of %(name)s failed and wait for a fix. Open the "
                "backend's failed events, fix the cause shown on each, "
                "then press Retry.",
                name=self.name,
            ),
        )

    def _record_poll_error(self, message):
        self.write({"last_poll_error": message, "last_poll_at": fields.Datetime.now()})
