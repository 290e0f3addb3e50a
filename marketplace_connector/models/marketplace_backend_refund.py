# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Where refunded units that come back go, and whether the warehouse checks
them first (refunds with restock type *return*)."""

from odoo import fields, models


class MarketplaceBackend(models.Model):
    _inherit = "marketplace.backend"

    return_location_id = fields.Many2one(
        "stock.location",
        string="Returns To",
        domain="[('usage', '=', 'internal')]",
        check_company=True,
        help="Where a refund's returned units are received. Empty: the "
        "destination of the warehouse's return operation (its stock).",
    )
    return_auto_validate = fields.Boolean(
        string="Receive Returns at Once",
        default=True,
        help="Validate the return receipt of a refund when the refund is "
        "booked. Off: the receipt waits for the warehouse to check the goods "
        "and validate it.",
    )
    refund_count = fields.Integer(compute="_compute_refund_count")

    def _compute_refund_count(self):
        counts = dict(
            self.env["marketplace.refund"]._read_group(
                [("backend_id", "in", self.ids)], ["backend_id"], ["__count"]
            )
        )
        for backend in self:
            backend.refund_count = counts.get(backend, 0)

    def action_view_refunds(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "marketplace_connector.action_marketplace_refund"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        action["context"] = {"create": False}
        return action
