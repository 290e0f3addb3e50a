# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Orders cancelled on Amazon: before we shipped, the sale order is
cancelled and its units offered again; after our delivery left, it is
flagged for a person (return and refund), never cancelled."""

from .common import AmazonCase, tagged


@tagged("post_install", "-at_install")
class TestCancellation(AmazonCase):
    def import_order(self, lines):
        order = self.create_order(lines)
        self.import_orders()
        sale = self.sale_order(order)
        self.assertEqual(sale.state, "sale")
        return order, sale

    def cancel(self, order, by="BUYER"):
        self.sim.clock.advance(60)
        self.sim.cancel_order(order["orderId"], by=by)
        self.sim.clock.advance(2)  # Amazon's data shows it
        self.import_orders()

    def test_cancelled_before_shipping_cancels_the_sale_order(self):
        order, sale = self.import_order([("TEE-L", 3)])
        self.assertEqual(self.products["TEE-L"].free_qty, 17)
        self.cancel(order)
        event = self.events()[-1]
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(event.demand, [], "a cancelled order takes nothing")
        self.assertEqual(sale.state, "cancel")
        self.assertEqual(sale.picking_ids.state, "cancel")
        self.assertEqual(sale.marketplace_sync_state, "synced")
        self.assertEqual(self.products["TEE-L"].free_qty, 20, "offered again")
        ledger = self.env["marketplace.stock.ledger"].search(
            [("sale_order_id", "=", sale.id)]
        )
        self.assertEqual(sorted(ledger.mapped("kind")), ["cancel", "sale"])
        self.assertEqual(sum(ledger.mapped("quantity")), 0)

    def test_cancelled_after_our_delivery_is_flagged_not_cancelled(self):
        order, sale = self.import_order([("MUG-BLUE", 1)])
        picking = sale.picking_ids
        picking.move_ids.quantity = 1
        picking.move_ids.picked = True
        picking.button_validate()
        self.assertEqual(picking.state, "done")
        # the buyer cancels before our confirmation reached Amazon
        self.cancel(order)
        self.assertEqual(sale.state, "sale", "a delivered order is not cancelled")
        self.assertEqual(sale.marketplace_sync_state, "attention")
        self.assertIn("already delivered", sale.marketplace_last_error)
        self.assertTrue(sale.activity_ids, "the responsible gets an activity")
        # and Amazon refuses to hear of the package
        self.perform_jobs("_job_send")
        self.assertEqual(sale.marketplace_shipment_ids.state, "failed")
        self.assertEqual(self.sim.shipments(order["orderId"]), [])

    def test_cancelled_before_import_never_becomes_an_order(self):
        order = self.create_order([("CAP-RED", 2)], status="PENDING")
        self.sim.cancel_order(order["orderId"], by="BUYER")
        self.sim.clock.advance(2)
        self.import_orders()
        self.assertFalse(self.sale_orders())
        self.assertEqual(set(self.events().mapped("state")), {"ignored"})
        self.assertEqual(self.binding(order).sync_state, "pending")
