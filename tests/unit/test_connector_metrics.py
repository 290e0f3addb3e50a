"""Metrics without a database: bucket arithmetic, access, per-process
counters, the exposition parsed back with prometheus_client's own parser,
and the alert thresholds."""

import os
import threading

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import (
    generate_latest as generate_openmetrics,
)
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families

from odoo.addons.marketplace_connector.lib import metrics as lib

BOUNDS = (1.0, 2.0, 5.0)


def _width_bucket(value, bounds):
    """PostgreSQL's width_bucket(value, thresholds array)."""
    return sum(1 for bound in bounds if value >= bound)


@given(st.lists(st.floats(min_value=0, max_value=100, allow_nan=False)))
def test_cumulative_buckets_count_values_up_to_each_bound(values):
    counts = {}
    for value in values:
        index = _width_bucket(value, BOUNDS)
        counts[index] = counts.get(index, 0) + 1
    buckets = lib.cumulative_buckets(counts, BOUNDS)
    assert [le for le, _count in buckets] == ["1.0", "2.0", "5.0", "+Inf"]
    for (le, cumulative), bound in zip(buckets, (*BOUNDS, float("inf")), strict=True):
        # a value equal to a bound lands one bucket up (documented)
        assert cumulative == sum(1 for v in values if v < bound), le
    assert buckets[-1][1] == len(values)
    assert [c for _le, c in buckets] == sorted(c for _le, c in buckets)


def test_bucket_quantile_interpolates_like_prometheus():
    buckets = lib.cumulative_buckets({0: 10, 1: 10, 2: 20}, BOUNDS)  # 40 values
    assert lib.bucket_quantile(0.25, buckets) == 1.0
    assert lib.bucket_quantile(0.5, buckets) == 2.0
    assert lib.bucket_quantile(0.75, buckets) == 3.5
    assert lib.bucket_quantile(0.5, lib.cumulative_buckets({}, BOUNDS)) is None
    # beyond the last bound: the last bound, as histogram_quantile answers
    assert lib.bucket_quantile(0.99, lib.cumulative_buckets({3: 5}, BOUNDS)) == 5.0


def test_parse_window_bounds_and_defaults():
    assert lib.parse_window("60") == 60
    assert lib.parse_window(None) == lib.DEFAULT_WINDOW_SECONDS
    assert lib.parse_window("soon") == lib.DEFAULT_WINDOW_SECONDS
    assert lib.parse_window("0") == 1
    assert lib.parse_window("9999999") == lib.MAX_WINDOW_SECONDS


def test_access_needs_the_token_or_a_trusted_address():
    trusted = lib.parse_trusted("127.0.0.1, 10.0.0.0/8, not-an-address")
    assert len(trusted) == 2
    assert lib.access_allowed("Bearer s3cret", "192.0.2.1", "s3cret", [])
    assert lib.access_allowed("bearer s3cret ", "192.0.2.1", "s3cret", [])
    assert not lib.access_allowed("Bearer wrong", "192.0.2.1", "s3cret", [])
    assert not lib.access_allowed("Basic s3cret", "192.0.2.1", "s3cret", [])
    assert not lib.access_allowed(None, "192.0.2.1", "s3cret", trusted)
    assert lib.access_allowed(None, "10.1.2.3", "s3cret", trusted)
    assert lib.access_allowed(None, "127.0.0.1", "", trusted)
    assert not lib.access_allowed("Bearer ", "127.0.0.2", "", trusted)
    # nothing configured: nobody, not even with an empty token
    assert not lib.access_allowed("Bearer ", "127.0.0.1", "", [])
    assert not lib.access_allowed(None, "garbage", "", trusted)


def test_counter_buffer_sums_keeps_maxima_and_restores():
    buffer = lib.CounterBuffer()
    buffer.add("db", lib.API_CALLS, 3, "write_stock")
    buffer.add("db", lib.API_CALLS, 3, "write_stock", 2)
    buffer.add("db", lib.INTAKE_RESPONSES, 0, "404")
    buffer.add(None, lib.API_CALLS, 3, "write_stock")  # no database: dropped
    buffer.maximum("db", lib.LAST_SUCCESS, 3, "push", 10.0)
    buffer.maximum("db", lib.LAST_SUCCESS, 3, "push", 5.0)
    drained = buffer.drain()
    sums, maxima = drained["db"]
    assert sorted(sums) == [
        (lib.API_CALLS, 3, "write_stock", 3),
        (lib.INTAKE_RESPONSES, 0, "404", 1),
    ]
    assert maxima == [(lib.LAST_SUCCESS, 3, "push", 10.0)]
    assert buffer.drain() == {} and not buffer.pending()
    buffer.restore("db", sums, maxima)
    buffer.add("db", lib.API_CALLS, 3, "write_stock")
    assert sorted(buffer.drain()["db"][0])[0] == (lib.API_CALLS, 3, "write_stock", 4)


def test_counter_buffer_counts_every_thread():
    buffer = lib.CounterBuffer()

    def work():
        for _i in range(1000):
            buffer.add("db", lib.INTAKE_RESPONSES, 1, "200")

    threads = [threading.Thread(target=work) for _t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert buffer.drain()["db"][0] == [(lib.INTAKE_RESPONSES, 1, "200", 8000)]


def test_a_forked_child_does_not_count_its_parents_pending_counts():
    buffer = lib.CounterBuffer()
    buffer.add("db", lib.INTAKE_RESPONSES, 1, "200", 5)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a prefork worker
        os.write(write, str(buffer.pending()).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 10) == b"0"
    assert buffer.pending() == 1


def _snapshot():
    return lib.Snapshot(
        backends={1: "Shop A", 2: "Shop B"},
        events=[(1, "done", 7), (1, "queued", 2), (2, "failed", 1)],
        oldest_queued_age={1: 42.5},
        import_latency_counts={1: {0: 3, 1: 2, 4: 1}},
        import_latency_sums={1: 3 * 0.5 + 2 * 1.5 + 15.0},
        push_lag_counts={2: {2: 4}},
        push_lag_sums={2: 6.0},
        push_lag_quantiles={2: {0.5: 1.4, 0.95: 1.9, 1: 2.0}},
        window_seconds=60,
        jobs=[("root.marketplace.inbound", "pending", 5), ("root", "started", 1)],
        counters=[
            (lib.INTAKE_RESPONSES, 1, "200", 9.0),
            (lib.INTAKE_RESPONSES, 0, "404", 1.0),
            (lib.API_CALLS, 2, "write_stock", 4.0),
            (lib.API_THROTTLED, 2, "write_stock", 1.0),
            (lib.LAST_SUCCESS, 2, "push", 1700000000.0),
            (lib.LAST_FAILURE, 1, "intake", 1700000001.0),
        ],
        budgets_throttled=[(2, "graphql", 3)],
        reconciliation={
            2: {"checked": 10, "in_sync": 8, "corrected": 1, "escalated": 1}
        },
        stock_levels=[(2, "escalated", 1)],
        oversold_open={1: 2},
        push_pending_age={2: 12.0},
        last_poll={1: 1700000100.0},
        last_reconciliation={2: 1700000200.0},
    )


def _scrape(encoder=generate_latest):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(lib.SnapshotCollector(_snapshot()))
    return encoder(registry).decode()


def _samples(text, parse=text_string_to_metric_families):
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in parse(text)
        for sample in family.samples
    }


def test_exposition_parses_back_with_the_figures_of_the_snapshot():
    samples = _samples(_scrape())

    def value(name, **labels):
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("marketplace_inbox_events", backend="Shop A", state="done") == 7
    assert value("marketplace_inbox_events", backend="Shop B", state="queued") == 0
    assert value("marketplace_inbox_events", backend="Shop B", state="failed") == 1
    assert (
        value("marketplace_inbox_oldest_queued_age_seconds", backend="Shop A") == 42.5
    )
    assert value("marketplace_inbox_oldest_queued_age_seconds", backend="Shop B") == 0
    bucket = "marketplace_import_latency_seconds_bucket"
    assert value(bucket, backend="Shop A", le="1.0") == 3
    assert value(bucket, backend="Shop A", le="2.0") == 5
    assert value(bucket, backend="Shop A", le="10.0") == 5
    assert value(bucket, backend="Shop A", le="30.0") == 6
    assert value(bucket, backend="Shop A", le="+Inf") == 6
    assert value(bucket, backend="Shop B", le="+Inf") == 0
    assert value("marketplace_import_latency_seconds_gsum", backend="Shop A") == 19.5
    lag = "marketplace_stock_push_lag_seconds_bucket"
    assert value(lag, backend="Shop B", le="1.0") == 0
    assert value(lag, backend="Shop B", le="2.0") == 4
    exact = "marketplace_stock_push_lag_quantile_seconds"
    assert value(exact, backend="Shop B", quantile="0.95") == 1.9
    assert value(exact, backend="Shop B", quantile="1") == 2.0
    assert (exact, (("backend", "Shop A"), ("quantile", "0.5"))) not in samples
    assert value("marketplace_histogram_window_seconds") == 60
    assert (
        value("marketplace_jobs", channel="root.marketplace.inbound", state="pending")
        == 5
    )
    assert value("marketplace_jobs", channel="root", state="started") == 1
    assert (
        value("marketplace_intake_responses_total", backend="Shop A", status="200") == 9
    )
    assert value("marketplace_intake_responses_total", backend="", status="404") == 1
    assert (
        value("marketplace_api_calls_total", backend="Shop B", operation="write_stock")
        == 4
    )
    assert (
        value(
            "marketplace_api_throttled_total", backend="Shop B", operation="write_stock"
        )
        == 1
    )
    assert (
        value(
            "marketplace_rate_budget_throttled_total",
            backend="Shop B",
            family="graphql",
        )
        == 3
    )
    assert (
        value("marketplace_reconciliation_levels", backend="Shop B", result="escalated")
        == 1
    )
    assert value("marketplace_stock_levels", backend="Shop B", state="escalated") == 1
    assert value("marketplace_oversold_orders_open", backend="Shop A") == 2
    assert value("marketplace_oversold_orders_open", backend="Shop B") == 0
    assert (
        value("marketplace_stock_push_oldest_pending_age_seconds", backend="Shop B")
        == 12
    )
    last = "marketplace_last_success_timestamp_seconds"
    assert value(last, backend="Shop A", kind="poll") == 1700000100
    assert value(last, backend="Shop B", kind="push") == 1700000000
    assert value(last, backend="Shop B", kind="reconciliation") == 1700000200
    assert (
        value(
            "marketplace_last_failure_timestamp_seconds",
            backend="Shop A",
            kind="intake",
        )
        == 1700000001
    )


def test_openmetrics_exposition_types_the_windowed_histograms_as_gauges():
    text = _scrape(generate_openmetrics)
    families = {family.name: family for family in parse_openmetrics(text)}
    assert families["marketplace_import_latency_seconds"].type == "gaugehistogram"
    assert families["marketplace_intake_responses"].type == "counter"
    assert families["marketplace_inbox_events"].type == "gauge"
    assert text.endswith("# EOF\n")


def test_no_label_carries_an_unbounded_value():
    allowed = {"backend", "state", "channel", "status", "operation", "family"}
    allowed |= {"result", "kind", "le", "quantile"}
    for family in text_string_to_metric_families(_scrape()):
        for sample in family.samples:
            assert set(sample.labels) <= allowed, sample


def test_alerts_follow_their_thresholds():
    thresholds = lib.Thresholds(
        queue_lag_minutes=15,
        failed_events=3,
        poll_failing_minutes=30,
        push_failing_minutes=10,
        escalations=1,
    )
    healthy = lib.Health(poll_failing_seconds=0)
    assert not any(lib.evaluate(healthy, thresholds).values())
    sick = lib.Health(
        queue_lag_seconds=15 * 60,
        failed_events=3,
        poll_failing_seconds=30 * 60,
        push_pending_seconds=10 * 60,
        escalations=1,
    )
    assert all(lib.evaluate(sick, thresholds).values())
    almost = lib.Health(
        queue_lag_seconds=15 * 60 - 1,
        failed_events=2,
        poll_failing_seconds=30 * 60 - 1,
        push_pending_seconds=10 * 60 - 1,
        escalations=0,
    )
    assert not any(lib.evaluate(almost, thresholds).values())
    # 0 switches a check off
    off = lib.Thresholds(0, 0, 0, 0, 0)
    assert not any(lib.evaluate(sick, off).values())
    assert set(lib.evaluate(sick, thresholds)) == set(lib.ALERTS)
