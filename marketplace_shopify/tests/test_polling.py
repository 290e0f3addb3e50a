# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Shopify's polling end to end: the REST orders endpoint (``status=any``,
paged), its throttling, 5xx and timeouts retried by the client. The core's
cursor, overlap, dedupe and postponing are tested against the test channel
(marketplace_connector/tests/test_polling.py)."""

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
