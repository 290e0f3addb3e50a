# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Shopify's financial statuses, as records a backend can pick from.

Which orders import is a choice among the states Shopify knows
(``lib.mapping.FINANCIAL_STATES``), made with checkboxes on the backend
rather than typed: the records come with the addon
(data/shopify_financial_state_data.xml) and nobody creates others."""

from odoo import fields, models


class MarketplaceShopifyFinancialState(models.Model):
    _name = "marketplace.shopify.financial.state"
    _description = "Shopify Financial State"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(
        required=True,
        readonly=True,
        help="The order's financial_status as Shopify sends it.",
    )
    sequence = fields.Integer(default=10)

    _sql_constraints = [
        ("code_unique", "UNIQUE(code)", "A Shopify financial state exists once."),
    ]
