# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The journal a marketplace's payments are registered on, per payment
gateway the orders name (Shopify's ``shopify_payments``, ``paypal``...): each
gateway pays out on its own, so its payments reconcile with its own
statements. Orders of a gateway without a row use the backend's payment
journal."""

from odoo import fields, models


class MarketplacePaymentJournal(models.Model):
    _name = "marketplace.payment.journal"
    _description = "Marketplace Payment Journal"
    _order = "backend_id, gateway"

    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, precompute=True
    )
    gateway = fields.Char(
        required=True,
        help="The payment gateway as the channel names it, e.g. shopify_payments.",
    )
    journal_id = fields.Many2one(
        "account.journal",
        required=True,
        check_company=True,
        domain="[('type', 'in', ('bank', 'cash'))]",
    )

    _sql_constraints = [
        (
            "gateway_unique",
            "UNIQUE(backend_id, gateway)",
            "A payment gateway has one journal per backend.",
        ),
    ]
