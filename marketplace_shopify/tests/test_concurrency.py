# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Idempotency under real concurrency: separate database connections,
separate transactions, started together at a barrier.

These tests commit (they must: a transaction that cannot see the others
proves nothing), so they work on a backend of their own and delete what they
created at the end.
"""

import contextlib
import json
import random
import threading
import time
import uuid
from contextlib import closing, contextmanager
from unittest.mock import patch

import psycopg2
from werkzeug.test import EnvironBuilder

from odoo import SUPERUSER_ID, Command, api, sql_db
from odoo.tests.common import TransactionCase, tagged

from odoo.addons.marketplace_connector import fast_intake
from odoo.addons.marketplace_connector.lib.errors import RetryableError
from odoo.addons.marketplace_connector.models import (
    marketplace_backend_intake,
    marketplace_backend_stock,
)
from odoo.addons.marketplace_connector.services.order_importer import (
    SIMULATED_LATENCY_PARAMETER,
)
from odoo.addons.marketplace_connector.services.stock_push import StockPusher
from odoo.addons.marketplace_shopify.lib.mapping import order_event, parse_order
from odoo.addons.queue_job.exception import RetryableJobError

from .common import SECRET, SHOP, ShopifySimulator, sign_webhook

WORKERS = 6


def signed_delivery(payload, topic):
    """The body and headers of one Shopify delivery of ``payload``."""
    body = json.dumps(payload).encode()
    return body, {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign_webhook(body, SECRET),
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
    }


class RealTransactionCase(TransactionCase):
    """Work in real transactions of their own (committed, visible to the
    other connections), on backends created here and deleted at the end."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dbname = cls.env.cr.dbname
        cls.backend_ids = []
        cls.addClassCleanup(cls._delete_committed_data)

    @classmethod
    def start_simulator(cls, access_token):
        """A simulated shop of the class's own, stopped after its tests."""
        cls.sim = ShopifySimulator(shop_domain=SHOP, access_token=access_token)
        cls.sim.start()
        cls.addClassCleanup(cls.sim.stop)

    @classmethod
    @contextmanager
    def real_env(cls):
        """A real transaction of its own, committed on success."""
        with closing(sql_db.db_connect(cls.dbname).cursor()) as cr:
            try:
                yield api.Environment(cr, SUPERUSER_ID, {})
            except BaseException:
                cr.rollback()
                raise
            # the point of these tests: other connections must see it
            cr.commit()  # pylint: disable=invalid-commit

    @classmethod
    def create_backend(cls, env, sim, name, **values):
        currency = env.company.currency_id
        pricelist = env["product.pricelist"].search(
            [("currency_id", "=", currency.id)], limit=1
        ) or env["product.pricelist"].create({"name": name, "currency_id": currency.id})
        backend = env["marketplace.backend"].create(
            {
                "name": name,
                "marketplace_type": "shopify",
                "api_url": sim.url,
                "shop_domain": SHOP,
                "api_version": "2026-10",
                "webhook_secret": SECRET,
                "warehouse_id": env["stock.warehouse"].search([], limit=1).id,
                "pricelist_id": pricelist.id,
                **values,
            }
        )
        cls.backend_ids.append(backend.id)
        return backend

    def run_while_stock_held(self, product_id, target, timeout=10):
        """Run ``target`` in a thread while another transaction holds the
        product's stock lock row (an import of it in progress), for up to
        ``timeout`` seconds; return whether it was still running then (it
        waited for the lock)."""
        with closing(sql_db.db_connect(self.dbname).cursor()) as holder:
            holder.execute(
                "INSERT INTO marketplace_stock_lock (product_id) VALUES (%s) "
                "ON CONFLICT (product_id) DO NOTHING",
                (product_id,),
            )
            holder.commit()  # pylint: disable=invalid-commit
            holder.execute(
                "SELECT id FROM marketplace_stock_lock WHERE product_id = %s "
                "FOR UPDATE",
                (product_id,),
            )
            thread = threading.Thread(target=target)
            thread.start()
            thread.join(timeout=timeout)
            waited = thread.is_alive()
            holder.rollback()
        thread.join(timeout=30)
        return waited

    @classmethod
    def _delete_backend_jobs(cls):
        """The jobs queued for the class's backend (``cls.backend_id``):
        pushes, reconciliations, polls."""
        with cls.real_env() as env:
            env["queue.job"].search(
                [("func_string", "like", f"marketplace.backend({cls.backend_id},)")]
            ).unlink()

    @classmethod
    def _delete_committed_data(cls):
        with cls.real_env() as env:
            domain = [("backend_id", "in", cls.backend_ids)]
            events = env["marketplace.event"].search(domain)
            # every job of the events: an event left to a new job by a batch
            # keeps the first one pending when a test ran it by hand
            env["queue.job"].search(
                [("model_name", "=", "marketplace.event")]
            ).filtered(lambda job: set(job.records.ids) & set(events.ids)).unlink()
            for backend_id in cls.backend_ids:
                # pushes queued by what the tests imported or left unimported
                env["queue.job"].search(
                    [("func_string", "like", f"marketplace.backend({backend_id},)")]
                ).unlink()
            orders = env["sale.order"].search(
                [("marketplace_backend_id", "in", cls.backend_ids)]
            )
            orders._action_cancel()
            env["marketplace.stock.ledger"].search(domain).unlink()
            env["marketplace.order.binding"].search(domain).unlink()
            orders.unlink()
            events.unlink()
            env["marketplace.backend"].browse(cls.backend_ids).unlink()


@tagged("post_install", "-at_install")
class TestConcurrency(RealTransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_simulator("shpat_concurrency")
        cls.sim.add_product(sku="CONC-SKU", price="10.00", inventory=10)
        with cls.real_env() as env:
            env["product.product"].create(
                {
                    "name": "Concurrency product",
                    "default_code": "CONC-SKU",
                    "type": "consu",
                }
            )
            backend = cls.create_backend(
                env,
                cls.sim,
                "Concurrency backend",
                auto_confirm=False,
                access_token="shpat_concurrency",
            )
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
        payload = self.sim.create_order(lines=[("CONC-SKU", 1)], notify=False)
        body, headers = signed_delivery(payload, "orders/create")

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
        # orders/create and orders/paid of one paid order carry the same
        # state and arrive together: the second waits for the first's
        # INSERT, and must then answer "duplicate" on that same attempt
        # (in REPEATABLE READ the first's commit made it fail to serialise
        # and start over)
        payload = self.sim.create_order(lines=[("CONC-SKU", 1)], notify=False)
        body, headers = signed_delivery(payload, "orders/paid")
        twin = sql_db.db_connect(self.dbname).cursor()
        self.addCleanup(twin.close)
        twin_env = api.Environment(twin, SUPERUSER_ID, {})
        inbound = order_event(payload, "orders/create", "webhook")
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
            payload = self.sim.create_order(lines=[("CONC-SKU", 1)], notify=False)
            body, headers = signed_delivery(payload, "orders/create")
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
        created = self.sim.create_order(lines=[("CONC-SKU", 1)], notify=False)
        updated = self.sim.update_order(created["id"], note="rush", notify=False)
        event_ids = []
        with self.real_env() as env:
            backend = env["marketplace.backend"].browse(self.backend_id)
            for topic, payload in (
                ("orders/create", created),
                ("orders/updated", updated),
            ):
                inbound = order_event(payload, topic, "webhook")
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
                bindings.external_updated_at, parse_order(updated).updated_at
            )
            states = sorted(env["marketplace.event"].browse(event_ids).mapped("state"))
            self.assertIn(states, (["done", "ignored"], ["done", "done"]))

    def test_job_cut_off_by_a_lost_database_connection_is_retried(self):
        # PostgreSQL restarts (or a connection is cut) while an order is
        # imported: the job must come back later, not fail -- a failed order
        # event would wait for an operator
        payload = self.sim.create_order(lines=[("CONC-SKU", 1)], notify=False)
        with self.real_env() as env:
            backend = env["marketplace.backend"].browse(self.backend_id)
            inbound = order_event(payload, "orders/create", "webhook")
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
        payload = self.sim.create_order(lines=[("CONC-SKU", 1)], notify=False)
        with self.real_env() as poll_env:  # the poll job's transaction
            poll_env.cr.execute("SELECT count(*) FROM marketplace_event")  # snapshot
            with self.real_env() as env:  # the webhook, meanwhile
                backend = env["marketplace.backend"].browse(self.backend_id)
                inbound = order_event(payload, "orders/create", "webhook")
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
        cls.start_simulator("shpat_race")
        cls.skus = [f"RACE-{index:03d}" for index in range(cls.ROUNDS)]
        cls.held_sku = "RACE-HELD"
        for sku in [*cls.skus, cls.held_sku]:
            cls.sim.add_product(sku=sku, price="5.00", inventory=1)
        with cls.real_env() as env:
            warehouse = env["stock.warehouse"].search([], limit=1)
            for name in ("A", "B"):
                cls.create_backend(
                    env,
                    cls.sim,
                    f"Race {name}",
                    auto_confirm=True,
                    stock_push_enabled=False,
                )
            products = env["product.product"].create(
                [
                    {
                        "name": sku,
                        "default_code": sku,
                        "type": "consu",
                        "is_storable": True,
                    }
                    for sku in [*cls.skus, cls.held_sku]
                ]
            )
            for product in products:
                env["stock.quant"]._update_available_quantity(
                    product, warehouse.lot_stock_id, 1
                )
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
                    payload = self.sim.create_order(lines=[(sku, 1)], notify=False)
                    inbound = order_event(payload, "orders/create", "webhook")
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
            payload = self.sim.create_order(lines=[(self.held_sku, 1)], notify=False)
            inbound = order_event(payload, "orders/create", "webhook")
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


@tagged("post_install", "-at_install")
class TestChangeDuringPush(RealTransactionCase):
    """A push reads the queued products without locking them (an order
    import marking one must not wait for the push's calls to the channel);
    a product marked again while the push runs stays queued for one more."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_simulator("shpat_push_race")
        with cls.real_env() as env:
            product = env["product.product"].create(
                {
                    "name": "Push race product",
                    "default_code": "RACE-SKU",
                    "type": "consu",
                }
            )
            backend = cls.create_backend(
                env, cls.sim, "Push race backend", access_token="shpat_push_race"
            )
            env["marketplace.product.binding"].create(
                {
                    "backend_id": backend.id,
                    "product_id": product.id,
                    "external_id": "990001",
                    "sku": "RACE-SKU",
                    "channel_item_ref": "880001",
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
        cls.start_simulator("shpat_echo_race")
        cls.variant = cls.sim.add_product(sku="ECHO-SKU", price="5.00", inventory=0)
        with cls.real_env() as env:
            stock = env["stock.warehouse"].search([], limit=1).lot_stock_id
            product = env["product.product"].create(
                {
                    "name": "Echo race product",
                    "default_code": "ECHO-SKU",
                    "type": "consu",
                    "is_storable": True,
                }
            )
            backend = cls.create_backend(
                env,
                cls.sim,
                "Echo race backend",
                access_token="shpat_echo_race",
                stock_push_delay=0,
                channel_location_ids=[
                    Command.create(
                        {
                            "name": "Echo race location",
                            "external_id": str(cls.sim.location_id),
                            "location_id": stock.id,
                        }
                    )
                ],
            )
            env["marketplace.product.binding"].create(
                {
                    "backend_id": backend.id,
                    "product_id": product.id,
                    "external_id": str(cls.variant["variant_id"]),
                    "sku": "ECHO-SKU",
                    "channel_item_ref": str(cls.variant["inventory_item_id"]),
                }
            )
            env["stock.quant"]._update_available_quantity(product, stock, 10)
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
        """The channel's ``inventory_levels/update``, stored."""
        with self.real_env() as env:
            return (
                env["marketplace.event"]
                .create(
                    {
                        "backend_id": self.backend_id,
                        "company_id": env.company.id,
                        "topic": "inventory_levels/update",
                        "dedupe_key": f"echo-race-{available}-{time.monotonic()}",
                        "resource_type": "inventory_level",
                        "payload": {
                            "inventory_item_id": self.variant["inventory_item_id"],
                            "location_id": self.sim.location_id,
                            "available": available,
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
        setter = self.sim.inventory_setter
        test = self

        class EchoAtOnce:
            """The channel applies the write and reports it at once, while
            the pushing transaction is still open."""

            def set_quantities(self, data, version, idempotency_key):
                result = setter.set_quantities(data, version, idempotency_key)
                for level in result.changed_levels:
                    event_id = test.report(level.available)
                    outcomes.append((event_id, test.process(event_id)))
                return result

        self.sim.inventory_setter = EchoAtOnce()
        self.addCleanup(setattr, self.sim, "inventory_setter", setter)
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
