# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import api, fields, models

DEFAULT_API_VERSION = "2026-10"


class MarketplaceBackend(models.Model):
    _inherit = "marketplace.backend"

    marketplace_type = fields.Selection(
        selection_add=[("shopify", "Shopify")],
        ondelete={"shopify": "cascade"},
    )

    @api.onchange("marketplace_type", "shop_domain")
    def _onchange_shopify_defaults(self):
        for backend in self.filtered(lambda b: b.marketplace_type == "shopify"):
            if not backend.api_version:
                backend.api_version = DEFAULT_API_VERSION
            if backend.shop_domain and not backend.api_url:
                backend.api_url = f"https://{backend.shop_domain}"
