# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Spend a backend's API budgets from any worker (see
``models/marketplace_rate_budget.py``). A job that would overspend learns how
long to wait: it waits in place when that is short, else it re-queues itself
for that long, without spending a retry (:class:`RateGate`)."""

import time
from contextlib import closing

from odoo import sql_db

from ..fast_intake import read_committed
from ..lib.errors import RateLimitedError

DEFAULT_FAMILY = "default"

_REFILLED = (
    "LEAST(maximum, available + "
    "EXTRACT(EPOCH FROM ((clock_timestamp() at time zone 'UTC') - updated_at))"
    " * restore_rate)"
)


class RateBudget:
    """One bucket: ``family`` names the operations that spend it."""

    def __init__(self, env, backend_id, maximum, restore_rate, family=DEFAULT_FAMILY):
        self.dbname = env.cr.dbname
        self.backend_id = backend_id
        self.family = family
        self.maximum = maximum
        self.restore_rate = restore_rate

    def _run(self, query, params):
        # READ COMMITTED: every worker updates the same row; under Odoo's
        # REPEATABLE READ an update that waited for another's commit fails
        # to serialise, and the job calling the channel would be retried
        with closing(read_committed(sql_db.db_connect(self.dbname).cursor())) as cr:
            cr.execute(
                "INSERT INTO marketplace_rate_budget "
                "(backend_id, family, available, maximum, restore_rate, updated_at) "
                "VALUES (%s, %s, %s, %s, %s, clock_timestamp() at time zone 'UTC') "
                "ON CONFLICT (backend_id, family) DO NOTHING",
                (
                    self.backend_id,
                    self.family,
                    self.maximum,
                    self.maximum,
                    self.restore_rate,
                ),
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
                  FROM marketplace_rate_budget
                 WHERE backend_id = %(b)s AND family = %(f)s FOR UPDATE
            )
            UPDATE marketplace_rate_budget budget
               SET available = CASE WHEN current.refilled >= %(cost)s
                                    THEN current.refilled - %(cost)s
                                    ELSE current.refilled END,
                   updated_at = clock_timestamp() at time zone 'UTC'
              FROM current
             WHERE budget.backend_id = %(b)s AND budget.family = %(f)s
            RETURNING current.refilled >= %(cost)s, current.refilled,
                      current.restore_rate
            """,  # pylint: disable=sql-injection
            {"b": self.backend_id, "f": self.family, "cost": cost},
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
             WHERE backend_id = %s AND family = %s
            RETURNING available
            """,
            (
                available,
                maximum,
                restore_rate,
                1 if throttled else 0,
                self.backend_id,
                self.family,
            ),
        )


class RateGate:
    """The adapter's way to the backend's budgets (``lib/adapter.py``,
    ``rate_gate``): every call reserves its points first, in the database,
    so all workers of all servers spend one bucket per family.

    A wait up to ``short_wait`` seconds happens in place; a longer one
    raises :class:`RateLimitedError`, which the job layer turns into a job
    postponed by that long without spending a retry (the worker is freed).
    Once ``calls`` were made in this job, waits up to ``max_inline_wait``
    happen in place: postponing would roll back what the job recorded of
    those calls.
    """

    def __init__(self, backend, short_wait=2.0, max_inline_wait=30.0, sleep=None):
        self.backend = backend
        #: the adapter's ``rate_limits`` (set once the adapter exists)
        self.rate_limits = dict
        self.short_wait = short_wait
        self.max_inline_wait = max_inline_wait
        self.calls = 0
        self._sleep = sleep or time.sleep
        self._budgets = {}

    def budget(self, family):
        if family not in self._budgets:
            limit = self.rate_limits().get(family)
            if limit is None:
                return None
            self._budgets[family] = RateBudget(
                self.backend.env,
                self.backend.id,
                limit.maximum,
                limit.restore_rate,
                family=family,
            )
        return self._budgets[family]

    def reserve(self, family, cost=1):
        budget = self.budget(family)
        if budget is None or not cost:
            return
        waited = 0.0
        while True:
            wait = budget.reserve(cost)
            if not wait:
                self.calls += 1
                return
            limit = self.max_inline_wait if self.calls else self.short_wait
            if waited + wait > limit:
                raise RateLimitedError(
                    f"Rate budget {family} of {self.backend.name} spent: "
                    f"waiting {wait:.1f} s",
                    retry_after=wait,
                )
            self._sleep(wait)
            waited += wait

    def observe(self, family, available, maximum, restore_rate, throttled=False):
        budget = self.budget(family)
        if budget is not None:
            budget.observe(available, maximum, restore_rate, throttled=throttled)
