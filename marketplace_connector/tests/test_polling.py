# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Polling catches what webhooks missed, through the same inbox and dedupe,
and survives 429, 5xx and timeouts without losing anything."""

import datetime

from odoo.tests.common import tagged

from .common import ChannelCase


def recent(minutes=0):
    """An ``updated_at`` within the first poll's window (aware, UTC)."""
    moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return (moment - datetime.timedelta(minutes=minutes)).isoformat()


@tagged("post_install", "-at_install")
class TestPolling(ChannelCase):
    def poll(self):
        self.backend._enqueue_poll()
        self.perform_jobs("_job_poll_orders")

    def sold(self, lines):
        """An order sold on the channel whose webhook never came."""
        return self.channel.add_order(self.order(lines, updated_at=recent()))

    def sale_orders(self):
        return self.env["sale.order"].search(
            [("marketplace_backend_id", "=", self.backend.id)]
        )

    def test_poll_imports_an_order_whose_webhook_was_dropped(self):
        payload = self.sold([("GADGET", 2)])
        self.poll()
        event = self.events()
        self.assertEqual(len(event), 1)
        self.assertEqual(event.source, "poll")
        self.perform_jobs()
        sale = self.sale_orders()
        self.assertEqual(len(sale), 1)
        self.assertEqual(sale.client_order_ref, payload["name"])
        self.assertEqual(sale.amount_total, 20.0)
        # the cursor moved to the newest updated_at seen
        self.assertEqual(self.backend.poll_cursor, event.external_updated_at)

    def test_overlap_window_refetches_without_duplicating(self):
        self.sold([("GADGET", 1)])
        self.poll()
        self.poll()
        self.assertEqual(len(self.events()), 1)
        self.assertEqual(self.backend.last_poll_error, False)
        fetched = [call for call in self.channel.calls if call == ("GET", "/orders")]
        self.assertEqual(len(fetched), 2, "the second poll read it again")

    def test_states_already_in_the_inbox_cost_one_lookup(self):
        # during a sale each poll re-reads thousands of orders of its overlap
        # window: those the inbox has are not inserted again one by one
        for _order in range(40):
            self.sold([("GADGET", 1)])
        self.poll()
        self.assertEqual(len(self.events()), 40)
        before = self.env.cr.sql_log_count
        self.poll()
        queries = self.env.cr.sql_log_count - before
        self.assertEqual(len(self.events()), 40)
        self.assertLess(queries, 40, "not one insert per order seen")

    def test_throttling_5xx_and_timeout_are_retried_and_nothing_is_lost(self):
        orders = [self.sold([("WIDGET", 1)]) for _ in range(3)]
        self.channel.fail_next(429)
        self.channel.fail_next(503)
        self.channel.fail_next("timeout")
        self.poll()
        self.assertEqual(len(self.events()), 3)
        self.assertEqual(
            self.channel.faults_served, {429: 1, 503: 1, "timeout": 1}, "all met"
        )
        self.perform_jobs()
        self.assertEqual(len(self.sale_orders()), 3)
        refs = set(self.sale_orders().mapped("client_order_ref"))
        self.assertEqual(refs, {o["name"] for o in orders})

    def test_outage_longer_than_one_run_requeues_and_keeps_cursor(self):
        self.sold([("GADGET", 1)])
        cursor = datetime.datetime.now() - datetime.timedelta(days=1)
        cursor = cursor.replace(microsecond=0)
        self.backend.poll_cursor = cursor
        self.channel.fail_next(502, count=50)
        self.backend._enqueue_poll()
        self.perform_jobs("_job_poll_orders", rounds=1)
        job = self.env["queue.job"].search([("method_name", "=", "_job_poll_orders")])
        self.assertEqual(job.state, "pending", "postponed, not failed")
        self.assertEqual(self.backend.poll_cursor, cursor, "cursor did not move")
        self.assertFalse(self.events())
        self.channel.clear_faults()
        self.perform_jobs("_job_poll_orders")
        self.assertEqual(len(self.events()), 1)
        self.assertGreater(self.backend.poll_cursor, cursor)

    def test_throttling_storm_postpones_without_spending_retries(self):
        self.sold([("GADGET", 1)])
        self.channel.fail_next(429, count=50)
        self.backend._enqueue_poll()
        job = self.env["queue.job"].search([("method_name", "=", "_job_poll_orders")])
        for _round in range(job.max_retries + 1):
            self.perform_jobs("_job_poll_orders", rounds=1)
            if self.channel.faults_served.get(429, 0) >= 50:
                break
        self.assertGreater(self.channel.faults_served[429], job.max_retries)
        self.assertEqual(job.state, "pending", "postponed, never failed")
        self.assertEqual(job.retry, 0, "being throttled spends no retry")
        self.channel.clear_faults()
        self.perform_jobs("_job_poll_orders")
        self.assertEqual(len(self.events()), 1)

    def test_webhook_and_poll_of_the_same_state_make_one_event(self):
        payload = self.sold([("GADGET", 1)])
        self.assertEqual(self.deliver(payload).status_code, 200)
        self.poll()
        self.assertEqual(len(self.events()), 1)
        self.assertEqual(self.events().source, "webhook")
