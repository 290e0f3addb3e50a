# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    marketplace_line_id = fields.Char(
        string="Marketplace Line ID",
        copy=False,
        help="The channel's id of the order line (fulfillments, refunds).",
    )
