# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Validated deliveries of marketplace orders are told to their channel
once each: partial deliveries as several packages, retries and
re-validations never as a second one, a refusal visible with Retry."""

from odoo.tests.common import new_test_user, tagged

from .common import ChannelCase


@tagged("post_install", "-at_install")
class TestShipments(ChannelCase):
    def setUp(self):
        super().setUp()
        self.carrier = self.env["delivery.carrier"].create(
            {
                "name": "Parcel Express",
                "product_id": self.env["product.product"]
                .create({"name": "Parcel Express shipping", "type": "service"})
                .id,
            }
        )
        self.backend.carrier_map_ids = [
            (0, 0, {"carrier_id": self.carrier.id, "code": "PEX"})
        ]

    def import_order(self, lines):
        payload = self.channel.add_order(self.order(lines))
        self.deliver(payload)
        self.perform_jobs("_job_process")
        sale = self.events(external_id=payload["id"]).sale_order_id
        self.assertEqual(sale.state, "sale")
        return payload, sale

    def ship(self, picking, quantities, tracking):
        picking.carrier_id = self.carrier
        picking.carrier_tracking_ref = tracking
        for move in picking.move_ids:
            move.quantity = quantities.get(move.product_id.default_code, 0)
            move.picked = True
        picking.with_context(cancel_backorder=False)._action_done()
        self.env.flush_all()

    def test_partial_delivery_then_the_rest_make_two_packages(self):
        payload, sale = self.import_order([("WIDGET", 3), ("GADGET", 1)])
        self.ship(sale.picking_ids, {"WIDGET": 2}, "TRACK-1")
        backorder = sale.picking_ids.filtered(lambda p: p.state != "done")
        self.assertTrue(backorder)
        self.perform_jobs("_job_send")
        self.ship(backorder, {"WIDGET": 1, "GADGET": 1}, "TRACK-2")
        self.perform_jobs("_job_send")
        sent = list(self.channel.shipments.values())
        self.assertEqual(len(sent), 2)
        self.assertEqual(
            [(s["tracking_number"], s["carrier"]) for s in sent],
            [("TRACK-1", "PEX"), ("TRACK-2", "PEX")],
        )
        self.assertEqual(
            sent[0]["lines"], [{"id": f"{payload['id']}-0", "quantity": 2}]
        )
        self.assertEqual(
            sorted((line["id"], line["quantity"]) for line in sent[1]["lines"]),
            [(f"{payload['id']}-0", 1), (f"{payload['id']}-1", 1)],
        )
        self.assertEqual(set(sale.marketplace_shipment_ids.mapped("state")), {"sent"})

    def test_a_retried_job_and_a_second_validation_send_one_package(self):
        _payload, sale = self.import_order([("WIDGET", 1)])
        picking = sale.picking_ids
        self.ship(picking, {"WIDGET": 1}, "TRACK-9")
        shipment = sale.marketplace_shipment_ids
        # the picking is validated again (or a second worker runs the hook)
        self.env["marketplace.shipment"]._create_for_pickings(picking)
        self.assertEqual(len(sale.marketplace_shipment_ids), 1)
        self.perform_jobs("_job_send")
        # the answer was lost: the job runs again with the same reference
        shipment.state = "pending"
        shipment._job_send()
        self.assertEqual(len(self.channel.shipments), 1)
        self.assertEqual(shipment.state, "sent")

    def test_a_refusal_is_visible_and_retried_after_the_fix(self):
        _payload, sale = self.import_order([("GADGET", 1)])
        self.ship(sale.picking_ids, {"GADGET": 1}, "")
        self.perform_jobs("_job_send")
        shipment = sale.marketplace_shipment_ids
        self.assertEqual(shipment.state, "failed")
        self.assertIn("tracking number is required", shipment.last_error)
        self.assertEqual(sale.marketplace_sync_state, "error")
        self.assertFalse(self.channel.shipments)
        shipment.tracking_number = "TRACK-FIXED"
        shipment.action_retry()
        self.perform_jobs("_job_send")
        self.assertEqual(shipment.state, "sent")
        self.assertEqual(len(self.channel.shipments), 1)

    def test_orders_fulfilled_by_the_channel_send_nothing(self):
        payload = self.channel.add_order(
            self.order([("WIDGET", 1)], fulfilled_by_channel=True)
        )
        self.deliver(payload)
        self.perform_jobs("_job_process")
        sale = self.events(external_id=payload["id"]).sale_order_id
        self.assertFalse(sale.picking_ids)
        self.assertFalse(sale.marketplace_shipment_ids)

    def test_a_warehouse_user_without_marketplace_rights_ships(self):
        """The person who validates a delivery has stock rights, none on
        marketplace records: the shipment is the connector's to create and
        send, whoever validates."""
        user = new_test_user(
            self.env, login="mkt-ship-warehouse", groups="stock.group_stock_user"
        )
        _payload, sale = self.import_order([("WIDGET", 1)])
        picking = sale.picking_ids
        picking.carrier_id = self.carrier
        picking.carrier_tracking_ref = "TRACK-WH"
        for move in picking.move_ids:
            move.quantity = move.product_uom_qty
            move.picked = True
        self.assertIs(picking.with_user(user).button_validate(), True)
        self.env.flush_all()
        self.perform_jobs("_job_send")
        self.assertEqual(picking.state, "done")
        self.assertEqual(picking.marketplace_shipment_ids.state, "sent")
        self.assertEqual(
            [s["tracking_number"] for s in self.channel.shipments.values()],
            ["TRACK-WH"],
        )
