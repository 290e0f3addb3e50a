# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Shopify bindings keep their inventory item: a binding created without
one (the order import binds a variant it finds by SKU; an order names the
variant, never its inventory item) gets it from the shop shortly after, so
its stock is pushed and reconciled like the others."""

from odoo import api, models

from odoo.addons.queue_job.job import identity_exact

#: seconds a lookup waits, so the bindings of a burst of orders go in one call
FILL_DELAY = 2


class MarketplaceProductBinding(models.Model):
    _inherit = "marketplace.product.binding"

    @api.model_create_multi
    def create(self, vals_list):
        bindings = super().create(vals_list)
        missing = bindings.filtered(
            lambda b: (
                not b.channel_item_ref and b.backend_id.marketplace_type == "shopify"
            )
        )
        for backend in missing.backend_id:
            backend.with_delay(
                priority=20,
                eta=FILL_DELAY,
                identity_key=identity_exact,
                description=f"Inventory items of new bindings of {backend.name}",
            )._job_fill_inventory_items()
        return bindings

    def _archive_deleted_on_channel(self):
        """The variant is gone from the channel: archived, its stock
        reference and levels removed (nothing to push or reconcile)."""
        self.env["marketplace.stock.level"].search(
            [("binding_id", "in", self.ids)]
        ).unlink()
        self.write({"active": False, "channel_item_ref": False})
