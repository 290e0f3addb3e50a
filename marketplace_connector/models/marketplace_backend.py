# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""One configured marketplace account (a Shopify shop, an Amazon seller...).

The backend holds what the adapter needs (URL, credentials, settings), what
the importer needs (company, warehouse, team, pricelist, import policy) and
what its jobs need. Its concerns live in files of their own, each extending
this model: intake (``marketplace_backend_intake.py``), polling
(``..._polling.py``) and stock (``..._stock.py``).

Credentials are declared by each adapter addon (``_credential_fields``): an
encrypted column and a computed plaintext field, readable and writable by
managers only. They are stored encrypted (see ``lib/secrets_box.py``); the
key is never in the database.
"""

import contextlib
import os
import secrets

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError

from odoo.addons.queue_job.job import identity_exact

from ..lib.adapter import BackendConfig, ShipmentAdapterMixin, get_adapter_class
from ..lib.errors import MarketplaceError
from ..lib.secrets_box import CONFIG_OPTION, ENV_VARIABLE, MissingKeyError, SecretBox
from ..services.rate_budget import RateGate

MANAGER_GROUP = "marketplace_connector.group_marketplace_manager"
WEBHOOK_ROUTE = "/marketplace/webhook/"


def _new_webhook_token(*_args):
    return secrets.token_urlsafe(32)


@contextlib.contextmanager
def _key_error_as_user_error():
    """On a screen, a missing or wrong encryption key is a message that
    says what to do, not a server error."""
    try:
        yield
    except MissingKeyError as err:
        raise UserError(
            _("Credentials cannot be read or saved: %(error)s", error=err)
        ) from err


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
    auto_confirm = fields.Boolean(
        default=True,
        help="Confirm imported orders: deliveries are created and stock is "
        "reserved through Odoo's normal flow.",
    )

    # Connection
    api_url = fields.Char(
        string="API URL",
        help="Base URL of the marketplace API (the adapter proposes it).",
    )
    request_timeout = fields.Float(default=10.0, help="Seconds per API call.")
    max_body_bytes = fields.Integer(
        string="Max Webhook Size (bytes)", default=2 * 1024 * 1024
    )
    webhook_token = fields.Char(
        default=_new_webhook_token,
        required=True,
        copy=False,
        readonly=True,
        groups=MANAGER_GROUP,
    )
    webhook_url = fields.Char(
        string="Webhook URL", compute="_compute_webhook_url", groups=MANAGER_GROUP
    )

    carrier_map_ids = fields.One2many(
        "marketplace.carrier.map",
        "backend_id",
        string="Carriers",
        help="Our carriers under the channel's codes, sent with shipments.",
    )
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

    # Credentials

    def _credential_fields(self):
        """``{plaintext field: encrypted field}`` of every credential the
        installed adapter addons declare; each extends it with its own."""
        return {}

    @api.depends(lambda self: list(self._credential_fields().values()))
    def _compute_credentials(self):
        with _key_error_as_user_error():
            self._decrypt_credentials(self._credential_fields())

    def _decrypt_credentials(self, pairs):
        box = None
        for backend in self:
            stored = {plain: backend.sudo()[enc] for plain, enc in pairs.items()}
            if any(stored.values()) and box is None:
                box = get_secret_box()
            for plain, token in stored.items():
                backend[plain] = box.decrypt(token) if token else False

    def _inverse_credentials(self):
        """Encrypt the plaintext fields that changed (one inverse serves
        them all: only those whose value differs from the stored one are
        written again)."""
        with _key_error_as_user_error():
            box = get_secret_box()
        cache = self.env.cache
        for backend in self:
            for plain, enc in self._credential_fields().items():
                field = self._fields[plain]
                # only values in the cache were written: reading another
                # would compute it, and its compute resets the written ones
                if not cache.contains(backend, field):
                    continue
                value = cache.get(backend, field) or False
                token = backend.sudo()[enc]
                if value != ((box.decrypt(token) if token else False) or False):
                    backend.sudo()[enc] = box.encrypt(value) if value else False

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

    def _action_for(self, xmlid, domain):
        """A window action of this module, narrowed to this backend."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            f"marketplace_connector.{xmlid}"
        )
        action["domain"] = domain
        action["context"] = {}
        return action

    def action_view_oversold_orders(self):
        return self._action_for(
            "action_marketplace_oversold_orders",
            [
                ("marketplace_backend_id", "=", self.id),
                ("marketplace_oversold", "=", True),
            ],
        )

    def action_view_stock_levels(self):
        return self._action_for(
            "action_marketplace_stock_level", [("backend_id", "=", self.id)]
        )

    def action_view_order_bindings(self):
        return self._action_for(
            "action_marketplace_order_binding",
            [("backend_id", "=", self.id), ("order_id", "!=", False)],
        )

    # Adapter

    def _get_adapter_settings(self):
        """The adapter addon's own non-secret settings (``BackendConfig.
        settings``); each adapter addon extends it for its type."""
        self.ensure_one()
        return {}

    def _process_channel_event(self, event):
        """Process an event of a resource type the core does not know;
        ``(state, message, sale order or None)``, or ``None`` when no
        adapter addon handles it either (the event fails, saying so)."""
        return None

    def _get_backend_config(self):
        """Everything the adapter may know, credentials decrypted."""
        self.ensure_one()
        backend = self.sudo()
        box = get_secret_box()
        credentials = {}
        for plain, enc in self._credential_fields().items():
            if backend[enc]:
                credentials[plain] = box.decrypt(backend[enc])
        return BackendConfig(
            backend_id=backend.id,
            name=backend.name,
            api_url=(backend.api_url or "").rstrip("/"),
            credentials=credentials,
            settings=backend._get_adapter_settings(),
            timeout=backend.request_timeout or 10.0,
            max_body_bytes=backend.max_body_bytes,
        )

    def _get_adapter_options(self):
        """Extra keyword arguments of the adapter's constructor, from its
        addon (e.g. a token store shared by every worker)."""
        self.ensure_one()
        return {}

    def _get_adapter(self, rate_gate=None):
        """The adapter of this backend; jobs pass the backend's shared rate
        gate (``_get_job_adapter``) so every call spends the budget."""
        self.ensure_one()
        return get_adapter_class(self.marketplace_type)(
            self._get_backend_config(),
            rate_gate=rate_gate,
            **self._get_adapter_options(),
        )

    def _wants_shipments(self):
        """Whether this backend's channel hears of the packages we ship."""
        self.ensure_one()
        return issubclass(
            get_adapter_class(self.marketplace_type), ShipmentAdapterMixin
        )

    def _carrier_of(self, picking):
        """``(channel code, name)`` of a delivery's carrier: the mapped
        code, else no code and our carrier's name."""
        self.ensure_one()
        carrier = picking.carrier_id
        mapped = self.carrier_map_ids.filtered(lambda m: m.carrier_id == carrier)[:1]
        if mapped:
            return mapped.code, mapped.name or carrier.name
        return "", carrier.name or ""

    def _get_job_adapter(self):
        """The adapter as a job uses it: spending the shared rate budgets."""
        self.ensure_one()
        gate = RateGate(self)
        adapter = self._get_adapter(rate_gate=gate)
        gate.rate_limits = adapter.rate_limits
        return adapter

    # Jobs and activities

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
