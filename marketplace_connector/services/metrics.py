# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Read the metrics from the database, and count what no table records.

A scrape is a handful of aggregate queries in one read-only snapshot
(:func:`read_snapshot`): the same answer whichever process serves it, no
multiprocess directory. The gauge histograms (import latency, push lag)
count what completed within a window, from stored timestamps, bucketed in
SQL (``width_bucket``): no row is loaded.

Counters that only a process sees -- the intake's answers, calls to a
channel's API, the time of the last successful push -- are added up in
memory (:data:`BUFFER`) and written to ``marketplace_metric_counter`` by a
daemon thread every :data:`FLUSH_SECONDS`, in one UPSERT per database, on a
connection of its own: never on the intake's path, never in a job's
transaction (a rolled-back job still made its calls). A process killed
outright loses at most the last few seconds of its counts; a scrape
writes its own process's counts first.
"""

import atexit
import functools
import inspect
import logging
import os
import threading
import time
from contextlib import closing

import odoo
from odoo import sql_db

from ..fast_intake import read_committed
from ..lib import adapter as adapter_lib
from ..lib import metrics as lib
from ..lib.errors import RateLimitedError

_logger = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
#: a scrape never waits longer than this for the database
STATEMENT_TIMEOUT_MS = 10000

BUFFER = lib.CounterBuffer()

_flusher_lock = threading.Lock()
_flusher_pid = None
_last_flush_warning = 0.0


# Counting


def count(dbname, name, backend_id=0, label="", amount=1):
    """Add to a counter of this process; a background thread writes it."""
    BUFFER.add(dbname, name, backend_id, label, amount)
    _ensure_flusher()


def mark(dbname, backend_id, kind, name=lib.LAST_SUCCESS):
    """Record that ``kind`` (push, intake...) succeeded (or failed, with
    ``name=LAST_FAILURE``) for a backend now."""
    BUFFER.maximum(dbname, name, backend_id, kind, time.time())
    _ensure_flusher()


def _ensure_flusher():
    global _flusher_pid  # one thread per process, started on first use
    pid = os.getpid()
    if _flusher_pid == pid:
        return
    with _flusher_lock:
        if _flusher_pid == pid:
            return
        thread = threading.Thread(
            target=_flush_forever, name="marketplace-metrics-flush", daemon=True
        )
        thread.start()
        _flusher_pid = pid


def _flush_forever():
    while True:
        time.sleep(FLUSH_SECONDS)
        flush_all()


def flush_all():
    """Write every database's pending counts (the thread, and at exit)."""
    global _last_flush_warning  # warn once a minute at most
    for dbname, (sums, maxima) in BUFFER.drain().items():
        if _testing(dbname):
            # a test's counts go into its own transaction, at its scrapes:
            # the test cursor is not for a thread of ours
            BUFFER.restore(dbname, sums, maxima)
            continue
        try:
            with closing(read_committed(sql_db.db_connect(dbname).cursor())) as cr:
                write_counters(cr, sums, maxima)
                cr.commit()  # pylint: disable=invalid-commit
        except Exception as err:
            # the database is away (a restart): keep the counts for later
            BUFFER.restore(dbname, sums, maxima)
            if time.monotonic() - _last_flush_warning > 60:
                _last_flush_warning = time.monotonic()
                _logger.warning(
                    "Marketplace metrics not written to %s yet: %s", dbname, err
                )


atexit.register(flush_all)


def _testing(dbname):
    registry = odoo.modules.registry.Registry.registries.get(dbname)
    return registry is not None and registry.test_cr is not None


def flush_database(cr):
    """Write this process's pending counts of ``cr``'s database through
    ``cr`` (a scrape does it first, then reads them back)."""
    drained = BUFFER.drain()
    for dbname, (sums, maxima) in drained.items():
        if dbname != cr.dbname:
            BUFFER.restore(dbname, sums, maxima)
    sums, maxima = drained.get(cr.dbname, ([], []))
    try:
        write_counters(cr, sums, maxima)
    except Exception:
        BUFFER.restore(cr.dbname, sums, maxima)
        raise


def write_counters(cr, sums, maxima):
    """One UPSERT for the sums, one for the maxima. Rows go in key order: two
    processes flushing the same keys at once never deadlock."""
    for rows, update in (
        (sums, "marketplace_metric_counter.value + EXCLUDED.value"),
        (maxima, "GREATEST(marketplace_metric_counter.value, EXCLUDED.value)"),
    ):
        if not rows:
            continue
        rows = sorted(rows)
        # ``update`` is one of the two constant expressions above
        cr.execute(
            f"""
            INSERT INTO marketplace_metric_counter (name, backend_id, label, value)
            SELECT * FROM unnest(%s::varchar[], %s::int[], %s::varchar[],
                                 %s::float8[])
            ON CONFLICT (name, backend_id, label)
            DO UPDATE SET value = {update}
            """,  # pylint: disable=sql-injection
            [list(column) for column in zip(*rows, strict=True)],
        )


# The adapter's calls

#: adapter methods that call the channel, when the adapter implements them
API_OPERATIONS = (
    "test_connection",
    "iter_updated_orders",
    "prepare_event_payload",
    "receive_messages",
    "acknowledge",
    "write_stock",
    "read_stock",
    "iter_stock",
    "check_submission",
)
_BASES = (adapter_lib.MarketplaceAdapter, adapter_lib.StockAdapterMixin)


def instrument_adapter(adapter, dbname, backend_id):
    """Count the calls ``adapter`` makes to its channel, by operation: one
    per call of an operation the core asks for (a batch of writes is one
    call, a poll one whatever its pages; the adapter's own inline retries
    are not seen), throttled ones (``RateLimitedError``) and other errors
    apart. Methods the adapter inherits unchanged (no call) are left as
    they are."""
    cls = type(adapter)
    for operation in API_OPERATIONS:
        method = getattr(cls, operation, None)
        if method is None or any(
            getattr(base, operation, None) is method for base in _BASES
        ):
            continue
        bound = getattr(adapter, operation)
        wrapper = (
            _counted_generator if inspect.isgeneratorfunction(method) else _counted
        )
        setattr(adapter, operation, wrapper(bound, dbname, backend_id, operation))
    return adapter


def _count_error(dbname, backend_id, operation, err):
    name = lib.API_THROTTLED if isinstance(err, RateLimitedError) else lib.API_ERRORS
    count(dbname, name, backend_id, operation)


def _counted(method, dbname, backend_id, operation):
    @functools.wraps(method)
    def call(*args, **kwargs):
        count(dbname, lib.API_CALLS, backend_id, operation)
        try:
            return method(*args, **kwargs)
        except Exception as err:
            _count_error(dbname, backend_id, operation, err)
            raise

    return call


def _counted_generator(method, dbname, backend_id, operation):
    @functools.wraps(method)
    def call(*args, **kwargs):
        count(dbname, lib.API_CALLS, backend_id, operation)
        try:
            yield from method(*args, **kwargs)
        except Exception as err:
            _count_error(dbname, backend_id, operation, err)
            raise

    return call


# Reading


def read_snapshot(cr, window_seconds=lib.DEFAULT_WINDOW_SECONDS):
    """Every figure of a scrape, from one snapshot of the database."""
    started = time.perf_counter()
    snap = lib.Snapshot(window_seconds=window_seconds)
    params = {"window": window_seconds}
    cr.execute("SELECT id, name FROM marketplace_backend WHERE active")
    snap.backends = dict(cr.fetchall())
    cr.execute(
        "SELECT backend_id, state, count(*) FROM marketplace_event GROUP BY 1, 2"
    )
    snap.events = cr.fetchall()
    cr.execute(
        """
        SELECT backend_id,
               EXTRACT(EPOCH FROM (now() at time zone 'UTC') - min(received_at))
          FROM marketplace_event WHERE state = 'queued' GROUP BY 1
        """
    )
    snap.oldest_queued_age = {b: max(float(age), 0.0) for b, age in cr.fetchall()}
    snap.import_latency_counts, snap.import_latency_sums = _histogram(
        cr,
        """
        SELECT backend_id,
               GREATEST(EXTRACT(EPOCH FROM processed_at - received_at), 0)
          FROM marketplace_event
         WHERE processed_at >= (now() at time zone 'UTC')
                               - make_interval(secs => %(window)s)
           AND state = 'done'
        """,
        params,
        lib.IMPORT_LATENCY_BUCKETS,
    )
    snap.push_lag_counts, snap.push_lag_sums = _histogram(
        cr,
        """
        SELECT backend_id, lag_seconds FROM marketplace_stock_push_sample
         WHERE pushed_at >= (now() at time zone 'UTC')
                            - make_interval(secs => %(window)s)
        """,
        params,
        lib.PUSH_LAG_BUCKETS,
    )
    cr.execute(
        """
        SELECT backend_id,
               percentile_disc(0.5) WITHIN GROUP (ORDER BY lag_seconds),
               percentile_disc(0.95) WITHIN GROUP (ORDER BY lag_seconds),
               max(lag_seconds)
          FROM marketplace_stock_push_sample
         WHERE pushed_at >= (now() at time zone 'UTC')
                            - make_interval(secs => %(window)s)
         GROUP BY backend_id
        """,
        params,
    )
    snap.push_lag_quantiles = {
        backend_id: {0.5: float(p50), 0.95: float(p95), 1: float(top)}
        for backend_id, p50, p95, top in cr.fetchall()
    }
    cr.execute(
        "SELECT channel, state, count(*) FROM queue_job "
        "WHERE state IN %s GROUP BY 1, 2",
        (lib.JOB_STATES,),
    )
    snap.jobs = cr.fetchall()
    cr.execute("SELECT name, backend_id, label, value FROM marketplace_metric_counter")
    snap.counters = cr.fetchall()
    cr.execute(
        "SELECT backend_id, family, COALESCE(throttled_count, 0) "
        "FROM marketplace_rate_budget"
    )
    snap.budgets_throttled = cr.fetchall()
    cr.execute(
        """
        SELECT DISTINCT ON (backend_id) backend_id, checked, in_sync, corrected,
               escalated, missing_on_channel, EXTRACT(EPOCH FROM create_date)
          FROM marketplace_stock_reconciliation
         ORDER BY backend_id, id DESC
        """
    )
    for row in cr.fetchall():
        backend_id, *figures, created = row
        snap.reconciliation[backend_id] = dict(
            zip(
                ("checked", "in_sync", "corrected", "escalated", "missing"),
                (value or 0 for value in figures),
                strict=True,
            )
        )
        snap.last_reconciliation[backend_id] = float(created)
    # the states a person looks at, through the state index: a large
    # catalogue is mostly in sync, and counting those would read it all
    cr.execute(
        "SELECT backend_id, state, count(*) FROM marketplace_stock_level "
        "WHERE state IN ('pending', 'drift', 'escalated', 'error') GROUP BY 1, 2"
    )
    snap.stock_levels = cr.fetchall()
    cr.execute(
        "SELECT marketplace_backend_id, count(*) FROM sale_order "
        "WHERE marketplace_oversold AND state != 'cancel' GROUP BY 1"
    )
    snap.oversold_open = dict(cr.fetchall())
    cr.execute(
        """
        SELECT backend_id,
               EXTRACT(EPOCH FROM (now() at time zone 'UTC') - min(due_at))
          FROM marketplace_stock_dirty
         WHERE due_at <= now() at time zone 'UTC' GROUP BY 1
        """
    )
    snap.push_pending_age = {b: max(float(age), 0.0) for b, age in cr.fetchall()}
    cr.execute(
        "SELECT id, EXTRACT(EPOCH FROM last_poll_success_at) FROM marketplace_backend "
        "WHERE last_poll_success_at IS NOT NULL"
    )
    snap.last_poll = {b: float(at) for b, at in cr.fetchall()}
    snap.scrape_seconds = time.perf_counter() - started
    return snap


def _histogram(cr, values_query, params, bounds):
    """``({backend: {bucket index: count}}, {backend: sum})`` of the
    ``(backend_id, value)`` rows of ``values_query``, bucketed in SQL."""
    # ``values_query`` is one of the constant queries of read_snapshot
    cr.execute(
        f"""
        SELECT backend_id, width_bucket(value, %(bounds)s::float8[]), count(*),
               sum(value)
          FROM ({values_query}) AS measured(backend_id, value)
         GROUP BY 1, 2
        """,  # pylint: disable=sql-injection
        {**params, "bounds": list(bounds)},
    )
    counts, sums = {}, {}
    for backend_id, index, number, total in cr.fetchall():
        counts.setdefault(backend_id, {})[index] = number
        sums[backend_id] = sums.get(backend_id, 0.0) + float(total or 0.0)
    return counts, sums


def scrape_cursor(dbname):
    """The cursor a scrape reads with: the test transaction while tests run
    (so a test sees what it wrote), else a connection of its own."""
    if _testing(dbname):
        return odoo.modules.registry.Registry(dbname).cursor(), True
    return sql_db.db_connect(dbname).cursor(), False


def scrape(dbname, window_seconds=lib.DEFAULT_WINDOW_SECONDS):
    """Flush this process's counts, then read every figure: a
    :class:`~..lib.metrics.Snapshot`. Reads take no lock a writer waits
    for (MVCC), so a scrape never holds the intake back."""
    cr, testing = scrape_cursor(dbname)
    with closing(cr):
        if BUFFER.pending():
            flush_database(cr)
            cr.commit()  # pylint: disable=invalid-commit
        if not testing:
            cr.execute("SET LOCAL statement_timeout = %s", (str(STATEMENT_TIMEOUT_MS),))
        snapshot = read_snapshot(cr, window_seconds)
        cr.rollback()  # read only
    return snapshot


def read_health(cr, backend_ids):
    """The figures of the health checks and of the Overview cards, per
    backend: ``{backend_id: {...}}`` (a snapshot of the whole inbox is
    more than a card needs, so these queries keep to the given backends)."""
    ids = list(backend_ids)
    figures = {
        backend_id: {
            "queued": 0,
            "queue_lag": 0.0,
            "failed": 0,
            "push_pending": 0.0,
            "escalated": 0,
            "throttled": 0,
            "intake_errors": 0,
            "last_push": None,
            "last_intake_ok": None,
            "last_intake_error": None,
        }
        for backend_id in ids
    }
    if not ids:
        return figures
    cr.execute(
        """
        SELECT backend_id, state, count(*),
               EXTRACT(EPOCH FROM (now() at time zone 'UTC') - min(received_at))
          FROM marketplace_event
         WHERE backend_id = ANY(%s) AND state IN ('queued', 'failed', 'dead')
         GROUP BY 1, 2
        """,
        (ids,),
    )
    for backend_id, state, number, age in cr.fetchall():
        if state == "queued":
            figures[backend_id]["queued"] = number
            figures[backend_id]["queue_lag"] = max(float(age or 0.0), 0.0)
        else:
            figures[backend_id]["failed"] += number
    cr.execute(
        """
        SELECT backend_id,
               EXTRACT(EPOCH FROM (now() at time zone 'UTC') - min(due_at))
          FROM marketplace_stock_dirty
         WHERE backend_id = ANY(%s) AND due_at <= now() at time zone 'UTC'
         GROUP BY 1
        """,
        (ids,),
    )
    for backend_id, age in cr.fetchall():
        figures[backend_id]["push_pending"] = max(float(age or 0.0), 0.0)
    cr.execute(
        """
        SELECT DISTINCT ON (backend_id) backend_id, escalated
          FROM marketplace_stock_reconciliation
         WHERE backend_id = ANY(%s) ORDER BY backend_id, id DESC
        """,
        (ids,),
    )
    for backend_id, escalated in cr.fetchall():
        figures[backend_id]["escalated"] = escalated or 0
    cr.execute(
        "SELECT backend_id, sum(COALESCE(throttled_count, 0)) "
        "FROM marketplace_rate_budget WHERE backend_id = ANY(%s) GROUP BY 1",
        (ids,),
    )
    for backend_id, throttled in cr.fetchall():
        figures[backend_id]["throttled"] += int(throttled or 0)
    cr.execute(
        "SELECT name, backend_id, label, value FROM marketplace_metric_counter "
        "WHERE backend_id = ANY(%s)",
        (ids,),
    )
    for name, backend_id, label, value in cr.fetchall():
        figure = figures[backend_id]
        if name == lib.API_THROTTLED:
            figure["throttled"] += int(value)
        elif name == lib.INTAKE_RESPONSES and label.startswith("5"):
            figure["intake_errors"] += int(value)
        elif name == lib.LAST_SUCCESS and label == "push":
            figure["last_push"] = value
        elif name == lib.LAST_SUCCESS and label == "intake":
            figure["last_intake_ok"] = value
        elif name == lib.LAST_FAILURE and label == "intake":
            figure["last_intake_error"] = value
    return figures
