# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A poll longer than searchOrders' budget: Amazon allows a search every
3 minutes once its burst of 20 is spent, so a poll over a long backlog
(after an outage, or the first poll of a busy seller) runs out midway. It
keeps what it read and goes on from the page where it stopped, instead of
reading the first pages again forever."""

import json
from contextlib import closing
from unittest.mock import patch

from odoo import sql_db

from .common import AmazonCase, tagged

PAGE_SIZE_PATH = "odoo.addons.marketplace_amazon.lib.orders.PAGE_SIZE"


@tagged("post_install", "-at_install")
class TestPollResume(AmazonCase):
    def set_search_budget(self, available):
        """searchOrders' bucket as the other workers would have left it."""
        with closing(sql_db.db_connect(self.env.cr.dbname).cursor()) as cr:
            cr.execute(
                "INSERT INTO marketplace_rate_budget (backend_id, family, "
                "available, maximum, restore_rate, updated_at) VALUES "
                "(%s, 'searchOrders', %s, 20, 0.0056, "
                "clock_timestamp() at time zone 'UTC') "
                "ON CONFLICT (backend_id, family) DO UPDATE SET "
                "available = EXCLUDED.available, updated_at = EXCLUDED.updated_at",
                (self.backend.id, available),
            )
            cr.commit()  # pylint: disable=invalid-commit

    def test_a_poll_out_of_budget_goes_on_from_its_page(self):
        orders = [self.create_order([("TEE-L", 1)]) for _i in range(5)]
        self.lose_notifications()
        self.sim.clock.advance(180)
        self.set_search_budget(2)  # two pages of three
        with patch(PAGE_SIZE_PATH, 2):
            self.poll()
            self.assertEqual(self.calls("searchOrders"), 2)
            self.assertEqual(len(self.events()), 4, "the pages read are kept")
            self.assertFalse(self.backend.poll_cursor, "the window is not done")
            resume = json.loads(self.backend.poll_resume)
            self.assertTrue(resume["resume"]["token"])
            follow_up = self.job("_job_poll_orders", state="pending")
            self.assertTrue(follow_up, "the rest is queued for when it refills")
            self.assertGreater(follow_up.eta, follow_up.date_created)

            self.set_search_budget(20)
            self.perform_jobs("_job_poll_orders", rounds=1)
        self.assertEqual(self.calls("searchOrders"), 3, "page 3 only, by its token")
        self.assertEqual(self.sim.stats["errors"], 0, "the token's filters kept")
        events = self.events()
        self.assertEqual(
            sorted(events.mapped("external_id")),
            sorted(order["orderId"] for order in orders),
        )
        self.assertFalse(self.backend.poll_resume)
        self.assertEqual(
            self.backend.poll_cursor, max(events.mapped("external_updated_at"))
        )
        self.perform_jobs("_job_process")
        self.assertEqual(len(self.sale_orders()), 5)

    def test_a_poll_out_of_budget_on_its_first_page_keeps_nothing_to_resume(self):
        self.create_order([("TEE-L", 1)])
        self.lose_notifications()
        self.sim.clock.advance(180)
        self.set_search_budget(0)
        self.poll()
        self.assertEqual(self.calls("searchOrders"), 0)
        self.assertFalse(self.backend.poll_resume)
        poll = self.job("_job_poll_orders")
        self.assertEqual((poll.state, poll.retry), ("pending", 0), "postponed")

    def test_a_stale_resume_point_starts_again_from_the_cursor(self):
        order = self.create_order([("TEE-L", 1)])
        self.lose_notifications()
        self.sim.clock.advance(180)
        self.backend.poll_resume = json.dumps(
            {
                "resume": {"since": "x", "until": "y", "token": "expired"},
                "newest": None,
                "saved_at": "2020-01-01 00:00:00",
            }
        )
        self.poll()
        self.assertEqual(self.events().external_id, order["orderId"])
        self.assertFalse(self.backend.poll_resume)
