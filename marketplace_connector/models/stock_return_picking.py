# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Odoo's return wizard, receiving where the backend says: a refund's return
receipt is made with the standard wizard (links to the delivery, its moves'
``origin_returned_move_id``) and only its destination differs."""

from odoo import models

RETURN_LOCATION_KEY = "marketplace_return_location_id"


class StockReturnPicking(models.TransientModel):
    _inherit = "stock.return.picking"

    def _prepare_picking_default_values(self):
        vals = super()._prepare_picking_default_values()
        location_id = self.env.context.get(RETURN_LOCATION_KEY)
        if location_id:
            vals["location_dest_id"] = location_id
        return vals
