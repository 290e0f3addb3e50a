# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Shared by the stock tests: the test channel with three products of 50
units each, helpers to read the channel and the pushes back."""

import datetime

from odoo import fields

from .common import LOCATION, ChannelCase


class StockCase(ChannelCase):
    CATALOGUE = (("MUG", 50), ("TEE", 50), ("CAP", 50))

    def setUp(self):
        super().setUp()
        self.products = dict(self.products)  # add_product adds to its own

    def channel_quantity(self, sku):
        return self.channel.quantity(f"item-{sku}", LOCATION)

    def set_inventory(self, sku, quantity):
        """The channel's quantity changes there (a sale, the merchant)."""
        self.channel.set_quantity(f"item-{sku}", LOCATION, quantity)

    def set_calls(self):
        """Every write call the channel received."""
        return self.channel.writes

    def queued_rows(self):
        """The products queued for this backend's coming pushes."""
        return self.env["marketplace.stock.dirty"].search(
            [("backend_id", "=", self.backend.id)]
        )

    def push_now(self):
        """A push of this backend, run now as its waiting job would be."""
        self.backend._enqueue_stock_push()
        self.perform_jobs("_job_push_stock")

    def push_queued_now(self):
        """Every queued product made due, then pushed: as the job of the
        slot they were queued for, at its time."""
        self.queued_rows().due_at = fields.Datetime.now() - datetime.timedelta(
            seconds=1
        )
        self.push_now()

    def level(self, sku):
        return self.levels(sku)

    def sale_orders(self):
        return self.env["sale.order"].search(
            [("marketplace_backend_id", "=", self.backend.id)]
        )

    def order_waiting(self, external_id):
        """An order sold on the channel, in the inbox, not imported yet."""
        return self.env["marketplace.event"].create(
            {
                "backend_id": self.backend.id,
                "company_id": self.backend.company_id.id,
                "topic": "order",
                "dedupe_key": f"order:{external_id}",
                "resource_type": "order",
                "external_id": external_id,
                "state": "queued",
                "payload": {},
            }
        )

    def add_product(self, sku, quantity):
        """A product in stock, bound to the channel's item ``item-<sku>``."""
        product = self.env["product.product"].create(
            {
                "name": sku,
                "default_code": sku,
                "type": "consu",
                "is_storable": True,
                "taxes_id": [(5, 0, 0)],
            }
        )
        self.env["stock.quant"]._update_available_quantity(
            product, self.warehouse.lot_stock_id, quantity
        )
        self.env["marketplace.product.binding"].create(
            {
                "backend_id": self.backend.id,
                "product_id": product.id,
                "external_id": f"item-{sku}",
                "sku": sku,
                "channel_item_ref": f"item-{sku}",
            }
        )
        self.channel.set_quantity(f"item-{sku}", LOCATION, 0)
        self.products[sku] = product
        return product
