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

from odoo.addons.queue_job.job import Job


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
