# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Validated deliveries of Shopify orders become Shopify fulfillments over
real HTTP: the delivered lines and quantities with the carrier and tracking
number, one fulfillment per delivery and location, never two for one
delivery however often its job runs, and a held fulfillment order shown on
the picking and the order until Retry succeeds."""

import requests

from .common import ShopifyCase, tagged


@tagged("post_install", "-at_install")
class TestFulfilment(ShopifyCase):
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
            (0, 0, {"carrier_id": cls.carrier.id, "code": "UPS"})
        ]

    def import_order(self, lines):
        # no tax: the delivery is what matters here
        payload = self.sim.create_order(lines=lines, tax_rate="0", notify=False)
        self.assertEqual(self.deliver("orders/create", payload), 200)
        self.perform_jobs()
        sale = self.binding(payload).order_id
        self.assertEqual(
            sale.state,
            "sale",
            self.events().mapped(lambda e: (e.state, e.result, e.last_error)),
        )
        return payload, sale

    def ship(self, picking, quantities, tracking):
        """Validate a delivery of ``quantities`` ({sku: qty}), the rest left
        for a backorder."""
        picking.carrier_id = self.carrier
        picking.carrier_tracking_ref = tracking
        for move in picking.move_ids:
            move.quantity = quantities.get(move.product_id.default_code, 0)
            move.picked = True
        picking.with_context(cancel_backorder=False)._action_done()
        self.assertEqual(picking.state, "done")
        self.env.flush_all()

    def fulfillments(self, payload):
        """``[(tracking number, company, {sku: qty})]`` the shop shows, read
        over the simulator's control surface as the demo does."""
        response = requests.get(
            f"{self.sim.url}/_sim/orders/{payload['id']}/fulfillments", timeout=10
        )
        response.raise_for_status()
        return [
            (
                made["tracking_number"],
                made["tracking_company"],
                {line["sku"]: line["quantity"] for line in made["line_items"]},
            )
            for made in response.json()
        ]

    def test_a_partial_delivery_then_the_rest_make_two_fulfillments(self):
        payload, sale = self.import_order([("MUG-BLUE", 3), ("TEE-L", 1)])
        self.ship(sale.picking_ids, {"MUG-BLUE": 2}, "1Z999AA10000000001")
        backorder = sale.picking_ids.filtered(lambda p: p.state != "done")
        self.assertTrue(backorder)
        self.perform_jobs("_job_send")
        self.assertEqual(
            self.sim.get_order(payload["id"])["fulfillment_status"], "partial"
        )
        self.backend.shopify_notify_customer = False
        self.ship(backorder, {"MUG-BLUE": 1, "TEE-L": 1}, "1Z999AA10000000002")
        self.perform_jobs("_job_send")

        self.assertEqual(
            self.fulfillments(payload),
            [
                ("1Z999AA10000000001", "UPS", {"MUG-BLUE": 2}),
                ("1Z999AA10000000002", "UPS", {"MUG-BLUE": 1, "TEE-L": 1}),
            ],
        )
        notified = [
            made["notify_customer"]
            for made in self.sim.fulfillment.fulfillment_dicts(payload["id"])
        ]
        self.assertEqual(notified, [True, False], "as the backend said each time")
        self.assertEqual(
            self.sim.get_order(payload["id"])["fulfillment_status"], "fulfilled"
        )
        shipments = sale.marketplace_shipment_ids
        self.assertEqual(set(shipments.mapped("state")), {"sent"})
        self.assertEqual(
            set(shipments.mapped("picking_id")), set(sale.picking_ids), "one each"
        )
        # Shopify's orders/updated of the fulfilled order changes nothing here
        fulfilled = self.sim.get_order(payload["id"])
        self.assertEqual(self.deliver("orders/updated", fulfilled), 200)
        self.perform_jobs()
        self.assertEqual(self.events(topic="orders/updated").mapped("state"), ["done"])
        self.assertEqual(sale.state, "sale")
        self.assertEqual(sale.marketplace_sync_state, "synced")
        self.assertEqual(len(sale.picking_ids), 2, "no new delivery")

    def test_a_retried_job_and_a_second_validation_fulfil_once(self):
        payload, sale = self.import_order([("MUG-BLUE", 2)])
        picking = sale.picking_ids
        self.ship(picking, {"MUG-BLUE": 2}, "1Z999AA10000000011")
        shipment = sale.marketplace_shipment_ids
        # validated again, or a second worker runs the hook: still one row
        self.env["marketplace.shipment"]._create_for_pickings(picking)
        self.assertEqual(len(sale.marketplace_shipment_ids), 1)
        self.perform_jobs("_job_send")
        self.assertEqual(shipment.state, "sent", shipment.last_error)
        # the answer was lost: the job runs again, Shopify already has it
        shipment.state = "pending"
        shipment._job_send()
        self.assertEqual(shipment.state, "sent", shipment.last_error)
        self.assertEqual(shipment.attempts, 2)
        self.assertEqual(len(self.fulfillments(payload)), 1)

    def test_a_held_fulfillment_order_is_visible_then_retried(self):
        payload, sale = self.import_order([("CAP-RED", 1)])
        # the merchant holds it in Shopify (an address to check)
        held = requests.post(
            f"{self.sim.url}/_sim/orders/{payload['id']}/hold",
            json={"reason": "INCORRECT_ADDRESS", "notes": "no street number"},
            timeout=10,
        )
        self.assertEqual(held.status_code, 200, held.text)
        picking = sale.picking_ids
        self.ship(picking, {"CAP-RED": 1}, "1Z999AA10000000021")
        self.perform_jobs("_job_send")
        shipment = sale.marketplace_shipment_ids
        self.assertEqual(shipment.state, "failed")
        self.assertIn("Release the hold", shipment.last_error)
        self.assertIn("incorrect address (no street number)", shipment.last_error)
        self.assertEqual(sale.marketplace_sync_state, "error")
        self.assertIn("Release the hold", sale.marketplace_last_error)
        self.assertIn(
            "Release the hold", picking.message_ids[:1].body, "told on the picking"
        )
        self.assertEqual(self.fulfillments(payload), [])

        requests.post(
            f"{self.sim.url}/_sim/orders/{payload['id']}/release", timeout=10
        ).raise_for_status()
        shipment.action_retry()
        self.perform_jobs("_job_send")
        self.assertEqual(shipment.state, "sent", shipment.last_error)
        self.assertEqual(
            self.fulfillments(payload),
            [("1Z999AA10000000021", "UPS", {"CAP-RED": 1})],
        )
        self.assertEqual(sale.marketplace_sync_state, "synced", "error cleared")

    def test_items_at_two_locations_make_one_fulfillment_per_location(self):
        payload, sale = self.import_order([("MUG-BLUE", 1), ("TEE-L", 2)])
        second = self.sim.add_location("Second warehouse")
        tee = next(i for i in payload["line_items"] if i["sku"] == "TEE-L")
        self.sim.fulfillment.move(payload["id"], tee["id"], second)
        self.ship(sale.picking_ids, {"MUG-BLUE": 1, "TEE-L": 2}, "1Z999AA10000000031")
        self.perform_jobs("_job_send")
        self.assertEqual(sale.marketplace_shipment_ids.state, "sent")
        by_location = {
            made["location_id"]: {
                line["sku"]: line["quantity"] for line in made["line_items"]
            }
            for made in self.sim.fulfillment.fulfillment_dicts(payload["id"])
        }
        self.assertEqual(
            by_location,
            {self.sim.location_id: {"MUG-BLUE": 1}, second: {"TEE-L": 2}},
        )

    def test_a_split_line_is_fulfilled_where_the_delivery_left_from(self):
        payload, sale = self.import_order([("MUG-BLUE", 3)])
        second = self.sim.add_location("Second warehouse")
        mug = payload["line_items"][0]
        # Shopify assigned one unit to the second location, which is where
        # this warehouse ships from (the backend's channel location)
        self.sim.fulfillment.move(payload["id"], mug["id"], second, quantity=1)
        self.backend.channel_location_ids = [
            (
                0,
                0,
                {
                    "name": "Second warehouse",
                    "external_id": str(second),
                    "location_id": self.warehouse.lot_stock_id.id,
                },
            )
        ]
        self.ship(sale.picking_ids, {"MUG-BLUE": 1}, "1Z999AA10000000041")
        self.perform_jobs("_job_send")
        shipment = sale.marketplace_shipment_ids
        self.assertEqual(shipment.state, "sent", shipment.last_error)
        [made] = self.sim.fulfillment.fulfillment_dicts(payload["id"])
        self.assertEqual(made["location_id"], second)
        self.assertEqual([line["quantity"] for line in made["line_items"]], [1])
