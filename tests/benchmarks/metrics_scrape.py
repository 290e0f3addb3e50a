"""Scrape Odoo's /metrics during a benchmark, as Prometheus would, and set
what the scrapes say beside what the benchmark measures itself.

The scraper asks every ``interval`` seconds with the histogram window equal
to the interval (``?window=5``): each scrape's push-lag histogram then holds
the pushes of the interval before it, like a ``rate()`` over one interval.
"""

import importlib.util
import os
import threading
import time

import requests
from prometheus_client.parser import text_string_to_metric_families


def _load_lib():
    """The connector's plain-Python metrics module, loaded from its file
    (importing the addon would import Odoo's models)."""
    path = os.path.join(
        os.path.dirname(__file__),
        "..",
        "..",
        "marketplace_connector",
        "lib",
        "metrics.py",
    )
    spec = importlib.util.spec_from_file_location("_connector_metrics", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bucket_quantile = _load_lib().bucket_quantile

METRICS_TOKEN = "bench-metrics-token"


def parse(text):
    """``{name: [(labels, value)]}`` of a scrape."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def merged_buckets(samples, name):
    """The ``_bucket`` samples of ``name`` summed over backends, as
    ``[(le, cumulative)]`` in bound order."""
    totals = {}
    for labels, value in samples.get(f"{name}_bucket", []):
        totals[labels["le"]] = totals.get(labels["le"], 0) + value
    return sorted(
        totals.items(),
        key=lambda item: float("inf") if item[0] == "+Inf" else float(item[0]),
    )


def summarize(samples):
    """The figures of one scrape the report plots."""
    lag = [
        value
        for _l, value in samples.get("marketplace_inbox_oldest_queued_age_seconds", [])
    ]
    queued = sum(
        value
        for labels, value in samples.get("marketplace_inbox_events", [])
        if labels["state"] == "queued"
    )
    push = merged_buckets(samples, "marketplace_stock_push_lag_seconds")
    imports = merged_buckets(samples, "marketplace_import_latency_seconds")
    scrape = samples.get("marketplace_metrics_scrape_seconds", [({}, None)])[0][1]
    exact = {}
    for labels, value in samples.get("marketplace_stock_push_lag_quantile_seconds", []):
        exact.setdefault(labels["backend"], {})[labels["quantile"]] = value
    return {
        "push_lag_exact": exact,
        "queue_lag_s": max(lag, default=0.0),
        "queued_events": queued,
        "push_lag_p50_s": bucket_quantile(0.5, push),
        "push_lag_p95_s": bucket_quantile(0.95, push),
        "pushes": push[-1][1] if push else 0,
        "import_latency_p50_s": bucket_quantile(0.5, imports),
        "import_latency_p95_s": bucket_quantile(0.95, imports),
        "server_scrape_ms": None if scrape is None else scrape * 1000,
    }


class MetricsScraper:
    """A thread scraping ``url`` every ``interval`` seconds."""

    def __init__(self, url, token=METRICS_TOKEN, interval=5.0):
        self.url = url
        self.token = token
        self.interval = interval
        self.scrapes = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    def scrape_once(self):
        started = time.monotonic()
        response = requests.get(
            f"{self.url}/metrics",
            params={"window": int(self.interval)},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        response.raise_for_status()
        figures = summarize(parse(response.text))
        figures["t"] = time.time()
        figures["client_ms"] = (time.monotonic() - started) * 1000
        return figures

    def _run(self):
        with requests.Session():
            while not self._stop.is_set():
                try:
                    self.scrapes.append(self.scrape_once())
                except requests.RequestException:
                    self.failures += 1  # a worker killed, PostgreSQL restarting
                self._stop.wait(self.interval)


def own_queue_lag(moment, orders):
    """The benchmark's own lag at ``moment``: the age of the oldest order
    placed by then and not imported by then (``orders``: ``[(placed,
    imported or None)]``)."""
    waiting = [
        placed
        for placed, imported in orders
        if placed <= moment and (imported is None or imported > moment)
    ]
    return moment - min(waiting) if waiting else 0.0


def _percentile(values, fraction):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(fraction * len(values)))]


def compare(scrapes, interval, orders, written, origin):
    """Each scrape beside the benchmark's own figures at the same moment.

    :param orders: ``[(placed, imported or None)]`` epoch times.
    :param written: ``{backend name: [(write time, push lag)]}`` measured by
        the benchmark as the metric defines it: per write of a product to a
        channel, from the oldest stock change it carried. Compared per
        backend with the scrape's exact quantiles (quantiles of several
        backends do not add up); a row shows the backend furthest apart.
    """
    rows = []
    for scrape in scrapes:
        moment = scrape["t"]
        push = _push_lags_compared(scrape, written, moment, interval)
        rows.append(
            {
                "s": round(moment - origin, 1),
                "queue_lag_s": round(scrape["queue_lag_s"], 2),
                "own_queue_lag_s": round(own_queue_lag(moment, orders), 2),
                **push,
                "import_latency_p95_s": _r(scrape["import_latency_p95_s"]),
                "queued_events": scrape["queued_events"],
                "server_scrape_ms": _r(scrape["server_scrape_ms"]),
                "client_ms": _r(scrape["client_ms"]),
            }
        )
    queue_gaps = [abs(r["queue_lag_s"] - r["own_queue_lag_s"]) for r in rows]
    push_gaps = [
        abs(r["push_lag_p95_s"] - r["own_push_lag_p95_s"])
        for r in rows
        if r["push_lag_p95_s"] is not None and r["own_push_lag_p95_s"] is not None
    ]
    client = [r["client_ms"] for r in rows]
    server = [r["server_scrape_ms"] for r in rows if r["server_scrape_ms"] is not None]
    return {
        "interval_s": interval,
        "scrapes": len(rows),
        "max_queue_lag_gap_s": _r(max(queue_gaps, default=None)),
        "queue_lag_within_interval": sum(g <= interval for g in queue_gaps),
        "max_push_lag_p95_gap_s": _r(max(push_gaps, default=None)),
        "push_lag_within_interval": sum(g <= interval for g in push_gaps),
        "push_lag_compared": len(push_gaps),
        "scrape_client_ms_p50": _r(_percentile(client, 0.5)),
        "scrape_client_ms_max": _r(max(client, default=None)),
        "scrape_server_ms_p50": _r(_percentile(server, 0.5)),
        "scrape_server_ms_max": _r(max(server, default=None)),
        "rows": rows,
    }


def _r(value, digits=3):
    return None if value is None else round(value, digits)


def _push_lags_compared(scrape, written, moment, interval):
    """The scrape's exact push lag p50/p95 of each backend beside ours over
    the same window (writes landed in the last ``interval``); the backend
    whose p95 is furthest apart, or the scrape's alone when we saw none."""
    best = {
        "push_lag_p50_s": None,
        "own_push_lag_p50_s": None,
        "push_lag_p95_s": None,
        "own_push_lag_p95_s": None,
    }
    worst_gap = -1.0
    for backend, quantiles in scrape.get("push_lag_exact", {}).items():
        window = [
            lag
            for t, lag in written.get(backend, [])
            if moment - interval < t <= moment
        ]
        row = {
            "push_lag_p50_s": _r(quantiles.get("0.5")),
            "own_push_lag_p50_s": _r(_percentile(window, 0.5)),
            "push_lag_p95_s": _r(quantiles.get("0.95")),
            "own_push_lag_p95_s": _r(_percentile(window, 0.95)),
        }
        if row["own_push_lag_p95_s"] is None:
            if worst_gap < 0:
                best = row
            continue
        gap = abs(row["push_lag_p95_s"] - row["own_push_lag_p95_s"])
        if gap > worst_gap:
            best, worst_gap = row, gap
    return best
