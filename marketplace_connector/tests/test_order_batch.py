# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A new order's job imports other new orders waiting in the inbox with its
own, in one transaction: created in one ``create``, confirmed in one
``action_confirm``. Real transactions, committed, as the job runner runs
them."""

import threading
import time
from contextlib import closing
from decimal import Decimal

from odoo import sql_db
from odoo.tests.common import tagged

from odoo.addons.marketplace_connector.models.marketplace_event import (
    IMPORT_BATCH_PARAMETER as BATCH_PARAMETER,
)
from odoo.addons.marketplace_connector.services.order_importer import (
    SIMULATED_LATENCY_PARAMETER as LATENCY_PARAMETER,
)
from odoo.addons.marketplace_test_channel.lib.adapter import order_event
from odoo.addons.queue_job.exception import RetryableJobError

from .real_transactions import RealTransactionCase, order_payload


@tagged("post_install", "-at_install")
class TestOrderBatch(RealTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.skus = ("BATCH-1", "BATCH-2", "BATCH-HELD", "BATCH-LAST")
        # BATCH-NOT-IN-ODOO: sold on the channel, unknown to Odoo
        with cls.real_env() as env:
            warehouse = env["stock.warehouse"].search([], limit=1)
            backend = cls.create_backend(
                env, "Batch", auto_confirm=True, stock_push_enabled=False
            )
            cls.backend_id = backend.id
            products = cls.create_products(
                env,
                backend,
                cls.skus,
                {sku: 2 if sku == "BATCH-LAST" else 100 for sku in cls.skus},
            )
            cls.product_ids = dict(zip(cls.skus, products.ids, strict=True))
            cls.stock_location_id = warehouse.lot_stock_id.id

    def setUp(self):
        super().setUp()
        self.addCleanup(self._forget_queued_orders)

    def _forget_queued_orders(self):
        """What a test left queued must not join the next test's batch."""
        with self.real_env() as env:
            env["marketplace.event"].search(
                [("backend_id", "=", self.backend_id), ("state", "=", "queued")]
            ).write({"state": "ignored"})

    def store_orders(self, skus, edit=None):
        """One webhook-stored order event per SKU, committed; ``edit``
        changes a payload before it is stored."""
        event_ids = []
        with self.real_env() as env:
            backend = env["marketplace.backend"].browse(self.backend_id)
            for sku in skus:
                payload = order_payload([(sku, 1)])
                if edit:
                    edit(sku, payload)
                inbound = order_event(payload, "order", "webhook")
                event_ids.append(
                    env["marketplace.event"]._store_inbound(backend, inbound).id
                )
        return event_ids

    def run_job(self, event_id):
        """The event's job, in a transaction of its own (committed)."""
        with self.real_env() as env:
            return env["marketplace.event"].browse(event_id)._job_process()

    def states(self, event_ids):
        """Per event: its state, its sale order's state, its job's state."""
        with self.real_env() as env:
            events = env["marketplace.event"].browse(event_ids)
            jobs = {
                job.uuid: job
                for job in env["queue.job"].search(
                    [("uuid", "in", events.mapped("job_uuid"))]
                )
            }
            return [
                (event.state, event.sale_order_id.state, jobs[event.job_uuid].state)
                for event in events
            ]

    def set_batch_size(self, size):
        with self.real_env() as env:
            env["ir.config_parameter"].set_param(BATCH_PARAMETER, size)
        self.addCleanup(self._unset_batch_size)

    def _unset_batch_size(self):
        with self.real_env() as env:
            env["ir.config_parameter"].set_param(BATCH_PARAMETER, False)

    def test_job_imports_waiting_new_orders_with_its_own_and_ends_their_jobs(self):
        event_ids = self.store_orders(["BATCH-1", "BATCH-2", "BATCH-1"])
        result = self.run_job(event_ids[0])
        self.assertIn(
            f"imported 2 more orders with it (events {event_ids[1]}, {event_ids[2]})",
            result,
        )
        # the first job's own row is queue_job's to finish: here it was not
        # run through the runner, so it stays pending
        self.assertEqual(
            self.states(event_ids),
            [("done", "sale", "pending")] + [("done", "sale", "done")] * 2,
        )
        with self.real_env() as env:
            events = env["marketplace.event"].browse(event_ids)
            jobs = env["queue.job"].search(
                [("uuid", "in", events[1:].mapped("job_uuid"))]
            )
            self.assertEqual(
                set(jobs.mapped("result")),
                {f"Imported by the job of event {event_ids[0]}"},
            )
            self.assertEqual(len(events.sale_order_id), 3, "one sale order each")
            bindings = env["marketplace.order.binding"].search(
                [("order_id", "in", events.sale_order_id.ids)]
            )
            self.assertEqual(sorted(bindings.mapped("sync_state")), ["synced"] * 3)
            self.assertTrue(all(bindings.mapped("external_updated_at")))
            for event in events:
                self.assertEqual(
                    event.result, f"Created {event.sale_order_id.name}", event.id
                )
                self.assertEqual(
                    event.sale_order_id.client_order_ref,
                    event.payload["name"],
                    "each event has its own order",
                )

    def test_two_states_of_one_new_order_make_one_sale_order(self):
        # both wait, neither imported yet: the batch takes the first; the
        # other is applied by its own job, on the one sale order
        first = self.store_orders(["BATCH-1"])[0]
        with self.real_env() as env:
            event = env["marketplace.event"].browse(first)
            payload = dict(event.payload, updated_at="2030-01-01T00:00:00+00:00")
            inbound = order_event(payload, "order", "webhook")
            events = env["marketplace.event"]
            newer = events._store_inbound(event.backend_id, inbound).id
        (primary,) = self.store_orders(["BATCH-2"])
        self.assertIn(
            f"imported 1 more order with it (events {first})", self.run_job(primary)
        )
        self.assertEqual(self.states([newer])[0], ("queued", False, "pending"))
        self.run_job(newer)
        with self.real_env() as env:
            events = env["marketplace.event"].browse([first, newer])
            self.assertEqual(events.mapped("state"), ["done", "done"])
            self.assertEqual(len(events.sale_order_id), 1)
            binding = env["marketplace.order.binding"].search(
                [("order_id", "=", events.sale_order_id.id)]
            )
            self.assertEqual(binding.external_updated_at.year, 2030)

    def test_order_whose_job_was_postponed_is_taken_along(self):
        # its job met a held lock and comes back later: meanwhile another
        # job importing the same products takes it, rather than pass it over
        event_ids = self.store_orders(["BATCH-1", "BATCH-1"])
        with self.real_env() as env:
            job = env["queue.job"].search(
                [("uuid", "=", env["marketplace.event"].browse(event_ids[0]).job_uuid)]
            )
            job.write({"eta": "2099-01-01 00:00:00"})
        self.assertIn(
            f"imported 1 more order with it (events {event_ids[0]})",
            self.run_job(event_ids[1]),
        )
        self.assertEqual(self.states(event_ids)[0], ("done", "sale", "done"))

    def test_last_units_go_to_the_oldest_orders_of_a_batch(self):
        # 2 in stock, 3 orders of one each imported together: the ledger
        # takes them in turn and Odoo reserves as the ledger says
        event_ids = self.store_orders(["BATCH-LAST"] * 3)
        self.assertIn("imported 2 more orders", self.run_job(event_ids[0]))
        with self.real_env() as env:
            orders = env["marketplace.event"].browse(event_ids).sale_order_id
            self.assertEqual(
                [order.marketplace_oversold for order in orders], [False, False, True]
            )
            self.assertEqual(
                [order.picking_ids.state for order in orders[:2]], ["assigned"] * 2
            )
            self.assertNotEqual(orders[2].picking_ids.state, "assigned")
            entries = env["marketplace.stock.ledger"].search(
                [("sale_order_id", "in", orders.ids)], order="id"
            )
            self.assertEqual(entries.mapped("free_before"), [2.0, 1.0, 0.0])
            self.assertEqual(entries.mapped("oversold_quantity"), [0.0, 0.0, 1.0])
            env.cr.execute(
                "SELECT SUM(quantity - reserved_quantity) FROM stock_quant "
                "WHERE product_id = %s AND location_id = %s",
                (self.product_ids["BATCH-LAST"], self.stock_location_id),
            )
            self.assertEqual(env.cr.fetchone()[0], 0)

    def test_jobs_of_the_orders_a_batch_claimed_wait_while_it_runs(self):
        event_ids = self.store_orders(["BATCH-1", "BATCH-2", "BATCH-1"])
        with self.real_env() as env:
            # a slow import: 400 ms for each order the batch imports
            env["ir.config_parameter"].set_param(LATENCY_PARAMETER, 400)
        self.addCleanup(self._unset_latency)
        outcome = []
        thread = threading.Thread(
            target=lambda: outcome.append(self.run_job(event_ids[0]))
        )
        thread.start()
        time.sleep(0.6)  # the waiting orders found, 3 x 400 ms to sleep
        etas = self.job_etas(event_ids)
        thread.join(timeout=30)
        self.assertIsNone(etas[0], "its own job is running")
        self.assertTrue(
            all(etas[1:]), "the runner does not send the others' jobs meanwhile"
        )
        self.assertIn("imported 2 more orders", outcome[0])
        self.assertEqual(
            [state[2] for state in self.states(event_ids)[1:]], ["done", "done"]
        )

    def _unset_latency(self):
        with self.real_env() as env:
            env["ir.config_parameter"].set_param(LATENCY_PARAMETER, False)

    def job_etas(self, event_ids):
        with self.real_env() as env:
            events = env["marketplace.event"].browse(event_ids)
            env.cr.execute(
                "SELECT uuid, eta FROM queue_job WHERE uuid = ANY(%s)",
                (events.mapped("job_uuid"),),
            )
            etas = dict(env.cr.fetchall())
            return [etas[event.job_uuid] for event in events]

    def test_order_whose_stock_is_held_elsewhere_is_left_to_its_own_job(self):
        event_ids = self.store_orders(["BATCH-1", "BATCH-HELD", "BATCH-2"])
        outcome = []

        def job():
            outcome.append(self.run_job(event_ids[0]))

        waited = self.run_while_stock_held(self.product_ids["BATCH-HELD"], job)
        self.assertFalse(waited, "the job waited for the held stock")
        self.assertIn(
            f"imported 1 more order with it (events {event_ids[2]})", outcome[0]
        )
        self.assertEqual(
            self.states(event_ids)[1:],
            [("queued", False, "pending"), ("done", "sale", "done")],
        )
        self.assertIsNone(self.job_etas(event_ids)[1], "its job may run at once")
        self.run_job(event_ids[1])  # its own job, once the stock is free
        self.assertEqual(self.states(event_ids)[1][:2], ("done", "sale"))

    def test_job_whose_own_stock_is_held_imports_the_others_and_waits(self):
        event_ids = self.store_orders(["BATCH-HELD", "BATCH-1", "BATCH-2"])
        with self.real_env() as env:
            first_job = env["marketplace.event"].browse(event_ids[0]).job_uuid
        outcome = []

        def job():
            outcome.append(self.run_job(event_ids[0]))

        waited = self.run_while_stock_held(self.product_ids["BATCH-HELD"], job)
        self.assertFalse(waited, "the job waited for the held stock")
        self.assertIn("queued: Stock of order", outcome[0])
        self.assertIn(
            f"imported 2 more orders with it (events {event_ids[1]}, {event_ids[2]})",
            outcome[0],
        )
        self.assertEqual(
            self.states(event_ids),
            [("queued", False, "pending")] + [("done", "sale", "done")] * 2,
        )
        with self.real_env() as env:
            # the runner sets the job that returned done
            env["queue.job"].search([("uuid", "=", first_job)]).state = "done"
            event = env["marketplace.event"].browse(event_ids[0])
            self.assertNotEqual(event.job_uuid, first_job, "a new job waits for it")
            job = env["queue.job"].search([("uuid", "=", event.job_uuid)])
            self.assertTrue(job.eta, "the new job starts a moment later")
            self.assertIn("held by another import", event.result)
        self.run_job(event_ids[0])  # the new job, once the stock is free
        self.assertEqual(self.states(event_ids)[0][:2], ("done", "sale"))

    def test_job_whose_own_stock_is_held_and_nothing_to_take_runs_again(self):
        (event_id,) = self.store_orders(["BATCH-HELD"])
        errors = []

        def job():
            try:
                self.run_job(event_id)
            except RetryableJobError as err:
                errors.append(err)

        self.run_while_stock_held(self.product_ids["BATCH-HELD"], job)
        self.assertEqual(len(errors), 1, "the job itself runs again")
        self.assertEqual(self.states([event_id])[0], ("queued", False, "pending"))

    def test_waiting_order_that_cannot_be_imported_is_left_to_its_own_job(self):
        imported = self.store_orders(["BATCH-2"])
        self.run_job(imported[0])
        with self.real_env() as env:  # a later state of an imported order
            event = env["marketplace.event"].browse(imported[0])
            payload = dict(event.payload, updated_at="2030-01-01T00:00:00+00:00")
            inbound = order_event(payload, "order", "webhook")
            updated = (
                env["marketplace.event"]._store_inbound(event.backend_id, inbound).id
            )
        event_ids = self.store_orders(["BATCH-1", "BATCH-NOT-IN-ODOO", "BATCH-2"])
        result = self.run_job(event_ids[0])
        self.assertIn(f"imported 1 more order with it (events {event_ids[2]})", result)
        self.assertEqual(self.states([updated])[0], ("queued", False, "pending"))
        self.assertEqual(self.states(event_ids)[1], ("queued", False, "pending"))
        # each by its own job, which reports what is wrong
        self.run_job(updated)
        self.assertEqual(self.states([updated])[0][:2], ("done", "sale"))
        self.run_job(event_ids[1])
        with self.real_env() as env:
            event = env["marketplace.event"].browse(event_ids[1])
            self.assertEqual(event.state, "failed")
            self.assertIn("BATCH-NOT-IN-ODOO", event.last_error)

    def test_batch_that_fails_imports_the_jobs_own_order_alone(self):
        def wrong_total(sku, payload):
            if sku == "BATCH-2":  # the channel charged 5 more than its lines
                payload["total"] = str(Decimal("10.00") + 5)

        event_ids = self.store_orders(["BATCH-1", "BATCH-2", "BATCH-1"], wrong_total)
        result = self.run_job(event_ids[0])
        self.assertNotIn("more orders", result)
        self.assertEqual(
            self.states(event_ids),
            [("done", "sale", "pending")] + [("queued", False, "pending")] * 2,
        )
        with self.real_env() as env:
            self.assertEqual(
                env["marketplace.order.binding"].search_count(
                    [
                        ("backend_id", "=", self.backend_id),
                        ("order_id", "=", False),
                    ]
                ),
                0,
                "the rolled-back batch left no binding behind",
            )
        # the order whose totals differ fails in its own job, with figures
        self.run_job(event_ids[1])
        with self.real_env() as env:
            event = env["marketplace.event"].browse(event_ids[1])
            self.assertEqual(event.state, "failed")
            self.assertIn("Totals differ", event.last_error)
        self.run_job(event_ids[2])
        self.assertEqual(self.states(event_ids)[2][:2], ("done", "sale"))

    def test_job_of_an_event_another_job_holds_comes_back_later(self):
        (event_id,) = self.store_orders(["BATCH-2"])
        with closing(sql_db.db_connect(self.dbname).cursor()) as batch:
            # a job importing it with its own holds its row
            batch.execute(
                "SELECT id FROM marketplace_event WHERE id = %s FOR UPDATE",
                (event_id,),
            )
            with self.assertRaises(RetryableJobError):
                self.run_job(event_id)
            batch.rollback()
        self.run_job(event_id)
        self.assertEqual(self.states([event_id])[0][:2], ("done", "sale"))

    def test_batch_size_one_imports_one_order_per_job(self):
        self.set_batch_size("1")
        event_ids = self.store_orders(["BATCH-1", "BATCH-2"])
        self.assertNotIn("more orders", self.run_job(event_ids[0]))
        self.assertEqual(self.states(event_ids)[1], ("queued", False, "pending"))
        self.run_job(event_ids[1])
        self.assertEqual(self.states(event_ids)[1][:2], ("done", "sale"))
