# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""What a Shopify backend adds to the core's: the shop, the Admin API
version and token, the webhook secrets and which orders import (a choice
among Shopify's financial states)."""

from odoo import api, fields, models

from odoo.addons.marketplace_connector.models.marketplace_backend import MANAGER_GROUP

DEFAULT_API_VERSION = "2026-10"
#: what a new backend imports: orders paid or whose payment is authorised
DEFAULT_IMPORT_FINANCIAL_STATES = ("paid", "partially_paid", "authorized")
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
    import_financial_state_ids = fields.Many2many(
        "marketplace.shopify.financial.state",
        string="Import Orders When",
        default=lambda self: self._default_import_financial_states(),
        help="The financial states a Shopify order must have to be imported.",
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

    def _default_import_financial_states(self):
        return self.env["marketplace.shopify.financial.state"].search(
            [("code", "in", DEFAULT_IMPORT_FINANCIAL_STATES)]
        )

    def _get_import_financial_states(self):
        """The adapter's ``import_financial_states``: Shopify's names."""
        self.ensure_one()
        return tuple(self.import_financial_state_ids.mapped("code"))

    @api.onchange("marketplace_type", "shop_domain")
    def _onchange_shopify_defaults(self):
        for backend in self.filtered(lambda b: b.marketplace_type == "shopify"):
            if not backend.api_version:
                backend.api_version = DEFAULT_API_VERSION
            if backend.shop_domain and not backend.api_url:
                backend.api_url = f"https://{backend.shop_domain}"
