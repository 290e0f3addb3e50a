# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Stock fan-out against the simulator: coalescing, compare-and-set,
batching within rate limits, inbound levels, reconciliation."""

import datetime
import json
import threading
import time
from contextlib import closing

from odoo import fields, sql_db

from odoo.addons.marketplace_connector.services.stock_ledger import StockLedger

from .common import ShopifyCase, tagged


@tagged("post_install", "-at_install")
class StockCase(ShopifyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stock_location = cls.warehouse.lot_stock_id
        cls.backend.write(
            {
                "channel_location_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "Shop location",
                            "external_id": str(cls.sim.location_id),
                            "location_id": cls.stock_location.id,
                        },
                    )
                ],
                "stock_push_delay": 0,
            }
        )
        cls.variants = {}
        for sku in ("MUG-BLUE", "TEE-L", "CAP-RED"):
            cls.variants[sku] = cls.bind(sku, cls.products[sku])

    @classmethod
    def bind(cls, sku, product, backend=None, variant=None):
        variant = variant or cls.sim_variants[sku]
        cls.env["marketplace.product.binding"].create(
            {
                "backend_id": (backend or cls.backend).id,
                "product_id": product.id,
                "external_id": str(variant["variant_id"]),
                "sku": sku,
                "channel_item_ref": str(variant["inventory_item_id"]),
            }
        )
        return variant

    def change_stock(self, product, quantity):
        """One stock change, committed as a transaction would be."""
        self.env["stock.quant"]._update_available_quantity(
            product, self.stock_location, quantity
        )
        self.env.flush_all()
        self.env.cr.precommit.run()

    def channel_quantity(self, sku):
        return self.sim.inventory_level(self.variants[sku]["inventory_item_id"])

    def set_calls(self):
        return [
            r
            for r in self.sim.requests
            if r["path"].endswith("graphql.json")
            and "inventorySetQuantities" in json.dumps(r["json"] or {})
        ]

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
        return self.env["marketplace.stock.level"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("product_id", "=", self.products[sku].id),
            ]
        )

    def order_waiting(self, external_id):
        """An order sold on the channel, in the inbox, not imported yet."""
        return self.env["marketplace.event"].create(
            {
                "backend_id": self.backend.id,
                "company_id": self.backend.company_id.id,
                "topic": "orders/create",
                "dedupe_key": f"order:{external_id}",
                "resource_type": "order",
                "external_id": external_id,
                "state": "queued",
                "payload": {},
            }
        )


@tagged("post_install", "-at_install")
class TestStockPush(StockCase):
    def test_burst_of_changes_is_one_push_of_the_final_value(self):
        self.sim.reset_stats()
        for _change in range(100):
            self.change_stock(self.products["MUG-BLUE"], -0.25)
        # at most one waiting job per direction (decrements go first, at a
        # higher priority), whatever the number of changes
        self.assertLessEqual(len(self.pending_jobs("_job_push_stock")), 2)
        self.perform_jobs("_job_push_stock")
        self.assertLessEqual(len(self.set_calls()), 2)
        self.assertFalse(
            self.env["marketplace.stock.dirty"].search(
                [("product_id", "=", self.products["MUG-BLUE"].id)]
            ),
            "every queued change was taken by the push",
        )
        # 50 on hand - 25 = 25 free: the one channel gets it all
        self.assertEqual(self.channel_quantity("MUG-BLUE"), 25)
        level = self.level("MUG-BLUE")
        self.assertEqual(level.state, "synced")
        self.assertEqual(level.last_confirmed_quantity, 25)

    def test_first_push_of_a_product_creates_its_stock_lock_row(self):
        product = self.products["MUG-BLUE"]
        self.level("MUG-BLUE").unlink()
        self.env.cr.execute(
            "DELETE FROM marketplace_stock_lock WHERE product_id = %s", (product.id,)
        )
        self.change_stock(product, -1)
        self.perform_jobs("_job_push_stock")
        self.assertTrue(self.level("MUG-BLUE"))
        lock = self.env["marketplace.stock.lock"].search(
            [("product_id", "=", product.id)]
        )
        self.assertEqual(len(lock), 1, "there before the product's first sale")

    def test_unchanged_quantity_is_not_pushed_again(self):
        self.change_stock(self.products["TEE-L"], -1)
        self.perform_jobs("_job_push_stock")
        calls = len(self.set_calls())
        self.change_stock(self.products["TEE-L"], 0.4)  # still 49 whole units
        self.perform_jobs("_job_push_stock")
        self.assertEqual(len(self.set_calls()), calls, "skipped: equals last confirmed")

    def test_stale_compare_and_set_rereads_and_ends_right(self):
        self.change_stock(self.products["CAP-RED"], -5)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("CAP-RED"), 45)
        # the merchant changes it in Shopify's admin in between
        self.sim.set_inventory(self.variants["CAP-RED"]["inventory_item_id"], 3)
        self.change_stock(self.products["CAP-RED"], -5)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("CAP-RED"), 40)
        self.assertEqual(self.level("CAP-RED").last_confirmed_quantity, 40)

    def test_buffer_share_and_cap(self):
        self.backend.write(
            {"stock_buffer_units": 2, "stock_buffer_percent": 10, "stock_share": 0.5}
        )
        self.change_stock(self.products["TEE-L"], -10)  # 40 free
        self.perform_jobs("_job_push_stock")
        # 40 - 2 - 4 = 34, half = 17
        self.assertEqual(self.channel_quantity("TEE-L"), 17)
        binding = self.level("TEE-L").binding_id
        binding.write(
            {"stock_policy_override": True, "stock_share": 1, "stock_max_quantity": 5}
        )
        self.change_stock(self.products["TEE-L"], -1)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("TEE-L"), 5)

    def test_spent_rate_budget_requeues_without_spending_a_retry(self):
        # the budget lives in its own committed row, shared by all workers:
        # spend it from outside, as another worker would have
        def set_budget(available):
            with closing(sql_db.db_connect(self.env.cr.dbname).cursor()) as cr:
                cr.execute(
                    "INSERT INTO marketplace_rate_budget (backend_id, family, "
                    "available, maximum, restore_rate, updated_at) "
                    "VALUES (%s, 'graphql', %s, 2000, 100, now() at time zone 'UTC') "
                    "ON CONFLICT (backend_id, family) DO UPDATE SET "
                    "available = EXCLUDED.available, updated_at = EXCLUDED.updated_at",
                    (self.backend.id, available),
                )
                # another worker's transaction: it must be committed
                cr.commit()  # pylint: disable=invalid-commit

        set_budget(-5000)
        self.addCleanup(set_budget, 2000)
        self.change_stock(self.products["MUG-BLUE"], -1)
        calls = len(self.set_calls())
        self.perform_jobs("_job_push_stock", rounds=1)
        jobs = self.pending_jobs("_job_push_stock")
        self.assertTrue(jobs, "re-queued")
        for job in jobs:
            self.assertEqual(job.retry, 0, "no retry spent")
            self.assertGreaterEqual((job.eta - job.date_created).total_seconds(), 40)
        self.assertEqual(len(self.set_calls()), calls, "nothing sent over budget")
        set_budget(2000)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("MUG-BLUE"), 49)

    def test_throttled_by_the_channel_requeues_without_failing(self):
        # another app saturates the shop: Shopify throttles us although our
        # own budget had room; the push comes back later, it does not fail
        bucket = self.sim.graphql_bucket
        saturated = threading.Event()
        released = threading.Event()

        def other_app():
            while not released.is_set():
                bucket.set_level(bucket.capacity)
                saturated.set()
                time.sleep(0.005)

        holder = threading.Thread(target=other_app, daemon=True)
        holder.start()
        self.addCleanup(holder.join)
        self.addCleanup(released.set)
        saturated.wait(5)
        self.change_stock(self.products["MUG-BLUE"], -1)
        self.perform_jobs("_job_push_stock", rounds=1)
        released.set()
        holder.join()
        jobs = self.pending_jobs("_job_push_stock")
        self.assertTrue(jobs, "re-queued")
        self.assertIn("throttled", jobs[0].result or jobs[0].exc_info or "")
        self.assertFalse(
            self.env["queue.job"].search(
                [("method_name", "=", "_job_push_stock"), ("state", "=", "failed")]
            )
        )
        for job in jobs:
            self.assertEqual(job.retry, 0, "being throttled spends no retry")
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("MUG-BLUE"), 49)

    def test_increase_is_held_while_sold_orders_wait_to_be_imported(self):
        self.change_stock(self.products["TEE-L"], -2)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("TEE-L"), 48)
        # an order sold on a channel is in the inbox, not imported yet: Odoo's
        # figure does not know that sale, so raising a channel above what it
        # shows could offer the unit again
        waiting = self.order_waiting("held-1")
        self.change_stock(self.products["TEE-L"], 5)
        self.perform_jobs("_job_push_stock", rounds=1)
        self.assertEqual(self.channel_quantity("TEE-L"), 48, "increase held")
        queued = self.queued_rows()
        self.assertEqual(queued.product_id, self.products["TEE-L"], "tried again")
        # decreases are never held
        self.change_stock(self.products["MUG-BLUE"], -3)
        self.perform_jobs("_job_push_stock", rounds=1)
        self.assertEqual(self.channel_quantity("MUG-BLUE"), 47)
        # once the backlog is gone the increase goes out
        waiting.state = "done"
        self.push_queued_now()
        self.assertEqual(self.channel_quantity("TEE-L"), 53)

    def test_held_increase_is_written_when_the_last_known_quantity_matches(self):
        self.change_stock(self.products["TEE-L"], -2)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("TEE-L"), 48)
        waiting = self.order_waiting("held-2")
        # the channel sells 3 units and its report is lost; our increase to
        # 50 is held while an order waits
        self.sim.set_inventory(self.variants["TEE-L"]["inventory_item_id"], 45)
        self.change_stock(self.products["TEE-L"], 2)
        self.perform_jobs("_job_push_stock", rounds=1)
        self.assertEqual(self.channel_quantity("TEE-L"), 45, "increase held")
        # Odoo's figure falls back to 48, the last quantity the channel was
        # known to show -- it shows 45: the level is written all the same
        self.change_stock(self.products["TEE-L"], -2)
        waiting.state = "done"
        self.push_queued_now()
        self.assertEqual(self.channel_quantity("TEE-L"), 48)
        self.assertEqual(self.level("TEE-L").state, "synced")

    def test_unmapped_location_is_refused(self):
        event = self.env["marketplace.event"].create(
            {
                "backend_id": self.backend.id,
                "company_id": self.company.id,
                "topic": "inventory_levels/update",
                "dedupe_key": "level-unmapped",
                "resource_type": "inventory_level",
                "payload": {
                    "inventory_item_id": self.variants["MUG-BLUE"]["inventory_item_id"],
                    "location_id": 999999,
                    "available": 3,
                },
            }
        )
        event._job_process()
        self.assertEqual(event.state, "failed")
        self.assertIn("not mapped", event.last_error)


@tagged("post_install", "-at_install")
class TestWaitingDemand(StockCase):
    """Orders received and not yet imported count against the quantity every
    channel is offered: a backlog of imports must not let a channel sell
    units another channel already sold."""

    def test_order_waiting_in_the_inbox_lowers_the_quantity_offered(self):
        self.change_stock(self.products["TEE-L"], -2)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("TEE-L"), 48)
        order = self.sim.create_order(lines=[("TEE-L", 3)], notify=False)
        self.assertEqual(self.deliver("orders/create", order), 200)
        queued = self.queued_rows()
        self.assertEqual(queued.product_id, self.products["TEE-L"], "queued by intake")
        self.assertTrue(all(queued.mapped("decrement")))
        self.push_now()
        self.assertEqual(self.level("TEE-L").ats_quantity, 45)
        self.assertEqual(self.channel_quantity("TEE-L"), 45)
        writes = len(self.set_calls())
        # imported: its reservation takes over from the waiting order
        self.perform_jobs("_job_process")
        self.assertTrue(self.events().sale_order_id)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.level("TEE-L").ats_quantity, 45)
        self.assertEqual(len(self.set_calls()), writes, "nothing new to write")

    def test_the_newest_waiting_state_of_an_order_counts(self):
        self.change_stock(self.products["CAP-RED"], -1)
        self.perform_jobs("_job_push_stock")
        offered = self.level("CAP-RED").ats_quantity
        order = self.sim.create_order(lines=[("CAP-RED", 4)], notify=False)
        self.deliver("orders/create", order)
        self.push_now()
        self.assertEqual(self.level("CAP-RED").ats_quantity, offered - 4)
        cancelled = self.sim.cancel_order(order["id"], notify=False, restock=False)
        self.deliver("orders/cancelled", cancelled)
        self.assertEqual(len(self.events()), 2, "both states wait in the inbox")
        self.change_stock(self.products["CAP-RED"], 1)
        self.perform_jobs("_job_push_stock", rounds=1)
        self.assertEqual(self.level("CAP-RED").ats_quantity, offered + 1)
        self.assertEqual(
            self.channel_quantity("CAP-RED"), offered - 4, "increase held meanwhile"
        )
        # processed, the order leaves the inbox: its units are offered again
        self.perform_jobs("_job_process")
        self.assertLessEqual(set(self.events().mapped("state")), {"done", "ignored"})
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("CAP-RED"), offered + 1)

    def test_order_left_unimported_offers_its_units_again(self):
        self.change_stock(self.products["MUG-BLUE"], -1)
        self.perform_jobs("_job_push_stock")
        offered = self.level("MUG-BLUE").ats_quantity
        order = self.sim.create_order(
            lines=[("MUG-BLUE", 2)], financial_status="pending", notify=False
        )
        self.deliver("orders/create", order)
        self.push_now()
        self.assertEqual(self.channel_quantity("MUG-BLUE"), offered - 2)
        # not imported while unpaid (the backend's policy): nothing reserves
        # the units, and nothing else moves the product's stock
        self.perform_jobs("_job_process")
        self.assertEqual(self.events().state, "ignored")
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.level("MUG-BLUE").ats_quantity, offered)
        self.assertEqual(self.channel_quantity("MUG-BLUE"), offered)


@tagged("post_install", "-at_install")
class TestInboundLevels(StockCase):
    def deliver_level(self, sku, available, updated_at="2026-11-23T10:00:00-05:00"):
        payload = {
            "inventory_item_id": self.variants[sku]["inventory_item_id"],
            "location_id": self.sim.location_id,
            "available": available,
            "updated_at": updated_at,
            "admin_graphql_api_id": "gid://shopify/InventoryLevel/1",
        }
        self.assertEqual(self.deliver("inventory_levels/update", payload), 200)
        self.perform_jobs("_job_process")
        return self.events(topic="inventory_levels/update")[:1]

    def test_echo_of_our_write_is_ignored(self):
        self.change_stock(self.products["TEE-L"], -2)
        self.perform_jobs("_job_push_stock")
        event = self.deliver_level("TEE-L", 48)
        self.assertEqual(event.state, "ignored")
        self.assertEqual(self.level("TEE-L").state, "synced")

    def test_late_echo_of_an_older_write_is_ignored(self):
        self.change_stock(self.products["TEE-L"], -2)
        self.perform_jobs("_job_push_stock")  # writes 48
        self.change_stock(self.products["TEE-L"], -2)
        self.perform_jobs("_job_push_stock")  # writes 46
        self.assertEqual(self.channel_quantity("TEE-L"), 46)
        # the report of the first write arrives after the second write
        event = self.deliver_level("TEE-L", 48)
        self.assertEqual(event.state, "ignored")
        self.assertEqual(self.level("TEE-L").state, "synced")
        self.assertFalse(self.queued_rows())

    def test_drift_is_recorded_and_corrected_never_copied(self):
        self.change_stock(self.products["TEE-L"], -2)
        self.perform_jobs("_job_push_stock")
        self.sim.set_inventory(self.variants["TEE-L"]["inventory_item_id"], 44)
        event = self.deliver_level("TEE-L", 44)
        self.assertEqual(event.state, "done")
        level = self.level("TEE-L")
        self.assertEqual(level.state, "drift")
        self.assertEqual(level.drift_count, 1)
        self.assertEqual(self.products["TEE-L"].qty_available, 48, "Odoo untouched")
        queued = self.queued_rows()
        self.assertEqual(queued.product_id, self.products["TEE-L"])
        self.assertGreater(queued.due_at, fields.Datetime.now(), "due later")
        self.perform_jobs("_job_push_stock")
        self.assertEqual(
            self.channel_quantity("TEE-L"), 44, "not pushed before it is due"
        )
        # the order that explains a channel's change gets time to arrive;
        # then the push corrects what no order explained
        self.push_queued_now()
        self.assertEqual(self.channel_quantity("TEE-L"), 48, "corrected")
        self.assertEqual(self.level("TEE-L").state, "synced")

    def test_older_report_processed_late_is_ignored(self):
        # the channel sold twice: reports of 45 then 44; the first one's job
        # was retried (its level was locked by a push) and runs last
        self.change_stock(self.products["TEE-L"], -2)
        self.perform_jobs("_job_push_stock")  # writes 48
        self.sim.set_inventory(self.variants["TEE-L"]["inventory_item_id"], 44)
        self.deliver_level("TEE-L", 44, "2026-11-23T10:00:05-05:00")
        event = self.deliver_level("TEE-L", 45, "2026-11-23T10:00:01-05:00")
        self.assertEqual(event.state, "ignored")
        self.assertIn("Older than the last report", event.result)
        level = self.level("TEE-L")
        self.assertEqual(level.last_confirmed_quantity, 44, "not set back")
        self.assertEqual(level.drift_count, 1)

    def test_many_reports_of_one_item_queue_one_push(self):
        self.change_stock(self.products["TEE-L"], -2)
        self.perform_jobs("_job_push_stock")
        jobs_before = len(self.pending_jobs("_job_push_stock"))
        for quantity in (47, 46, 45):
            self.sim.set_inventory(
                self.variants["TEE-L"]["inventory_item_id"], quantity
            )
            self.deliver_level("TEE-L", quantity)
        queued = self.queued_rows()
        self.assertEqual(queued.product_id, self.products["TEE-L"])
        # one job per 10-second slot: one, or two if the reports straddled
        # a slot's end -- never one per report
        self.assertLessEqual(len(self.pending_jobs("_job_push_stock")), jobs_before + 2)
        queued.due_at = fields.Datetime.now() - datetime.timedelta(seconds=1)
        self.sim.reset_stats()
        self.perform_jobs("_job_push_stock")
        self.assertEqual(len(self.set_calls()), 1, "one push for three reports")
        self.assertEqual(self.channel_quantity("TEE-L"), 48)


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
        for sku in ("MUG-BLUE", "TEE-L", "CAP-RED"):
            self.change_stock(self.products[sku], -0.5)
        self.perform_jobs("_job_push_stock")
        item = self.variants
        self.sim.set_inventory(item["MUG-BLUE"]["inventory_item_id"], 47)  # -2: raise
        self.sim.set_inventory(item["CAP-RED"]["inventory_item_id"], 52)  # +3: lower
        self.sim.set_inventory(item["TEE-L"]["inventory_item_id"], 10)  # -39: escalate
        run = self.reconcile()
        self.assertEqual(run.checked, 3)
        self.assertEqual(run.in_sync, 0)
        self.assertEqual(run.corrected, 2)
        self.assertEqual(run.escalated, 1)
        # more on the channel than we can sell: lowered at once
        self.assertEqual(self.channel_quantity("CAP-RED"), 49)
        # less: raised by a push a little later (the drop may be a sale whose
        # order is on its way), which holds it while orders wait
        self.assertEqual(self.channel_quantity("MUG-BLUE"), 47)
        queued = self.queued_rows()
        self.assertEqual(queued.product_id, self.products["MUG-BLUE"])
        self.assertGreater(queued.due_at, fields.Datetime.now())
        self.push_queued_now()
        self.assertEqual(self.channel_quantity("MUG-BLUE"), 49)
        self.assertEqual(self.channel_quantity("TEE-L"), 10, "left for a person")
        self.assertEqual(self.level("TEE-L").state, "escalated")
        self.assertTrue(
            self.backend.activity_ids.filtered(lambda a: "drift" in (a.summary or ""))
        )
        # levels in drift now: CAP-RED (corrected by the reconciliation) and
        # TEE-L (escalated); MUG-BLUE is synced since its push
        self.assertEqual(self.level("MUG-BLUE").state, "synced")
        self.assertEqual(self.backend.drift_count, 2)

    def pushed_in_sync(self):
        """Every channel quantity pushed: MUG-BLUE and CAP-RED 49, TEE-L 48."""
        for sku, change in (("MUG-BLUE", -0.5), ("CAP-RED", -0.5), ("TEE-L", -2)):
            self.change_stock(self.products[sku], change)
        self.perform_jobs("_job_push_stock")

    def test_orders_waiting_in_the_inbox_count_as_in_a_push(self):
        self.backend.stock_drift_threshold = 5
        self.pushed_in_sync()
        order = self.sim.create_order(lines=[("TEE-L", 3)], notify=False)
        self.assertEqual(self.deliver("orders/create", order), 200)
        self.push_now()
        self.assertEqual(self.channel_quantity("TEE-L"), 45, "the waiting order counts")
        # the order is not imported yet: the channel showing 45 is right,
        # not 3 units short (raising it would offer units already sold)
        run = self.reconcile()
        self.assertEqual((run.checked, run.in_sync, run.corrected), (3, 3, 0))
        self.assertEqual(self.channel_quantity("TEE-L"), 45)
        self.assertFalse(self.queued_rows())

    def test_raise_found_by_reconciliation_is_held_while_orders_wait(self):
        self.backend.stock_drift_threshold = 5
        self.pushed_in_sync()
        # the channel sold 2 units; their orders have not reached us, and
        # another order waits in the inbox: a sale day's backlog
        self.sim.set_inventory(self.variants["TEE-L"]["inventory_item_id"], 46)
        waiting = self.order_waiting("reconcile-held")
        run = self.reconcile()
        self.assertEqual((run.checked, run.in_sync, run.corrected), (3, 2, 1))
        self.push_queued_now()
        self.assertEqual(self.channel_quantity("TEE-L"), 46, "raise held")
        self.assertEqual(self.level("TEE-L").state, "pending")
        waiting.state = "done"
        self.push_queued_now()
        self.assertEqual(self.channel_quantity("TEE-L"), 48)


@tagged("post_install", "-at_install")
class TestLedger(StockCase):
    def test_duplicate_event_is_applied_once(self):
        payload = self.sim.create_order(lines=[("CAP-RED", 2)], notify=False)
        self.deliver("orders/create", payload)
        self.perform_jobs("_job_process")
        sale = self.sale_orders()
        ledger = self.env["marketplace.stock.ledger"]
        self.assertEqual(ledger.search_count([("sale_order_id", "=", sale.id)]), 1)
        # the same order again through the ledger: nothing new
        StockLedger(self.backend).apply_sale(sale, str(payload["id"]))
        self.assertEqual(ledger.search_count([("sale_order_id", "=", sale.id)]), 1)

    def test_shortfall_is_flagged_oversold_never_negative(self):
        product = self._create_stocked_product("LAST-ONE", "30.00", 1)
        variant = self.sim.add_product(sku="LAST-ONE", price="30.00", inventory=1)
        self.bind("LAST-ONE", product, variant=variant)
        first = self.sim.create_order(lines=[("LAST-ONE", 1)], notify=False)
        second = self.sim.create_order(lines=[("LAST-ONE", 1)], notify=False)
        self.deliver("orders/create", first)
        self.deliver("orders/create", second)
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
                ("location_id", "=", self.stock_location.id),
            ]
        )
        self.assertGreaterEqual(quant.quantity - quant.reserved_quantity, 0)


@tagged("post_install", "-at_install")
class TestBulkPush(StockCase):
    SKU_COUNT = 5000

    def test_5000_skus_changed_at_once_in_at_most_25_calls_unthrottled(self):
        skus = [f"BULK-{index:05d}" for index in range(self.SKU_COUNT)]
        variants = [
            self.sim.add_product(sku=sku, price="3.00", inventory=0) for sku in skus
        ]
        products = self.env["product.product"].create(
            [{"name": sku, "default_code": sku, "is_storable": True} for sku in skus]
        )
        self.env["marketplace.product.binding"].create(
            [
                {
                    "backend_id": self.backend.id,
                    "product_id": product.id,
                    "external_id": str(variant["variant_id"]),
                    "sku": variant["sku"],
                    "channel_item_ref": str(variant["inventory_item_id"]),
                }
                for product, variant in zip(products, variants, strict=True)
            ]
        )
        self.sim.reset_stats()
        # one inventory adjustment touching every SKU, committed at once
        quant = self.env["stock.quant"]
        for index, product in enumerate(products):
            quant._update_available_quantity(
                product, self.stock_location, index % 7 + 1
            )
        self.env.flush_all()
        self.env.cr.precommit.run()
        self.perform_jobs("_job_push_stock")
        calls = self.set_calls()
        self.assertLessEqual(len(calls), 25)
        self.assertEqual(self.sim.stats["throttled"], 0)
        written = [
            quantity["inventoryItemId"].rsplit("/", 1)[-1]
            for call in calls
            for quantity in call["json"]["variables"]["input"]["quantities"]
        ]
        bulk_items = {str(v["inventory_item_id"]) for v in variants}
        bulk_written = [item for item in written if item in bulk_items]
        self.assertEqual(len(bulk_written), self.SKU_COUNT, "each SKU written once")
        self.assertEqual(set(bulk_written), bulk_items)
        for index, variant in enumerate(variants):
            self.assertEqual(
                self.sim.inventory_level(variant["inventory_item_id"]), index % 7 + 1
            )
