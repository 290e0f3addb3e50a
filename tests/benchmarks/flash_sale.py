"""Flash-sale and failure benchmark (issue 4): one command that shows, with
figures, that nothing is lost, duplicated or oversold on the worst day.

Run it with ``bench/flash-sale`` (``--help`` for the options). What happens:

1. **Stack** (``stack.py``): Odoo in multi-worker mode with queue_job's runner,
   the cron worker on (order polling and the stock safety net every minute),
   PostgreSQL, two simulated Shopify stores *a* and *b* sharing one
   catalogue: a few **scarce** SKUs (3 to 15 units) the two channels compete
   for, and plentiful ones. Both backends keep ``--buffer`` units back and
   share every product (each is offered half of the rest).
2. **Flash sale**: ``--orders`` orders at ``--rate`` (``max``, ``25/s``,
   ``400/90s``), each placed on a random store as a storefront would: a line
   is only sold while the channel *shows* the quantity (Shopify's "deny"
   policy, emulated under the simulator's lock); a sold-out scarce SKU is
   replaced by a plentiful one, so exactly ``--orders`` orders are placed.
   Every order is paid: ``orders/create`` and ``orders/paid`` are signed
   webhooks to Odoo, stock pushes back to the stores fire
   ``inventory_levels/update`` webhooks.
3. **Faults** (``--faults``, each switchable), timed by the fraction of
   orders already imported so they hit a busy system: ``dup`` 10 % duplicate
   deliveries, ``reorder`` shuffles windows of 8 deliveries, ``drop`` 5 % of
   deliveries never sent (polling and reconciliation must catch them),
   ``429`` storms (40 throttled Admin API calls per store, 3 times), ``5xx``
   bursts (503/500/502 from the Admin API, twice), ``kill`` SIGKILL of an
   Odoo HTTP worker 3 times (one running a job when there is one),
   ``pgrestart`` a PostgreSQL restart (fast mode: every session is cut),
   ``latency`` 250 ms added to every order import for a third of the run
   (spent while the order is built, its locks held, in a batch too).
4. **End**: senders drained, one poll of each store (what the 5-minute cron
   would do), queues drained, one reconciliation per backend, drained again.
5. **Figures**, then the two **ceilings** (``ceilings.py``), then the report
   (JSON, table, PNG: ``report.py``). Exit status 1 when anything was lost,
   duplicated, imported wrong, oversold beyond buffers or left mismatched.

Definitions (the report repeats them):

* *intake latency*: one HTTP attempt of the simulator's sender, request sent
  to answer read, as Shopify would see it; attempts without an answer
  (timeout, connection cut) are counted apart.
* *lost*: an order placed on a store without a confirmed sale order bound to
  it. *duplicated*: more than one sale order for one store order (same
  ``origin``), or a marketplace sale order no binding points to.
  *imported wrong*: product quantities or total differ from the store's.
* *oversold beyond buffers*: units sold on the channels beyond the stock Odoo
  had, per SKU (``max(0, sold on both stores - Odoo's stock)``), which is
  also what the ledger must record (``marketplace_stock_ledger
  .oversold_quantity``); selling *into* a buffer is what buffers are for and
  is only reported.
* *propagation*: for an order placed on one store at ``t0`` that lowers the
  other store's available-to-sell (computed from the ledger's free quantity
  after that order), the first quantity written on the other store at or
  below that value, minus ``t0``. Orders that change nothing on the other
  store are not in the sample.
* *mismatch*: after the final reconciliation, a (store, SKU) whose quantity
  on the store differs from the available-to-sell recomputed now from Odoo's
  free stock and the backend's policy, or whose ``ats_quantity`` in
  ``marketplace_stock_level`` differs from it.
* *processing rate*: sale orders created per second while inbound jobs were
  waiting (the sustained capacity), and over the whole import; with the
  ``latency`` fault, also before, during and after it (it slows every import
  down on purpose).
"""

import argparse
import contextlib
import dataclasses
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from decimal import Decimal

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

import psutil  # noqa: E402
import psycopg2  # noqa: E402

from tests.benchmarks import ceilings, report  # noqa: E402
from tests.benchmarks.amazon_seller import AmazonSale, AmazonSeller  # noqa: E402
from tests.benchmarks.autovacuum import autovacuum_on  # noqa: E402
from tests.benchmarks.cpu_usage import CpuUsage  # noqa: E402
from tests.benchmarks.metrics_scrape import (  # noqa: E402
    METRICS_TOKEN,
    MetricsScraper,
    compare,
)
from tests.benchmarks.processing_rate import sustained_rates  # noqa: E402
from tests.benchmarks.stack import CHANNELS, Sku, Stack, WebhookSender  # noqa: E402

#: ``sqs`` and ``lwa`` hit the Amazon seller only (``--amazon``); ``429``
#: and ``5xx`` hit every channel
ALL_FAULTS = (
    "dup",
    "reorder",
    "drop",
    "429",
    "5xx",
    "kill",
    "pgrestart",
    "latency",
    "sqs",
    "lwa",
)
DATABASE = "marketplace_bench_flash"
LATENCY_PARAM = "marketplace_connector.simulated_import_latency_ms"
IMPORT_BATCH_PARAM = "marketplace_connector.import_batch_size"
SCARCE_STOCK = (3, 4, 5, 6, 8, 10, 12, 15)
STORM_SECONDS = 8
ERRORS_SECONDS = 5
#: a fault still waiting for its share of imports is skipped (and reported)
#: when no order was imported for this long
STALL_SECONDS = 180
#: orders per transaction in the batched processing floor: as many as an
#: import job takes at most by default (``IMPORT_BATCH_SIZE``)
FLOOR_BATCH = 20
#: where an Odoo worker waits for work (py-spy --idle samples them too)
IDLE_FRAMES = (
    "Thread._wait_for_tstate_lock ",
    "WorkerHTTP.sleep ",
    "Worker.sleep ",
    "Worker.process_work ",
)
#: frames every request or job goes through: left out of profile listings
PLUMBING = re.compile(
    r"\((threading|socketserver|http/server|inspect|_weakrefset)\.py\)|"
    r"\((werkzeug|odoo/service)/|\(odoo/http\.py\)|\(queue_job/(controllers|job)|"
    r"fast_intake\.py|decorator-gen|^(retrying|route\.<locals>)"
)
#: targets of the issue, reported next to the figures
TARGETS = {
    "intake_p99_ms": 100,
    "intake_webhooks_per_s": 50,
    "floor_ratio": 0.8,
    #: the stretch goal: three times Odoo's own trivial route here
    "intake_max_per_s": 300,
    "processing_orders_per_s": 20,
}


def postgres_roots():
    """PostgreSQL's postmasters: ``postgres`` processes whose parent is not
    one."""
    roots = []
    for process in psutil.process_iter(["name", "ppid"]):
        if process.info["name"] != "postgres":
            continue
        try:
            parent = psutil.Process(process.info["ppid"]).name()
        except psutil.Error:
            parent = None
        if parent != "postgres":
            roots.append(process)
    return roots


def percentile(values, fraction):
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def parse_rate(text):
    """Orders per second: ``max`` (None), ``25/s``, ``400/90s``, ``120/m``."""
    text = text.strip().lower()
    if text == "max":
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*(s|m|min)", text)
    if not match:
        raise ValueError(f"rate {text!r}: use 'max', '<n>/s' or '<n>/<seconds>s'")
    count, span, unit = match.groups()
    seconds = float(span or 1) * (60 if unit.startswith("m") else 1)
    rate = float(count) / seconds
    if rate <= 0:
        raise ValueError("the rate must be positive")
    return rate


def parse_faults(text):
    text = text.strip().lower()
    if text == "all":
        return ALL_FAULTS
    if text in ("none", ""):
        return ()
    faults = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = set(faults) - set(ALL_FAULTS)
    if unknown:
        raise ValueError(f"unknown faults {sorted(unknown)}; known: {ALL_FAULTS}")
    return faults


@dataclasses.dataclass
class Options:
    orders: int = 2000
    rate: str = "25/s"
    faults: tuple = ALL_FAULTS
    workers: int = 6
    job_workers: int = 0
    job_nice: int = 10
    seed: int = 1
    json_path: str | None = None
    png_path: str | None = None
    ceilings: bool = True
    database: str = DATABASE
    intake: str = "fast"  # "fast": server-wide intake; "route": the controller
    buffer_units: int = 2
    latency_ms: int = 250
    time_scale: float = 0.01
    drain_timeout: float = 1800.0
    channels: str = CHANNELS
    scarce_share: float = 0.35
    profile_path: str | None = None
    profile_seconds: float = 30.0
    import_batch: int | None = None  # None: the module's default
    autovacuum: bool = True  # on for the run when the server has it off
    amazon: bool = False  # one Shopify store and one Amazon seller
    scrape_interval: float = 5.0  # GET /metrics every this many seconds
    verbose: bool = True


# Recording what the simulators send and receive


class RecordingSender(WebhookSender):
    """The simulator's sender, also recording each attempt:
    ``(start epoch, seconds, status or None, answer text, topic)``."""

    def __init__(self, *args, **kwargs):
        self.records = []
        super().__init__(*args, **kwargs)

    def _session(self):
        session = super()._session()
        if not getattr(session, "bench_hooked", False):
            session.hooks["response"].append(self._on_response)
            session.bench_hooked = True
        return session

    def _on_response(self, response, **_kwargs):
        self._local.answer = response.text[:40]

    def _attempt(self, session, topic, body, headers):
        self._local.answer = None
        started = time.time()
        status, seconds = super()._attempt(session, topic, body, headers)
        self.records.append((started, seconds, status, self._local.answer, topic))
        return status, seconds


def record_inventory_writes(sim, log):
    """Wrap the simulator's ``inventorySetQuantities``: every applied call
    appends ``(epoch, inventory_item_id, quantity)`` per quantity to ``log``."""
    original = sim.inventory_setter.set_quantities

    def set_quantities(data, version, idempotency_key):
        result = original(data, version, idempotency_key)
        if result.group is not None and not result.user_errors:
            now = time.time()
            for quantity in data.get("quantities") or []:
                item = int(str(quantity["inventoryItemId"]).rsplit("/", 1)[-1])
                log.append((now, item, int(quantity["quantity"])))
        return result

    sim.inventory_setter.set_quantities = set_quantities


# The scenario


class FlashSale:
    def __init__(self, options):
        self.options = options
        self.rate = parse_rate(options.rate)
        self.faults = tuple(options.faults)
        self.rng = random.Random(options.seed)  # the orders
        self.fault_rng = random.Random(options.seed + 1)  # the faults
        plenty = max(500, 2 * options.orders)
        self.scarce = [
            Sku(f"SCARCE-{index + 1:02d}", price="49.00", odoo_stock=stock)
            for index, stock in enumerate(SCARCE_STOCK)
        ]
        self.plentiful = [
            Sku(f"ITEM-{index + 1:02d}", price=f"{9 + index}.50", odoo_stock=plenty)
            for index in range(16)
        ]
        for sku in self.scarce + self.plentiful:
            sku.channel_stock = 0  # the channels show what Odoo pushes
        self.stack = None
        self.amazon = self.amazon_sale = None  # the Amazon seller (--amazon)
        self.placed = []  # one dict per order placed
        self.levels = {}  # (store, sku) -> [(epoch, available)] after sales
        self.writes = {}  # store -> [(epoch, item, quantity)] applied writes
        self.timeline = []  # faults and phases: {"t", "event", "detail"}
        self.samples = []
        self.imported = 0
        self.sold_out_hits = 0
        self.peak_rss = {"rss_total": 0, "rss_worker": 0}
        self.pg_activity = {}  # wait_event_type -> active sessions seen
        self.pg_lock_waits = {}  # "wait_event: query" -> sessions seen waiting
        self._stop_sampling = threading.Event()
        self.scraper = None  # GET /metrics during the sale, as Prometheus would
        self.cpu = self.runner_cpu = None
        self._exit_stack = contextlib.ExitStack()
        self.results = {}

    def log(self, message):
        if self.options.verbose:
            print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    def mark(self, event, detail=""):
        self.timeline.append({"t": time.time(), "event": event, "detail": detail})
        self.log(f"{event} {detail}".strip())

    # Life cycle

    def run(self):
        options = self.options
        webhook_options = {"time_scale": options.time_scale}
        if "dup" in self.faults:
            webhook_options["duplicate_rate"] = 0.10
        if "reorder" in self.faults:
            webhook_options["reorder_window"] = 8
        if "drop" in self.faults:
            webhook_options["drop_rate"] = 0.05
        webhook_options["seed"] = options.seed
        modules = "web,queue_job"
        if options.intake == "fast":
            modules += ",marketplace_connector"
        if options.amazon:
            self.amazon = AmazonSeller(
                self.scarce + self.plentiful, options.seed, options.database
            )
            self.amazon_sale = AmazonSale(self, self.amazon)
        self.stack = Stack(
            stores=("a",) if options.amazon else ("a", "b"),
            skus=self.scarce + self.plentiful,
            workers=options.workers,
            job_workers=options.job_workers,
            job_nice=options.job_nice,
            channels=options.channels,
            database=options.database,
            backend_values={"stock_buffer_units": options.buffer_units},
            cron_threads=1,
            server_wide_modules=modules,
            setup=self._setup_odoo,
            sender_class=RecordingSender,
            odoo_options=[f"marketplace_metrics_token = {METRICS_TOKEN}"],
            webhook_options=webhook_options,
        )
        started = time.monotonic()
        try:
            if self.amazon:
                self.amazon.start()
                self.stack.busy_checks.append(self.amazon.queue_busy)
            self.stack.start()
            autovacuum = self._exit_stack.enter_context(
                autovacuum_on(self.stack.connect, enable=options.autovacuum)
            )
            self.results["postgres_autovacuum"] = autovacuum
            self.log(f"PostgreSQL autovacuum: {autovacuum}")
            for name, store in self.stack.stores.items():
                self.writes[name] = []
                record_inventory_writes(store.sim, self.writes[name])
            self.results["setup_seconds"] = round(time.monotonic() - started, 1)
            self.log(f"stack up in {self.results['setup_seconds']} s: {self.stack.url}")
            self.stack.wait_until_drained(timeout=600)
            self.mark("channels aligned")
            self._run_sale()
            self._finish()
            self.results.update(self._figures())
            if options.ceilings:
                self.results["ceilings"] = self._ceilings()
        finally:
            self._stop_sampling.set()
            self.stack.stop()
            if self.amazon:
                self.amazon.stop()
            self._exit_stack.close()
        self.results["verdict"] = self._verdict()
        return self.results

    def _setup_odoo(self, env, stack):
        """Crons every minute (polling, the stock safety net), no latency.
        With Amazon, polling keeps its 5 minutes: searchOrders refills one
        call every 3 minutes, and a poll of more than 100 orders needs two
        (a poll every minute spends the burst of 20 within the sale, then
        each one waits for the budget and, re-queued, starts again from its
        first page)."""
        crons = ["marketplace_connector.ir_cron_push_pending_stock"]
        if not self.options.amazon:
            crons.append("marketplace_connector.ir_cron_poll_orders")
        for xmlid in crons:
            env.ref(xmlid).write({"interval_number": 1, "interval_type": "minutes"})
        env["ir.config_parameter"].set_param(LATENCY_PARAM, "0")
        if self.options.import_batch is not None:
            env["ir.config_parameter"].set_param(
                IMPORT_BATCH_PARAM, str(self.options.import_batch)
            )
        if self.amazon:
            warehouse = env["stock.warehouse"].search([], limit=1)
            pricelist = env["product.pricelist"].search(
                [("currency_id", "=", env.ref("base.USD").id)], limit=1
            )
            self.amazon.configure(
                env,
                warehouse,
                pricelist,
                stack.product_ids,
                {"stock_buffer_units": self.options.buffer_units},
            )

    def _backend_by_channel(self):
        """``{channel name: backend id}``: the stores and the Amazon seller."""
        channels = {name: store.backend_id for name, store in self.stack.stores.items()}
        if self.amazon:
            channels[self.amazon.name] = self.amazon.backend_id
        return channels

    # The sale

    def _run_sale(self):
        sampler = threading.Thread(target=self._sample, daemon=True)
        sampler.start()
        faults = threading.Thread(target=self._inject_faults, daemon=True)
        self._sale_started = time.time()
        self._transactions_before = self._transactions()
        self.cpu, self.runner_cpu = self._cpu_usage()
        self.cpu.start()
        self.runner_cpu.start()
        self.mark(
            "sale started", f"{self.options.orders} orders at {self.options.rate}"
        )
        faults.start()
        self.scraper = MetricsScraper(
            self.stack.url, interval=self.options.scrape_interval
        )
        self.scraper.start()
        if self.options.profile_path:
            threading.Thread(target=self._profile, daemon=True).start()
        self._place_orders()
        self.mark(
            "orders placed", f"{len(self.placed)} ({self.sold_out_hits} sold-out)"
        )
        self.stack.wait_until_drained(
            timeout=self.options.drain_timeout,
            settle=3.0,
            busy=lambda: faults.is_alive(),
        )
        faults.join()
        self.cpu.stop()
        self.runner_cpu.stop()
        self.mark("drained after the sale")

    def _wanted_lines(self):
        count = self.rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
        lines, used = [], set()
        for _index in range(count):
            if self.rng.random() < self.options.scarce_share:
                sku, quantity = self.rng.choice(self.scarce).code, 1
            else:
                sku = self.rng.choice(self.plentiful).code
                quantity = self.rng.choice((1, 1, 2, 3))
            if sku not in used:
                used.add(sku)
                lines.append((sku, quantity))
        return lines

    def _place_orders(self):
        stores = list(self.stack.stores.values())
        if self.amazon:
            stores.append(self.amazon)
        start = time.monotonic()
        for index in range(self.options.orders):
            if self.rate:
                delay = start + index / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            store = self.rng.choice(stores)
            if store is self.amazon:
                self.amazon_sale.place(self._wanted_lines())
            else:
                self._place(store, self._wanted_lines())
            if self.amazon:
                self.amazon_sale.pay_due()
        if self.amazon:
            self.amazon_sale.pay_due(everything=True)

    def _place(self, store, wanted):
        sim = store.sim
        plentiful = [sku.code for sku in self.plentiful]
        with sim.store.lock:  # the storefront's check and the sale are atomic
            lines, used = [], {sku for sku, _qty in wanted}
            for sku, quantity in wanted:
                item = store.variants[sku]["inventory_item_id"]
                if sim.inventory_level(item) >= quantity:
                    lines.append((sku, quantity))
                    continue
                self.sold_out_hits += 1
                for _attempt in range(5):
                    other = self.rng.choice(plentiful)
                    item = store.variants[other]["inventory_item_id"]
                    if other not in used and sim.inventory_level(item) >= 1:
                        used.add(other)
                        lines.append((other, 1))
                        break
            if not lines:
                raise RuntimeError(f"store {store.name} has nothing left to sell")
            placed_at = time.time()
            order = sim.create_order(lines=lines)
            for sku, _quantity in lines:
                item = store.variants[sku]["inventory_item_id"]
                self.levels.setdefault((store.name, sku), []).append(
                    (placed_at, sim.inventory_level(item))
                )
        self.placed.append(
            {
                "store": store.name,
                "id": str(order["id"]),
                "name": order["name"],
                "t": placed_at,
                "lines": lines,
                "total": order["total_price"],
            }
        )

    # Observation

    def _cpu_usage(self):
        """Where the CPU goes from the sale's start until the queues are
        drained: the Odoo servers (every process, workers killed meanwhile
        included), PostgreSQL, this benchmark with its simulated stores; and,
        apart, the queue_job runner (a process of the webhook server)."""
        stack = self.stack

        def server(process):
            def roots():
                if not process or process.poll() is not None:
                    return []
                try:
                    return [psutil.Process(process.pid)]
                except psutil.Error:
                    return []

            return roots

        groups = {}
        if stack.job_process:
            groups["Odoo jobs server"] = server(stack.job_process)
            groups["Odoo webhook server"] = server(stack.process)
        else:
            groups["Odoo server"] = server(stack.process)
        groups["PostgreSQL"] = postgres_roots
        own = {"benchmark, simulated stores": lambda: [psutil.Process()]}
        runner = {"queue_job runner": lambda: stack.odoo_processes()["jobrunner"]}
        return CpuUsage(groups, own_groups=own), CpuUsage({}, own_groups=runner)

    def _sample(self):
        """Every 0.5 s: queue depth, imports, events, RSS of Odoo's processes."""
        conn = None
        peak = self.peak_rss
        while not self._stop_sampling.is_set():
            sample = {"t": time.time()}
            try:
                if conn is None or conn.closed:
                    conn = self.stack.connect()
                    conn.autocommit = True
                with conn.cursor() as cr:
                    cr.execute(
                        """
                        SELECT
                          (SELECT count(*) FROM queue_job WHERE state IN
                             ('pending', 'enqueued', 'started', 'wait_dependencies')),
                          (SELECT count(*) FROM queue_job WHERE state IN
                             ('pending', 'enqueued', 'started')
                             AND channel = 'root.marketplace.inbound'),
                          (SELECT count(*) FROM queue_job WHERE state = 'failed'),
                          (SELECT count(*) FROM marketplace_order_binding
                            WHERE order_id IS NOT NULL),
                          (SELECT count(*) FROM marketplace_event),
                          (SELECT count(*) FROM marketplace_stock_dirty),
                          (SELECT count(*) FROM marketplace_stock_dirty WHERE due_at <
                             (now() at time zone 'UTC') - interval '30 seconds')
                        """
                    )
                    row = cr.fetchone()
                keys = ("queue", "inbound", "failed", "imported", "events", "dirty")
                sample.update(zip(keys + ("dirty_stale",), row, strict=True))
                self.imported = sample["imported"]
                with conn.cursor() as cr:
                    cr.execute(
                        "SELECT COALESCE(wait_event_type, 'running'), wait_event, "
                        "regexp_replace(left(query, 70), '\\s+', ' ', 'g') "
                        "FROM pg_stat_activity WHERE datname = current_database() "
                        "AND state = 'active' AND pid <> pg_backend_pid()"
                    )
                    for kind, event, query in cr.fetchall():
                        self.pg_activity[kind] = self.pg_activity.get(kind, 0) + 1
                        if kind == "Lock":
                            key = f"{event}: {query}"
                            self.pg_lock_waits[key] = self.pg_lock_waits.get(key, 0) + 1
            except psycopg2.Error:
                sample["db_down"] = True
                with contextlib.suppress(Exception):
                    conn.close()
                conn = None
            total = worker = 0
            for kind, procs in self.stack.odoo_processes().items():
                for proc in procs:
                    try:
                        rss = proc.memory_info().rss
                    except Exception:
                        continue
                    total += rss
                    if kind in ("http", "jobs", "other"):
                        worker = max(worker, rss)
            sample["rss_total"], sample["rss_worker"] = total, worker
            peak["rss_total"] = max(peak["rss_total"], total)
            peak["rss_worker"] = max(peak["rss_worker"], worker)
            self.samples.append(sample)
            if self.cpu:
                self.cpu.read()
                self.runner_cpu.read()
            self._stop_sampling.wait(0.5)

    def _profile(self):
        """py-spy on every Odoo process once the backlog is there."""
        while self.imported < 0.05 * self.options.orders:
            if self._stop_sampling.wait(0.5):
                return
        self.mark("profiling", f"py-spy for {self.options.profile_seconds:.0f} s")
        servers = {"profile": (self.stack.process, self.options.profile_path)}
        if self.stack.job_process:
            path = self.options.profile_path + ".jobs"
            servers["profile_jobs_server"] = (self.stack.job_process, path)

        def record(key, process, path):
            try:
                self.results[key] = profile_odoo(
                    process.pid, self.options.profile_seconds, path
                )
            except (OSError, subprocess.CalledProcessError) as err:
                self.mark("profiling failed", repr(err))

        threads = [
            threading.Thread(target=record, args=(key, *server))
            for key, server in servers.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # Faults

    def _fault_plan(self):
        """``(basis, fraction, fault)``: the fault fires once that fraction
        of the orders is ``imported`` (so it hits a busy Odoo) or of the
        order webhooks is ``delivered`` (so it hits the intake mid-sale)."""
        plan = []
        if "429" in self.faults:
            plan += [("imported", 0.10, "429"), ("imported", 0.50, "429")]
            plan += [("imported", 0.85, "429")]
        if "latency" in self.faults:
            plan += [
                ("imported", 0.15, "latency on"),
                ("imported", 0.48, "latency off"),
            ]
        if "kill" in self.faults:
            plan += [("delivered", 0.30, "kill"), ("imported", 0.45, "kill")]
            plan += [("imported", 0.70, "kill")]
        if "5xx" in self.faults:
            plan += [("imported", 0.30, "5xx"), ("imported", 0.78, "5xx")]
        if "pgrestart" in self.faults:
            plan += [("delivered", 0.55, "pgrestart")]
        if self.amazon and "sqs" in self.faults:
            plan += [("imported", 0.20, "sqs"), ("imported", 0.60, "sqs")]
        if self.amazon and "lwa" in self.faults:
            plan += [("imported", 0.25, "lwa"), ("imported", 0.65, "lwa")]
        return sorted(plan, key=lambda entry: entry[1])

    def _progress(self, basis):
        total = self.options.orders
        if basis == "imported":
            return self.imported / total
        delivered = 0
        for store in self.stack.stores.values():
            records = list(store.sim.webhooks.records)
            delivered += sum(
                1
                for _t, _s, status, _a, topic in records
                if status is not None
                and 200 <= status < 300
                and topic.startswith("orders/")
            )
        if self.amazon_sale:  # an order placed, then paid: on the queue
            delivered += self.amazon_sale.sent
        return delivered / (2 * total)  # orders/create and orders/paid

    def _inject_faults(self):
        pending = self._fault_plan()
        while pending:
            fired = False
            for entry in list(pending):
                basis, fraction, fault = entry
                if self._progress(basis) >= fraction:
                    pending.remove(entry)
                    fired = True
                    try:
                        self._fault(fault)
                    except Exception as err:
                        self.mark("fault failed", f"{fault}: {err!r}")
            if fired:
                continue
            if len(self.placed) >= self.options.orders and self._idle_for(
                STALL_SECONDS
            ):
                for _basis, _fraction, fault in pending:
                    self.mark("fault skipped", f"{fault}: the import stopped")
                break
            time.sleep(0.1)
        if "latency" in self.faults:
            with contextlib.suppress(Exception):
                self.stack.set_param(LATENCY_PARAM, "0")

    def _idle_for(self, seconds):
        """No order imported for ``seconds``: the samples must cover that
        long (a short sale is placed in seconds, long before its first
        import: that is no stall)."""
        since = time.time() - seconds
        if not self.samples or self.samples[0]["t"] > since:
            return False
        recent = [s for s in self.samples if s["t"] > since]
        return len(recent) > 5 and len({s.get("imported") for s in recent}) == 1

    def _worker_to_kill(self, wait=10.0):
        """An HTTP worker running a queue job (jobs run in HTTP workers, so
        this needs no process titles), else any HTTP worker."""
        deadline = time.monotonic() + wait
        while True:
            children = self.stack.worker_pids()
            running = [
                row[0]
                for row in self.stack.sql(
                    "SELECT worker_pid FROM queue_job WHERE state = 'started' "
                    "AND worker_pid IS NOT NULL"
                )
                if row[0] in children
            ]
            if running:
                return self.fault_rng.choice(sorted(running)), True
            if time.monotonic() > deadline:
                kinds = self.stack.odoo_processes()
                workers = kinds["jobs"] or kinds["http"]
                return (workers[0].pid if workers else None), False
            time.sleep(0.2)

    def _errors(self, seconds):
        """Every Admin API call fails with a 5xx for ``seconds``."""
        sims = [store.sim for store in self.stack.stores.values()]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for sim in sims:
                while sim.faults.pending() < 3:
                    sim.faults.fail_next(self.fault_rng.choice((503, 503, 500, 502)))
            time.sleep(0.02)
        for sim in sims:
            sim.faults.clear()

    def _storm(self, seconds):
        sims = [store.sim for store in self.stack.stores.values()]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for sim in sims:
                sim.rest_bucket.set_level(sim.rest_bucket.capacity)
                sim.graphql_bucket.set_level(sim.graphql_bucket.capacity)
            time.sleep(0.05)

    def _fault(self, fault):
        if fault == "429":
            # another app saturating the shop: both leaky buckets held full
            # for a while, then left to drain at their own rate
            threading.Thread(
                target=self._storm, args=(STORM_SECONDS,), daemon=True
            ).start()
            if self.amazon_sale:  # Amazon's usage plans emptied as long
                self.amazon_sale.storm(STORM_SECONDS)
            self.mark("fault 429", f"rate-limit buckets held full {STORM_SECONDS} s")
        elif fault == "5xx":
            threading.Thread(
                target=self._errors, args=(ERRORS_SECONDS,), daemon=True
            ).start()
            if self.amazon_sale:
                threading.Thread(
                    target=self.amazon_sale.errors,
                    args=(ERRORS_SECONDS, random.Random(self.fault_rng.random())),
                    daemon=True,
                ).start()
            self.mark(
                "fault 5xx", f"Admin API answers 503/500/502 for {ERRORS_SECONDS} s"
            )
        elif fault == "kill":
            pid, running_job = self._worker_to_kill()
            self.stack.kill_worker(pid)
            self.mark(
                "fault kill",
                f"SIGKILL worker {pid}" + (" (running a job)" if running_job else ""),
            )
        elif fault == "pgrestart":
            self.mark("fault pgrestart", "restarting PostgreSQL")
            seconds = self.stack.restart_postgres()
            self.mark("postgres back", f"after {seconds:.1f} s")
        elif fault == "latency on":
            self.stack.set_param(LATENCY_PARAM, str(self.options.latency_ms))
            self.mark("fault latency", f"{self.options.latency_ms} ms per import")
        elif fault == "latency off":
            self.stack.set_param(LATENCY_PARAM, "0")
            self.mark("latency off")
        elif fault == "sqs":
            self.amazon_sale.sqs_faults()
            self.mark(
                "fault sqs",
                "Amazon's queue: duplicates, reordering, deletions failing",
            )
        elif fault == "lwa":
            self.amazon_sale.expire_tokens()
            self.mark("fault lwa", "every Amazon access token expired")

    # End of the run

    def _finish(self):
        stack = self.stack
        backend_ids = list(self._backend_by_channel().values())
        events_before = stack.sql("SELECT count(*) FROM marketplace_event")[0][0]
        with stack.env() as env:
            env["marketplace.backend"].browse(backend_ids)._enqueue_poll()
        self.mark("final poll queued")
        stack.wait_until_drained(timeout=self.options.drain_timeout, settle=3.0)
        self.results["final_poll_new_events"] = (
            stack.sql("SELECT count(*) FROM marketplace_event")[0][0] - events_before
        )
        last = stack.sql(
            "SELECT COALESCE(max(id), 0) FROM marketplace_stock_reconciliation"
        )
        last = last[0][0]
        with stack.env() as env:
            env["marketplace.backend"].browse(backend_ids)._enqueue_reconcile()
        self.mark("reconciliation queued")

        def reconciling():
            done = stack.sql(
                "SELECT count(DISTINCT backend_id) "
                "FROM marketplace_stock_reconciliation WHERE id > %s",
                (last,),
            )[0][0]
            return done < len(backend_ids)

        stack.wait_until_drained(
            timeout=self.options.drain_timeout, settle=3.0, busy=reconciling
        )
        if self.amazon:  # Amazon applies our last PATCHes and feeds later
            self.amazon.wait_for_listings()
            stack.wait_until_drained(timeout=self.options.drain_timeout, settle=3.0)
        self.mark("reconciled and drained")
        self._reconciliation_since = last
        self.scraper.stop()

    # Figures

    def _figures(self):
        figures = {}
        figures["intake"] = self._intake_figures()
        figures["orders"] = self._order_figures()
        figures["oversold"] = self._oversold_figures()
        figures["stock"] = self._stock_figures()
        figures["propagation"] = self._propagation_figures()
        figures["processing"] = self._processing_figures()
        figures["cpu"] = self._cpu_figures(figures["processing"]["orders_imported"])
        figures["channels_api"] = {
            name: {
                key: store.sim.stats[key]
                for key in ("requests", "throttled", "errors_injected", "by_status")
            }
            for name, store in self.stack.stores.items()
        }
        if self.amazon:
            figures["amazon"] = self.amazon_sale.figures(self.stack)
            stats = self.amazon.stats()
            figures["channels_api"][self.amazon.name] = {
                "requests": stats["requests"],
                "throttled": stats["throttled"],
                "errors_injected": stats["faults_injected"],
                "by_status": stats["by_status"],
            }
        figures["throttled_total"] = sum(
            api["throttled"] for api in figures["channels_api"].values()
        )
        figures["events"] = dict(
            self.stack.sql("SELECT state, count(*) FROM marketplace_event GROUP BY 1")
        )
        figures["events_by_source"] = dict(
            self.stack.sql("SELECT source, count(*) FROM marketplace_event GROUP BY 1")
        )
        figures["jobs"] = {
            f"{method}:{state}": count
            for method, state, count in self.stack.sql(
                "SELECT method_name, state, count(*) FROM queue_job GROUP BY 1, 2"
            )
        }
        figures["reconciliation"] = [
            dict(
                zip(
                    ("backend", "checked", "in_sync", "corrected", "escalated"),
                    row,
                    strict=True,
                )
            )
            for row in self.stack.sql(
                "SELECT backend_id, checked, in_sync, corrected, escalated "
                "FROM marketplace_stock_reconciliation WHERE id > %s ORDER BY id",
                (self._reconciliation_since,),
            )
        ]
        figures["peak_rss_mb"] = {
            key: round(value / 2**20, 1) for key, value in self.peak_rss.items()
        }
        figures["safety_net"] = {
            "max_stale_dirty_rows": max(
                (s.get("dirty_stale") or 0 for s in self.samples), default=0
            )
        }
        figures["transactions"] = self._transaction_figures()
        figures["pg_active_sessions_by_wait"] = dict(self.pg_activity)
        figures["pg_lock_waits"] = dict(
            sorted(self.pg_lock_waits.items(), key=lambda kv: -kv[1])[:10]
        )
        figures["failed_jobs"] = [
            {"method": method, "count": count, "example": message}
            for method, count, message in self.stack.sql(
                """
                SELECT method_name, count(*), left(min(exc_message), 200)
                  FROM queue_job WHERE state = 'failed' GROUP BY 1 ORDER BY 2 DESC
                """
            )
        ]
        figures["environment"] = self._environment()
        figures["timeline"] = self.timeline
        figures["series"] = self._series()
        figures["monitoring"] = self._monitoring_figures()
        return figures

    def _monitoring_figures(self):
        """The scrapes of /metrics beside the benchmark's own figures: the
        queue lag (oldest order placed and not imported yet) and the push
        lag (order placed -> our write on the other store)."""
        store_by_backend = {s.backend_id: n for n, s in self.stack.stores.items()}
        imported = {
            (store_by_backend.get(backend_id), external_id): at
            for backend_id, external_id, at in self.stack.sql(
                "SELECT backend_id, external_id, "
                "EXTRACT(EPOCH FROM create_date)::float FROM marketplace_order_binding "
                "WHERE order_id IS NOT NULL"
            )
        }
        orders = [
            (order["t"], imported.get((order["store"], str(order["id"]))))
            for order in self.placed
        ]
        figures = compare(
            self.scraper.scrapes,
            self.options.scrape_interval,
            orders,
            self._own_push_lags(),
            self._sale_started,
        )
        figures["failed_scrapes"] = self.scraper.failures
        return figures

    def _transactions(self):
        """PostgreSQL's counts of committed and rolled-back transactions in
        the database under test (every client: Odoo, runner, harness)."""
        return self.stack.sql(
            "SELECT xact_commit, xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        )[0]

    def _transaction_figures(self):
        """Transactions from the sale's start to now. Rolled back ones are
        mostly work thrown away: a job that lost a race for the same stock
        rows, retried. (The statistics collector may lag by a second.)"""
        committed, rolled_back = (
            after - before
            for after, before in zip(
                self._transactions(), self._transactions_before, strict=True
            )
        )
        return {"committed": committed, "rolled_back": rolled_back}

    def _environment(self):
        """What else ran on this machine: other Odoo servers share the two
        cores; a crash loop in the Odoo launcher's output burns CPU."""
        mine = self.stack.server_pids()
        others = 0
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmdline = " ".join(proc.info.get("cmdline") or [])
            if proc.info["pid"] not in mine and "odoo_server.py -c" in cmdline:
                others += 1
        tracebacks = 0
        with contextlib.suppress(OSError), open(self.stack.log + ".stdout") as out:
            tracebacks = sum(line.startswith("Traceback") for line in out)
        return {
            "cpu_count": os.cpu_count(),
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
            "other_odoo_servers": others,
            "odoo_stdout_tracebacks": tracebacks,
        }

    def _attempts(self, since=None, until=None):
        rows = []
        for name, store in self.stack.stores.items():
            for record in store.sim.webhooks.records if store.sim.webhooks else []:
                if since is not None and record[0] < since:
                    continue
                if until is not None and record[0] > until:
                    continue
                rows.append((name, *record))
        rows.sort(key=lambda row: row[1])
        return rows

    def _intake_figures(self):
        stats = {}
        for store in self.stack.stores.values():
            for key, value in store.sim.webhooks.stats.items():
                if key in ("latencies", "pending"):
                    continue
                if key == "non_2xx":
                    merged = stats.setdefault("non_2xx", {})
                    for status, count in value.items():
                        merged[str(status)] = merged.get(str(status), 0) + count
                else:
                    stats[key] = stats.get(key, 0) + value
        attempts = self._attempts()
        answered = [a for a in attempts if a[3] is not None]
        answers = {}
        for attempt in answered:
            text = attempt[4] or ""
            if 200 <= attempt[3] < 300:
                key = "duplicate" if "duplicate" in text else text.split(" ")[0]
                answers[key] = answers.get(key, 0) + 1
        fault_times = [
            e["t"]
            for e in self.timeline
            if e["event"] in ("fault kill", "fault pgrestart")
        ]
        calm = [a for a in answered if all(abs(a[1] - t) > 10 for t in fault_times)]
        sale = [
            a
            for a in attempts
            if a[1] >= self._sale_started and a[5].startswith("orders/")
        ]
        span = (sale[-1][1] - sale[0][1]) if len(sale) > 1 else 0
        during = [a for a in attempts if sale and sale[0][1] <= a[1] <= sale[-1][1]]
        return {
            "deliveries_queued": stats.get("sent", 0) + stats.get("duplicates_sent", 0),
            "distinct_deliveries": stats.get("sent", 0),
            "duplicate_copies_sent": stats.get("duplicates_sent", 0),
            "dropped": stats.get("dropped", 0),
            "attempts": stats.get("attempts", 0),
            "accepted": stats.get("accepted", 0),
            "answers_2xx": answers,
            "non_2xx": stats.get("non_2xx", {}),
            "timeouts": stats.get("timeouts", 0),
            "connection_errors": stats.get("connection_errors", 0),
            "retried": stats.get("retried", 0),
            "gave_up": stats.get("gave_up", 0),
            "latency_ms": _latency_summary([a[2] for a in answered]),
            "latency_ms_outside_faults": _latency_summary([a[2] for a in calm]),
            "order_webhooks_per_s": round(len(sale) / span, 1) if span else None,
            "webhooks_per_s": round(len(during) / span, 1) if span else None,
            "latency_ms_order_webhooks_while_selling": _latency_summary(
                [a[2] for a in sale if a[3] is not None]
            ),
        }

    def _order_figures(self):
        stack = self.stack
        backend_by_store = self._backend_by_channel()
        rows = stack.sql(
            """
            SELECT b.backend_id, b.external_id, so.id, so.state, so.amount_total
              FROM marketplace_order_binding b
              JOIN sale_order so ON so.id = b.order_id
            """
        )
        bound = {(backend, external): rest for backend, external, *rest in rows}
        lines = {}
        for order_id, code, quantity in stack.sql(
            """
            SELECT l.order_id, p.default_code, l.product_uom_qty
              FROM sale_order_line l
              JOIN product_product p ON p.id = l.product_id
             WHERE p.default_code LIKE 'SCARCE-%%' OR p.default_code LIKE 'ITEM-%%'
            """
        ):
            lines.setdefault(order_id, {})[code] = float(quantity)
        lost, wrong, unconfirmed = [], [], []
        for order in self.placed:
            key = (backend_by_store[order["store"]], order["id"])
            if key not in bound:
                lost.append(f"{order['store']} {order['name']}")
                continue
            sale_id, state, amount = bound[key]
            if state != "sale":
                unconfirmed.append(f"{order['store']} {order['name']} ({state})")
            expected = {sku: float(qty) for sku, qty in order["lines"]}
            total_ok = abs(Decimal(str(amount)) - Decimal(order["total"])) <= Decimal(
                "0.01"
            )
            if lines.get(sale_id) != expected or not total_ok:
                wrong.append(f"{order['store']} {order['name']}")
        by_origin = stack.sql(
            "SELECT origin, count(*) FROM sale_order WHERE origin LIKE 'Store %%' "
            "GROUP BY origin HAVING count(*) > 1"
        )
        unbound = stack.sql(
            "SELECT count(*) FROM sale_order so WHERE origin LIKE 'Store %%' "
            "AND NOT EXISTS (SELECT 1 FROM marketplace_order_binding b "
            "WHERE b.order_id = so.id)"
        )[0][0]
        return {
            "expected": len(self.placed),
            "in_odoo": len(bound),
            "sale_orders": stack.sql(
                "SELECT count(*) FROM sale_order WHERE origin LIKE 'Store %%'"
            )[0][0],
            "lost": len(lost),
            "duplicated": sum(count - 1 for _origin, count in by_origin) + unbound,
            "unbound_sale_orders": unbound,
            "imported_wrong": len(wrong),
            "not_confirmed": len(unconfirmed),
            "examples": {
                "lost": lost[:10],
                "duplicated": [origin for origin, _count in by_origin[:10]],
                "imported_wrong": wrong[:10],
                "not_confirmed": unconfirmed[:10],
            },
            "sold_out_substitutions": self.sold_out_hits,
            "by_channel": {
                name: sum(1 for order in self.placed if order["store"] == name)
                for name in backend_by_store
            },
        }

    def _initial_stock(self):
        return {sku.code: sku.odoo_stock for sku in self.scarce + self.plentiful}

    def _oversold_figures(self):
        sold = {}
        for order in self.placed:
            if order.get("afn"):  # shipped from Amazon's stock, not ours
                continue
            for sku, quantity in order["lines"]:
                sold[sku] = sold.get(sku, 0) + quantity
        stock = self._initial_stock()
        per_sku = {}
        beyond = into_buffer = 0
        for sku in self.scarce:
            sold.setdefault(sku.code, 0)
        for sku, units in sorted(sold.items()):
            over = max(0, units - stock[sku])
            buffered = max(0, min(units, stock[sku]) - (stock[sku] - self._kept(sku)))
            beyond += over
            into_buffer += buffered
            if sku.startswith("SCARCE"):
                per_sku[sku] = {"stock": stock[sku], "sold": units, "beyond": over}
        ledger = {
            code: float(quantity)
            for code, quantity in self.stack.sql(
                """
                SELECT p.default_code, SUM(l.oversold_quantity)
                  FROM marketplace_stock_ledger l
                  JOIN product_product p ON p.id = l.product_id
                 GROUP BY 1
                """
            )
        }
        flagged = self.stack.sql(
            "SELECT count(*) FROM sale_order WHERE marketplace_oversold"
        )[0][0]
        for sku, entry in per_sku.items():
            entry["ledger"] = ledger.get(sku, 0.0)
        ledger_total = sum(ledger.values())
        races = [
            sku
            for sku, entry in per_sku.items()
            if entry["beyond"] or entry["sold"] > entry["stock"] - self._kept(sku)
        ]
        return {
            "timelines": {sku: self._sku_timeline(sku) for sku in races[:4]},
            "beyond_buffers_units": beyond,
            "ledger_oversold_units": ledger_total,
            "ledger_agrees": abs(ledger_total - beyond) < 1e-6,
            "orders_flagged_oversold": flagged,
            "sold_into_buffer_units": into_buffer,
            "scarce": per_sku,
        }

    def _sku_timeline(self, sku):
        """What happened to one SKU, in order: sales on each store (with the
        store's quantity after), quantities we wrote, imports (with Odoo's
        free quantity before): to see how a unit got oversold."""
        origin = self._sale_started
        events = []
        for name, store in self.stack.stores.items():
            item = int(store.variants[sku]["inventory_item_id"])
            for t, available in self.levels.get((name, sku), []):
                events.append((t, name, "sale", available))
            for t, written_item, quantity in self.writes.get(name, []):
                if written_item == item:
                    events.append((t, name, "write", quantity))
        store_by_backend = {s.backend_id: n for n, s in self.stack.stores.items()}
        for backend_id, epoch, free_before in self.stack.sql(
            """
            SELECT l.backend_id, EXTRACT(EPOCH FROM l.create_date), l.free_before
              FROM marketplace_stock_ledger l
              JOIN product_product p ON p.id = l.product_id
             WHERE p.default_code = %s AND l.kind = 'sale'
            """,
            (sku,),
        ):
            events.append(
                (float(epoch), store_by_backend.get(backend_id), "import", free_before)
            )
        return [
            f"{t - origin:8.2f} s  {store}  {kind:6}  {value}"
            for t, store, kind, value in sorted(events)
        ]

    def _kept(self, sku):
        """Units of ``sku`` neither channel is ever offered: the buffer plus
        what rounding the two halves down leaves."""
        stock = self._initial_stock()[sku]
        return stock - 2 * self._ats(stock)

    def _ats(self, free):
        from odoo.addons.marketplace_connector.lib.allocation import (
            ChannelPolicy,
            available_to_sell,
        )

        policy = ChannelPolicy(buffer_units=self.options.buffer_units)
        return available_to_sell(free, policy, Decimal(2))

    def _stock_figures(self):
        stack = self.stack
        free = {
            code: float(quantity)
            for code, quantity in stack.sql(
                """
                SELECT p.default_code, SUM(q.quantity - q.reserved_quantity)
                  FROM stock_quant q
                  JOIN stock_location l ON l.id = q.location_id
                  JOIN product_product p ON p.id = q.product_id
                 WHERE l.parent_path LIKE (
                       SELECT sl.parent_path FROM stock_warehouse w
                         JOIN stock_location sl ON sl.id = w.lot_stock_id
                        ORDER BY w.id LIMIT 1) || '%%'
                 GROUP BY 1
                """
            )
        }
        policy_rows = stack.sql(
            "SELECT id, stock_share, stock_buffer_units, stock_buffer_percent, "
            "stock_max_quantity FROM marketplace_backend"
        )
        from odoo.addons.marketplace_connector.lib.allocation import (
            ChannelPolicy,
            available_to_sell,
        )

        policies = {
            row[0]: ChannelPolicy(
                share=Decimal(str(row[1])),
                buffer_units=row[2] or 0,
                buffer_percent=Decimal(str(row[3] or 0)),
                maximum=row[4] or None,
            )
            for row in policy_rows
        }
        share_total = sum((p.share for p in policies.values()), Decimal(0))
        stored = {
            (backend, code): (ats, state)
            for backend, code, ats, state in stack.sql(
                """
                SELECT lvl.backend_id, p.default_code, lvl.ats_quantity, lvl.state
                  FROM marketplace_stock_level lvl
                  JOIN product_product p ON p.id = lvl.product_id
                """
            )
        }
        mismatches, states = [], {}
        checked = 0
        shown = self._channel_quantities()
        backends = self._backend_by_channel()
        for (name, sku), channel in shown.items():
            backend_id = backends[name]
            policy = policies[backend_id]
            checked += 1
            ats = available_to_sell(free.get(sku, 0.0), policy, share_total)
            level_ats, state = stored.get((backend_id, sku), (None, None))
            states[state] = states.get(state, 0) + 1
            if channel != ats or level_ats != ats:
                mismatches.append(
                    {
                        "store": name,
                        "sku": sku,
                        "channel": channel,
                        "ats_now": ats,
                        "ats_stored": level_ats,
                        "state": state,
                    }
                )
        return {
            "checked": checked,
            "mismatched": len(mismatches),
            "mismatches": mismatches[:20],
            "level_states": {str(k): v for k, v in states.items()},
            "final_scarce": {
                sku.code: {
                    "odoo_free": free.get(sku.code, 0.0),
                    **{name: shown[(name, sku.code)] for name in backends},
                }
                for sku in self.scarce
            },
        }

    def _channel_quantities(self):
        """``{(channel, sku): quantity}`` each channel shows now (Amazon: after
        every write it accepted has landed)."""
        shown = {}
        for name, store in self.stack.stores.items():
            for sku, variant in store.variants.items():
                item = variant["inventory_item_id"]
                shown[(name, sku)] = store.sim.inventory_level(item)
        if self.amazon:
            for sku, quantity in self.amazon.listings().items():
                shown[(self.amazon.name, sku)] = quantity
        return shown

    def _own_push_lags(self):
        """Our writes as the push-lag metric counts them, from the
        benchmark's own records: per write of a product to a channel, the
        seconds since the oldest stock change (a ledger entry, stamped by
        its import's transaction) that no earlier write to that channel had
        carried: ``{backend name: [(write time, lag)]}``. The propagation
        figures count from the order instead, import included."""
        changes = {}
        for sku, backend_id, at in self.stack.sql(
            """
            SELECT p.default_code, l.backend_id,
                   EXTRACT(EPOCH FROM l.create_date)::float
              FROM marketplace_stock_ledger l
              JOIN product_product p ON p.id = l.product_id
            """
        ):
            changes.setdefault(sku, []).append((backend_id, at))
        labels = dict(self.stack.sql("SELECT id, name FROM marketplace_backend"))
        backend_of = self._backend_by_channel()
        lags = {}
        for (store, sku), series in self._our_writes().items():
            # a channel's own sale is not written back to it: it shows it
            pending = sorted(
                at
                for backend_id, at in changes.get(sku, [])
                if backend_id != backend_of[store]
            )
            previous = None
            for t, _quantity in series:
                carried = [
                    c for c in pending if c <= t and (previous is None or c > previous)
                ]
                if carried:
                    label = labels.get(backend_of[store])
                    lags.setdefault(label, []).append((t, t - carried[0]))
                previous = t
        return lags

    def _our_writes(self):
        """``{(store, sku): [(t, quantity)]}``: the quantities we wrote on
        each channel, when they landed."""
        item_sku = {}
        for name, store in self.stack.stores.items():
            for sku, variant in store.variants.items():
                item_sku[(name, int(variant["inventory_item_id"]))] = sku
        writes = {}
        for name, log in self.writes.items():
            for t, item, quantity in log:
                sku = item_sku.get((name, item))
                if sku:
                    writes.setdefault((name, sku), []).append((t, quantity))
        if self.amazon:
            for sku, history in self.amazon.histories()["history"].items():
                for at, quantity, source in history:
                    if source.startswith(("patch:", "feed:")):
                        writes.setdefault((self.amazon.name, sku), []).append(
                            (at, quantity)
                        )
        for series in writes.values():
            series.sort()
        return writes

    def _propagation_figures(self):
        stack = self.stack
        writes = self._our_writes()  # (store, sku) -> [(t, quantity)]
        store_by_backend = {b: n for n, b in self._backend_by_channel().items()}
        placed = {(o["store"], o["id"]): o for o in self.placed}
        entries = stack.sql(
            """
            SELECT l.backend_id, l.entry_key, p.default_code, l.free_before, l.quantity
              FROM marketplace_stock_ledger l
              JOIN product_product p ON p.id = l.product_id
             WHERE l.kind = 'sale'
            """
        )
        latencies, scarce_latencies, written_latencies, slowest = [], [], [], []
        unchanged = never = by_own_sales = 0
        for backend_id, entry_key, sku, free_before, quantity in entries:
            store = store_by_backend.get(backend_id)
            order = placed.get((store, entry_key.split(":")[2]))
            if order is None:
                continue
            target = self._ats(float(free_before) + float(quantity))
            for other in store_by_backend.values():
                if other == store:
                    continue
                shown = self._shown_at(other, sku, order["t"], writes)
                if shown is not None and shown <= target:
                    unchanged += 1
                    continue
                our_writes = _since(writes.get((other, sku), []), order["t"])
                own_sales = _since(self.levels.get((other, sku), []), order["t"])
                written = next((t for t, qty in our_writes if qty <= target), None)
                # the other store may get there first through its own sales:
                # from then on it offers no unit that is gone either, and a
                # push would be an increase (held while orders wait)
                sold_down = next((t for t, qty in own_sales if qty <= target), None)
                if written is None and sold_down is None:
                    never += 1
                    continue
                reached = min(t for t in (written, sold_down) if t is not None)
                if written is not None:
                    written_latencies.append(written - order["t"])
                if reached != written:
                    by_own_sales += 1
                latencies.append(reached - order["t"])
                slowest.append(
                    {
                        "seconds": round(reached - order["t"], 3),
                        "sku": sku,
                        "sold_on": store,
                        "written_on": other,
                        "placed_t": round(order["t"], 3),
                        "target": target,
                        "shown_before": shown,
                        "ledger_entry": entry_key,
                        "writes_after": [(round(t, 3), q) for t, q in our_writes[:6]],
                        "store_levels_after": [
                            (round(t, 3), q) for t, q in own_sales[:6]
                        ],
                    }
                )
                if sku.startswith("SCARCE"):
                    scarce_latencies.append(reached - order["t"])
        return {
            "samples": len(latencies),
            "p50_s": _round(percentile(latencies, 0.5)),
            "p95_s": _round(percentile(latencies, 0.95)),
            "max_s": _round(max(latencies, default=None)),
            "scarce_p50_s": _round(percentile(scarce_latencies, 0.5)),
            "scarce_p95_s": _round(percentile(scarce_latencies, 0.95)),
            "nothing_to_propagate": unchanged,
            "never_written": never,
            # reached through the other store's own sales before our write
            "reached_by_own_sales": by_own_sales,
            # our writes alone (a sale's decrease outrun by the other
            # store's own sales is written only once the backlog is gone)
            "written_p50_s": _round(percentile(written_latencies, 0.5)),
            "written_p95_s": _round(percentile(written_latencies, 0.95)),
            # where a long one comes from: the five slowest, with the writes
            "slowest": sorted(slowest, key=lambda item: -item["seconds"])[:5],
        }

    def _shown_at(self, store, sku, moment, writes):
        """The store's quantity just before ``moment``: the latest of its own
        sales and our writes."""
        candidates = [
            (t, qty) for t, qty in writes.get((store, sku), []) if t < moment
        ] + [(t, qty) for t, qty in self.levels.get((store, sku), []) if t < moment]
        return max(candidates)[1] if candidates else None

    def _cpu_figures(self, orders):
        """CPU seconds by group from the sale's start until drained, per
        imported order, and the share of the machine's cores they used."""
        figures = self.cpu.figures(orders=orders, cores=psutil.cpu_count())
        runner = self.runner_cpu.figures(orders=orders)
        figures["queue_job_runner_s"] = runner["groups_s"]["queue_job runner"]
        figures["queue_job_runner_ms_per_order"] = runner.get("ms_per_order", {}).get(
            "queue_job runner"
        )
        return figures

    def _processing_figures(self):
        times = [
            row[0]
            for row in self.stack.sql(
                """
                SELECT EXTRACT(EPOCH FROM so.create_date)
                  FROM sale_order so
                  JOIN marketplace_order_binding b ON b.order_id = so.id
                 ORDER BY 1
                """
            )
        ]
        times = [float(t) for t in times]
        marks = {entry["event"]: entry["t"] for entry in self.timeline}
        rates = sustained_rates(
            self.samples, marks.get("fault latency"), marks.get("latency off")
        )
        windows = {}
        for t in times:
            bucket = int(t // 10)
            windows[bucket] = windows.get(bucket, 0) + 1
        span = times[-1] - times[0] if len(times) > 1 else 0
        return {
            "orders_imported": len(times),
            "import_span_s": round(span, 1),
            "overall_orders_per_s": round(len(times) / span, 1) if span else None,
            "sustained_orders_per_s": rates["sustained"],
            "seconds_with_backlog": rates["seconds"],
            "sustained_by_phase": rates["phases"],
            "peak_10s_orders_per_s": max(windows.values(), default=0) / 10,
            "sale_seconds": round(
                max(o["t"] for o in self.placed) - self._sale_started, 1
            )
            if self.placed
            else 0,
        }

    def _series(self):
        """What the plot needs, per second: intake latency p50/p99/max and
        attempts, queue depth, imports, RSS."""
        origin = self._sale_started
        buckets = {}
        for _store, t, seconds, status, _answer, _topic in self._attempts(origin):
            bucket = buckets.setdefault(int(t - origin), [])
            bucket.append(seconds * 1000 if status is not None else None)
        latency = [
            {
                "s": second,
                "attempts": len(values),
                "no_answer": sum(v is None for v in values),
                "p50_ms": _round(percentile([v for v in values if v is not None], 0.5)),
                "p99_ms": _round(
                    percentile([v for v in values if v is not None], 0.99)
                ),
                "max_ms": _round(
                    max((v for v in values if v is not None), default=None)
                ),
            }
            for second, values in sorted(buckets.items())
        ]
        samples = [
            {
                "s": round(s["t"] - origin, 1),
                **{
                    key: s.get(key)
                    for key in ("queue", "inbound", "imported", "events", "dirty")
                },
                "rss_mb": round(s["rss_total"] / 2**20, 1),
                "db_down": s.get("db_down", False),
            }
            for s in self.samples
        ]
        faults = [
            {"s": round(e["t"] - origin, 1), "event": e["event"], "detail": e["detail"]}
            for e in self.timeline
        ]
        return {"latency": latency, "samples": samples, "timeline": faults}

    # Ceilings

    def _ceilings(self):
        stack = self.stack
        store = stack.stores["a"]
        payloads = [
            order for order in store.sim.orders() if order["financial_status"] == "paid"
        ][:500]
        connections = 2 * self.options.workers
        self.mark("ceilings", f"{connections} connections")
        result = {"connections": connections}
        result["bare_loop"] = ceilings.bare_loop(
            stack, payloads, store.secret, connections=(1, 4), seconds=4.0
        )
        self.mark("bare loop", json.dumps(result["bare_loop"]))
        result["http_floor"] = ceilings.http_floor(
            stack.url + "/web/health", connections=connections, seconds=10.0
        )
        self.mark("http floor", json.dumps(result["http_floor"]))
        result["intake_max_rate"] = ceilings.intake_max_rate(
            stack, store, payloads, connections=connections, seconds=10.0
        )
        self.mark("intake max rate", json.dumps(result["intake_max_rate"]))
        result["intake_wrk"] = ceilings.intake_wrk(
            stack, store, payloads, connections=connections, seconds=10.0
        )
        self.mark("intake wrk", json.dumps(result["intake_wrk"]))
        stack.wait_until_drained(timeout=self.options.drain_timeout)
        imported = [
            row[0]
            for row in stack.sql(
                "SELECT order_id FROM marketplace_order_binding "
                "WHERE order_id IS NOT NULL ORDER BY id LIMIT 200"
            )
        ]
        for key, batch in (
            ("processing_floor", 1),
            ("processing_floor_batched", FLOOR_BATCH),
        ):
            try:
                result[key] = ceilings.processing_floor(stack, imported, batch=batch)
            except Exception as err:  # a ceiling must not cost the run's report
                result[key] = {"error": repr(err)}
            result[key]["orders_per_transaction"] = batch
            self.mark(key.replace("_", " "), json.dumps(result[key]))
        intake = result["intake_max_rate"]["requests_per_s"]
        result["ratios"] = {
            name: round(intake / value, 2) if value else None
            for name, value in (
                ("to_bare_loop_1", result["bare_loop"].get("1")),
                ("to_bare_loop_4", result["bare_loop"].get("4")),
                ("to_floor_python", result["http_floor"]["python"]["requests_per_s"]),
                (
                    "to_floor_wrk",
                    (result["http_floor"].get("wrk") or {}).get("requests_per_s"),
                ),
            )
        }
        intake_wrk = (result["intake_wrk"] or {}).get("stored_per_s")
        floor_wrk = (result["http_floor"].get("wrk") or {}).get("requests_per_s")
        result["ratios"]["wrk_to_floor_wrk"] = (
            round(intake_wrk / floor_wrk, 2) if intake_wrk and floor_wrk else None
        )
        stack.wait_until_drained(timeout=self.options.drain_timeout)
        return result

    # Verdict

    def _verdict(self):
        failures = []
        orders = self.results.get("orders", {})
        for key in ("lost", "duplicated", "imported_wrong", "not_confirmed"):
            if orders.get(key):
                failures.append(f"{orders[key]} order(s) {key.replace('_', ' ')}")
        oversold = self.results.get("oversold", {})
        if oversold.get("beyond_buffers_units"):
            failures.append(
                f"{oversold['beyond_buffers_units']} unit(s) oversold beyond buffers"
            )
        if oversold and not oversold.get("ledger_agrees"):
            failures.append(
                f"the ledger records {oversold['ledger_oversold_units']} oversold "
                f"unit(s), the stores sold {oversold['beyond_buffers_units']}"
            )
        stock = self.results.get("stock", {})
        if stock.get("mismatched"):
            failures.append(f"{stock['mismatched']} (store, SKU) quantities mismatched")
        afn = self.results.get("amazon", {}).get("afn", {})
        if afn.get("touching_stock") or afn.get("not_flagged"):
            failures.append(
                f"{afn['touching_stock']} AFN order(s) touching our stock, "
                f"{afn['not_flagged']} not booked as fulfilled by Amazon"
            )
        skipped = [e["detail"] for e in self.timeline if e["event"] == "fault skipped"]
        return {"passed": not failures, "failures": failures, "faults_skipped": skipped}


def _round(value, digits=3):
    return None if value is None else round(value, digits)


def _latency_summary(seconds):
    values = [s * 1000 for s in seconds]
    return {
        "count": len(values),
        "p50": _round(percentile(values, 0.5), 1),
        "p95": _round(percentile(values, 0.95), 1),
        "p99": _round(percentile(values, 0.99), 1),
        "max": _round(max(values, default=None), 1),
        "mean": _round(statistics.fmean(values), 1) if values else None,
    }


def profile_odoo(pid, seconds, path):
    """``py-spy record`` the process ``pid`` and its children; write the
    raw stacks to ``path + ".raw"`` and a summary to ``path``: the share of
    samples of Odoo's HTTP workers spent in (under) each function, overall
    and within queue jobs. Returns the summary's head."""
    raw = path + ".raw"
    subprocess.run(
        [
            "py-spy",
            "record",
            "--subprocesses",
            "--nonblocking",
            "--idle",
            "-p",
            str(pid),
            "-d",
            str(int(seconds)),
            "-r",
            "50",
            "-f",
            "raw",
            "-o",
            raw,
        ],
        check=True,
        capture_output=True,
    )
    return summarize_profile(raw, path)


def summarize_profile(raw, path, top=40):
    inclusive, inclusive_job, own = {}, {}, {}
    total = total_job = idle = 0
    with open(raw) as lines:
        for line in lines:
            stack, _sep, count = line.rstrip("\n").rpartition(" ")
            if not count.isdigit():
                continue
            count = int(count)
            frames = stack.split(";")
            processes = [f for f in frames if f.startswith("process ")]
            if not any("WorkerHTTP" in process for process in processes):
                continue
            names = [
                re.sub(r":\d+\)$", ")", frame)
                for frame in frames
                if not frame.startswith("process ")
            ]
            if not names or names[-1].startswith(IDLE_FRAMES):
                idle += count
                continue
            total += count
            in_job = any("._job_process (" in name for name in names)
            total_job += count if in_job else 0
            for name in set(names):
                inclusive[name] = inclusive.get(name, 0) + count
                if in_job:
                    inclusive_job[name] = inclusive_job.get(name, 0) + count
            if names:
                own[names[-1]] = own.get(names[-1], 0) + count

    def listing(counts, whole):
        ranked = sorted(
            (item for item in counts.items() if not PLUMBING.search(item[0])),
            key=lambda item: -item[1],
        )[:top]
        return (
            [f"{100 * n / whole:5.1f}%  {name}" for name, n in ranked] if whole else []
        )

    summary = {
        "busy_samples": total,
        "idle_samples": idle,
        "job_share": round(total_job / total, 3) if total else None,
        "inclusive": listing(inclusive, total),
        "inclusive_in_jobs": listing(inclusive_job, total_job),
        "self": listing(own, total),
    }
    with open(path, "w") as out:
        for key in ("inclusive", "inclusive_in_jobs", "self"):
            out.write(f"== {key} (share of busy HTTP-worker samples)\n")
            out.write("\n".join(summary[key]) + "\n\n")
    return {
        key: value[:12] if isinstance(value, list) else value
        for key, value in summary.items()
    }


def run(options):
    """Run the benchmark; return its results (``results["verdict"]``)."""
    bench = FlashSale(options)
    results = bench.run()
    results["options"] = {
        key: value
        for key, value in dataclasses.asdict(options).items()
        if key not in ("verbose",)
    }
    results["targets"] = TARGETS
    return results


def _since(series, moment):
    """The ``(t, quantity)`` of ``series`` from ``moment`` on."""
    return [(t, quantity) for t, quantity in series if t >= moment]


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="bench/flash-sale",
        description="Flash sale with faults on a production-like stack; "
        "exits 1 if anything is lost, duplicated, oversold beyond buffers or "
        "left mismatched.",
    )
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument(
        "--rate",
        default="25/s",
        help="orders per second: 'max', '<n>/s', '<n>/<seconds>s' such as "
        "'400/90s' (each order is 2 webhooks, plus stock updates); "
        "default 25/s, i.e. about 50 order webhooks/s",
    )
    parser.add_argument(
        "--faults",
        default="all",
        help=f"'all', 'none' or a comma list of {','.join(ALL_FAULTS)}",
    )
    parser.add_argument(
        "--scrape-interval",
        type=float,
        default=5.0,
        help="seconds between two scrapes of /metrics during the sale (its "
        "histograms then cover one interval); default 5",
    )
    parser.add_argument("--workers", type=int, default=6, help="Odoo HTTP workers")
    parser.add_argument(
        "--job-workers",
        type=int,
        default=0,
        help="run the queue jobs on a second Odoo server with this many "
        "workers, at a lower CPU priority (--job-nice); --workers then serve "
        "webhooks only. Default 0: one server does everything",
    )
    parser.add_argument(
        "--job-nice", type=int, default=10, help="niceness of the jobs server"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--png", dest="png_path")
    parser.add_argument(
        "--no-ceilings", dest="ceilings", action="store_false", help="skip item 6"
    )
    parser.add_argument(
        "--intake",
        choices=("fast", "route"),
        default="fast",
        help="'fast': marketplace_connector as a server-wide module (the intake "
        "skips Odoo's dispatch); 'route': the plain controller",
    )
    parser.add_argument(
        "--channels",
        default=CHANNELS,
        help="queue_job channels of the Odoo under test (capacity per channel); "
        f"default {CHANNELS}",
    )
    parser.add_argument("--buffer", dest="buffer_units", type=int, default=2)
    parser.add_argument(
        "--amazon",
        action="store_true",
        help="two channels: one Shopify store and one Amazon seller (the "
        "Amazon simulator in a process of its own) share every product; "
        "adds the faults sqs and lwa",
    )
    parser.add_argument(
        "--import-batch",
        type=int,
        help="orders one import job imports in all (system parameter "
        f"{IMPORT_BATCH_PARAM}); default: the module's",
    )
    parser.add_argument(
        "--keep-autovacuum",
        dest="autovacuum",
        action="store_false",
        help="leave PostgreSQL's autovacuum off if the server has it off "
        "(default: on for the run, as in production, and put back after)",
    )
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument(
        "--drain-timeout",
        type=float,
        help="seconds to wait for the queues to drain (default: 1,800, or "
        "0.5 s per order when that is longer)",
    )
    parser.add_argument(
        "--profile",
        dest="profile_path",
        help="py-spy the Odoo workers for 30 s during the sale; summary to "
        "this file (raw stacks next to it; the jobs server's to FILE.jobs)",
    )
    args = parser.parse_args(argv)
    try:
        faults = parse_faults(args.faults)
        parse_rate(args.rate)
    except ValueError as err:
        parser.error(str(err))
    return Options(
        orders=args.orders,
        rate=args.rate,
        faults=faults,
        workers=args.workers,
        job_workers=args.job_workers,
        job_nice=args.job_nice,
        channels=args.channels,
        seed=args.seed,
        json_path=args.json_path,
        png_path=args.png_path,
        ceilings=args.ceilings,
        intake=args.intake,
        buffer_units=args.buffer_units,
        database=args.database,
        profile_path=args.profile_path,
        import_batch=args.import_batch,
        autovacuum=args.autovacuum,
        amazon=args.amazon,
        scrape_interval=args.scrape_interval,
        drain_timeout=args.drain_timeout or max(1800.0, 0.5 * args.orders),
    )


def _stop(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv=None):
    # stopped by a signal, a run still stops its Odoo servers and puts
    # PostgreSQL's autovacuum setting back (a job started in the background
    # ignores SIGINT unless told otherwise)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    options = parse_args(sys.argv[1:] if argv is None else argv)
    results = run(options)
    print(report.table(results))
    if options.json_path:
        report.write_json(results, options.json_path)
        print(f"JSON: {options.json_path}")
    if options.png_path:
        report.plot(results, options.png_path)
        print(f"PNG: {options.png_path}")
    return 0 if results["verdict"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
