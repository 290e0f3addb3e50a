# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Shopify's stock end to end: pushes through GraphQL's
inventorySetQuantities (compare-and-set), its throttling, 250 quantities a
call, an order's demand, inventory_levels/update reports, reconciliation
through its inventory pages. The core's push, holds, ledger, drift and
reconciliation rules are tested against the test channel
(marketplace_connector/tests/test_stock_push.py, test_stock_levels.py,
test_reconciliation.py)."""

import datetime
import json
import threading
import time

from odoo import fields

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


@tagged("post_install", "-at_install")
class TestStockPush(StockCase):
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
