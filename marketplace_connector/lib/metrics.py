"""Prometheus metrics and health alerts, as plain Python (no database).

The figures come from the database at scrape time (``services/metrics.py``
reads them as one :class:`Snapshot`); this module turns a snapshot into
Prometheus metric families, does the bucket arithmetic of the histograms,
decides who may scrape, keeps the per-process counters until they are
written to the database, and evaluates the alert thresholds.

Why the database and not each process's memory: Odoo's prefork workers, its
cron worker and a jobs server are separate processes, possibly on separate
machines. Anything read from PostgreSQL at scrape time is the same whichever
worker answers the scrape, with no multiprocess directory to share, wipe or
lose. Only what no table records (answers of the intake, calls to a
channel's API) is counted in memory, per process, and added to one small
table every few seconds by a background thread (:class:`CounterBuffer`).
"""

import dataclasses
import hmac
import ipaddress
import os
import threading

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
)

PREFIX = "marketplace"

#: import latency (webhook received -> order imported), seconds; the
#: event's ``processed_at`` has whole seconds, so no bucket below 1 s
IMPORT_LATENCY_BUCKETS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
#: stock push lag (stock changed in Odoo -> written on the channel),
#: seconds; 5 s steps up to 30 s, where a sale's pushes lie and where an
#: alert on a quantile must not read 10 s as 25
PUSH_LAG_BUCKETS = (
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
    15.0,
    20.0,
    25.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
)
#: the histograms count what completed in the last this many seconds
DEFAULT_WINDOW_SECONDS = 300
MAX_WINDOW_SECONDS = 86400

EVENT_STATES = ("received", "queued", "done", "ignored", "failed", "dead")
JOB_STATES = ("wait_dependencies", "pending", "enqueued", "started", "failed")
SUCCESS_KINDS = ("intake", "poll", "push", "reconciliation")

# Counter names in the counter table (``marketplace_metric_counter.name``)
INTAKE_RESPONSES = "intake_responses"
API_CALLS = "api_calls"
API_THROTTLED = "api_throttled"
API_ERRORS = "api_errors"
LAST_SUCCESS = "last_success"
LAST_FAILURE = "last_failure"


# Histograms


def cumulative_buckets(counts, bounds):
    """Prometheus buckets from per-bucket counts.

    :param counts: ``{index: count}`` as PostgreSQL's ``width_bucket(value,
        bounds)`` numbers them: 0 below the first bound, ``i`` from
        ``bounds[i-1]`` (included) to ``bounds[i]``, ``len(bounds)`` from the
        last bound up. A value equal to a bound so lands one bucket up
        (``le`` means less than or equal): a latency of exactly 2.000000 s
        counts as above 2 s, which no measurement resolves anyway.
    :param bounds: the upper bounds, increasing.
    :return: ``[(le, cumulative count), ...]``, ``+Inf`` last (strings, as
        Prometheus labels them).
    """
    buckets = []
    total = 0
    for index, bound in enumerate(bounds):
        total += counts.get(index, 0)
        buckets.append((_le(bound), total))
    total += sum(count for index, count in counts.items() if index >= len(bounds))
    buckets.append(("+Inf", total))
    return buckets


def _le(bound):
    return repr(float(bound))


def bucket_quantile(quantile, buckets):
    """The quantile of a cumulative histogram, interpolated linearly within
    its bucket as Prometheus's ``histogram_quantile`` does; ``None`` when it
    is empty. ``buckets``: ``[(le, cumulative)]`` as
    :func:`cumulative_buckets` returns them."""
    if not buckets or not buckets[-1][1]:
        return None
    total = buckets[-1][1]
    rank = quantile * total
    lower_bound, lower_count = 0.0, 0
    for le, count in buckets:
        if count >= rank:
            if le == "+Inf":
                return lower_bound
            upper = float(le)
            if count == lower_count:
                return upper
            return lower_bound + (upper - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = (0.0 if le == "+Inf" else float(le)), count
    return lower_bound


def parse_window(value, default=DEFAULT_WINDOW_SECONDS):
    """The histogram window asked for (``?window=60``), within bounds."""
    try:
        seconds = int(float(value))
    except (TypeError, ValueError):
        return default
    return max(1, min(seconds, MAX_WINDOW_SECONDS))


# Access


def parse_trusted(value):
    """Networks from a comma-separated list of addresses or CIDRs; the
    entries that are neither are left out."""
    networks = []
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            continue
    return networks


def access_allowed(authorization, remote_addr, token, trusted):
    """Whether a scrape may read the metrics: a bearer token equal to the
    configured one (compared in constant time), or a client address in the
    trusted networks. Nothing configured: nobody.

    :param authorization: the ``Authorization`` header, or None.
    :param trusted: networks from :func:`parse_trusted`.
    """
    if token and authorization:
        scheme, _sep, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return True
    if trusted and remote_addr:
        try:
            address = ipaddress.ip_address(remote_addr)
        except ValueError:
            return False
        return any(address in network for network in trusted)
    return False


# Per-process counters


class CounterBuffer:
    """Counts kept in memory until a background thread adds them to the
    counter table. Thread-safe; a forked child starts empty (a prefork
    worker does not count again what its parent had not written yet).

    ``add`` sums; ``maximum`` keeps the greatest value (a timestamp)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._sums = {}
        self._maxima = {}
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forget)

    def _forget(self):
        self._lock = threading.Lock()
        self._sums = {}
        self._maxima = {}

    def add(self, dbname, name, backend_id=0, label="", amount=1):
        if not dbname or not amount:
            return
        key = (dbname, name, int(backend_id or 0), str(label or ""))
        with self._lock:
            self._sums[key] = self._sums.get(key, 0) + amount

    def maximum(self, dbname, name, backend_id=0, label="", value=0.0):
        if not dbname:
            return
        key = (dbname, name, int(backend_id or 0), str(label or ""))
        with self._lock:
            if value > self._maxima.get(key, float("-inf")):
                self._maxima[key] = value

    def drain(self):
        """``{dbname: (sums, maxima)}``, each ``[(name, backend_id, label,
        value)]``; the buffer is empty afterwards."""
        with self._lock:
            sums, maxima = self._sums, self._maxima
            self._sums, self._maxima = {}, {}
        drained = {}
        for target, source in ((0, sums), (1, maxima)):
            for (dbname, *key), value in source.items():
                drained.setdefault(dbname, ([], []))[target].append((*key, value))
        return drained

    def restore(self, dbname, sums, maxima):
        """Put back what could not be written (the next flush tries again)."""
        for name, backend_id, label, value in sums:
            self.add(dbname, name, backend_id, label, value)
        for name, backend_id, label, value in maxima:
            self.maximum(dbname, name, backend_id, label, value)

    def pending(self):
        with self._lock:
            return len(self._sums) + len(self._maxima)


# Snapshot -> metric families


@dataclasses.dataclass
class Snapshot:
    """Every figure of one scrape, read from the database.

    Rows name backends by id; ``backends`` maps ids to names (the label).
    Times are seconds (ages, latencies) or Unix timestamps.
    """

    backends: dict = dataclasses.field(default_factory=dict)
    #: [(backend_id, state, count)]
    events: list = dataclasses.field(default_factory=list)
    #: {backend_id: seconds}
    oldest_queued_age: dict = dataclasses.field(default_factory=dict)
    #: {backend_id: {width_bucket index: count}}, {backend_id: sum seconds}
    import_latency_counts: dict = dataclasses.field(default_factory=dict)
    import_latency_sums: dict = dataclasses.field(default_factory=dict)
    push_lag_counts: dict = dataclasses.field(default_factory=dict)
    push_lag_sums: dict = dataclasses.field(default_factory=dict)
    #: {backend_id: {quantile: seconds}} of the window's pushes, exact
    push_lag_quantiles: dict = dataclasses.field(default_factory=dict)
    window_seconds: int = DEFAULT_WINDOW_SECONDS
    #: [(channel, state, count)]
    jobs: list = dataclasses.field(default_factory=list)
    #: [(name, backend_id, label, value)] from the counter table
    counters: list = dataclasses.field(default_factory=list)
    #: [(backend_id, family, throttled_count)]
    budgets_throttled: list = dataclasses.field(default_factory=list)
    #: {backend_id: {checked, in_sync, corrected, escalated, missing}}
    reconciliation: dict = dataclasses.field(default_factory=dict)
    #: [(backend_id, state, count)]
    stock_levels: list = dataclasses.field(default_factory=list)
    #: {backend_id: count}
    oversold_open: dict = dataclasses.field(default_factory=dict)
    #: {backend_id: seconds} oldest stock change due and not pushed
    push_pending_age: dict = dataclasses.field(default_factory=dict)
    #: {backend_id: unix time} of the last successful poll from its record
    last_poll: dict = dataclasses.field(default_factory=dict)
    #: {backend_id: unix time} of the last reconciliation run recorded
    last_reconciliation: dict = dataclasses.field(default_factory=dict)
    scrape_seconds: float = 0.0


def _name(suffix):
    return f"{PREFIX}_{suffix}"


def build_families(snapshot):
    """The metric families of a scrape, ready for ``prometheus_client``'s
    exposition. No label carries an unbounded value: backends (a handful,
    configured), states, channels, operations and status codes only."""
    snap = snapshot
    names = snap.backends

    def backend(backend_id):
        return names.get(backend_id) or f"backend-{backend_id}" if backend_id else ""

    families = []

    events = GaugeMetricFamily(
        _name("inbox_events"),
        "Events in the inbox, by backend and state.",
        labels=["backend", "state"],
    )
    seen = {(b, s): c for b, s, c in snap.events}
    for backend_id in sorted(names):
        for state in EVENT_STATES:
            events.add_metric(
                [backend(backend_id), state], seen.get((backend_id, state), 0)
            )
    families.append(events)

    oldest = GaugeMetricFamily(
        _name("inbox_oldest_queued_age_seconds"),
        "Age of the oldest queued event (0: none queued): how far imports lag behind.",
        labels=["backend"],
    )
    for backend_id in sorted(names):
        oldest.add_metric(
            [backend(backend_id)], snap.oldest_queued_age.get(backend_id, 0.0)
        )
    families.append(oldest)

    families.append(
        _gauge_histogram(
            "import_latency_seconds",
            f"Events imported (state done) in the last {snap.window_seconds} s, "
            f"by time from receipt to import.",
            snap.import_latency_counts,
            snap.import_latency_sums,
            IMPORT_LATENCY_BUCKETS,
            sorted(names),
            backend,
        )
    )
    families.append(
        _gauge_histogram(
            "stock_push_lag_seconds",
            f"Products written on the channel in the last {snap.window_seconds} s, "
            f"by time from the stock change in Odoo to the write.",
            snap.push_lag_counts,
            snap.push_lag_sums,
            PUSH_LAG_BUCKETS,
            sorted(names),
            backend,
        )
    )
    quantiles = GaugeMetricFamily(
        _name("stock_push_lag_quantile_seconds"),
        f"Push lag of the products written in the last {snap.window_seconds} s, "
        f"exact quantiles (1: the slowest); the histogram's buckets are for "
        f"aggregating, these for reading one backend.",
        labels=["backend", "quantile"],
    )
    for backend_id in sorted(snap.push_lag_quantiles):
        for quantile, seconds in sorted(snap.push_lag_quantiles[backend_id].items()):
            quantiles.add_metric([backend(backend_id), str(quantile)], seconds)
    families.append(quantiles)
    window = GaugeMetricFamily(
        _name("histogram_window_seconds"),
        "The window of the gauge histograms of this scrape.",
    )
    window.add_metric([], snap.window_seconds)
    families.append(window)

    jobs = GaugeMetricFamily(
        _name("jobs"),
        "Queue jobs by channel and state (pending and enqueued: the queue "
        "depth; started: running).",
        labels=["channel", "state"],
    )
    job_counts = {(c, s): n for c, s, n in snap.jobs}
    for channel in sorted({c for c, _s, _n in snap.jobs} | {"root"}):
        for state in JOB_STATES:
            jobs.add_metric([channel, state], job_counts.get((channel, state), 0))
    families.append(jobs)

    counters = {}
    for name, backend_id, label, value in snap.counters:
        counters.setdefault(name, []).append((backend_id, label, value))

    intake = CounterMetricFamily(
        _name("intake_responses"),
        "Answers of the webhook intake by status code (backend empty when "
        "the URL matched no backend).",
        labels=["backend", "status"],
    )
    for backend_id, label, value in sorted(counters.get(INTAKE_RESPONSES, [])):
        intake.add_metric([backend(backend_id), label], value)
    families.append(intake)

    for name, documentation in (
        (API_CALLS, "Calls to the channel's API by backend and operation."),
        (API_THROTTLED, "Calls the channel throttled (HTTP 429 or THROTTLED)."),
        (API_ERRORS, "Calls that failed for another reason than throttling."),
    ):
        family = CounterMetricFamily(
            _name(name),
            documentation,
            labels=["backend", "operation"],
        )
        for backend_id, label, value in sorted(counters.get(name, [])):
            family.add_metric([backend(backend_id), label], value)
        families.append(family)

    budgets = CounterMetricFamily(
        _name("rate_budget_throttled"),
        "Calls throttled anyway although the shared rate budget allowed them, "
        "by backend and budget family.",
        labels=["backend", "family"],
    )
    for backend_id, family_name, value in sorted(snap.budgets_throttled):
        budgets.add_metric([backend(backend_id), family_name], value or 0)
    families.append(budgets)

    pending = GaugeMetricFamily(
        _name("stock_push_oldest_pending_age_seconds"),
        "Age of the oldest stock change due and not pushed yet (0: none).",
        labels=["backend"],
    )
    for backend_id in sorted(names):
        pending.add_metric(
            [backend(backend_id)], snap.push_pending_age.get(backend_id, 0.0)
        )
    families.append(pending)

    levels = GaugeMetricFamily(
        _name("stock_levels"),
        "Channel stock levels by state (drift: corrected, escalated: left "
        "for a person).",
        labels=["backend", "state"],
    )
    for backend_id, state, count in sorted(snap.stock_levels):
        levels.add_metric([backend(backend_id), state], count)
    families.append(levels)

    reconciliation = GaugeMetricFamily(
        _name("reconciliation_levels"),
        "What the last stock reconciliation found, by result.",
        labels=["backend", "result"],
    )
    for backend_id, figures in sorted(snap.reconciliation.items()):
        for result in ("checked", "in_sync", "corrected", "escalated", "missing"):
            reconciliation.add_metric(
                [backend(backend_id), result], figures.get(result, 0)
            )
    families.append(reconciliation)

    oversold = GaugeMetricFamily(
        _name("oversold_orders_open"),
        "Marketplace orders flagged oversold and not cancelled.",
        labels=["backend"],
    )
    for backend_id in sorted(names):
        oversold.add_metric(
            [backend(backend_id)], snap.oversold_open.get(backend_id, 0)
        )
    families.append(oversold)

    last = GaugeMetricFamily(
        _name("last_success_timestamp_seconds"),
        "Unix time of the last accepted webhook (intake), successful poll, "
        "push and reconciliation (absent: never).",
        labels=["backend", "kind"],
    )
    successes = {}
    for backend_id, label, value in counters.get(LAST_SUCCESS, []):
        successes[(backend_id, label)] = value
    for backend_id, value in snap.last_poll.items():
        key = (backend_id, "poll")
        successes[key] = max(successes.get(key, 0), value)
    for backend_id, value in snap.last_reconciliation.items():
        key = (backend_id, "reconciliation")
        successes[key] = max(successes.get(key, 0), value)
    for (backend_id, kind), value in sorted(successes.items()):
        if backend_id in names and kind in SUCCESS_KINDS:
            last.add_metric([backend(backend_id), kind], value)
    families.append(last)

    failures = GaugeMetricFamily(
        _name("last_failure_timestamp_seconds"),
        "Unix time of the last webhook the intake could not store (503).",
        labels=["backend", "kind"],
    )
    for backend_id, label, value in sorted(counters.get(LAST_FAILURE, [])):
        if backend_id in names:
            failures.add_metric([backend(backend_id), label], value)
    families.append(failures)

    scrape = GaugeMetricFamily(
        _name("metrics_scrape_seconds"),
        "Time this scrape spent reading the database.",
    )
    scrape.add_metric([], snap.scrape_seconds)
    families.append(scrape)
    return families


def _gauge_histogram(suffix, documentation, counts, sums, bounds, backend_ids, label):
    family = GaugeHistogramMetricFamily(
        _name(suffix), documentation, labels=["backend"]
    )
    for backend_id in backend_ids:
        buckets = cumulative_buckets(counts.get(backend_id, {}), bounds)
        family.add_metric(
            [label(backend_id)], buckets, gsum_value=sums.get(backend_id, 0.0)
        )
    return family


class SnapshotCollector:
    """A ``prometheus_client`` collector serving one snapshot."""

    def __init__(self, snapshot):
        self.snapshot = snapshot

    def collect(self):
        return build_families(self.snapshot)


# Alerts


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """A backend's alert thresholds; 0 switches a check off."""

    queue_lag_minutes: int = 15
    failed_events: int = 1
    poll_failing_minutes: int = 30
    push_failing_minutes: int = 15
    escalations: int = 1


@dataclasses.dataclass(frozen=True)
class Health:
    """What the checks look at, for one backend.

    :param queue_lag_seconds: age of its oldest queued event (0: none).
    :param poll_failing_seconds: time since its polling last succeeded,
        when its last poll failed (0: the last one succeeded or none ran).
    :param push_pending_seconds: age of its oldest stock change due and not
        pushed yet (pushes that fail leave their changes queued).
    :param escalations: levels the last reconciliation escalated.
    """

    queue_lag_seconds: float = 0.0
    failed_events: int = 0
    poll_failing_seconds: float = 0.0
    push_pending_seconds: float = 0.0
    escalations: int = 0


ALERT_QUEUE_LAG = "queue_lag"
ALERT_FAILED_EVENTS = "failed_events"
ALERT_POLL_FAILING = "poll_failing"
ALERT_PUSH_FAILING = "push_failing"
ALERT_ESCALATIONS = "escalations"
ALERTS = (
    ALERT_QUEUE_LAG,
    ALERT_FAILED_EVENTS,
    ALERT_POLL_FAILING,
    ALERT_PUSH_FAILING,
    ALERT_ESCALATIONS,
)


def evaluate(health, thresholds):
    """``{alert: True/False}`` for every alert: which conditions hold now.

    A condition that no longer holds is ``False``: its activity is closed.
    """
    t = thresholds
    return {
        ALERT_QUEUE_LAG: bool(t.queue_lag_minutes)
        and health.queue_lag_seconds >= t.queue_lag_minutes * 60,
        ALERT_FAILED_EVENTS: bool(t.failed_events)
        and health.failed_events >= t.failed_events,
        ALERT_POLL_FAILING: bool(t.poll_failing_minutes)
        and health.poll_failing_seconds >= t.poll_failing_minutes * 60,
        ALERT_PUSH_FAILING: bool(t.push_failing_minutes)
        and health.push_pending_seconds >= t.push_failing_minutes * 60,
        ALERT_ESCALATIONS: bool(t.escalations) and health.escalations >= t.escalations,
    }
