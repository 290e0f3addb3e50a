# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The marketplace's refunds of an order, on the order (a smart button)."""

from odoo import api, fields, models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    marketplace_refund_ids = fields.One2many(
        "marketplace.refund", "sale_order_id", string="Marketplace Refunds"
    )
    marketplace_refund_count = fields.Integer(compute="_compute_marketplace_refund")

    @api.depends("marketplace_refund_ids")
    def _compute_marketplace_refund(self):
        for order in self:
            order.marketplace_refund_count = len(order.marketplace_refund_ids)

    def action_view_marketplace_refunds(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Marketplace Refunds"),
            "res_model": "marketplace.refund",
            "view_mode": "list,form",
            "domain": [("sale_order_id", "=", self.id)],
            "context": {"create": False},
        }
