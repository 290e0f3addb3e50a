# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import fields, models


class StockPicking(models.Model):
    _inherit = "stock.picking"

    marketplace_shipment_ids = fields.One2many(
        "marketplace.shipment", "picking_id", string="Marketplace Shipments"
    )

    def _action_done(self):
        """A validated delivery of a marketplace order is told to its
        channel (``marketplace.shipment``), once."""
        result = super()._action_done()
        self.env["marketplace.shipment"]._create_for_pickings(
            self.filtered(lambda picking: picking.state == "done")
        )
        return result
