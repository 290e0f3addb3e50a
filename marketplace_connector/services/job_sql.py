# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Store a queue job with one INSERT.

``with_delay()`` stores a job through the ORM: a lookup for an existing
record, then ``create`` with its mail and access machinery -- the largest
share of a webhook's time once Odoo's dispatch is skipped. The row itself is
simple: this builds queue_job's own :class:`Job` (so its configuration,
channel, serialisation and defaults are queue_job's, not ours), asks it for
the values it would store, converts each through the field that stores it,
and inserts them. queue_job's trigger on the table notifies the runner as
for any other job.
"""

import logging
from contextlib import closing

import psycopg2

from odoo import sql_db

from odoo.addons.queue_job.job import Job

from ..fast_intake import read_committed

_logger = logging.getLogger(__name__)

#: jobs a batch has claimed the events of wait this long before the runner
#: may send them; the batch sets them done (or back to now) when it ends
HOLD_SECONDS = 30


def insert_job(env, job):
    """Insert ``job`` (a not yet stored :class:`Job`) and return its uuid."""
    model = env["queue.job"].sudo()
    values = job._store_values(create=True)
    columns, params = [], []
    for name, value in values.items():
        field = model._fields[name]
        if not field.store or not field.column_type:
            continue
        columns.append(f'"{name}"')
        params.append(field.convert_to_column_insert(value, model, values))
    placeholders = ", ".join(["%s"] * len(params))
    # column names come from queue.job's own fields, not from input
    env.cr.execute(
        f"INSERT INTO queue_job ({', '.join(columns)}) VALUES ({placeholders})",  # pylint: disable=sql-injection
        params,
    )
    return job.uuid


def delay_now(method, job_uuid=None, **properties):
    """What ``record.with_delay(**properties).method()`` does, in one INSERT.

    :param method: a bound model method, e.g. ``event._job_process``.
    """
    job = Job(method, job_uuid=job_uuid, **properties)
    return insert_job(method.__self__.env, job)


def update_pending_jobs(dbname, uuids, assignments, params=()):
    """``UPDATE queue_job SET <assignments>`` for the jobs of ``uuids``
    still pending, in a transaction of its own, committed at once (READ
    COMMITTED: a job the runner has just sent is skipped, not a reason to
    fail to serialise and update none). The runner hears of it through
    queue_job's trigger. Best effort: a failure is logged, and the jobs run
    as they would have.

    :param assignments: SQL of the SET clause, from code (never input)
    """
    if not uuids:
        return
    try:
        cursor = sql_db.db_connect(dbname).cursor()
        with closing(read_committed(cursor)) as cr:
            cr.execute("SET LOCAL lock_timeout = '2s'")
            cr.execute(
                f"UPDATE queue_job SET {assignments} "  # pylint: disable=sql-injection
                "WHERE uuid = ANY(%s) AND state = 'pending'",
                (*params, list(uuids)),
            )
            cr.commit()  # pylint: disable=invalid-commit
    except psycopg2.Error as err:
        _logger.info("Jobs %s left as they were: %s", ", ".join(uuids), err)


def hold_jobs(dbname, uuids, seconds=HOLD_SECONDS):
    """Keep the runner from sending these jobs for ``seconds``: another job
    is doing their work. Sent meanwhile, each would find its event locked
    and come back a second later, again and again while that job runs."""
    update_pending_jobs(
        dbname,
        uuids,
        "eta = (now() at time zone 'UTC') + make_interval(secs => %s)",
        (seconds,),
    )


def release_jobs(dbname, uuids):
    """Jobs held by :func:`hold_jobs` may run now."""
    update_pending_jobs(dbname, uuids, "eta = NULL")


def finish_jobs(dbname, uuids, result):
    """Set done jobs whose work another job did (and committed)."""
    update_pending_jobs(
        dbname,
        uuids,
        "state = 'done', result = %s, date_done = now() at time zone 'UTC'",
        (result,),
    )
