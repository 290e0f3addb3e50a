# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""What warehouse staff see of the marketplace on a sale order."""

from odoo import api, fields, models

from .marketplace_order_binding import SYNC_STATES


class SaleOrder(models.Model):
    _inherit = "sale.order"

    marketplace_binding_ids = fields.One2many(
        "marketplace.order.binding", "order_id", readonly=True
    )
    marketplace_backend_id = fields.Many2one(
        "marketplace.backend",
        string="Marketplace",
        compute="_compute_marketplace_sync",
        store=True,
        index="btree_not_null",
    )
    marketplace_external_name = fields.Char(
        string="Marketplace Order", compute="_compute_marketplace_sync", store=True
    )
    marketplace_sync_state = fields.Selection(
        SYNC_STATES,
        string="Marketplace Sync",
        compute="_compute_marketplace_sync",
        store=True,
    )
    marketplace_last_error = fields.Text(
        string="Marketplace Message", compute="_compute_marketplace_sync", store=True
    )

    marketplace_shipment_ids = fields.One2many(
        "marketplace.shipment", "sale_order_id", string="Marketplace Shipments"
    )
    marketplace_fulfilled_by_channel = fields.Boolean(
        string="Fulfilled by the Marketplace",
        readonly=True,
        copy=False,
        help="The marketplace ships this order from its own warehouse (e.g. "
        "Amazon's FBA): it is booked here, but reserves and moves none of "
        "our stock.",
    )
    marketplace_oversold = fields.Boolean(
        string="Oversold",
        readonly=True,
        copy=False,
        index=True,
        help="A marketplace sold more than the free stock when this order "
        "came in: the shortfall is on the ledger and an activity asks the "
        "team to decide (restock, substitute, cancel).",
    )

    @api.depends(
        "marketplace_binding_ids.sync_state",
        "marketplace_binding_ids.sync_message",
        "marketplace_binding_ids.external_name",
    )
    def _compute_marketplace_sync(self):
        for order in self:
            binding = order.marketplace_binding_ids[:1]
            order.marketplace_backend_id = binding.backend_id
            order.marketplace_external_name = binding.external_name
            order.marketplace_sync_state = binding.sync_state
            order.marketplace_last_error = (
                binding.sync_message
                if binding.sync_state in ("attention", "error")
                else False
            )
