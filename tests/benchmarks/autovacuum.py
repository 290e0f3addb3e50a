"""PostgreSQL's autovacuum for the length of a benchmark run.

A production server runs autovacuum (PostgreSQL's default). During a sale
it is what keeps the job queue and the stock-change queue usable: every job
is updated three or four times (pending, enqueued, started, done), every
stock change inserts a row that a push deletes, and each update leaves a
dead row version and dead index entries behind. Without it the planner's
statistics also stay those of the empty tables the sale started with.

Measured on a server configured with ``autovacuum = off`` (a CI machine's
``conf.d``), 2,000 orders: after four minutes, 14,450 dead rows for 376 live
ones in ``marketplace_stock_dirty``, and queue_job's runner's dead-job query
(run on every loop of the runner) visiting 2,476 index entries and 283 heap
pages to find the 4 jobs running. A run on such a server measures a
database nobody runs in production; the benchmark turns autovacuum on for
the run (``ALTER SYSTEM``, a reload, no restart) and puts back what was
there afterwards.
"""

import contextlib

import psycopg2


def _execute(connect, *statements):
    with contextlib.closing(connect()) as conn:
        conn.autocommit = True  # ALTER SYSTEM cannot run in a transaction
        with conn.cursor() as cr:
            result = None
            for statement in statements:
                cr.execute(statement)
                result = cr.fetchall() if cr.description else None
            return result


@contextlib.contextmanager
def autovacuum_on(connect, enable=True):
    """Autovacuum on for the ``with`` block, when ``enable`` and the server
    has it off; yields what the report says of it. ``connect()`` returns a
    new psycopg2 connection (a superuser's, to change the setting)."""
    setting, sourcefile = _execute(
        connect,
        "SELECT setting, sourcefile FROM pg_settings WHERE name = 'autovacuum'",
    )[0]
    if setting == "on":
        yield "on"
        return
    if not enable:
        yield "off on this server (left off: --keep-autovacuum)"
        return
    try:
        _execute(connect, "ALTER SYSTEM SET autovacuum = on", "SELECT pg_reload_conf()")
    except psycopg2.Error as err:
        yield f"off on this server (could not turn it on: {str(err).strip()})"
        return
    # what ALTER SYSTEM had set before is set again; otherwise the
    # configuration files' value comes back
    restore = (
        "ALTER SYSTEM SET autovacuum = off"
        if (sourcefile or "").endswith("postgresql.auto.conf")
        else "ALTER SYSTEM RESET autovacuum"
    )
    try:
        yield "on for this run (off on this server, put back after the run)"
    finally:
        with contextlib.suppress(psycopg2.Error):
            _execute(connect, restore, "SELECT pg_reload_conf()")
