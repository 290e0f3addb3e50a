# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Validated deliveries of merchant-fulfilled orders become Amazon shipment
confirmations (v0 ``confirmShipment``), one package per delivery, never two
for one delivery however often the job runs."""

from .common import AmazonCase, tagged


@tagged("post_install", "-at_install")
class TestShipmentConfirmation(AmazonCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.carrier = cls.env["delivery.carrier"].create(
            {
                "name": "UPS Ground",
                "product_id": cls.env["product.product"]
                .create({"name": "UPS Ground shipping", "type": "service"})
                .id,
            }
        )
        cls.backend.carrier_map_ids = [
            (0, 0, {"carrier_id": cls.carrier.id, "code": "UPS", "name": "UPS"})
        ]

    def import_order(self, lines):
        order = self.create_order(lines)
        self.import_orders()
        sale = self.sale_order(order)
        self.assertEqual(sale.state, "sale")
        return order, sale

    def ship(self, picking, quantities, tracking, carrier=None):
        """Validate a delivery of ``quantities`` ({sku: qty}), the rest left
        for a backorder."""
        picking.carrier_id = carrier or self.carrier
        picking.carrier_tracking_ref = tracking
        for move in picking.move_ids:
            move.quantity = quantities.get(move.product_id.default_code, 0)
            move.picked = True
        picking.with_context(cancel_backorder=False)._action_done()
        self.assertEqual(picking.state, "done")
        self.env.flush_all()

    @staticmethod
    def item_ids(order):
        return {
            item["product"]["sellerSku"]: item["orderItemId"]
            for item in order["orderItems"]
        }

    def status(self, order):
        return self.sim.get_order(order["orderId"])["fulfillment"]["fulfillmentStatus"]

    def test_partial_deliveries_confirm_two_packages(self):
        order, sale = self.import_order([("MUG-BLUE", 3), ("TEE-L", 1)])
        items = self.item_ids(order)
        self.ship(sale.picking_ids, {"MUG-BLUE": 2}, "1Z999AA10000000001")
        backorder = sale.picking_ids.filtered(lambda p: p.state != "done")
        self.assertTrue(backorder)
        self.perform_jobs("_job_send")
        self.assertEqual(self.status(order), "PARTIALLY_SHIPPED")
        self.ship(backorder, {"MUG-BLUE": 1, "TEE-L": 1}, "1Z999AA10000000002")
        self.perform_jobs("_job_send")

        packages = self.sim.shipments(order["orderId"])
        self.assertEqual(len(packages), 2)
        self.assertEqual(
            [(p["trackingNumber"], p["carrier"]) for p in packages],
            [("1Z999AA10000000001", "UPS"), ("1Z999AA10000000002", "UPS")],
        )
        self.assertEqual(
            [
                sorted((i["orderItemId"], i["quantity"]) for i in p["packageItems"])
                for p in packages
            ],
            [
                [(items["MUG-BLUE"], 2)],
                sorted([(items["MUG-BLUE"], 1), (items["TEE-L"], 1)]),
            ],
        )
        detail = self.sim.shipment_attempts(order["orderId"])[0]["packageDetail"]
        self.assertEqual(detail["carrierCode"], "UPS")
        self.assertEqual(detail["shippingMethod"], "UPS Ground")
        self.assertEqual(self.status(order), "SHIPPED")
        self.assertEqual(set(sale.marketplace_shipment_ids.mapped("state")), {"sent"})

    def test_a_retried_confirmation_never_confirms_twice(self):
        order, sale = self.import_order([("MUG-BLUE", 2)])
        self.ship(sale.picking_ids, {"MUG-BLUE": 1}, "1Z999AA10000000011")
        first = sale.marketplace_shipment_ids
        # validated again, or a second worker runs the hook: still one row
        self.env["marketplace.shipment"]._create_for_pickings(first.picking_id)
        self.assertEqual(len(sale.marketplace_shipment_ids), 1)
        self.perform_jobs("_job_send")
        # the answer was lost: the job runs again with the same reference;
        # Amazon refuses the package as confirmed already, which is success
        first.state = "pending"
        first._job_send()
        self.assertEqual(first.state, "sent", first.last_error)

        rest = sale.picking_ids.filtered(lambda p: p.state != "done")
        self.ship(rest, {"MUG-BLUE": 1}, "1Z999AA10000000012")
        self.perform_jobs("_job_send")
        last = sale.marketplace_shipment_ids - first
        # lost again: now the order is shipped, and Amazon says only that;
        # its packages show ours once its data caught up (the retry comes
        # seconds later)
        self.sim.clock.advance(5)
        last.state = "pending"
        last._job_send()
        self.assertEqual(last.state, "sent", last.last_error)

        self.assertEqual(len(self.sim.shipments(order["orderId"])), 2)
        attempts = self.sim.shipment_attempts(order["orderId"])
        self.assertEqual([a["accepted"] for a in attempts], [True, False, True, False])
        self.assertEqual(self.status(order), "SHIPPED")

    def test_an_unmapped_carrier_goes_as_other_with_its_name(self):
        order, sale = self.import_order([("TEE-L", 1)])
        local = self.env["delivery.carrier"].create(
            {"name": "Local Courier", "product_id": self.carrier.product_id.id}
        )
        self.ship(sale.picking_ids, {"TEE-L": 1}, "JD014600006281234567", local)
        shipment = sale.marketplace_shipment_ids
        self.perform_jobs("_job_send")
        self.assertEqual(shipment.state, "sent", shipment.last_error)
        [attempt] = self.sim.shipment_attempts(order["orderId"])
        self.assertEqual(attempt["packageDetail"]["carrierCode"], "Other")
        self.assertEqual(attempt["packageDetail"]["carrierName"], "Local Courier")
        [package] = self.sim.shipments(order["orderId"])
        self.assertEqual(package["carrier"], "Local Courier")

    def test_a_delivery_amazon_refuses_is_visible(self):
        order, sale = self.import_order([("CAP-RED", 1)])
        # cancelled by the buyer while we were packing
        self.sim.cancel_order(order["orderId"], by="BUYER")
        self.ship(sale.picking_ids, {"CAP-RED": 1}, "1Z999AA10000000021")
        self.perform_jobs("_job_send")
        shipment = sale.marketplace_shipment_ids
        self.assertEqual(shipment.state, "failed")
        self.assertIn("canceled", shipment.last_error)
        self.assertEqual(sale.marketplace_sync_state, "error")
        self.assertEqual(self.sim.shipments(order["orderId"]), [])
