# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Polling catches what webhooks missed, through the same inbox and dedupe,
and survives 429, 5xx and timeouts without losing anything."""

import datetime

from .common import ShopifyCase, tagged


@tagged("post_install", "-at_install")
class TestPolling(ShopifyCase):
    def poll(self):
        self.backend._enqueue_poll()
        self.perform_jobs("_job_poll_orders")

    def test_poll_imports_an_order_whose_webhook_was_dropped(self):
        payload = self.sim.create_order(lines=[("CAP-RED", 2)], notify=False)
        self.poll()
        event = self.events()
        self.assertEqual(len(event), 1)
        self.assertEqual(event.source, "poll")
        self.perform_jobs()
        sale = self.sale_orders()
        self.assertEqual(len(sale), 1)
        self.assertEqual(sale.client_order_ref, payload["name"])
        self.assertEqual(
            self.money(sale.amount_total), self.money(payload["total_price"])
        )
        # the cursor moved to the newest updated_at seen
        self.assertEqual(self.backend.poll_cursor, event.external_updated_at)

    def test_poll_uses_status_any_and_sees_cancelled_orders(self):
        created = self.sim.create_order(lines=[("CAP-RED", 1)], notify=False)
        self.sim.cancel_order(created["id"], notify=False)
        self.poll()
        self.assertEqual(len(self.events()), 1)
        request = next(
            r for r in self.sim.requests if r["path"].endswith("orders.json")
        )
        self.assertEqual(request["query"]["status"], ["any"])

    def test_overlap_window_refetches_without_duplicating(self):
        self.sim.create_order(lines=[("CAP-RED", 1)], notify=False)
        self.poll()
        self.poll()
        self.assertEqual(len(self.events()), 1)
        self.assertEqual(self.backend.last_poll_error, False)

    def test_states_already_in_the_inbox_cost_one_lookup(self):
        # during a sale each poll re-reads thousands of orders of its overlap
        # window: those the inbox has are not inserted again one by one
        for _order in range(40):
            self.sim.create_order(lines=[("CAP-RED", 1)], notify=False)
        self.poll()
        self.assertEqual(len(self.events()), 40)
        before = self.env.cr.sql_log_count
        self.poll()
        queries = self.env.cr.sql_log_count - before
        self.assertEqual(len(self.events()), 40)
        self.assertLess(queries, 40, "not one insert per order seen")

    def test_throttling_5xx_and_timeout_are_retried_and_nothing_is_lost(self):
        orders = [
            self.sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)
            for _ in range(3)
        ]
        self.sim.faults.throttle_next(count=1, retry_after="0.2")
        self.sim.faults.fail_next(status=503, count=1)
        self.sim.faults.timeout_next(count=1, seconds=3.0)
        self.poll()
        self.assertEqual(len(self.events()), 3)
        self.assertGreaterEqual(self.sim.stats["throttled"], 1)
        self.perform_jobs()
        self.assertEqual(len(self.sale_orders()), 3)
        refs = set(self.sale_orders().mapped("client_order_ref"))
        self.assertEqual(refs, {o["name"] for o in orders})

    def test_outage_longer_than_inline_retries_requeues_and_keeps_cursor(self):
        self.sim.create_order(lines=[("TEE-L", 1)], notify=False)
        cursor = datetime.datetime(2026, 1, 1)
        self.backend.poll_cursor = cursor
        self.sim.faults.fail_next(status=502, count=50)
        self.backend._enqueue_poll()
        self.perform_jobs("_job_poll_orders", rounds=1)
        job = self.env["queue.job"].search([("method_name", "=", "_job_poll_orders")])
        self.assertEqual(job.state, "pending", "postponed, not failed")
        self.assertEqual(self.backend.poll_cursor, cursor, "cursor did not move")
        self.assertFalse(self.events())
        self.sim.faults.clear()
        self.perform_jobs("_job_poll_orders")
        self.assertEqual(len(self.events()), 1)
        self.assertGreater(self.backend.poll_cursor, cursor)

    def test_throttling_storm_postpones_without_spending_retries(self):
        self.sim.create_order(lines=[("TEE-L", 1)], notify=False)
        self.sim.faults.throttle_next(count=50, retry_after="0.1")
        self.backend._enqueue_poll()
        job = self.env["queue.job"].search([("method_name", "=", "_job_poll_orders")])
        for _round in range(job.max_retries + 1):
            self.perform_jobs("_job_poll_orders", rounds=1)
            if self.sim.stats["throttled"] >= 50:
                break
        self.assertEqual(job.state, "pending", "postponed, never failed")
        self.assertEqual(job.retry, 0, "being throttled spends no retry")
        self.sim.faults.clear()
        self.perform_jobs("_job_poll_orders")
        self.assertEqual(len(self.events()), 1)

    def test_webhook_and_poll_of_the_same_state_make_one_event(self):
        payload = self.sim.create_order(lines=[("TEE-L", 1)], notify=False)
        self.assertEqual(self.deliver("orders/create", payload), 200)
        self.poll()
        self.assertEqual(len(self.events()), 1)
        self.assertEqual(self.events().source, "webhook")
