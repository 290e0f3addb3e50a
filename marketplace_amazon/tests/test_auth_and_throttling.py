# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Login with Amazon and usage plans as the jobs live them: an access token
that dies mid-way is replaced once for every worker (the database token
store), a revoked authorisation fails visibly with what to do, and a 429
storm postpones jobs without spending their retries."""

from contextlib import closing

from odoo import sql_db

from odoo.addons.marketplace_amazon.lib.lwa import MESSAGE_INVALID_GRANT
from odoo.addons.marketplace_connector.models.marketplace_event import (
    IMPORT_BATCH_PARAMETER,
)

from .common import AmazonCase, tagged


@tagged("post_install", "-at_install")
class TestLogin(AmazonCase):
    def test_an_expired_token_is_replaced_once_for_every_worker(self):
        # one order per job: each job is a worker with an adapter of its own
        self.env["ir.config_parameter"].set_param(IMPORT_BATCH_PARAMETER, "1")
        first = self.create_order([("MUG-BLUE", 1)])
        self.import_orders()
        self.assertEqual(self.sale_order(first).state, "sale")
        self.assertEqual(self.calls("lwa:token"), 1)

        self.sim.expire_tokens()
        later = [self.create_order([("TEE-L", 1)]) for _order in range(3)]
        self.import_orders()

        for order in later:
            self.assertEqual(self.sale_order(order).state, "sale")
        self.assertEqual(len(self.events().mapped("job_uuid")), 4, "a job each")
        # the first job refused logs in again; the others read its token
        self.assertEqual(self.calls("lwa:token"), 2)
        get_order = self.sim.request_stats.operation("getOrder")
        self.assertEqual((get_order["calls"], get_order["errors"]), (5, 1))

    def test_a_revoked_authorisation_fails_visibly_until_authorised_again(self):
        first = self.create_order([("MUG-BLUE", 1)])
        self.import_orders()
        self.assertEqual(self.sale_order(first).state, "sale")
        # the seller removes the app: its tokens die with the authorisation
        self.sim.revoke_refresh_token()

        order = self.create_order([("CAP-RED", 1)])
        self.import_orders()
        event = self.events(external_id=order["orderId"])
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.last_error, MESSAGE_INVALID_GRANT)
        self.assertIn("authorise the app again", event.last_error)
        self.assertFalse(self.sale_order(order))
        self.assertTrue(self.backend.activity_ids, "the responsible is told")

        self.sim.clock.advance(180)
        self.poll()
        self.assertEqual(self.backend.last_poll_error, MESSAGE_INVALID_GRANT)

        self.change_stock("MUG-BLUE", -1)
        self.perform_jobs("_job_push_stock")
        push = self.job("_job_push_stock")
        self.assertEqual(push.state, "failed")
        self.assertIn("invalid_grant", push.exc_message)
        self.assertEqual(self.sim.listing_quantity("MUG-BLUE"), self.LISTED_QUANTITY)

        # authorised again: Retry imports the order
        self.sim.lwa.restore()
        event.action_retry()
        self.perform_jobs("_job_process")
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(self.sale_order(order).state, "sale")


@tagged("post_install", "-at_install")
class TestThrottling(AmazonCase):
    STORM = 600

    def refill_budgets(self):
        """Our shared budgets as Amazon's restore rates leave them once the
        minutes the test skipped on the simulator's clock have passed."""
        with closing(sql_db.db_connect(self.env.cr.dbname).cursor()) as cr:
            cr.execute(
                "UPDATE marketplace_rate_budget SET available = maximum "
                "WHERE backend_id = %s",
                (self.backend.id,),
            )
            cr.commit()  # pylint: disable=invalid-commit

    def storm_passes(self):
        # searchOrders refills one call every three minutes after the storm
        self.sim.clock.advance(self.STORM + 200)
        self.refill_budgets()

    def test_a_429_storm_postpones_pushes_and_polls_without_spending_retries(self):
        order = self.create_order([("TEE-L", 2)])
        self.lose_notifications()
        self.sim.clock.advance(180)
        self.sim.throttle(self.STORM)
        self.change_stock("MUG-BLUE", -1)
        self.backend._enqueue_poll()
        for _round in range(3):
            self.perform_jobs("_job_push_stock", rounds=1)
            self.perform_jobs("_job_poll_orders", rounds=1)
        push, poll = self.job("_job_push_stock"), self.job("_job_poll_orders")
        self.assertEqual((push.state, push.retry), ("pending", 0))
        self.assertEqual((poll.state, poll.retry), ("pending", 0))
        self.assertIn("throttled", push.result)
        self.assertGreaterEqual(self.sim.stats["throttled"], 2)
        self.assertFalse(self.events())

        self.storm_passes()
        self.perform_jobs("_job_push_stock")
        self.perform_jobs("_job_poll_orders")
        # done at the first run that counts (queue_job counts the run itself)
        self.assertEqual((push.state, push.retry), ("done", 1))
        self.assertEqual((poll.state, poll.retry), ("done", 1))
        self.assertEqual(self.level("MUG-BLUE").last_confirmed_quantity, 49)
        self.assertEqual(self.sim.listing_quantity("MUG-BLUE"), 49)
        self.assertEqual(self.events().external_id, order["orderId"])

    def test_a_429_storm_postpones_imports_then_they_succeed(self):
        order = self.create_order([("TEE-L", 1)])
        self.pull()
        self.sim.throttle(self.STORM)
        self.perform_jobs("_job_process", rounds=2)
        job = self.job("_job_process")
        self.assertEqual(job.state, "pending", "postponed, not failed")
        self.assertIn("throttled getOrder", job.result)
        self.assertEqual(self.sim.stats["throttled"], 2)
        self.assertFalse(self.sale_order(order))
        self.storm_passes()
        self.perform_jobs("_job_process")
        self.assertEqual(job.state, "done")
        self.assertEqual(self.sale_order(order).state, "sale")

    def test_a_429_storm_spends_no_retry_of_an_import(self):
        self.create_order([("TEE-L", 1)])
        self.pull()
        self.sim.throttle(self.STORM)
        self.perform_jobs("_job_process", rounds=2)
        job = self.job("_job_process")
        self.assertEqual((job.state, job.retry), ("pending", 0))
