# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Stock fan-out against the test channel: coalescing, compare-and-set,
buffers, rate budgets, raises held while sold orders wait to be imported,
waiting orders counting against what every channel is offered."""

import datetime
from contextlib import closing

from odoo import fields, sql_db
from odoo.tests.common import new_test_user, tagged

from .stock_common import StockCase


@tagged("post_install", "-at_install")
class TestStockPush(StockCase):
    def test_burst_of_changes_is_one_push_of_the_final_value(self):
        self.channel.writes.clear()
        for _change in range(100):
            self.change_stock("MUG", -0.25)
        # at most one waiting job per direction (decrements go first, at a
        # higher priority), whatever the number of changes
        self.assertLessEqual(len(self.pending_jobs("_job_push_stock")), 2)
        self.perform_jobs("_job_push_stock")
        self.assertLessEqual(len(self.set_calls()), 2)
        self.assertFalse(
            self.env["marketplace.stock.dirty"].search(
                [("product_id", "=", self.products["MUG"].id)]
            ),
            "every queued change was taken by the push",
        )
        # 50 on hand - 25 = 25 free: the one channel gets it all
        self.assertEqual(self.channel_quantity("MUG"), 25)
        level = self.level("MUG")
        self.assertEqual(level.state, "synced")
        self.assertEqual(level.last_confirmed_quantity, 25)

    def test_first_push_of_a_product_creates_its_stock_lock_row(self):
        product = self.products["MUG"]
        self.level("MUG").unlink()
        self.env.cr.execute(
            "DELETE FROM marketplace_stock_lock WHERE product_id = %s", (product.id,)
        )
        self.change_stock("MUG", -1)
        self.perform_jobs("_job_push_stock")
        self.assertTrue(self.level("MUG"))
        lock = self.env["marketplace.stock.lock"].search(
            [("product_id", "=", product.id)]
        )
        self.assertEqual(len(lock), 1, "there before the product's first sale")

    def test_unchanged_quantity_is_not_pushed_again(self):
        self.change_stock("TEE", -1)
        self.perform_jobs("_job_push_stock")
        calls = len(self.set_calls())
        self.change_stock("TEE", 0.4)  # still 49 whole units
        self.perform_jobs("_job_push_stock")
        self.assertEqual(len(self.set_calls()), calls, "skipped: equals last confirmed")

    def test_stale_compare_and_set_rereads_and_ends_right(self):
        self.change_stock("CAP", -5)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("CAP"), 45)
        # the merchant changes it in Shopify's admin in between
        self.set_inventory("CAP", 3)
        self.change_stock("CAP", -5)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("CAP"), 40)
        self.assertEqual(self.level("CAP").last_confirmed_quantity, 40)

    def test_buffer_share_and_cap(self):
        self.backend.write(
            {"stock_buffer_units": 2, "stock_buffer_percent": 10, "stock_share": 0.5}
        )
        self.change_stock("TEE", -10)  # 40 free
        self.perform_jobs("_job_push_stock")
        # 40 - 2 - 4 = 34, half = 17
        self.assertEqual(self.channel_quantity("TEE"), 17)
        binding = self.level("TEE").binding_id
        binding.write(
            {"stock_policy_override": True, "stock_share": 1, "stock_max_quantity": 5}
        )
        self.change_stock("TEE", -1)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("TEE"), 5)

    def test_spent_rate_budget_requeues_without_spending_a_retry(self):
        # the budget lives in its own committed row, shared by all workers:
        # spend it from outside, as another worker would have
        def set_budget(available):
            with closing(sql_db.db_connect(self.env.cr.dbname).cursor()) as cr:
                cr.execute(
                    "INSERT INTO marketplace_rate_budget (backend_id, family, "
                    "available, maximum, restore_rate, updated_at) "
                    "VALUES (%s, 'stock', %s, 10, 5, now() at time zone 'UTC') "
                    "ON CONFLICT (backend_id, family) DO UPDATE SET "
                    "available = EXCLUDED.available, updated_at = EXCLUDED.updated_at",
                    (self.backend.id, available),
                )
                # another worker's transaction: it must be committed
                cr.commit()  # pylint: disable=invalid-commit

        set_budget(-5000)
        self.addCleanup(set_budget, 10)
        self.change_stock("MUG", -1)
        calls = len(self.set_calls())
        self.perform_jobs("_job_push_stock", rounds=1)
        jobs = self.pending_jobs("_job_push_stock")
        self.assertTrue(jobs, "re-queued")
        for job in jobs:
            self.assertEqual(job.retry, 0, "no retry spent")
            self.assertGreaterEqual((job.eta - job.date_created).total_seconds(), 40)
        self.assertEqual(len(self.set_calls()), calls, "nothing sent over budget")
        set_budget(10)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("MUG"), 49)

    def test_throttled_by_the_channel_requeues_without_failing(self):
        # another app saturates the channel: it throttles us although our
        # own budget had room; the push comes back later, it does not fail
        self.channel.fail_next(429, count=50)
        self.change_stock("MUG", -1)
        self.perform_jobs("_job_push_stock", rounds=1)
        self.channel.clear_faults()
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
        self.assertEqual(self.channel_quantity("MUG"), 49)

    def test_increase_is_held_while_sold_orders_wait_to_be_imported(self):
        self.change_stock("TEE", -2)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("TEE"), 48)
        # an order sold on a channel is in the inbox, not imported yet: Odoo's
        # figure does not know that sale, so raising a channel above what it
        # shows could offer the unit again
        waiting = self.order_waiting("held-1")
        self.change_stock("TEE", 5)
        # the change happened a while ago (a test's now() never moves)
        changed = fields.Datetime.now() - datetime.timedelta(minutes=3)
        self.queued_rows().write({"changed_at": changed})
        self.perform_jobs("_job_push_stock", rounds=1)
        self.assertEqual(self.channel_quantity("TEE"), 48, "increase held")
        queued = self.queued_rows()
        self.assertEqual(queued.product_id, self.products["TEE"], "tried again")
        self.assertEqual(queued.changed_at, changed, "still from the change")
        # decreases are never held
        self.change_stock("MUG", -3)
        self.perform_jobs("_job_push_stock", rounds=1)
        self.assertEqual(self.channel_quantity("MUG"), 47)
        # once the backlog is gone the increase goes out
        waiting.state = "done"
        self.push_queued_now()
        self.assertEqual(self.channel_quantity("TEE"), 53)

    def test_held_increase_is_written_when_the_last_known_quantity_matches(self):
        self.change_stock("TEE", -2)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("TEE"), 48)
        waiting = self.order_waiting("held-2")
        # the channel sells 3 units and its report is lost; our increase to
        # 50 is held while an order waits
        self.set_inventory("TEE", 45)
        self.change_stock("TEE", 2)
        self.perform_jobs("_job_push_stock", rounds=1)
        self.assertEqual(self.channel_quantity("TEE"), 45, "increase held")
        # Odoo's figure falls back to 48, the last quantity the channel was
        # known to show -- it shows 45: the level is written all the same
        self.change_stock("TEE", -2)
        waiting.state = "done"
        self.push_queued_now()
        self.assertEqual(self.channel_quantity("TEE"), 48)
        self.assertEqual(self.level("TEE").state, "synced")

    def test_unmapped_location_is_refused(self):
        event = self.env["marketplace.event"].create(
            {
                "backend_id": self.backend.id,
                "company_id": self.company.id,
                "topic": "inventory",
                "dedupe_key": "level-unmapped",
                "resource_type": "inventory_level",
                "payload": {"item": "item-MUG", "location": "LOC-999", "quantity": 3},
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
        self.change_stock("TEE", -2)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("TEE"), 48)
        order = self.order([("TEE", 3)])
        self.assertEqual(self.deliver(order).status_code, 200)
        queued = self.queued_rows()
        self.assertEqual(queued.product_id, self.products["TEE"], "queued by intake")
        self.assertTrue(all(queued.mapped("decrement")))
        self.push_now()
        self.assertEqual(self.level("TEE").ats_quantity, 45)
        self.assertEqual(self.channel_quantity("TEE"), 45)
        writes = len(self.set_calls())
        # imported: its reservation takes over from the waiting order
        self.perform_jobs("_job_process")
        self.assertTrue(self.events().sale_order_id)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.level("TEE").ats_quantity, 45)
        self.assertEqual(len(self.set_calls()), writes, "nothing new to write")

    def test_the_newest_waiting_state_of_an_order_counts(self):
        self.change_stock("CAP", -1)
        self.perform_jobs("_job_push_stock")
        offered = self.level("CAP").ats_quantity
        order = self.order([("CAP", 4)])
        self.deliver(order)
        self.push_now()
        self.assertEqual(self.level("CAP").ats_quantity, offered - 4)
        cancelled = dict(
            order, status="cancelled", updated_at="2026-12-01T10:05:00+00:00"
        )
        self.deliver(cancelled)
        self.assertEqual(len(self.events()), 2, "both states wait in the inbox")
        self.change_stock("CAP", 1)
        self.perform_jobs("_job_push_stock", rounds=1)
        self.assertEqual(self.level("CAP").ats_quantity, offered + 1)
        self.assertEqual(
            self.channel_quantity("CAP"), offered - 4, "increase held meanwhile"
        )
        # processed, the order leaves the inbox: its units are offered again
        self.perform_jobs("_job_process")
        self.assertLessEqual(set(self.events().mapped("state")), {"done", "ignored"})
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("CAP"), offered + 1)

    def test_order_left_unimported_offers_its_units_again(self):
        self.change_stock("MUG", -1)
        self.perform_jobs("_job_push_stock")
        offered = self.level("MUG").ats_quantity
        order = self.order([("MUG", 2)], status="pending")
        self.deliver(order)
        self.push_now()
        self.assertEqual(self.channel_quantity("MUG"), offered - 2)
        # not imported while unpaid (the backend's policy): nothing reserves
        # the units, and nothing else moves the product's stock
        self.perform_jobs("_job_process")
        self.assertEqual(self.events().state, "ignored")
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.level("MUG").ats_quantity, offered)
        self.assertEqual(self.channel_quantity("MUG"), offered)

    def test_a_stock_user_without_marketplace_rights_moves_stock_it_is_pushed(self):
        """An inventory count by a warehouse manager who has no rights on
        marketplace records: the push it queues is the connector's, and
        runs."""
        user = new_test_user(
            self.env, login="mkt-push-warehouse", groups="stock.group_stock_manager"
        )
        product = self.products["MUG"]
        quant = (
            self.env["stock.quant"]
            .with_user(user)
            .with_context(inventory_mode=True)
            .create(
                {
                    "product_id": product.id,
                    "location_id": self.warehouse.lot_stock_id.id,
                    "inventory_quantity": 40,
                }
            )
        )
        quant.action_apply_inventory()
        self.env.flush_all()
        self.env.cr.precommit.run()
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel_quantity("MUG"), 40)
        self.assertEqual(self.level("MUG").state, "synced")
