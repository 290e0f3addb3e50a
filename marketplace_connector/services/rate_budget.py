# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Spend a backend's API budget from any worker (see
``models/marketplace_rate_budget.py``). A job that would overspend learns how
long to wait and re-queues itself for that long, without spending a retry."""

from contextlib import closing

from odoo import sql_db

_REFILLED = (
    "LEAST(maximum, available + "
    "EXTRACT(EPOCH FROM ((clock_timestamp() at time zone 'UTC') - updated_at))"
    " * restore_rate)"
)


class RateBudget:
    def __init__(self, env, backend_id, maximum, restore_rate):
        self.dbname = env.cr.dbname
        self.backend_id = backend_id
        self.maximum = maximum
        self.restore_rate = restore_rate

    def _run(self, query, params):
        with closing(sql_db.db_connect(self.dbname).cursor()) as cr:
            cr.execute(
                "INSERT INTO marketplace_rate_budget "
                "(backend_id, available, maximum, restore_rate, updated_at) "
                "VALUES (%s, %s, %s, %s, clock_timestamp() at time zone 'UTC') "
                "ON CONFLICT (backend_id) DO NOTHING",
                (self.backend_id, self.maximum, self.maximum, self.restore_rate),
            )
            cr.execute(query, params)
            row = cr.fetchone()
            # a connection of its own: the reservation must be visible to the
            # other workers now, whatever becomes of the job's transaction
            cr.commit()  # pylint: disable=invalid-commit
            return row

    def reserve(self, cost):
        """Take ``cost`` points; return 0, or the seconds to wait first."""
        row = self._run(
            f"""
            WITH current AS (
                SELECT {_REFILLED} AS refilled, restore_rate
                  FROM marketplace_rate_budget WHERE backend_id = %(b)s FOR UPDATE
            )
            UPDATE marketplace_rate_budget budget
               SET available = CASE WHEN current.refilled >= %(cost)s
                                    THEN current.refilled - %(cost)s
                                    ELSE current.refilled END,
                   updated_at = clock_timestamp() at time zone 'UTC'
              FROM current
             WHERE budget.backend_id = %(b)s
            RETURNING current.refilled >= %(cost)s, current.refilled,
                      current.restore_rate
            """,  # pylint: disable=sql-injection
            {"b": self.backend_id, "cost": cost},
        )
        granted, refilled, restore_rate = row
        if granted:
            return 0.0
        return (cost - refilled) / (restore_rate or self.restore_rate)

    def observe(self, available, maximum, restore_rate, throttled=False):
        """Align the bucket with what the channel just reported."""
        self._run(
            """
            UPDATE marketplace_rate_budget
               SET available = %s, maximum = %s, restore_rate = %s,
                   updated_at = clock_timestamp() at time zone 'UTC',
                   throttled_count = COALESCE(throttled_count, 0) + %s
             WHERE backend_id = %s
            RETURNING available
            """,
            (available, maximum, restore_rate, 1 if throttled else 0, self.backend_id),
        )
