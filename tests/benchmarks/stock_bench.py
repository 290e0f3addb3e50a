"""Stock benchmark (issue 3, item 9): propagation, burst coalescing, and
reconciliation at scale, on the production-like stack of ``stack.py``.

Run it with ``bench/stock`` (``--help`` for the options). Three phases, each
against its own part of one shared catalogue, on two simulated Shopify stores
A and B whose backends share every product 50/50:

1. **propagation** -- orders placed on A at a steady rate, one SKU per order
   (even stock, so every order lowers B's share by one unit); the latency of
   an order is from the moment the simulator fires its webhook to the moment
   simulator B applies the new quantity (recorded in-process by wrapping B's
   inventory setter, no polling). Run once per push delay asked for, the
   backend's default first.
2. **burst** -- many SKUs changed many times in committed transactions from
   this process through the Odoo registry
   (``stock.quant._update_available_quantity``), round after round, as fast
   as the ORM goes; then drained. Counted per store: ``inventorySetQuantities``
   calls, quantities written and applied per changed SKU, throttled answers.
3. **reconcile** -- 100,000 products, quants and bindings inserted in bulk
   with SQL (clones of a product the ORM created, so every column is valid),
   100,000 inventory items in simulator B with drift injected, then one
   reconciliation run in this process (``backend._job_reconcile_stock()``);
   the run record is reported, optionally with a cProfile of the run.

Nothing here changes the connector: it drives the stack from outside, as
production traffic and a stock manager would.
"""

import argparse
import contextlib
import cProfile
import datetime
import json
import math
import os
import pstats
import signal
import statistics
import subprocess
import sys
import threading
import time
from decimal import Decimal

import psutil

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)

from tests.benchmarks.stack import Sku, Stack  # noqa: E402

DATABASE = "marketplace_bench_stock"
SHARE = 0.5  # two channels selling every product, half each
ORDER_STOCK = 100  # even: one unit sold moves each channel's half by one
BURST_STOCK = 1000
BURST_STEP = -2  # two units a change: each change moves each half by one
TARGETS = {
    "propagation_p95_s": 2.0,
    # the "channel calls per changed SKU under a burst"
    "calls_per_changed_sku": 1.1,
    "reconcile_odoo_s": 60.0,
}


def percentile(values, fraction):
    """Nearest-rank percentile (no interpolation): a value that occurred."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary(values):
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50": round(percentile(values, 0.50), 3),
        "p95": round(percentile(values, 0.95), 3),
        "max": round(max(values), 3),
        "mean": round(statistics.fmean(values), 3),
    }


def utc_now():
    """Naive UTC, as Odoo (TZ=UTC) and queue_job store their timestamps."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class WriteRecorder:
    """Stands in front of a simulator's inventory setter and notes, for every
    ``inventorySetQuantities`` it executes, when it ran, how many quantities
    it carried, whether it applied, and which levels it changed to what."""

    def __init__(self, sim):
        self._setter = sim.inventory_setter
        self._lock = threading.Lock()
        self.calls = []  # (monotonic, utc, quantities, applied)
        self.changes = []  # (monotonic, utc, inventory_item_id, available)
        sim.inventory_setter = self

    def set_quantities(self, data, version, idempotency_key):
        result = self._setter.set_quantities(data, version, idempotency_key)
        moment, wall = time.monotonic(), utc_now()
        with self._lock:
            self.calls.append(
                (moment, wall, len(data["quantities"]), not result.user_errors)
            )
            for level in result.changed_levels:
                self.changes.append(
                    (moment, wall, level.inventory_item_id, level.available)
                )
        return result

    def mark(self):
        with self._lock:
            return len(self.calls), len(self.changes)

    def since(self, mark):
        with self._lock:
            return self.calls[mark[0] :], self.changes[mark[1] :]

    def __getattr__(self, name):
        return getattr(self._setter, name)


class SafetyNet(threading.Thread):
    """The cron "push stock changes left without a job", at its production
    interval. The stack runs no crons (``max_cron_threads = 0``); without it
    a change whose push job was missed would never reach the channel. Every
    run that finds such rows is noted: each is a change that waited for the
    cron instead of its push job."""

    def __init__(self, registry, interval):
        super().__init__(name="stock-safety-net", daemon=True)
        self.registry = registry
        self.interval = interval
        self.found = []  # (utc, [(backend_id, rows, oldest due_at)])
        self._stopping = threading.Event()

    def run(self):
        from odoo import SUPERUSER_ID, api

        while not self._stopping.wait(self.interval):
            with self.registry.cursor() as cr:
                cr.execute(
                    "SELECT backend_id, count(*), min(due_at) "
                    "FROM marketplace_stock_dirty WHERE due_at < "
                    "(now() at time zone 'UTC') - interval '1 minute' "
                    "GROUP BY backend_id ORDER BY backend_id"
                )
                rows = cr.fetchall()
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["marketplace.backend"]._cron_push_pending_stock()
            if rows:
                self.found.append((utc_now(), rows))
                print(f"[safety-net] stranded stock changes: {rows}", flush=True)

    def stop(self):
        self._stopping.set()

    def since(self, mark):
        found = self.found[mark:]
        return {
            "cron_runs_that_found_rows": len(found),
            "stranded_rows": sum(
                count for _at, rows in found for _b, count, _d in rows
            ),
        }


class QueueSampler(threading.Thread):
    """The deepest backlog of each queue_job channel while a phase runs
    (sampled every second from its own connection)."""

    def __init__(self, stack):
        super().__init__(name="queue-sampler", daemon=True)
        self.stack = stack
        self.deepest = {}
        self._stopping = threading.Event()

    def run(self):
        with contextlib.closing(self.stack.connect()) as conn:
            conn.autocommit = True
            while not self._stopping.wait(1.0):
                with conn.cursor() as cr:
                    cr.execute(
                        "SELECT channel, count(*) FROM queue_job "
                        "WHERE state IN ('pending', 'enqueued') GROUP BY channel"
                    )
                    for channel, count in cr.fetchall():
                        self.deepest[channel] = max(self.deepest.get(channel, 0), count)

    def stop(self):
        self._stopping.set()
        self.join(timeout=10)
        return dict(sorted(self.deepest.items()))


class LoadMeter:
    """CPU used while a phase runs, in cores on average: the whole machine,
    this benchmark (this process with its simulators, the Odoo server it
    started, PostgreSQL sessions on its database), and the difference --
    other work on the machine (another benchmark, a test run), which the
    figures of a shared two-core machine should be read with."""

    def __init__(self, stack):
        self.stack = stack
        self.started = time.monotonic()
        self.machine = self._machine_seconds()
        self.ours = self._our_seconds()

    @staticmethod
    def _machine_seconds():
        with open("/proc/stat") as handle:
            values = [int(v) for v in handle.readline().split()[1:]]
        idle = values[3] + values[4]
        return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")

    def _our_seconds(self):
        seconds = {}
        pids = {os.getpid()}
        if self.stack.process:
            with contextlib.suppress(psutil.Error):
                main = psutil.Process(self.stack.process.pid)
                pids |= {main.pid} | {p.pid for p in main.children(recursive=True)}
        marker = f" {self.stack.database} "
        for proc in psutil.process_iter(["pid", "cmdline", "cpu_times"]):
            info = proc.info
            cmdline = " ".join(info["cmdline"] or ())
            if info["pid"] in pids or (
                cmdline.startswith("postgres:") and marker in cmdline
            ):
                times = info["cpu_times"]
                if times:
                    seconds[info["pid"]] = times.user + times.system
        return seconds

    def stop(self):
        wall = time.monotonic() - self.started
        machine = self._machine_seconds() - self.machine
        ours = sum(
            spent - self.ours.get(pid, 0.0)
            for pid, spent in self._our_seconds().items()
        )
        return {
            "machine_cores": round(machine / wall, 2),
            "benchmark_cores": round(ours / wall, 2),
            "other_work_cores": round(max(0.0, machine - ours) / wall, 2),
        }


def graphql_calls(sim, start=0):
    """``{operation: [quantities per call]}`` of the Admin API requests the
    simulator recorded from index ``start`` on."""
    found = {}
    for entry in sim.requests[start:]:
        body = entry.get("json")
        if not isinstance(body, dict):
            continue
        query = body.get("query") or ""
        if "inventorySetQuantities" in query:
            quantities = (body.get("variables") or {}).get("input", {}).get(
                "quantities"
            ) or []
            found.setdefault("write", []).append(len(quantities))
        elif "ReadLevels" in query:
            found.setdefault("read", []).append(query.count("inventoryItem(id:"))
        elif "ItemsAtLocation" in query:
            found.setdefault("page", []).append(1)
        elif query:
            found.setdefault("other", []).append(1)
    return found


class StockBench:
    def __init__(self, options):
        self.options = options
        self.delays = options.delays
        self.results = {}
        self.stack = None
        self.registry = None
        self.recorders = {}
        self.safety_net = None
        self.order_skus = {
            delay: [
                Sku(f"P{run}-{index:04d}", odoo_stock=ORDER_STOCK, channel_stock=0)
                for index in range(options.orders)
            ]
            for run, delay in enumerate(self.delays)
        }
        self.burst_skus = {
            mode: [
                Sku(f"B{mode[0].upper()}-{index:04d}", odoo_stock=BURST_STOCK)
                for index in range(options.burst_skus)
            ]
            for mode in options.burst_modes
        }

    # Life cycle

    def run(self):
        catalogue = [sku for skus in self.order_skus.values() for sku in skus]
        catalogue += [sku for skus in self.burst_skus.values() for sku in skus]
        self.stack = Stack(
            stores=("a", "b"),
            skus=catalogue,
            workers=self.options.workers,
            plan=self.options.plan,
            database=DATABASE,
            backend_values={"stock_share": SHARE},
        )
        started = time.monotonic()
        self.stack.start()
        try:
            self.results["setup"] = self._setup(time.monotonic() - started)
            if "propagation" in self.options.phases:
                self.results["propagation"] = [
                    self.propagation(delay) for delay in self.delays
                ]
            if "burst" in self.options.phases:
                self.results["burst"] = [
                    self.burst(mode) for mode in self.options.burst_modes
                ]
            if "reconcile" in self.options.phases:
                self.results["reconcile"] = self.reconcile()
        finally:
            if self.safety_net:
                self.safety_net.stop()
            self.stack.stop()
        self.results["load_average_end"] = os.getloadavg()
        return self.results

    def _setup(self, start_seconds):
        import odoo

        self.registry = self.stack.registry or odoo.modules.registry.Registry(DATABASE)
        for name, store in self.stack.stores.items():
            self.recorders[name] = WriteRecorder(store.sim)
        default_delay = self.stack.sql(
            "SELECT DISTINCT stock_push_delay FROM marketplace_backend"
        )
        interval = self.stack.sql(
            "SELECT interval_number, interval_type FROM ir_cron "
            "WHERE cron_name LIKE 'Marketplace: push stock changes%%'"
        )
        number, unit = interval[0] if interval else (2, "minutes")
        seconds = number * {"minutes": 60, "hours": 3600}.get(unit, 60)
        self.safety_net = SafetyNet(self.registry, seconds)
        self.safety_net.start()
        drained, _done = self._drain(900)
        return {
            "safety_net_cron_interval_s": seconds,
            "stack_start_s": round(start_seconds, 1),
            "initial_push_drain_s": drained,
            "default_stock_push_delay_s": [row[0] for row in default_delay],
            "skus": len(self.stack.skus),
            "workers": self.stack.workers,
            "channels": self.stack.channels,
            "plan": self.stack.plan,
            "share_per_channel": SHARE,
            "other_odoo_processes": _other_odoo_processes(self.stack.database),
        }

    def _drain(self, timeout):
        """Wait until the queues are empty; return ``(seconds, drained)``:
        a phase that does not drain is a result too, not a crash."""
        started = time.monotonic()
        try:
            self.stack.wait_until_drained(timeout=timeout)
        except TimeoutError:
            print(f"[drain] not drained after {timeout} s", flush=True)
            return round(time.monotonic() - started, 1), False
        return round(time.monotonic() - started, 1), True

    def _marks(self):
        return self.stack.sql(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM marketplace_event), "
            "(SELECT COALESCE(MAX(id), 0) FROM queue_job)"
        )[0]

    def _side_effects(self, marks):
        """What the channels' ``inventory_levels/update`` reports of our own
        writes did in Odoo since ``marks``. Nobody but Odoo changes the
        channels' quantities here (except orders on A, which A reports by
        no inventory webhook), so every report is an echo: one taken for
        drift is a false drift, and costs a corrective push."""
        event_mark, job_mark = marks
        rows = self.stack.sql(
            """
            SELECT COUNT(*),
                   COUNT(*) FILTER (WHERE result LIKE 'Echo%%'),
                   COUNT(*) FILTER (WHERE result LIKE 'Drift%%')
              FROM marketplace_event
             WHERE id > %s AND resource_type = 'inventory_level'
            """,
            (event_mark,),
        )[0]
        # pushes due later (a drift correction, a held raise) are queued one
        # job per 10-second slot, identity key "...-at-<slot end>"
        corrective = self.stack.sql(
            "SELECT COUNT(*) FROM queue_job WHERE id > %s "
            "AND method_name = '_job_push_stock' AND identity_key LIKE %s",
            (job_mark, "marketplace-push-stock-%-at-%"),
        )[0][0]
        jobs = self.stack.sql(
            """
            SELECT COUNT(*), COALESCE(SUM(GREATEST(job.retry - 1, 0)), 0),
                   COUNT(*) FILTER (WHERE EXISTS (
                       SELECT 1 FROM queue_job other
                        WHERE other.id > %(mark)s AND other.id < job.id
                          AND other.func_string = job.func_string
                          AND (other.date_started IS NULL
                               OR other.date_started > job.date_created)))
              FROM queue_job job
             WHERE job.id > %(mark)s AND job.method_name = '_job_push_stock'
            """,
            {"mark": job_mark},
        )[0]
        return {
            "push_jobs": jobs[0],
            # identity_key should make these 0: a job queued while one for
            # the same backend was still waiting to start
            "push_jobs_queued_while_one_waited": jobs[2],
            # attempts after the first (serialization failures, lock
            # conflicts); a rate-budget wait re-queues without counting
            "push_job_retries": jobs[1],
            "inventory_reports": rows[0],
            "ignored_as_echo": rows[1],
            "taken_for_drift": rows[2],
            "corrective_push_jobs": corrective,
        }

    # 1. Propagation

    def _expected_after(self, free, share_total=2 * SHARE):
        from odoo.addons.marketplace_connector.lib.allocation import (
            ChannelPolicy,
            available_to_sell,
        )

        policy = ChannelPolicy(share=Decimal(str(SHARE)))
        return available_to_sell(free, policy, Decimal(str(share_total)))

    def propagation(self, delay):
        stack, options = self.stack, self.options
        store_a, store_b = stack.stores["a"], stack.stores["b"]
        stack.sql("UPDATE marketplace_backend SET stock_push_delay = %s", (delay,))
        self._drain(1800)
        skus = self.order_skus[delay]
        expected = self._expected_after(ORDER_STOCK - 1)
        before = self._expected_after(ORDER_STOCK)
        wrong = [
            sku.code
            for sku in skus
            if store_b.sim.inventory_level(
                store_b.variants[sku.code]["inventory_item_id"]
            )
            != before
        ]
        if wrong:
            raise RuntimeError(f"B does not start at {before} for {wrong[:5]}")
        item_of = {
            sku.code: int(store_b.variants[sku.code]["inventory_item_id"])
            for sku in skus
        }
        recorder = self.recorders["b"]
        mark = recorder.mark()
        throttled = {n: s.sim.stats["throttled"] for n, s in stack.stores.items()}
        sent = {}
        load_before = os.getloadavg()
        net_mark, meter = len(self.safety_net.found), LoadMeter(stack)
        marks = self._marks()
        sampler = QueueSampler(stack)
        sampler.start()
        started = time.monotonic()
        for index, sku in enumerate(skus):
            due = started + index / options.rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            sent[sku.code] = (time.monotonic(), utc_now())
            order = store_a.sim.create_order(lines=[(sku.code, 1)])
            sent[sku.code] += (str(order["id"]),)
        send_seconds = time.monotonic() - started
        applied = {}
        deadline = time.monotonic() + options.timeout
        pending = set(item_of.values())
        while pending and time.monotonic() < deadline:
            _calls, changes = recorder.since(mark)
            for moment, wall, item, quantity in changes:
                if item in pending and quantity == expected:
                    applied[item] = (moment, wall)
                    pending.discard(item)
            if pending:
                time.sleep(0.2)
        drained, drained_ok = self._drain(1800)
        backlog = sampler.stop()
        latencies = []
        rows = []
        for sku in skus:
            t0, wall0, order_id = sent[sku.code]
            hit = applied.get(item_of[sku.code])
            if hit:
                latencies.append(hit[0] - t0)
                rows.append((sku.code, order_id, wall0, hit[1]))
        breakdown = self._breakdown(rows, store_b.backend_id)
        result = {
            "push_delay_s": delay,
            "orders": len(skus),
            "rate_per_s": options.rate,
            "sending_s": round(send_seconds, 1),
            "confirmed_on_b": len(latencies),
            "missing_on_b": len(skus) - len(latencies),
            "b_expected_quantity": expected,
            "latency_s": summary(latencies),
            "breakdown_s": breakdown,
            "drain_after_last_order_s": drained,
            "drained": drained_ok,
            "deepest_queue_by_channel": backlog,
            "throttled": {
                n: s.sim.stats["throttled"] - throttled[n]
                for n, s in stack.stores.items()
            },
            "load_average_before": load_before,
            "cpu": meter.stop(),
            "safety_net": self.safety_net.since(net_mark),
            "side_effects": self._side_effects(marks),
            "target_p95_s": TARGETS["propagation_p95_s"],
        }
        result["met"] = bool(
            latencies
            and not result["missing_on_b"]
            and result["latency_s"]["p95"] <= TARGETS["propagation_p95_s"]
        )
        self._print_progress("propagation", result)
        return result

    def _breakdown(self, rows, backend_b):
        """Where an order's time goes, from the job table: webhook -> its
        order imported (end of the first import job of the order), imported
        -> the push job to B that carried it started (debounce + queue), that
        job started -> B applied. Medians and p95 of each part."""
        if not rows:
            return {}
        order_ids = [order_id for _sku, order_id, _w0, _w1 in rows]
        imported = dict(
            self.stack.sql(
                """
                SELECT e.external_id, MIN(j.date_done)
                  FROM marketplace_event e
                  JOIN queue_job j ON j.uuid = e.job_uuid
                 WHERE e.external_id = ANY(%s) AND e.sale_order_id IS NOT NULL
                   AND j.state = 'done'
                 GROUP BY e.external_id
                """,
                (order_ids,),
            )
        )
        jobs = self.stack.sql(
            """
            SELECT date_created, eta, date_started, date_done
              FROM queue_job
             WHERE func_string = %s AND date_started IS NOT NULL
               AND date_started >= %s
             ORDER BY date_started
            """,
            (
                f"marketplace.backend({backend_b},)._job_push_stock()",
                min(wall0 for _sku, _order, wall0, _wall1 in rows),
            ),
        )
        slack = datetime.timedelta(milliseconds=50)
        parts = {"to_imported": [], "imported_to_push_start": [], "push_to_b": []}
        lags = []
        for _sku, order_id, wall0, wall1 in rows:
            done = imported.get(order_id)
            job = next(
                (
                    job
                    for job in jobs
                    if job[2] <= wall1 and (job[3] is None or wall1 <= job[3] + slack)
                ),
                None,
            )
            if done is None or job is None:
                continue
            parts["to_imported"].append((done - wall0).total_seconds())
            parts["imported_to_push_start"].append((job[2] - done).total_seconds())
            parts["push_to_b"].append((wall1 - job[2]).total_seconds())
            if job[1]:
                lags.append((job[2] - job[1]).total_seconds())
        result = {name: summary(values) for name, values in parts.items()}
        result["runner_lag_after_eta"] = summary(lags)
        durations = [(j[3] - j[2]).total_seconds() for j in jobs if j[3]]
        result["b_push_job_duration"] = summary(durations)
        return result

    # 2. Burst

    def _burst_transactions(self, mode, product_ids):
        """The product ids changed by each transaction, in order.

        ``waves``: round after round over every SKU (``per_transaction``
        changes a transaction), like successive inventory adjustments or pick
        waves: a SKU's changes spread over the whole burst. ``grouped``: a
        few SKUs at a time get all their changes in a row, one transaction
        a round: a SKU's changes come within about a second."""
        options = self.options
        if mode == "waves":
            size = options.burst_per_transaction
            for _round in range(options.burst_changes):
                for start in range(0, len(product_ids), size):
                    yield product_ids[start : start + size]
        else:
            size = options.burst_group
            for start in range(0, len(product_ids), size):
                for _round in range(options.burst_changes):
                    yield product_ids[start : start + size]

    def burst(self, mode):
        from odoo import SUPERUSER_ID, api

        stack, options = self.stack, self.options
        self._drain(1800)
        skus = self.burst_skus[mode]
        product_ids = [stack.product_ids[sku.code] for sku in skus]
        write_marks = {n: r.mark() for n, r in self.recorders.items()}
        log_start = {n: len(s.sim.requests) for n, s in stack.stores.items()}
        throttled = {n: s.sim.stats["throttled"] for n, s in stack.stores.items()}
        net_mark, meter = len(self.safety_net.found), LoadMeter(stack)
        marks = self._marks()
        sampler = QueueSampler(stack)
        sampler.start()
        transactions = 0
        first_commit, last_commit = {}, {}
        started = time.monotonic()
        for chunk in self._burst_transactions(mode, product_ids):
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                location = env["stock.warehouse"].search([], limit=1).lot_stock_id
                quant = env["stock.quant"]
                for product in env["product.product"].browse(chunk):
                    quant._update_available_quantity(product, location, BURST_STEP)
            committed = time.monotonic()
            for product_id in chunk:
                first_commit.setdefault(product_id, committed)
                last_commit[product_id] = committed
            transactions += 1
        burst_end = time.monotonic()
        burst_seconds = burst_end - started
        spans = [last_commit[p] - first_commit[p] for p in product_ids]
        drained, drained_ok = self._drain(options.burst_drain_timeout)
        backlog = sampler.stop()
        changes = options.burst_changes
        final_free = BURST_STOCK + BURST_STEP * changes
        expected = self._expected_after(final_free)
        result = {
            "mode": mode,
            "skus": len(product_ids),
            "changes_per_sku": changes,
            "change_units": BURST_STEP,
            "transactions": transactions,
            "changes_per_transaction": round(changes * len(product_ids) / transactions),
            "burst_s": round(burst_seconds, 2),
            "first_to_last_change_of_a_sku_s": summary(spans),
            "drain_after_burst_s": drained,
            "drained": drained_ok,
            "deepest_queue_by_channel": backlog,
            "cpu": meter.stop(),
            "safety_net": self.safety_net.since(net_mark),
            "side_effects": self._side_effects(marks),
            "stores": {},
            "target_calls_per_changed_sku": TARGETS["calls_per_changed_sku"],
        }
        met = True
        for name, store in stack.stores.items():
            items = {int(store.variants[sku.code]["inventory_item_id"]) for sku in skus}
            calls, applied = self.recorders[name].since(write_marks[name])
            sent = graphql_calls(store.sim, log_start[name])
            applied_items = [item for _m, _w, item, _q in applied if item in items]
            per_item = {}
            for item in applied_items:
                per_item[item] = per_item.get(item, 0) + 1
            wrong = sum(
                1 for item in items if store.sim.inventory_level(item) != expected
            )
            reached = {}
            for moment, _wall, item, quantity in applied:
                if item in items and quantity == expected:
                    reached.setdefault(item, moment)
            writes = sent.get("write", [])
            figures = {
                "all_at_final_quantity_after_burst_end_s": round(
                    max(reached.values()) - burst_end, 1
                )
                if len(reached) == len(items)
                else None,
                "set_quantities_calls": len(writes),
                "calls_refused_stale": sum(1 for c in calls if not c[3]),
                "quantities_sent": sum(writes),
                "quantities_sent_per_changed_sku": round(sum(writes) / len(items), 3),
                "calls_per_changed_sku": round(len(writes) / len(items), 4),
                "applied_per_changed_sku": round(len(applied_items) / len(items), 3),
                "max_applied_for_one_sku": max(per_item.values(), default=0),
                "write_calls_by_size": {
                    "1": sum(1 for size in writes if size == 1),
                    "2-249": sum(1 for size in writes if 1 < size < 250),
                    "250": sum(1 for size in writes if size >= 250),
                },
                "read_calls": len(sent.get("read", [])),
                "throttled": store.sim.stats["throttled"] - throttled[name],
                "final_quantity_expected": expected,
                "skus_not_at_final_quantity": wrong,
            }
            figures["met"] = (
                figures["calls_per_changed_sku"] <= TARGETS["calls_per_changed_sku"]
                and figures["throttled"] == 0
                and wrong == 0
            )
            met = met and figures["met"] and drained_ok
            result["stores"][name] = figures
        result["met"] = met
        self._print_progress(f"burst {mode}", result)
        return result

    # 3. Reconciliation

    def reconcile(self):
        stack, options = self.stack, self.options
        store_b = stack.stores["b"]
        count = options.bindings
        self._drain(1800)
        # the reads are channel time: a plan with a high restore rate keeps
        # them from being the bottleneck (Shopify Plus/enterprise limits)
        store_b.sim.set_plan(options.reconcile_plan)
        threshold = stack.sql(
            "SELECT stock_drift_threshold FROM marketplace_backend WHERE id = %s",
            (store_b.backend_id,),
        )[0][0]
        started = time.monotonic()
        catalogue = self._reconcile_catalogue(count, threshold)
        sim_seconds = time.monotonic() - started
        started = time.monotonic()
        self._insert_catalogue(catalogue)
        sql_seconds = time.monotonic() - started
        self._drain(600)
        runs = []
        for number in range(1, options.reconcile_runs + 1):
            runs.append(self._reconcile_once(number))
            self._drain(900)
        first = runs[0]["run"]
        result = {
            "bindings_added": count,
            "drift_threshold": threshold,
            "drift_injected_within_threshold": catalogue["within"],
            "drift_injected_above_threshold": catalogue["above"],
            "plan_during_reconcile": options.reconcile_plan,
            "setup_simulator_s": round(sim_seconds, 1),
            "setup_sql_s": round(sql_seconds, 1),
            "runs": runs,
            "target_odoo_s": TARGETS["reconcile_odoo_s"],
        }
        result["met"] = (
            all(r["run"]["odoo_seconds"] <= TARGETS["reconcile_odoo_s"] for r in runs)
            and first["corrected"] >= catalogue["within"]
            and first["escalated"] >= catalogue["above"]
        )
        return result

    def _reconcile_once(self, number):
        """One reconciliation of B in this process, as its queue job would
        run it; the first creates the levels of the new bindings, the next
        ones are the steady state of the hourly cron."""
        from odoo import SUPERUSER_ID, api

        store_b = self.stack.stores["b"]
        throttled = store_b.sim.stats["throttled"]
        log_start = len(store_b.sim.requests)
        profile = cProfile.Profile() if self.options.profile else None
        meter = LoadMeter(self.stack)
        started = time.monotonic()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            backend = env["marketplace.backend"].browse(store_b.backend_id)
            if profile:
                profile.enable()
            summary_line = backend._job_reconcile_stock()
            if profile:
                profile.disable()
        wall = time.monotonic() - started
        record = self.stack.sql(
            """
            SELECT id, checked, in_sync, corrected, escalated, missing_on_channel,
                   duration, odoo_seconds, channel_seconds
              FROM marketplace_stock_reconciliation
             WHERE backend_id = %s ORDER BY id DESC LIMIT 1
            """,
            (store_b.backend_id,),
        )[0]
        names = (
            "id checked in_sync corrected escalated missing_on_channel duration "
            "odoo_seconds channel_seconds"
        ).split()
        run = dict(zip(names, record, strict=True))
        for name in ("duration", "odoo_seconds", "channel_seconds"):
            run[name] = round(run[name], 2)
        sent = graphql_calls(store_b.sim, log_start)
        result = {
            "number": number,
            "job_result": summary_line,
            "wall_s": round(wall, 2),
            "run": run,
            "cpu": meter.stop(),
            "channel_pages": len(sent.get("page", [])),
            "channel_write_calls": len(sent.get("write", [])),
            "channel_read_calls": len(sent.get("read", [])),
            "throttled": store_b.sim.stats["throttled"] - throttled,
        }
        if profile:
            result["profile"] = self._profile_report(profile, number)
        self._print_progress(f"reconcile {number}", result)
        return result

    def _reconcile_catalogue(self, count, threshold):
        """Items in simulator B: available-to-sell, some off by up to the
        threshold (1 in 100), some by more (1 in 1,000)."""
        sim = self.stack.stores["b"].sim
        rows, within, above = [], 0, 0
        for index in range(count):
            sku = f"R-{index:06d}"
            free = 10 + (index * 7919) % 991
            # these products are sold on B only: B's share is not scaled
            ats = self._expected_after(free, share_total=SHARE)
            channel = ats
            if index % 1000 == 999:
                channel, above = ats + threshold + 10, above + 1
            elif index % 100 == 7:
                channel = ats + (1 + index % threshold) * (1 if index % 2 else -1)
                within += 1
            variant = sim.add_product(sku=sku, price="9.00", inventory=channel)
            rows.append(
                (
                    sku,
                    free,
                    str(variant["variant_id"]),
                    str(variant["inventory_item_id"]),
                )
            )
        return {"rows": rows, "within": within, "above": above}

    def _insert_catalogue(self, catalogue):
        """Products, quants and B bindings in a few statements, each row a
        clone of one the ORM made (a burst SKU): every column a real
        product has, with the name, SKU, quantity and ids replaced."""
        model_product = self.stack.product_ids[self.stack.skus[-1].code]
        backend_b = self.stack.stores["b"].backend_id
        skus, frees, variants, items = (
            list(col) for col in zip(*catalogue["rows"], strict=True)
        )
        with self.stack.connect() as conn, conn.cursor() as cr:
            cr.execute(
                "SELECT product_tmpl_id FROM product_product WHERE id = %s",
                (model_product,),
            )
            model_template = cr.fetchone()[0]
            _clone(
                cr,
                "product_template",
                model_template,
                {"name": "jsonb_build_object('en_US', v.sku)", "default_code": "v.sku"},
                "SELECT unnest(%(skus)s::varchar[]) AS sku",
                {"skus": skus},
            )
            _clone(
                cr,
                "product_product",
                model_product,
                {"product_tmpl_id": "t.id", "default_code": "v.sku"},
                "SELECT unnest(%(skus)s::varchar[]) AS sku",
                {"skus": skus},
                extra_from="JOIN product_template t "
                "ON t.default_code = v.sku AND t.name->>'en_US' = v.sku",
            )
            cr.execute(
                "SELECT id FROM stock_quant WHERE product_id = %s "
                "AND location_id = (SELECT lot_stock_id FROM stock_warehouse "
                "ORDER BY id LIMIT 1)",
                (model_product,),
            )
            _clone(
                cr,
                "stock_quant",
                cr.fetchone()[0],
                {
                    "product_id": "p.id",
                    "quantity": "v.free",
                    "reserved_quantity": "0",
                },
                "SELECT unnest(%(skus)s::varchar[]) AS sku, "
                "unnest(%(frees)s::numeric[]) AS free",
                {"skus": skus, "frees": frees},
                extra_from="JOIN product_product p ON p.default_code = v.sku",
            )
            cr.execute(
                "SELECT id FROM marketplace_product_binding "
                "WHERE backend_id = %s AND product_id = %s",
                (backend_b, model_product),
            )
            _clone(
                cr,
                "marketplace_product_binding",
                cr.fetchone()[0],
                {
                    "product_id": "p.id",
                    "sku": "v.sku",
                    "external_id": "v.variant",
                    "channel_item_ref": "v.item",
                },
                "SELECT unnest(%(skus)s::varchar[]) AS sku, "
                "unnest(%(variants)s::varchar[]) AS variant, "
                "unnest(%(items)s::varchar[]) AS item",
                {"skus": skus, "variants": variants, "items": items},
                extra_from="JOIN product_product p ON p.default_code = v.sku",
            )
            conn.commit()
        with self.stack.connect() as conn:
            conn.autocommit = True
            with conn.cursor() as cr:
                # a production database has statistics (autovacuum); a bulk
                # load leaves the planner without them until it runs
                cr.execute(
                    "ANALYZE product_template, product_product, stock_quant, "
                    "marketplace_product_binding, marketplace_stock_level"
                )

    @staticmethod
    def _profile_report(profile, number, limit=25):
        stats = pstats.Stats(profile)
        total = stats.total_tt
        rows = []
        for (filename, line, function), (
            _cc,
            calls,
            tottime,
            cumtime,
            _callers,
        ) in stats.stats.items():
            rows.append(
                {
                    "function": f"{_short(filename)}:{line}({function})",
                    "calls": calls,
                    "own_s": round(tottime, 3),
                    "cumulative_s": round(cumtime, 3),
                    "cumulative_share": round(cumtime / total, 3) if total else None,
                }
            )
        by_cumulative = sorted(rows, key=lambda r: -r["cumulative_s"])[:limit]
        by_own = sorted(rows, key=lambda r: -r["own_s"])[:limit]
        ours = sorted(
            (r for r in rows if r["function"].startswith("marketplace_")),
            key=lambda r: -r["cumulative_s"],
        )[:limit]
        path = os.path.join(REPO_ROOT, "var", f"stock_bench_reconcile_{number}.pstats")
        stats.dump_stats(path)
        return {
            "total_s": round(total, 2),
            "pstats_file": path,
            "our_steps": ours,
            "by_cumulative": by_cumulative,
            "by_own_time": by_own,
        }

    # Output

    @staticmethod
    def _print_progress(phase, result):
        shown = {key: value for key, value in result.items() if key != "profile"}
        print(f"[{phase}] {json.dumps(shown, default=str)}", flush=True)


def _short(filename):
    for marker in ("/site-packages/", "/work/main/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def _columns(cr, table):
    cr.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = %s AND column_name <> 'id' ORDER BY ordinal_position",
        (table,),
    )
    return [row[0] for row in cr.fetchall()]


def _clone(cr, table, model_id, overrides, values_sql, params, extra_from=""):
    """``INSERT INTO table SELECT`` one row per value row ``v``: the model
    row's columns, except ``overrides`` (column -> SQL expression over ``v``
    and ``extra_from``). Table and column names come from the catalogue,
    never from input."""
    columns = _columns(cr, table)
    select = ", ".join(
        overrides.get(column, f'm."{column}"')
        if column not in ("create_date", "write_date")
        else "now() at time zone 'UTC'"
        for column in columns
    )
    names = ", ".join(f'"{column}"' for column in columns)
    cr.execute(
        f"INSERT INTO {table} ({names}) "
        f"SELECT {select} FROM ({values_sql}) v {extra_from} "
        f"JOIN {table} m ON m.id = %(model)s",
        {**params, "model": model_id},
    )


def _other_odoo_processes(database):
    """Odoo servers on this machine serving another database: they share the
    two cores with this benchmark, which the figures should say."""
    try:
        out = subprocess.run(
            ["ps", "-eo", "args"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    others = set()
    for line in out.splitlines():
        is_odoo = "odoo.cli" in line or "odoo_server.py" in line
        if is_odoo and f"-d {database}" not in line and " -d " in line:
            others.add(line.rsplit(" -d ", 1)[1].split()[0])
    return sorted(others)


# Report


def render(results, command):
    lines = [f"Stock benchmark -- {command}", ""]
    setup = results.get("setup", {})
    lines.append(
        f"stack: {setup.get('workers')} Odoo workers, "
        f"channels {setup.get('channels')}, "
        f"plan {setup.get('plan')}, default stock_push_delay "
        f"{setup.get('default_stock_push_delay_s')} s, {setup.get('skus')} SKUs; "
        f"other Odoo servers running: {setup.get('other_odoo_processes') or 'none'}"
    )
    lines.append("")
    header = f"{'measure':<58} {'value':>14} {'target':>10} {'met':>5}"
    lines += [header, "-" * len(header)]

    def row(measure, value, target="", met=""):
        if isinstance(met, bool):
            met = "yes" if met else "NO"
        lines.append(f"{measure:<58} {value!s:>14} {target!s:>10} {met:>5}")

    for run in results.get("propagation", []):
        latency = run["latency_s"]
        label = f"propagation A->B, delay {run['push_delay_s']} s, {run['orders']} @ "
        label += f"{run['rate_per_s']}/s"
        row(f"{label}: p50 s", latency.get("p50"))
        row(f"{label}: p95 s", latency.get("p95"), "<= 2.0", run["met"])
        row(
            "  max s / confirmed on B",
            f"{latency.get('max')} / {run['confirmed_on_b']}",
        )
        for part, figures in run.get("breakdown_s", {}).items():
            row(f"  {part} p50 / p95 s", f"{figures.get('p50')} / {figures.get('p95')}")
        row("  deepest backlog, stock / inbound channel (jobs)", _backlog(run))
        row("  cpu cores: machine / benchmark / other work", _cpu(run))
        row(
            "  push jobs / queued while one of the backend waited",
            f"{run['side_effects']['push_jobs']} / "
            f"{run['side_effects']['push_jobs_queued_while_one_waited']}",
        )
        row("  throttled (A, B)", f"{run['throttled']['a']}, {run['throttled']['b']}")
        row(
            "  stranded changes left to the safety-net cron",
            run["safety_net"]["stranded_rows"],
            "0",
        )
        row(
            "  own-write echoes taken for drift / corrective pushes",
            f"{run['side_effects']['taken_for_drift']} / "
            f"{run['side_effects']['corrective_push_jobs']}",
            "0",
        )
    for burst in results.get("burst", []):
        row(
            f"burst {burst['mode']}: {burst['skus']} SKUs x "
            f"{burst['changes_per_sku']} changes, {burst['transactions']} tx",
            f"{burst['burst_s']} s",
        )
        span = burst["first_to_last_change_of_a_sku_s"]
        row("  first to last change of one SKU, p50 s", span.get("p50"))
        row(
            "  push jobs / queued while one of the backend waited",
            f"{burst['side_effects']['push_jobs']} / "
            f"{burst['side_effects']['push_jobs_queued_while_one_waited']}",
        )
        row(
            "  deepest backlog, stock / inbound channel (jobs)",
            _backlog(burst),
        )
        row("  drained after the burst, s", burst["drain_after_burst_s"])
        row("  cpu cores: machine / benchmark / other work", _cpu(burst))
        row(
            "  stranded changes left to the safety-net cron",
            burst["safety_net"]["stranded_rows"],
            "0",
        )
        row(
            "  own-write echoes taken for drift / corrective pushes",
            f"{burst['side_effects']['taken_for_drift']} / "
            f"{burst['side_effects']['corrective_push_jobs']}",
            "0",
        )
        for name, store in burst["stores"].items():
            row(
                f"  store {name}: inventorySetQuantities calls per changed SKU",
                f"{store['calls_per_changed_sku']} ({store['set_quantities_calls']})",
                "<= 1.1",
                store["met"],
            )
            # one per debounce window the SKU's changes fell in, plus the
            # re-sends of calls refused as stale
            row(
                f"  store {name}: quantities written per changed SKU",
                store["quantities_sent_per_changed_sku"],
            )
            row(
                f"  store {name}: applied per SKU, max for one SKU",
                f"{store['applied_per_changed_sku']}, "
                f"{store['max_applied_for_one_sku']}",
            )
            row(
                f"  store {name}: stale calls / reads / throttled",
                f"{store['calls_refused_stale']} / {store['read_calls']} / "
                f"{store['throttled']}",
                "0 thr.",
            )
            row(
                f"  store {name}: all SKUs final, s after burst end",
                store["all_at_final_quantity_after_burst_end_s"],
            )
            row(
                f"  store {name}: SKUs not at final quantity",
                store["skus_not_at_final_quantity"],
                "0",
            )
    reconcile = results.get("reconcile")
    if reconcile:
        row(
            "reconcile: drift injected (within / above threshold)",
            f"{reconcile['drift_injected_within_threshold']} / "
            f"{reconcile['drift_injected_above_threshold']}",
        )
    for attempt in (reconcile or {}).get("runs", []):
        run = attempt["run"]
        row(
            f"reconcile run {attempt['number']}, {run['checked']} bindings: Odoo s",
            run["odoo_seconds"],
            "<= 60",
            run["odoo_seconds"] <= TARGETS["reconcile_odoo_s"],
        )
        row("  channel s / duration s", f"{run['channel_seconds']} / {run['duration']}")
        row(
            "  in sync / corrected / escalated / missing",
            f"{run['in_sync']}/{run['corrected']}/{run['escalated']}/"
            f"{run['missing_on_channel']}",
        )
        row(
            "  pages read / writes / throttled",
            f"{attempt['channel_pages']} / {attempt['channel_write_calls']} / "
            f"{attempt['throttled']}",
        )
        row("  cpu cores: machine / benchmark / other work", _cpu(attempt))
        profile = attempt.get("profile")
        if profile:
            lines.append(f"  profile (cProfile, {profile['total_s']} s), our steps:")
            for entry in profile["our_steps"][:14]:
                share = entry["cumulative_share"]
                lines.append(
                    f"    {entry['cumulative_s']:>8} s {share:>6.1%}"
                    f"  {entry['function']} x{entry['calls']}"
                )
            lines.append("  by own time:")
            for entry in profile["by_own_time"][:8]:
                share = entry["own_s"] / profile["total_s"]
                lines.append(
                    f"    {entry['own_s']:>8} s {share:>6.1%}"
                    f"  {entry['function']} x{entry['calls']}"
                )
    return "\n".join(lines)


def _names(value):
    return value.split(",")


def _integers(value):
    return [int(item) for item in value.split(",")]


def _cpu(result):
    cpu = result.get("cpu") or {}
    return (
        f"{cpu.get('machine_cores')} / {cpu.get('benchmark_cores')} / "
        f"{cpu.get('other_work_cores')}"
    )


def _backlog(result):
    deepest = result.get("deepest_queue_by_channel", {})
    return (
        f"{deepest.get('root.marketplace.stock', 0)} / "
        f"{deepest.get('root.marketplace.inbound', 0)}"
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="bench/stock",
        description="Stock benchmark: propagation A->B, burst coalescing, "
        "reconciliation of many bindings (issue 3, item 9).",
    )
    parser.add_argument(
        "--phases",
        default="propagation,burst,reconcile",
        type=_names,
        help="comma-separated subset of propagation,burst,reconcile",
    )
    parser.add_argument("--orders", type=int, default=200, help="orders per delay")
    parser.add_argument("--rate", type=float, default=2.0, help="orders per second")
    parser.add_argument(
        "--delays",
        default="1,0",
        type=_integers,
        help="stock_push_delay values to measure propagation with (the first "
        "should be the backend's default, 1)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds to wait for B after the last order (the safety-net "
        "cron may take three minutes)",
    )
    parser.add_argument("--burst-skus", type=int, default=500)
    parser.add_argument("--burst-changes", type=int, default=10)
    parser.add_argument(
        "--burst-per-transaction",
        type=int,
        default=500,
        help="changes committed per transaction (500: one round = one "
        "transaction, like an inventory adjustment)",
    )
    parser.add_argument(
        "--burst-modes",
        default="waves,grouped",
        type=_names,
        help="waves: round after round over all SKUs; grouped: a few SKUs "
        "at a time get all their changes in a row",
    )
    parser.add_argument(
        "--burst-group", type=int, default=10, help="SKUs per group (grouped)"
    )
    parser.add_argument(
        "--burst-drain-timeout",
        type=float,
        default=2400.0,
        help="seconds to wait for the queues after a burst",
    )
    parser.add_argument("--bindings", type=int, default=100_000)
    parser.add_argument(
        "--reconcile-runs",
        type=int,
        default=2,
        help="reconciliations in a row (the first creates the levels)",
    )
    parser.add_argument("--plan", default="standard", help="simulator plan")
    parser.add_argument(
        "--reconcile-plan",
        default="enterprise",
        help="store B's plan while reconciling",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="cProfile the reconcile")
    parser.add_argument("--json", help="write the results to this file")
    return parser.parse_args(argv)


def _terminate(_signum, _frame):
    # stop the stack (Odoo, simulators) on the way out, as on Ctrl-C
    raise SystemExit(143)


def main(argv=None):
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    command = "bench/stock " + " ".join(sys.argv[1:] if argv is None else argv)
    results = {
        "command": command.strip(),
        "started_at": utc_now().isoformat(timespec="seconds"),
        "git_commit": subprocess.run(
            ["git", "-C", REPO_ROOT, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip(),
        "cpus": os.cpu_count(),
        "load_average_start": os.getloadavg(),
        "targets": TARGETS,
    }
    results.update(StockBench(options).run())
    text = render(results, results["command"])
    print()
    print(text)
    if options.json:
        with open(options.json, "w") as handle:
            json.dump(results, handle, indent=2, default=str)
        print(f"\nJSON: {options.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
