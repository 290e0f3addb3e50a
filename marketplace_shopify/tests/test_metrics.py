# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""GET /metrics over real HTTP, parsed with prometheus_client's parser and
checked against the database after known deliveries, failures and pushes;
the same from a real two-worker Odoo server (``test_metrics_workers.py``).

The Shopify adapter and its simulator drive the sequence, end to end
through a real adapter (the core's channel-neutral tests are in
``marketplace_connector/tests``)."""

import contextlib
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager

import requests
from prometheus_client.parser import text_string_to_metric_families

import odoo
from odoo import SUPERUSER_ID, api, fields, sql_db
from odoo.tests.common import TransactionCase, tagged

from odoo.addons.marketplace_connector import metrics_endpoint
from odoo.addons.marketplace_connector.lib import metrics as lib
from odoo.addons.marketplace_connector.lib.errors import (
    PermanentError,
    RateLimitedError,
)
from odoo.addons.marketplace_connector.services import metrics

from .common import SECRET, SHOP, ShopifyCase, ShopifySimulator, sign_webhook

TOKEN = "metrics-test-token"
#: starts Odoo as odoo-bin does (prefork needs a file to run again)
ODOO_SERVER = os.path.join(
    os.path.dirname(__file__), "..", "..", "tools", "odoo_server.py"
)


def parse(text):
    """``{(sample name, sorted labels): value}`` of a scrape."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name, default=0.0, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), default)


class MetricsCase(ShopifyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        metrics_endpoint.install()
        cls.addClassCleanup(metrics_endpoint.uninstall)
        cls.backend.write(
            {
                "channel_location_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "Shop location",
                            "external_id": str(cls.sim.location_id),
                            "location_id": cls.warehouse.lot_stock_id.id,
                        },
                    )
                ],
                "stock_push_delay": 0,
            }
        )
        for sku, variant in cls.sim_variants.items():
            cls.env["marketplace.product.binding"].create(
                {
                    "backend_id": cls.backend.id,
                    "product_id": cls.products[sku].id,
                    "external_id": str(variant["variant_id"]),
                    "sku": sku,
                    "channel_item_ref": str(variant["inventory_item_id"]),
                }
            )

    def setUp(self):
        super().setUp()
        self.patch(metrics_endpoint, "_setting", self._settings)
        self.trusted = ""

    def _settings(self, option, _variable):
        if option == metrics_endpoint.TOKEN_OPTION:
            return TOKEN
        return self.trusted

    def get_metrics(self, token=TOKEN, query=""):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.env.flush_all()
        response = self.opener.get(
            f"{self.base_url()}/metrics{query}", headers=headers, timeout=10
        )
        self.env.invalidate_all()
        return response

    def scrape(self, query=""):
        response = self.get_metrics(query=query)
        self.assertEqual(response.status_code, 200, response.text)
        return parse(response.text)

    def db_count(self, query, params=()):
        self.env.flush_all()
        self.env.cr.execute(query, params)
        return self.env.cr.fetchone()[0]


@tagged("post_install", "-at_install")
class TestMetrics(MetricsCase):
    def test_scrape_without_the_token_is_refused(self):
        for token in (None, "wrong-token"):
            response = self.get_metrics(token=token)
            self.assertEqual(response.status_code, 401)
            self.assertIn("Bearer", response.headers["WWW-Authenticate"])
            self.assertNotIn("marketplace_", response.text)
        # a trusted address needs no token
        self.trusted = "127.0.0.1,::1"
        self.assertEqual(self.get_metrics(token=None).status_code, 200)

    def test_scrape_matches_the_database_after_deliveries_failures_and_pushes(
        self,
    ):
        before = self.scrape()
        name = self.backend.name
        # three orders delivered (one twice), one for an unknown SKU, a
        # bad signature and an unknown URL
        payloads = [
            self.sim.create_order([("MUG-BLUE", 1)], notify=False),
            self.sim.create_order([("TEE-L", 2)], notify=False),
            self.sim.create_order([("CAP-RED", 1)], notify=False),
        ]
        for payload in payloads:
            self.assertEqual(self.deliver("orders/create", payload), 200)
        self.assertEqual(self.deliver("orders/create", payloads[0]), 200)
        unknown = self.sim.create_order([("MUG-BLUE", 1)], notify=False)
        unknown["line_items"][0]["sku"] = "NO-SUCH-SKU"
        unknown["line_items"][0]["variant_id"] = 999999
        self.assertEqual(self.deliver("orders/create", unknown), 200)
        self.assertEqual(
            self.post_raw(
                b"not json",
                {
                    "X-Shopify-Topic": "orders/create",
                    "X-Shopify-Hmac-Sha256": sign_webhook(b"not json", SECRET),
                    "X-Shopify-Shop-Domain": SHOP,
                    "X-Shopify-Webhook-Id": "malformed-1",
                },
            ).status_code,
            400,
        )
        bad = self.sender("not-the-secret").deliver_once("orders/create", payloads[1])[
            0
        ]
        self.assertEqual(bad, 401)
        missing = self.opener.post(
            f"{self.base_url()}/marketplace/webhook/no-such-token",
            data=b"{}",
            timeout=10,
        )
        self.assertEqual(missing.status_code, 404)

        # queued, not imported yet: the lag is the oldest event's age
        # (received 90 s ago: the test's transaction has one now())
        self.env.cr.execute(
            "UPDATE marketplace_event SET received_at = received_at "
            "- interval '90 seconds' WHERE backend_id = %s",
            (self.backend.id,),
        )
        waiting = self.scrape()
        oldest = self.db_count(
            "SELECT EXTRACT(EPOCH FROM (now() at time zone 'UTC') "
            "- min(received_at)) FROM marketplace_event "
            "WHERE backend_id = %s AND state = 'queued'",
            (self.backend.id,),
        )
        lag = value(
            waiting, "marketplace_inbox_oldest_queued_age_seconds", backend=name
        )
        # the test transaction's now() is its start: the same for both
        self.assertAlmostEqual(lag, float(oldest), delta=1.0)
        self.assertGreaterEqual(lag, 90)
        self.assertEqual(
            value(waiting, "marketplace_inbox_events", backend=name, state="queued"),
            4,
        )
        pending_jobs = self.db_count(
            "SELECT count(*) FROM queue_job WHERE state = 'pending' "
            "AND channel = 'root.marketplace.inbound'"
        )
        self.assertEqual(
            value(
                waiting,
                "marketplace_jobs",
                channel="root.marketplace.inbound",
                state="pending",
            ),
            pending_jobs,
        )

        self.perform_jobs()
        after = self.scrape()

        def delta(sample, **labels):
            return value(after, sample, **labels) - value(before, sample, **labels)

        # the inbox, state by state, as the database has it
        for state in lib.EVENT_STATES:
            self.assertEqual(
                value(after, "marketplace_inbox_events", backend=name, state=state),
                len(self.events(state=state)),
                state,
            )
        self.assertEqual(len(self.events(state="done")), 3)
        self.assertEqual(len(self.events(state="failed")), 1)
        self.assertEqual(
            value(after, "marketplace_inbox_oldest_queued_age_seconds", backend=name),
            0,
        )
        # the intake's answers, by status
        intake = "marketplace_intake_responses_total"
        self.assertEqual(delta(intake, backend=name, status="200"), 5)
        self.assertEqual(delta(intake, backend=name, status="401"), 1)
        self.assertEqual(delta(intake, backend=name, status="400"), 1)
        self.assertEqual(delta(intake, backend="", status="404"), 1)
        # import latency: every import of the window, as the database has it
        done_in_window = self.db_count(
            "SELECT count(*) FROM marketplace_event WHERE backend_id = %s "
            "AND state = 'done' AND processed_at >= (now() at time zone 'UTC') "
            "- interval '300 seconds'",
            (self.backend.id,),
        )
        self.assertEqual(done_in_window, 3)
        self.assertEqual(
            value(
                after,
                "marketplace_import_latency_seconds_bucket",
                backend=name,
                le="+Inf",
            ),
            done_in_window,
        )
        self.assertEqual(
            value(after, "marketplace_import_latency_seconds_gcount", backend=name),
            done_in_window,
        )
        # the imports queued pushes: they ran with the jobs
        samples = self.env["marketplace.stock.push.sample"].search(
            [("backend_id", "=", self.backend.id)]
        )
        self.assertEqual(
            set(samples.product_id.mapped("default_code")),
            {"MUG-BLUE", "TEE-L", "CAP-RED"},
        )
        self.assertTrue(all(0 <= s.lag_seconds < 60 for s in samples))
        self.assertEqual(
            value(
                after,
                "marketplace_stock_push_lag_seconds_bucket",
                backend=name,
                le="+Inf",
            ),
            len(samples),
        )
        self.assertAlmostEqual(
            value(after, "marketplace_stock_push_lag_seconds_gsum", backend=name),
            sum(samples.mapped("lag_seconds")),
            places=3,
        )
        # the calls to the channel: each write the simulator received
        writes = [
            r
            for r in self.sim.requests
            if r["path"].endswith("graphql.json")
            and "inventorySetQuantities" in str(r["json"])
        ]
        self.assertTrue(writes)
        self.assertEqual(
            delta("marketplace_api_calls_total", backend=name, operation="write_stock"),
            len(writes),
        )
        self.assertGreater(
            value(
                after,
                "marketplace_last_success_timestamp_seconds",
                backend=name,
                kind="push",
            ),
            value(
                before,
                "marketplace_last_success_timestamp_seconds",
                backend=name,
                kind="push",
            ),
        )
        self.assertIn(
            ("marketplace_last_success_timestamp_seconds",)
            + ((("backend", name), ("kind", "intake")),),
            after,
        )

    def test_throttled_and_failed_calls_are_counted_by_operation(self):
        name = self.backend.name
        before = self.scrape()
        self.sim.faults.throttle_next(count=10, retry_after="30")
        adapter = self.backend._get_job_adapter()
        with self.assertRaises(RateLimitedError):
            adapter.test_connection()
        self.sim.faults.clear()
        self.sim.faults.fail_next(status=404, count=1)
        with self.assertRaises(PermanentError):
            adapter.test_connection()
        after = self.scrape()
        for sample, expected in (
            ("marketplace_api_calls_total", 2),
            ("marketplace_api_throttled_total", 1),
            ("marketplace_api_errors_total", 1),
        ):
            labels = {"backend": name, "operation": "test_connection"}
            self.assertEqual(
                value(after, sample, **labels) - value(before, sample, **labels),
                expected,
                sample,
            )

    def test_reconciliation_oversold_and_poll_figures(self):
        name = self.backend.name
        self.env["marketplace.stock.reconciliation"].create(
            {
                "backend_id": self.backend.id,
                "checked": 10,
                "in_sync": 7,
                "corrected": 2,
                "escalated": 1,
            }
        )
        polled = fields.Datetime.now() - datetime.timedelta(minutes=3)
        self.backend.last_poll_success_at = polled
        samples = self.scrape()
        for result, expected in (
            ("checked", 10),
            ("corrected", 2),
            ("escalated", 1),
        ):
            self.assertEqual(
                value(
                    samples,
                    "marketplace_reconciliation_levels",
                    backend=name,
                    result=result,
                ),
                expected,
            )
        self.assertEqual(
            value(
                samples,
                "marketplace_last_success_timestamp_seconds",
                backend=name,
                kind="poll",
            ),
            polled.replace(tzinfo=datetime.UTC).timestamp(),
        )
        self.assertEqual(
            value(samples, "marketplace_oversold_orders_open", backend=name), 0
        )

    def test_window_bounds_the_histograms(self):
        payload = self.sim.create_order([("MUG-BLUE", 1)], notify=False)
        self.assertEqual(self.deliver("orders/create", payload), 200)
        self.perform_jobs()
        # processed "an hour ago": out of a 60 s window, in a 2-hour one
        self.env.cr.execute(
            "UPDATE marketplace_event SET processed_at = processed_at "
            "- interval '1 hour', received_at = received_at - interval '1 hour' "
            "WHERE backend_id = %s",
            (self.backend.id,),
        )
        short = self.scrape("?window=60")
        long_ = self.scrape("?window=7200")
        labels = {"backend": self.backend.name}
        self.assertEqual(
            value(short, "marketplace_import_latency_seconds_gcount", **labels), 0
        )
        self.assertEqual(
            value(long_, "marketplace_import_latency_seconds_gcount", **labels), 1
        )
        self.assertEqual(value(short, "marketplace_histogram_window_seconds"), 60)

    def test_route_serves_the_same_without_the_server_wide_module(self):
        metrics_endpoint.uninstall()
        self.addCleanup(metrics_endpoint.install)
        self.assertEqual(self.get_metrics(token=None).status_code, 401)
        self.assertEqual(self.get_metrics(token="wrong").status_code, 401)
        samples = self.scrape()
        self.assertIn(
            (
                "marketplace_inbox_oldest_queued_age_seconds",
                (("backend", self.backend.name),),
            ),
            samples,
        )

    def test_counts_of_this_process_are_written_once(self):
        dbname = self.env.cr.dbname
        metrics.count(dbname, lib.API_CALLS, self.backend.id, "read_stock", 3)
        first = self.scrape()
        second = self.scrape()
        labels = {"backend": self.backend.name, "operation": "read_stock"}
        self.assertEqual(
            value(first, "marketplace_api_calls_total", **labels),
            value(second, "marketplace_api_calls_total", **labels),
        )
        self.assertGreaterEqual(
            value(first, "marketplace_api_calls_total", **labels), 3
        )


def _free_port():
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@tagged("post_install", "-at_install")
class TestMetricsAcrossWorkers(TransactionCase):
    """A real Odoo server with two HTTP workers on this database: webhooks
    answered by both, scrapes answered by either, the same counts."""

    DELIVERIES = 24

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dbname = cls.env.cr.dbname
        cls.sim = ShopifySimulator(shop_domain=SHOP, access_token="shpat_workers")
        cls.sim.add_product(sku="MUG-BLUE", price="19.99", inventory=100)
        cls.sim.start()
        cls.addClassCleanup(cls.sim.stop)
        with cls.real_env() as env:
            backend = env["marketplace.backend"].create(
                {
                    "name": "Two workers",
                    "marketplace_type": "shopify",
                    "api_url": cls.sim.url,
                    "shop_domain": SHOP,
                    "api_version": "2026-10",
                    "webhook_secret": SECRET,
                    "warehouse_id": env["stock.warehouse"].search([], limit=1).id,
                }
            )
            cls.backend_id = backend.id
            cls.token = backend.webhook_token
        cls.addClassCleanup(cls._delete_committed_data)
        cls.server, cls.url, cls.log = cls._start_server()
        cls.addClassCleanup(cls._stop_server)

    @classmethod
    @contextmanager
    def real_env(cls):
        with closing(sql_db.db_connect(cls.dbname).cursor()) as cr:
            yield api.Environment(cr, SUPERUSER_ID, {})
            cr.commit()  # pylint: disable=invalid-commit

    @classmethod
    def _start_server(cls):
        config = odoo.tools.config
        folder = tempfile.mkdtemp(prefix="metrics-workers-")
        port = _free_port()
        log = os.path.join(folder, "odoo.log")
        path = os.path.join(folder, "odoo.conf")
        options = {
            "addons_path": config["addons_path"],
            "data_dir": config["data_dir"],
            "db_host": config["db_host"] or "",
            "db_port": config["db_port"] or "",
            "db_user": config["db_user"] or "",
            "db_name": cls.dbname,
            "dbfilter": f"^{cls.dbname}$",
            "list_db": "False",
            "http_interface": "127.0.0.1",
            "http_port": port,
            "gevent_port": _free_port(),
            "workers": 2,
            "max_cron_threads": 0,
            # no queue_job: no runner taking this database's jobs
            "server_wide_modules": "base,web,marketplace_connector",
            "marketplace_metrics_token": TOKEN,
            "marketplace_encryption_key": config.get("marketplace_encryption_key")
            or "",
            "log_level": "info",
            "logfile": log,
        }
        with open(path, "w") as out:
            out.write("[options]\n")
            for key, option in options.items():
                out.write(f"{key} = {option}\n")
        server = subprocess.Popen(
            [sys.executable, ODOO_SERVER, "-c", path],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"Odoo exited at start, see {log}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/web/health", timeout=2).ok:
                    return server, url, log
            time.sleep(0.5)
        server.kill()
        raise RuntimeError(f"Odoo did not start, see {log}")

    @classmethod
    def _stop_server(cls):
        cls.server.send_signal(signal.SIGTERM)
        try:
            cls.server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cls.server.kill()

    @classmethod
    def _delete_committed_data(cls):
        with cls.real_env() as env:
            events = env["marketplace.event"].search(
                [("backend_id", "=", cls.backend_id)]
            )
            env["queue.job"].search(
                [("uuid", "in", events.mapped("job_uuid"))]
            ).unlink()
            events.unlink()
            env.cr.execute(
                "DELETE FROM marketplace_metric_counter WHERE backend_id = %s",
                (cls.backend_id,),
            )
            env["marketplace.backend"].browse(cls.backend_id).unlink()

    def scrape(self, token=TOKEN):
        response = requests.get(
            f"{self.url}/metrics",
            headers={"Authorization": f"Bearer {token}"} if token else {},
            timeout=10,
        )
        return response

    def deliver(self, index):
        body = json.dumps(
            {
                "id": 900000 + index,
                "updated_at": "2026-01-01T00:00:00Z",
                "financial_status": "paid",
                "line_items": [],
            }
        ).encode()
        headers = {
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": sign_webhook(body, SECRET),
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-API-Version": "2026-10",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "Content-Type": "application/json",
        }
        return requests.post(
            f"{self.url}/marketplace/webhook/{self.token}",
            data=body,
            headers=headers,
            timeout=10,
        ).status_code

    def test_two_workers_count_as_one(self):
        self.assertEqual(self.scrape(token=None).status_code, 401)
        first = self.scrape()
        self.assertEqual(first.status_code, 200)
        before = parse(first.text)
        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(self.deliver, range(self.DELIVERIES)))
            missing = list(
                pool.map(
                    lambda _i: (
                        requests.post(
                            f"{self.url}/marketplace/webhook/nope",
                            data=b"{}",
                            timeout=10,
                        ).status_code
                    ),
                    range(3),
                )
            )
        self.assertEqual(statuses, [200] * self.DELIVERIES)
        self.assertEqual(missing, [404] * 3)
        name = "Two workers"
        intake = "marketplace_intake_responses_total"
        # each worker writes its counts within a few seconds (its thread)
        deadline = time.monotonic() + 30
        while True:
            samples = parse(self.scrape().text)
            accepted = value(samples, intake, backend=name, status="200")
            unknown = value(samples, intake, backend="", status="404") - value(
                before, intake, backend="", status="404"
            )
            if (accepted, unknown) == (self.DELIVERIES, 3):
                break
            if time.monotonic() > deadline:
                self.fail(f"counted {accepted} accepted, {unknown} unknown")
            time.sleep(1)
        with self.real_env() as env:
            env.cr.execute(
                "SELECT count(*) FROM marketplace_event WHERE backend_id = %s",
                (self.backend_id,),
            )
            stored = env.cr.fetchone()[0]
            env.cr.execute(
                "SELECT count(*), EXTRACT(EPOCH FROM (now() at time zone 'UTC') "
                "- min(received_at)) FROM marketplace_event "
                "WHERE backend_id = %s AND state = 'queued'",
                (self.backend_id,),
            )
            queued, age = env.cr.fetchone()
        # every accepted delivery stored once; the gauges below are compared
        # with the database as it is (a job runner of another server on this
        # database may have taken some of them already)
        self.assertEqual(stored, self.DELIVERIES)
        self.assertTrue(queued)
        self.assertEqual(
            value(samples, "marketplace_inbox_events", backend=name, state="queued"),
            queued,
        )
        self.assertAlmostEqual(
            value(samples, "marketplace_inbox_oldest_queued_age_seconds", backend=name),
            float(age),
            delta=3.0,
        )
        self.assertGreater(
            value(
                samples,
                "marketplace_last_success_timestamp_seconds",
                backend=name,
                kind="intake",
            ),
            0,
        )
        # both workers answered webhooks (the log names each process)
        with open(self.log) as log:
            pids = {
                line.split()[2]
                for line in log
                if "POST /marketplace/webhook/" in line and " 200 " in line
            }
        self.assertGreaterEqual(len(pids), 2, "one worker answered every webhook")
