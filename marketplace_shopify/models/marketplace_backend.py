# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""What a Shopify backend adds to the core's: the shop, the Admin API
version and token, the webhook secrets and which orders import."""

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.marketplace_connector.models.marketplace_backend import MANAGER_GROUP

from ..lib.mapping import FINANCIAL_STATES

DEFAULT_API_VERSION = "2026-10"
SHOPIFY_CREDENTIALS = {
    "access_token": "access_token_encrypted",
    "webhook_secret": "webhook_secret_encrypted",
    "webhook_secret_previous": "webhook_secret_previous_encrypted",
}


class MarketplaceBackend(models.Model):
    _inherit = "marketplace.backend"

    marketplace_type = fields.Selection(
        selection_add=[("shopify", "Shopify")],
        ondelete={"shopify": "cascade"},
    )
    shop_domain = fields.Char(help="e.g. acme.myshopify.com")
    api_version = fields.Char(string="API Version")
    import_financial_states = fields.Char(
        default="paid,partially_paid,authorized",
        help="Comma-separated financial states a Shopify order must have to "
        "be imported. Known states: " + ", ".join(FINANCIAL_STATES),
    )
    shopify_notify_customer = fields.Boolean(
        string="Notify Customers of Shipments",
        default=True,
        help="When a delivery is validated, Shopify emails the customer the "
        "shipping confirmation with the tracking number.",
    )
    access_token_encrypted = fields.Char(groups=MANAGER_GROUP, copy=False)
    webhook_secret_encrypted = fields.Char(groups=MANAGER_GROUP, copy=False)
    webhook_secret_previous_encrypted = fields.Char(groups=MANAGER_GROUP, copy=False)
    access_token = fields.Char(
        compute="_compute_credentials",
        inverse="_inverse_credentials",
        groups=MANAGER_GROUP,
    )
    webhook_secret = fields.Char(
        compute="_compute_credentials",
        inverse="_inverse_credentials",
        groups=MANAGER_GROUP,
        help="The secret deliveries are signed with.",
    )
    webhook_secret_previous = fields.Char(
        compute="_compute_credentials",
        inverse="_inverse_credentials",
        groups=MANAGER_GROUP,
        help="During a secret rotation the marketplace may keep signing with "
        "the previous secret for a while: deliveries signed with it are "
        "accepted too. Clear it when the rotation is over.",
    )

    def _credential_fields(self):
        return {**super()._credential_fields(), **SHOPIFY_CREDENTIALS}

    def _get_adapter_settings(self):
        settings = super()._get_adapter_settings()
        if self.marketplace_type == "shopify":
            settings.update(
                shop_domain=self.shop_domain or "",
                api_version=self.api_version or "",
                import_financial_states=self._get_import_financial_states(),
                notify_customer=self.shopify_notify_customer,
            )
        return settings

    def _get_import_financial_states(self):
        self.ensure_one()
        return [
            s.strip()
            for s in (self.import_financial_states or "").split(",")
            if s.strip()
        ]

    @api.constrains("import_financial_states", "marketplace_type")
    def _check_import_financial_states(self):
        for backend in self.filtered(lambda b: b.marketplace_type == "shopify"):
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

    @api.onchange("marketplace_type", "shop_domain")
    def _onchange_shopify_defaults(self):
        for backend in self.filtered(lambda b: b.marketplace_type == "shopify"):
            if not backend.api_version:
                backend.api_version = DEFAULT_API_VERSION
            if backend.shop_domain and not backend.api_url:
                backend.api_url = f"https://{backend.shop_domain}"
