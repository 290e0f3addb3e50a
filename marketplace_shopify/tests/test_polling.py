# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Shopify's polling end to end: GraphQL ``orders`` sorted by
``UPDATED_AT`` and paged by cursor (never the legacy REST endpoint), the
cursor's boundary, an order changed while the poll pages, only the orders
the inbox lacks read in full (what the poll spends of the GraphQL budget
stock pushes share), polled states and webhooks deduplicated against each
other, a poll out of budget going on from its page, throttling, 5xx and
timeouts retried by the client. The core's cursor, overlap, dedupe and
postponing are tested against the test channel
(marketplace_connector/tests/test_polling.py)."""

import json
from contextlib import closing

from odoo import sql_db

from odoo.addons.marketplace_shopify.lib import polling

from .common import ShopifyCase, tagged


@tagged("post_install", "-at_install")
class TestPolling(ShopifyCase):
    def setUp(self):
        super().setUp()
        # a page of orders costs hundreds of points: every test starts with
        # the shop's full GraphQL bucket (the shared budget is committed by
        # its own connection and outlives a test's transaction)
        with closing(sql_db.db_connect(self.env.cr.dbname).cursor()) as cr:
            cr.execute(
                "DELETE FROM marketplace_rate_budget WHERE backend_id = %s",
                (self.backend.id,),
            )
            cr.commit()  # pylint: disable=invalid-commit

    def poll(self):
        self.backend._enqueue_poll()
        self.perform_jobs("_job_poll_orders")

    def set_graphql_budget(self, available):
        """The shared GraphQL budget as stock pushes would have left it
        (refilling too slowly for a poll to wait)."""
        with closing(sql_db.db_connect(self.env.cr.dbname).cursor()) as cr:
            cr.execute(
                "INSERT INTO marketplace_rate_budget (backend_id, family, "
                "available, maximum, restore_rate, updated_at) VALUES "
                "(%s, 'graphql', %s, 2000, 0.01, "
                "clock_timestamp() at time zone 'UTC') "
                "ON CONFLICT (backend_id, family) DO UPDATE SET "
                "available = EXCLUDED.available, updated_at = EXCLUDED.updated_at",
                (self.backend.id, available),
            )
            cr.commit()  # pylint: disable=invalid-commit

    def job(self, method, **domain):
        return self.env["queue.job"].search(
            [("method_name", "=", method)]
            + [(key, "=", value) for key, value in domain.items()],
            order="id desc",
            limit=1,
        )

    def full_reads(self):
        return self.sim.stats["graphql_operations"].get("PollOrder", 0)

    def test_only_orders_the_inbox_lacks_are_read_in_full(self):
        orders = [
            self.sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)
            for _n in range(6)
        ]
        for order in orders[:4]:  # four webhooks came, two were lost
            self.assertEqual(
                self.deliver("orders/create", self.sim.get_order(order["id"])), 200
            )
        self.assertEqual(len(self.events(source="webhook")), 4)
        self.sim.reset_stats()
        self.poll()
        stats = self.sim.stats
        self.assertEqual(
            stats["graphql_operations"], {"PollOrderStates": 1, "PollOrder": 2}
        )
        self.assertEqual(
            stats["graphql_points"], polling.page_cost() + 2 * polling.ORDER_COST
        )
        polled = self.events(source="poll")
        self.assertEqual(
            sorted(polled.mapped("external_id")),
            sorted(str(order["id"]) for order in orders[4:]),
        )
        self.assertEqual(
            self.backend.poll_cursor, max(self.events().mapped("external_updated_at"))
        )
        # the next poll overlaps the last: it lists them all, reads none
        self.sim.reset_stats()
        self.poll()
        self.assertEqual(self.full_reads(), 0)
        self.assertEqual(len(self.events()), 6)
        self.perform_jobs()
        self.assertEqual(len(self.sale_orders()), 6)

    def test_a_polled_state_and_its_webhook_are_one_event(self):
        order = self.sim.create_order(lines=[("CAP-RED", 1)], notify=False)
        self.poll()
        (polled,) = self.events()
        self.assertEqual(polled.source, "poll")
        # the webhook of that state, late: the same dedupe key, not stored
        self.assertEqual(
            self.deliver("orders/updated", self.sim.get_order(order["id"])), 200
        )
        self.assertEqual(self.events(), polled)
        # a new state by webhook, then a poll: the poll does not read it
        self.sim.cancel_order(order["id"], notify=False)
        self.assertEqual(
            self.deliver("orders/cancelled", self.sim.get_order(order["id"])), 200
        )
        self.assertEqual(len(self.events()), 2)
        self.sim.reset_stats()
        self.poll()
        self.assertEqual(self.full_reads(), 0)
        self.assertEqual(len(self.events()), 2)
        self.perform_jobs()
        self.assertFalse(self.sale_orders().filtered(lambda s: s.state == "sale"))

    def test_a_poll_out_of_budget_goes_on_from_its_listing_page(self):
        self.patch(polling, "PAGE_SIZE", 3)
        orders = [
            self.sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)
            for _n in range(5)
        ]
        # the first listing and two orders, not the third (nor a listing)
        self.set_graphql_budget(polling.page_cost(3) + 2 * polling.ORDER_COST + 3)
        self.sim.reset_stats()
        self.poll()
        self.assertEqual(self.full_reads(), 2)
        self.assertEqual(len(self.events()), 2, "what was read is kept")
        self.assertFalse(self.backend.poll_cursor, "the window is not done")
        resume = json.loads(self.backend.poll_resume)["resume"]
        self.assertIsNone(resume["after"], "it stopped in the first page")
        follow_up = self.job("_job_poll_orders", state="pending")
        self.assertTrue(follow_up, "the rest is queued for when it refills")
        self.assertGreater(follow_up.eta, follow_up.date_created)

        self.set_graphql_budget(2000)
        self.perform_jobs("_job_poll_orders", rounds=1)
        self.assertEqual(self.full_reads(), 5, "the three others only")
        events = self.events()
        self.assertEqual(
            sorted(events.mapped("external_id")),
            sorted(str(order["id"]) for order in orders),
        )
        self.assertFalse(self.backend.poll_resume)
        self.assertEqual(
            self.backend.poll_cursor, max(events.mapped("external_updated_at"))
        )

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

    def test_poll_sees_cancelled_orders_through_graphql(self):
        created = self.sim.create_order(lines=[("CAP-RED", 1)], notify=False)
        self.sim.cancel_order(created["id"], notify=False)
        self.poll()
        self.assertEqual(len(self.events()), 1)
        paths = {r["path"].rsplit("/", 1)[-1] for r in self.sim.requests}
        self.assertIn("graphql.json", paths)
        self.assertNotIn("orders.json", paths, "no legacy REST call")

    def test_orders_updated_at_the_cursor_time_are_polled_again(self):
        self.backend.poll_overlap_minutes = 0  # the window starts at the cursor
        first = self.sim.create_order(lines=[("CAP-RED", 1)], notify=False)
        self.poll()
        cursor = self.backend.poll_cursor
        # another order changed in the same second as the newest one seen
        same_second = self.sim.create_order(
            lines=[("TEE-L", 1)], notify=False, created_at=first["updated_at"]
        )
        self.poll()
        by_order = {
            external_id: len(self.events(external_id=external_id))
            for external_id in (str(first["id"]), str(same_second["id"]))
        }
        self.assertEqual(by_order, {str(first["id"]): 1, str(same_second["id"]): 1})
        self.assertEqual(self.backend.poll_cursor, cursor, "same updated_at")

    def test_an_order_changed_while_the_poll_pages_is_not_lost(self):
        self.patch(polling, "PAGE_SIZE", 2)
        orders = [
            self.sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)
            for _n in range(5)
        ]
        changed = orders[0]
        convert = polling.rest_order
        calls = []

        def change_after_the_first_page(node, lines=None):
            calls.append(node["id"])
            if len(calls) == 2:  # page 1 read: the merchant edits its first order
                self.sim.update_order(changed["id"], note="gift wrap", notify=False)
            return convert(node, lines)

        self.patch(polling, "rest_order", change_after_the_first_page)
        self.poll()
        states = self.events(external_id=str(changed["id"]))
        self.assertEqual(len(states), 2, "its state before and after the edit")
        for order in orders[1:]:
            self.assertEqual(len(self.events(external_id=str(order["id"]))), 1)
        newest = max(states.mapped("external_updated_at"))
        self.assertEqual(self.backend.poll_cursor, newest)
        self.perform_jobs()
        self.assertEqual(len(self.sale_orders()), 5)

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
