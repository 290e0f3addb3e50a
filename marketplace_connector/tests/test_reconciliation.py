# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Reconciliation reads what every channel shows and corrects drift (at
once when the channel shows too much, by a later push when too little),
escalating what exceeds the threshold; the ledger applies each sale once
and flags a shortfall as oversold, never negative stock."""

from odoo import fields
from odoo.tests.common import tagged

from odoo.addons.marketplace_connector.services.stock_ledger import StockLedger

from .stock_common import StockCase


@tagged("post_install", "-at_install")
class TestReconciliation(StockCase):
    def reconcile(self):
        self.backend._enqueue_reconcile()
        self.perform_jobs("_job_reconcile_stock")
        return self.env["marketplace.stock.reconciliation"].search(
            [("backend_id", "=", self.backend.id)], limit=1
        )

    def test_drift_corrected_under_threshold_and_escalated_above(self):
        self.backend.stock_drift_threshold = 5
        for sku in ("MUG", "TEE", "CAP"):
            self.change_stock(sku, -0.5)
        self.perform_jobs("_job_push_stock")
        self.set_inventory("MUG", 47)  # -2: raise
        self.set_inventory("CAP", 52)  # +3: lower
        self.set_inventory("TEE", 10)  # -39: escalate
        run = self.reconcile()
        self.assertEqual(run.checked, 3)
        self.assertEqual(run.in_sync, 0)
        self.assertEqual(run.corrected, 2)
        self.assertEqual(run.escalated, 1)
        # more on the channel than we can sell: lowered at once
        self.assertEqual(self.channel_quantity("CAP"), 49)
        # less: raised by a push a little later (the drop may be a sale whose
        # order is on its way), which holds it while orders wait
        self.assertEqual(self.channel_quantity("MUG"), 47)
        queued = self.queued_rows()
        self.assertEqual(queued.product_id, self.products["MUG"])
        self.assertGreater(queued.due_at, fields.Datetime.now())
        self.push_queued_now()
        self.assertEqual(self.channel_quantity("MUG"), 49)
        self.assertEqual(self.channel_quantity("TEE"), 10, "left for a person")
        self.assertEqual(self.level("TEE").state, "escalated")
        self.assertTrue(
            self.backend.activity_ids.filtered(lambda a: "drift" in (a.summary or ""))
        )
        # levels in drift now: CAP-RED (corrected by the reconciliation) and
        # TEE-L (escalated); MUG-BLUE is synced since its push
        self.assertEqual(self.level("MUG").state, "synced")
        self.assertEqual(self.backend.drift_count, 2)

    def pushed_in_sync(self):
        """Every channel quantity pushed: MUG-BLUE and CAP-RED 49, TEE-L 48."""
        for sku, change in (("MUG", -0.5), ("CAP", -0.5), ("TEE", -2)):
            self.change_stock(sku, change)
        self.perform_jobs("_job_push_stock")

    def test_orders_waiting_in_the_inbox_count_as_in_a_push(self):
        self.backend.stock_drift_threshold = 5
        self.pushed_in_sync()
        order = self.order([("TEE", 3)])
        self.assertEqual(self.deliver(order).status_code, 200)
        self.push_now()
        self.assertEqual(self.channel_quantity("TEE"), 45, "the waiting order counts")
        # the order is not imported yet: the channel showing 45 is right,
        # not 3 units short (raising it would offer units already sold)
        run = self.reconcile()
        self.assertEqual((run.checked, run.in_sync, run.corrected), (3, 3, 0))
        self.assertEqual(self.channel_quantity("TEE"), 45)
        self.assertFalse(self.queued_rows())

    def test_raise_found_by_reconciliation_is_held_while_orders_wait(self):
        self.backend.stock_drift_threshold = 5
        self.pushed_in_sync()
        # the channel sold 2 units; their orders have not reached us, and
        # another order waits in the inbox: a sale day's backlog
        self.set_inventory("TEE", 46)
        waiting = self.order_waiting("reconcile-held")
        run = self.reconcile()
        self.assertEqual((run.checked, run.in_sync, run.corrected), (3, 2, 1))
        self.push_queued_now()
        self.assertEqual(self.channel_quantity("TEE"), 46, "raise held")
        self.assertEqual(self.level("TEE").state, "pending")
        waiting.state = "done"
        self.push_queued_now()
        self.assertEqual(self.channel_quantity("TEE"), 48)


@tagged("post_install", "-at_install")
class TestLedger(StockCase):
    def test_duplicate_event_is_applied_once(self):
        payload = self.order([("CAP", 2)])
        self.deliver(payload)
        self.perform_jobs("_job_process")
        sale = self.sale_orders()
        ledger = self.env["marketplace.stock.ledger"]
        self.assertEqual(ledger.search_count([("sale_order_id", "=", sale.id)]), 1)
        # the same order again through the ledger: nothing new
        StockLedger(self.backend).apply_sale(sale, str(payload["id"]))
        self.assertEqual(ledger.search_count([("sale_order_id", "=", sale.id)]), 1)

    def test_shortfall_is_flagged_oversold_never_negative(self):
        product = self.add_product("LAST-ONE", 1)
        first = self.order([("LAST-ONE", 1)])
        second = self.order([("LAST-ONE", 1)])
        self.deliver(first)
        self.deliver(second)
        self.perform_jobs("_job_process")
        orders = self.sale_orders().sorted("id")
        self.assertEqual(orders.mapped("marketplace_oversold"), [False, True])
        self.assertEqual(orders[0].picking_ids.state, "assigned")
        self.assertNotEqual(orders[1].picking_ids.state, "assigned")
        self.assertIn("Oversold", orders[1].marketplace_last_error)
        self.assertTrue(orders[1].activity_ids)
        self.assertEqual(self.backend.oversold_count, 1)
        quant = self.env["stock.quant"].search(
            [
                ("product_id", "=", product.id),
                ("location_id", "=", self.warehouse.lot_stock_id.id),
            ]
        )
        self.assertGreaterEqual(quant.quantity - quant.reserved_quantity, 0)
