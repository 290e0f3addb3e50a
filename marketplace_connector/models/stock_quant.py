# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Every change of on-hand or reserved stock goes through
``_update_available_quantity`` (moves done or cancelled, reservations,
inventory adjustments, receipts, marketplace orders): that is where the
marketplaces learn that a product's available-to-sell may have changed."""

from odoo import api, models


class StockQuant(models.Model):
    _inherit = "stock.quant"

    @api.model
    def _update_available_quantity(
        self,
        product_id,
        location_id,
        quantity=False,
        reserved_quantity=False,
        lot_id=None,
        package_id=None,
        owner_id=None,
        in_date=None,
    ):
        result = super()._update_available_quantity(
            product_id,
            location_id,
            quantity=quantity,
            reserved_quantity=reserved_quantity,
            lot_id=lot_id,
            package_id=package_id,
            owner_id=owner_id,
            in_date=in_date,
        )
        if location_id.usage == "internal":
            decrement = (quantity or 0) < 0 or (reserved_quantity or 0) > 0
            self.env["marketplace.stock.dirty"]._register_change(
                product_id.id, decrement
            )
        return result
