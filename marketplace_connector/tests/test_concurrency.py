# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Idempotency under real concurrency: separate database connections,
separate transactions, started together at a barrier.

These tests commit (they must: a transaction that cannot see the others
proves nothing), so they work on a backend of their own and delete what they
created at the end.
"""

import contextlib
import datetime
import random
import threading
import time
from contextlib import closing
from unittest.mock import patch

import psycopg2
from werkzeug.test import EnvironBuilder

from odoo import SUPERUSER_ID, api, sql_db
from odoo.tests.common import tagged

from odoo.addons.marketplace_connector import fast_intake
from odoo.addons.marketplace_connector.lib.errors import RetryableError
from odoo.addons.marketplace_connector.models import marketplace_backend_intake
from odoo.addons.marketplace_connector.services.order_importer import (
    SIMULATED_LATENCY_PARAMETER,
)
from odoo.addons.marketplace_test_channel.lib import adapter as test_channel
from odoo.addons.queue_job.exception import RetryableJobError

from .real_transactions import RealTransactionCase, order_payload, signed_delivery

WORKERS = 6


@tagged("post_install", "-at_install")
class TestConcurrency(RealTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with cls.real_env() as env:
            env["product.product"].create(
                {
                    "name": "Concurrency product",
                    "default_code": "CONC-SKU",
                    "type": "consu",
                }
            )
            backend = cls.create_backend(env, "Concurrency backend", auto_confirm=False)
            cls.backend_id = backend.id

    def run_concurrently(self, target, count=WORKERS):
        barrier = threading.Barrier(count)
        results, errors = [], []

        def worker(index):
            try:
                barrier.wait(timeout=10)
                results.append(target(index))
            except Exception as err:
                errors.append(err)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        self.assertFalse(errors, errors)
        return results

    def test_concurrent_duplicate_deliveries_store_one_event_and_one_job(self):
        payload = order_payload([("CONC-SKU", 1)])
        body, headers = signed_delivery(payload)

        def deliver(_index):
            # what the controller does, each in a transaction of its own
            with self.real_env() as env:
                backend = env["marketplace.backend"].browse(self.backend_id)
                return backend._receive_webhook(headers, body)

        results = self.run_concurrently(deliver)
        self.assertEqual(
            sorted(results),
            [(200, "duplicate")] * (WORKERS - 1) + [(200, "stored")],
            "every delivery acknowledged, exactly one stored",
        )
        with self.real_env() as env:
            events = env["marketplace.event"].search(
                [
                    ("backend_id", "=", self.backend_id),
                    ("external_id", "=", str(payload["id"])),
                ]
            )
            self.assertEqual(len(events), 1)
            jobs = env["queue.job"].search([("uuid", "=", events.job_uuid)])
            self.assertEqual(len(jobs), 1)

    def test_delivery_waiting_on_its_twin_finds_the_duplicate_at_once(self):
        # two notifications of one paid order carry the same state and
        # arrive together: the second waits for the first's
        # INSERT, and must then answer "duplicate" on that same attempt
        # (in REPEATABLE READ the first's commit made it fail to serialise
        # and start over)
        payload = order_payload([("CONC-SKU", 1)])
        body, headers = signed_delivery(payload)
        twin = sql_db.db_connect(self.dbname).cursor()
        self.addCleanup(twin.close)
        twin_env = api.Environment(twin, SUPERUSER_ID, {})
        inbound = test_channel.order_event(payload, "order", "webhook")
        backend = twin_env["marketplace.backend"].browse(self.backend_id)
        self.assertTrue(twin_env["marketplace.event"]._store_inbound(backend, inbound))
        answers = []

        def deliver():
            cursor = sql_db.db_connect(self.dbname).cursor()
            with closing(fast_intake.read_committed(cursor)) as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                backend = env["marketplace.backend"].browse(self.backend_id)
                answers.append(backend._receive_webhook(headers, body))

        with patch.object(marketplace_backend_intake, "INTAKE_ATTEMPTS", 1):
            delivery = threading.Thread(target=deliver)
            delivery.start()
            self.wait_for_lock_wait("INSERT INTO marketplace_event")
            twin.commit()  # pylint: disable=invalid-commit
            delivery.join(timeout=30)
        self.assertEqual(answers, [(200, "duplicate")])

    def test_intake_lends_its_connection_again_and_drops_one_the_server_ended(self):
        connections = fast_intake.IntakeConnections()
        self.addCleanup(connections.clear)
        with self.real_env() as env:
            token = env["marketplace.backend"].browse(self.backend_id).webhook_token
        resets = []
        original_reset = sql_db.PsycoConnection.reset

        def counted_reset(connection):
            resets.append(connection.get_backend_pid())
            return original_reset(connection)

        def deliver():
            payload = order_payload([("CONC-SKU", 1)])
            body, headers = signed_delivery(payload)
            environ = EnvironBuilder(
                path=f"/marketplace/webhook/{token}",
                method="POST",
                data=body,
                headers=headers,
            ).get_environ()
            statuses = []
            answer = fast_intake._serve(
                self.dbname, environ, lambda status, _headers: statuses.append(status)
            )
            idle = [c for kept in connections._idle.values() for c in kept]
            self.assertEqual(len(idle), 1)
            return statuses[0], b"".join(answer).decode(), idle[0].get_backend_pid()

        with (
            patch.object(fast_intake, "INTAKE_CONNECTIONS", connections),
            patch.object(sql_db.PsycoConnection, "reset", counted_reset),
        ):
            first = deliver()
            resets.clear()
            second = deliver()
            self.assertEqual(resets, [], "the kept connection was reset")
            self.assertEqual(second[2], first[2], "not the same connection")
            # the server ends that session (a restart, an administrator)
            with closing(sql_db.db_connect(self.dbname).cursor()) as admin:
                admin._cnx.autocommit = True
                admin.execute("SELECT pg_terminate_backend(%s)", (first[2],))
            self.wait_for_sessions(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                (first[2],),
                present=False,
            )
            third = deliver()
        self.assertEqual(
            [answer[:2] for answer in (first, second, third)],
            [("200 OK", "stored")] * 3,
        )
        self.assertNotEqual(third[2], first[2])

    def wait_for_sessions(self, count_query, params, *, present=True, timeout=10):
        """Until ``count_query`` (a count of ``pg_stat_activity`` rows)
        counts some session -- or none, when ``present`` is false; polled on
        a connection of its own."""
        deadline = time.monotonic() + timeout
        with closing(sql_db.db_connect(self.dbname).cursor()) as cr:
            cr._cnx.autocommit = True
            while time.monotonic() < deadline:
                cr.execute(count_query, params)
                if bool(cr.fetchone()[0]) == present:
                    return
                time.sleep(0.02)
        raise AssertionError(
            f"after {timeout} s, still {'no' if present else 'a'} session "
            f"for {count_query!r} {params!r}"
        )

    def wait_for_lock_wait(self, query_part, timeout=10):
        """Until another session waits on a lock in a query containing
        ``query_part``."""
        self.wait_for_sessions(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND position(%s in query) > 0",
            (query_part,),
            timeout=timeout,
        )

    def test_concurrent_jobs_for_one_order_make_one_sale_order(self):
        created = order_payload([("CONC-SKU", 1)])
        updated = dict(created, note="rush", updated_at="2026-12-01T10:05:00+00:00")
        event_ids = []
        with self.real_env() as env:
            backend = env["marketplace.backend"].browse(self.backend_id)
            for payload in (created, updated):
                inbound = test_channel.order_event(payload, "order", "webhook")
                event_ids.append(
                    env["marketplace.event"]._store_inbound(backend, inbound).id
                )

        def process(index):
            # what the job runner does: run, and on a retryable error roll
            # back and run again a moment later; a job that imported other
            # waiting orders and left its own (held by the other job) to a
            # new job: run that one
            for _attempt in range(20):
                try:
                    with self.real_env() as env:
                        event = env["marketplace.event"].browse(event_ids[index])
                        result = event._job_process()
                        if event.state != "queued":
                            return result
                except (RetryableError, RetryableJobError):
                    time.sleep(0.2)
                    continue
                time.sleep(0.2)  # left to a new job: that one runs next
            raise AssertionError("never got through")

        self.run_concurrently(process, count=2)
        with self.real_env() as env:
            bindings = env["marketplace.order.binding"].search(
                [
                    ("backend_id", "=", self.backend_id),
                    ("external_id", "=", str(created["id"])),
                ]
            )
            self.assertEqual(len(bindings), 1)
            self.assertEqual(len(bindings.order_id), 1)
            orders = env["sale.order"].search(
                [("marketplace_binding_ids", "in", bindings.ids)]
            )
            self.assertEqual(len(orders), 1)
            self.assertEqual(
                bindings.external_updated_at,
                test_channel.TestChannelAdapter._parse_order(updated).updated_at,
            )
            states = sorted(env["marketplace.event"].browse(event_ids).mapped("state"))
            self.assertIn(states, (["done", "ignored"], ["done", "done"]))

    def test_job_cut_off_by_a_lost_database_connection_is_retried(self):
        # PostgreSQL restarts (or a connection is cut) while an order is
        # imported: the job must come back later, not fail -- a failed order
        # event would wait for an operator
        payload = order_payload([("CONC-SKU", 1)])
        with self.real_env() as env:
            backend = env["marketplace.backend"].browse(self.backend_id)
            inbound = test_channel.order_event(payload, "order", "webhook")
            event_id = env["marketplace.event"]._store_inbound(backend, inbound).id
        self.set_import_latency(1500)
        self.addCleanup(self.set_import_latency, 0)
        cr = sql_db.db_connect(self.dbname).cursor()
        try:
            cr.execute("SELECT pg_backend_pid()")
            pid = cr.fetchone()[0]

            def cut():
                time.sleep(0.5)  # the job is importing (sleeping in it)
                with closing(sql_db.db_connect(self.dbname).cursor()) as other:
                    other.execute("SELECT pg_terminate_backend(%s)", (pid,))

            cutter = threading.Thread(target=cut)
            cutter.start()
            env = api.Environment(cr, SUPERUSER_ID, {})
            with self.assertRaises(RetryableJobError) as caught:
                env["marketplace.event"].browse(event_id)._job_process()
            cutter.join()
            self.assertIn("Database connection lost", str(caught.exception))
        finally:
            with contextlib.suppress(psycopg2.Error):
                cr.close()
        with self.real_env() as env:
            event = env["marketplace.event"].browse(event_id)
            self.assertEqual(event.state, "queued", "neither failed nor dead")
            self.assertFalse(event.sale_order_id)

    def test_poll_finds_a_state_a_webhook_stored_after_it_began(self):
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        payload = self.channel.add_order(
            order_payload([("CONC-SKU", 1)], updated_at=now.isoformat())
        )
        with self.real_env() as poll_env:  # the poll job's transaction
            poll_env.cr.execute("SELECT count(*) FROM marketplace_event")  # snapshot
            with self.real_env() as env:  # the webhook, meanwhile
                backend = env["marketplace.backend"].browse(self.backend_id)
                inbound = test_channel.order_event(payload, "order", "webhook")
                self.assertTrue(
                    env["marketplace.event"]._store_inbound(backend, inbound)
                )
            backend = poll_env["marketplace.backend"].browse(self.backend_id)
            backend.poll_cursor = False
            result = backend._job_poll_orders()
        self.assertIn("0 new events", result)
        with self.real_env() as env:
            events = env["marketplace.event"].search(
                [
                    ("backend_id", "=", self.backend_id),
                    ("external_id", "=", str(payload["id"])),
                ]
            )
            self.assertEqual(len(events), 1)
            self.assertEqual(events.source, "webhook")

    def set_import_latency(self, milliseconds):
        with self.real_env() as env:
            env["ir.config_parameter"].set_param(
                SIMULATED_LATENCY_PARAMETER, str(milliseconds)
            )


@tagged("post_install", "-at_install")
class TestLastUnitRace(RealTransactionCase):
    """Two backends sell the last unit at the same moment, 50 times, with
    varied interleavings: exactly one order reserves it, the other is flagged
    oversold, the free quantity never goes below zero."""

    ROUNDS = 50

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.skus = [f"RACE-{index:03d}" for index in range(cls.ROUNDS)]
        cls.held_sku = "RACE-HELD"
        with cls.real_env() as env:
            warehouse = env["stock.warehouse"].search([], limit=1)
            for name in ("A", "B"):
                cls.create_backend(
                    env, f"Race {name}", auto_confirm=True, stock_push_enabled=False
                )
            # found by SKU on both backends (no binding)
            skus = [*cls.skus, cls.held_sku]
            products = cls.create_products(env, None, skus, dict.fromkeys(skus, 1))
            cls.product_ids = products[: cls.ROUNDS].ids
            cls.held_product_id = products[-1].id
            cls.stock_location_id = warehouse.lot_stock_id.id

    def _process(self, event_id, delay):
        time.sleep(delay)
        for _attempt in range(40):
            try:
                with self.real_env() as env:
                    return env["marketplace.event"].browse(event_id)._job_process()
            except (RetryableError, RetryableJobError):
                time.sleep(0.05)
        raise AssertionError("never got through")

    def _race(self, event_ids, delays):
        barrier = threading.Barrier(2)
        errors = []

        def worker(position):
            try:
                barrier.wait(timeout=10)
                self._process(event_ids[position], delays[position])
            except Exception as err:
                errors.append(err)

        threads = [threading.Thread(target=worker, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        self.assertFalse(errors, errors)

    def test_last_unit_sold_twice_at_once(self):
        rng = random.Random(20261123)
        for index, sku in enumerate(self.skus):
            event_ids = []
            with self.real_env() as env:
                for backend in env["marketplace.backend"].browse(self.backend_ids):
                    payload = order_payload([(sku, 1)])
                    inbound = test_channel.order_event(payload, "order", "webhook")
                    event_ids.append(
                        env["marketplace.event"]._store_inbound(backend, inbound).id
                    )
            # varied interleavings: either may start first, by up to 30 ms
            self._race(event_ids, [rng.uniform(0, 0.03), rng.uniform(0, 0.03)])
            with self.real_env() as env:
                orders = env["sale.order"].search(
                    [
                        ("marketplace_backend_id", "in", self.backend_ids),
                        ("order_line.product_id", "=", self.product_ids[index]),
                    ]
                )
                self.assertEqual(len(orders), 2, sku)
                self.assertEqual(
                    sorted(orders.mapped("marketplace_oversold")), [False, True], sku
                )
                reserved = orders.filtered(lambda o: not o.marketplace_oversold)
                self.assertEqual(reserved.picking_ids.state, "assigned", sku)
                oversold = orders - reserved
                self.assertNotEqual(oversold.picking_ids.state, "assigned", sku)
                env.cr.execute(
                    "SELECT SUM(quantity - reserved_quantity), SUM(quantity) "
                    "FROM stock_quant WHERE product_id = %s AND location_id = %s",
                    (self.product_ids[index], self.stock_location_id),
                )
                free, on_hand = env.cr.fetchone()
                self.assertEqual(on_hand, 1, sku)
                self.assertEqual(free, 0, sku)

    def test_import_of_products_held_elsewhere_retries_before_building_the_order(
        self,
    ):
        """Another transaction holds the product's lock row (an import of the
        same SKU in progress): the job gives up at once and is retried,
        without waiting for it and without first building a sale order that
        the lost race would throw away."""
        with self.real_env() as env:
            backend = env["marketplace.backend"].browse(self.backend_ids[0])
            payload = order_payload([(self.held_sku, 1)])
            inbound = test_channel.order_event(payload, "order", "webhook")
            event_id = env["marketplace.event"]._store_inbound(backend, inbound).id

        def sale_order_numbers_taken():
            with self.real_env() as env:
                sequences = env["ir.sequence"].search([("code", "=", "sale.order")])
                return sorted(sequences.mapped("number_next_actual"))

        outcome = []

        def process():
            try:
                with self.real_env() as env:
                    outcome.append(
                        env["marketplace.event"].browse(event_id)._job_process()
                    )
            except RetryableJobError as err:
                outcome.append(err)

        numbers_before = sale_order_numbers_taken()
        waited = self.run_while_stock_held(self.held_product_id, process)
        self.assertFalse(waited, "the job waited for the lock")
        self.assertEqual(len(outcome), 1)
        self.assertIsInstance(outcome[0], RetryableJobError)
        self.assertEqual(sale_order_numbers_taken(), numbers_before)
        # the retry, once the other import has committed, goes through
        with self.real_env() as env:
            event = env["marketplace.event"].browse(event_id)
            self.assertEqual(event.state, "queued")
            event._job_process()
            self.assertEqual(event.state, "done")
            self.assertEqual(event.sale_order_id.state, "sale")
