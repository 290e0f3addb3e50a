# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Stock pushes under real concurrency: a change made while a push runs,
long transactions that saw a push start, a channel's report of our write
arriving before the push that made it has committed.

These tests commit, on backends of their own deleted at the end."""

import time

from odoo.tests.common import tagged

from odoo.addons.marketplace_connector.models import marketplace_backend_stock
from odoo.addons.marketplace_connector.services.stock_push import StockPusher
from odoo.addons.queue_job.exception import RetryableJobError

from .common import LOCATION
from .real_transactions import RealTransactionCase


@tagged("post_install", "-at_install")
class TestChangeDuringPush(RealTransactionCase):
    """A push reads the queued products without locking them (an order
    import marking one must not wait for the push's calls to the channel);
    a product marked again while the push runs stays queued for one more."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with cls.real_env() as env:
            product = env["product.product"].create(
                {
                    "name": "Push race product",
                    "default_code": "RACE-SKU",
                    "type": "consu",
                }
            )
            backend = cls.create_backend(env, "Push race backend")
            env["marketplace.product.binding"].create(
                {
                    "backend_id": backend.id,
                    "product_id": product.id,
                    "external_id": "item-RACE-SKU",
                    "sku": "RACE-SKU",
                    "channel_item_ref": "item-RACE-SKU",
                }
            )
            cls.backend_id, cls.product_id = backend.id, product.id
        cls.addClassCleanup(cls._delete_backend_jobs)

    def setUp(self):
        super().setUp()
        self._delete_backend_jobs()
        with self.real_env() as env:
            env["marketplace.stock.dirty"].search(
                [("backend_id", "=", self.backend_id)]
            ).unlink()

    def queued(self):
        with self.real_env() as env:
            return env["marketplace.stock.dirty"].search_count(
                [("backend_id", "=", self.backend_id)]
            )

    def push_jobs(self):
        with self.real_env() as env:
            return env["queue.job"].search_count(
                [
                    ("func_string", "like", f"marketplace.backend({self.backend_id},)"),
                    ("method_name", "=", "_job_push_stock"),
                    ("state", "=", "pending"),
                ]
            )

    def set_push_jobs(self, state, env=None):
        """The backend's push jobs move to ``state`` (the runner took them),
        in ``env``'s transaction, or in one of their own, committed."""
        if env is None:
            with self.real_env() as env:
                return self.set_push_jobs(state, env)
        return (
            env["queue.job"]
            .search(
                [
                    ("func_string", "like", f"({self.backend_id},)"),
                    ("method_name", "=", "_job_push_stock"),
                ]
            )
            .write({"state": state})
        )

    def mark(self, decrement=False):
        with self.real_env() as env:
            env["marketplace.stock.dirty"]._mark([self.product_id], decrement)

    def test_change_while_pushing_is_pushed_again(self):
        self.mark()
        with self.real_env() as job_env:  # the push job's transaction
            pusher = StockPusher(job_env["marketplace.backend"].browse(self.backend_id))
            rows = pusher.due_rows()
            self.assertEqual(set(rows.values()), {self.product_id})
            # an order import commits a change of the product meanwhile: it
            # does not wait for the push (no lock was taken on its row)
            started = time.monotonic()
            self.mark()
            self.assertLess(time.monotonic() - started, 1.0)
            self.set_push_jobs("done")  # the waiting job is taken
            pusher.release(rows)
        self.assertEqual(self.queued(), 1, "the change made meanwhile stays queued")
        self.assertEqual(self.push_jobs(), 1, "and a push follows")

    def test_decrease_while_pushing_is_followed_by_a_decrease_push(self):
        self.mark(decrement=True)
        with self.real_env() as job_env:  # the push job's transaction
            pusher = StockPusher(job_env["marketplace.backend"].browse(self.backend_id))
            rows = pusher.due_rows()
            self.mark(decrement=True)  # a sale meanwhile: the job waits still
            self.set_push_jobs("done")  # then the push job starts
            pusher.release(rows)
        with self.real_env() as env:
            follow_up = env["queue.job"].search(
                [
                    ("func_string", "like", f"marketplace.backend({self.backend_id},)"),
                    ("method_name", "=", "_job_push_stock"),
                    ("state", "=", "pending"),
                ]
            )
            self.assertEqual(
                [
                    (job.identity_key.rsplit("-", 1)[1], job.priority)
                    for job in follow_up
                ],
                [("decrement", marketplace_backend_stock.PUSH_PRIORITY_DECREMENT)],
                "the sale's decrease waits behind no increase",
            )

    def test_stock_change_never_fails_on_a_push_meanwhile(self):
        # a long transaction (an inventory adjustment) took its snapshot
        # before a push removed the rows it pushed: queueing its own change
        # must not fail to serialise (rows are only ever inserted)
        self.mark()
        with self.real_env() as adjustment:
            adjustment.cr.execute("SELECT count(*) FROM marketplace_stock_dirty")
            with self.real_env() as job_env:
                pusher = StockPusher(
                    job_env["marketplace.backend"].browse(self.backend_id)
                )
                pusher.release(pusher.due_rows())
            adjustment["marketplace.stock.dirty"]._mark([self.product_id], True)
        self.assertEqual(self.queued(), 1)

    def test_long_transaction_queues_a_push_when_the_waiting_one_has_run(self):
        # an inventory adjustment began while a push job waited; that job
        # has run (without the adjustment's rows) by the time the adjustment
        # commits: the adjustment must queue a push of its own
        self.mark()
        self.assertEqual(self.push_jobs(), 1)
        with self.real_env() as adjustment:
            adjustment.cr.execute("SELECT count(*) FROM queue_job")  # snapshot
            with self.real_env() as job_env:
                pusher = StockPusher(
                    job_env["marketplace.backend"].browse(self.backend_id)
                )
                pusher.release(pusher.due_rows())
                self.set_push_jobs("done", job_env)
            adjustment["marketplace.stock.dirty"]._mark([self.product_id], False)
        self.assertEqual(self.queued(), 1)
        self.assertEqual(self.push_jobs(), 1, "the adjustment's change has a push")

    def run_waiting_push(self):
        """The push job runs: its rows are pushed, the job is done."""
        with self.real_env() as job_env:
            pusher = StockPusher(job_env["marketplace.backend"].browse(self.backend_id))
            pusher.release(pusher.due_rows())
            self.set_push_jobs("done", job_env)

    def test_transactions_that_saw_a_push_start_share_one_follow_up(self):
        # two imports took their snapshots while a push job waited; it ran
        # before they committed: the first queues a push of their rows, the
        # second finds that one waiting (its snapshot cannot see it)
        self.mark()
        with self.real_env() as first, self.real_env() as second:
            first.cr.execute("SELECT count(*) FROM queue_job")  # snapshots
            second.cr.execute("SELECT count(*) FROM queue_job")
            self.run_waiting_push()
            first["marketplace.stock.dirty"]._mark([self.product_id], True)
            first.cr.commit()
            second["marketplace.stock.dirty"]._mark([self.product_id], True)
        self.assertEqual(self.queued(), 2)
        self.assertEqual(self.push_jobs(), 1, "one push for both")

    def test_waiting_push_already_due_is_not_counted_on(self):
        # a push due now may start before this transaction commits, and
        # would not see its rows: the transaction queues a push of its own
        self.mark()
        with self.real_env() as env:
            env.cr.execute(
                "UPDATE queue_job SET eta = (now() at time zone 'UTC') "
                "- interval '1 second' WHERE method_name = '_job_push_stock' "
                "AND func_string LIKE %s",
                (f"%({self.backend_id},)%",),
            )
        self.mark()
        self.assertEqual(self.push_jobs(), 2)
        self.mark()
        self.assertEqual(self.push_jobs(), 2, "the new one, due later, counts")

    def test_push_finding_later_rows_counts_on_the_push_queued_since(self):
        self.mark()
        with self.real_env() as job_env:  # the push job's transaction
            pusher = StockPusher(job_env["marketplace.backend"].browse(self.backend_id))
            rows = pusher.due_rows()
            self.set_push_jobs("started")  # the push job has started
            self.mark()  # an import meanwhile queues a change, and a push
            self.assertEqual(self.push_jobs(), 1)
            pusher.release(rows)
        self.assertEqual(self.queued(), 1)
        self.assertEqual(self.push_jobs(), 1, "the push queued meanwhile will do")

    def test_push_without_change_meanwhile_empties_the_queue(self):
        for _change in range(3):
            self.mark()
        with self.real_env() as job_env:
            pusher = StockPusher(job_env["marketplace.backend"].browse(self.backend_id))
            pusher.release(pusher.due_rows())
        self.assertEqual(self.queued(), 0)


@tagged("post_install", "-at_install")
class TestEchoDuringPush(RealTransactionCase):
    """A channel reports our write back while the push that made it has not
    committed yet: the report must wait for that push, then be an echo --
    not drift that triggers a corrective push, nor a conflict that makes
    the push fail and write again."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.channel.set_quantity("item-ECHO-SKU", LOCATION, 0)
        with cls.real_env() as env:
            backend = cls.create_backend(env, "Echo race backend", stock_push_delay=0)
            product = cls.create_products(env, backend, ["ECHO-SKU"], {"ECHO-SKU": 10})
            cls.backend_id, cls.product_id = backend.id, product.id
        cls.addClassCleanup(cls._delete_stock_data)

    @classmethod
    def _delete_stock_data(cls):
        cls._delete_backend_jobs()
        with cls.real_env() as env:
            env["marketplace.stock.dirty"].search(
                [("backend_id", "=", cls.backend_id)]
            ).unlink()
            env["marketplace.stock.level"].search(
                [("backend_id", "=", cls.backend_id)]
            ).unlink()
            env["marketplace.product.binding"].search(
                [("backend_id", "=", cls.backend_id)]
            ).unlink()

    def report(self, available):
        """The channel's ``inventory`` report, stored."""
        with self.real_env() as env:
            return (
                env["marketplace.event"]
                .create(
                    {
                        "backend_id": self.backend_id,
                        "company_id": env.company.id,
                        "topic": "inventory",
                        "dedupe_key": f"echo-race-{available}-{time.monotonic()}",
                        "resource_type": "inventory_level",
                        "payload": {
                            "item": "item-ECHO-SKU",
                            "location": LOCATION,
                            "quantity": available,
                        },
                    }
                )
                .id
            )

    def process(self, event_id):
        """Run the event's job in a transaction of its own: its result, or
        the retryable error it raised."""
        try:
            with self.real_env() as env:
                event = env["marketplace.event"].browse(event_id)
                event._job_process()
                return event.state, event.result
        except RetryableJobError as err:
            return "retry", str(err)

    def test_echo_arriving_before_the_push_commits_is_not_drift(self):
        with self.real_env() as env:  # the first push: the level exists
            StockPusher(env["marketplace.backend"].browse(self.backend_id)).run()
        with self.real_env() as env:  # a sale in Odoo
            product = env["product.product"].browse(self.product_id)
            env["stock.quant"]._update_available_quantity(
                product, env["stock.warehouse"].search([], limit=1).lot_stock_id, -3
            )
        outcomes = []

        def echo_at_once(applied):
            """The channel applies the write and reports it at once, while
            the pushing transaction is still open."""
            for _item, _location, quantity in applied:
                event_id = self.report(quantity)
                outcomes.append((event_id, self.process(event_id)))

        self.channel.on_applied = echo_at_once
        self.addCleanup(setattr, self.channel, "on_applied", None)
        with self.real_env() as job_env:  # the push job's transaction
            summary = StockPusher(
                job_env["marketplace.backend"].browse(self.backend_id)
            ).run()
        self.assertEqual(len(outcomes), 1, summary)
        event_id, (state, message) = outcomes[0]
        self.assertEqual(state, "retry", f"judged before the push committed: {message}")
        # the job's retry, after the push committed
        state, message = self.process(event_id)
        self.assertEqual(state, "ignored", message)
        self.assertTrue(message.startswith("Echo"), message)
        with self.real_env() as env:
            level = env["marketplace.stock.level"].search(
                [("backend_id", "=", self.backend_id)]
            )
            self.assertEqual(level.state, "synced")
            self.assertEqual(level.drift_count, 0)
            self.assertFalse(
                env["marketplace.stock.dirty"].search(
                    [("backend_id", "=", self.backend_id)]
                ),
                "no corrective push queued",
            )
