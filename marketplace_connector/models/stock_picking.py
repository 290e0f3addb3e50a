# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
from odoo import SUPERUSER_ID, fields, models


class StockPicking(models.Model):
    _inherit = "stock.picking"

    marketplace_shipment_ids = fields.One2many(
        "marketplace.shipment", "picking_id", string="Marketplace Shipments"
    )

    def _action_done(self):
        """A validated delivery of a marketplace order is told to its
        channel (``marketplace.shipment``), once. Whoever validates it (a
        warehouse user has no rights on marketplace records), the shipment
        is the connector's: created, and its job queued and run, as the
        superuser."""
        result = super()._action_done()
        done = self.filtered(lambda picking: picking.state == "done")
        self.env["marketplace.shipment"].with_user(SUPERUSER_ID)._create_for_pickings(
            done.with_user(SUPERUSER_ID)
        )
        return result
