"""Shopify's two rate limiters, both leaky buckets per shop (one app).

REST: every call pours 1 into a bucket that leaks at a fixed rate; a call that
would overflow it is answered 429. GraphQL: a query pours its cost in points;
the bucket restores at a fixed rate per second. Both are the same structure,
a level that drains with time, so one class serves both.

Buckets always run on real monotonic time (the shop clock may be fake).
"""

import dataclasses
import threading
import time


@dataclasses.dataclass(frozen=True)
class PlanLimits:
    rest_capacity: int
    rest_leak_per_second: float
    graphql_capacity: int
    graphql_restore_per_second: float


#: Shopify's published numbers per plan ("basic"/"shopify" are Standard).
PLANS = {
    "standard": PlanLimits(40, 2.0, 2000, 100.0),
    "advanced": PlanLimits(40, 2.0, 4000, 200.0),
    "plus": PlanLimits(400, 20.0, 20000, 1000.0),
    "enterprise": PlanLimits(400, 20.0, 40000, 2000.0),
}
PLANS["basic"] = PLANS["shopify"] = PLANS["standard"]


def plan_limits(plan):
    try:
        return PLANS[plan]
    except KeyError:
        raise ValueError(
            f"unknown plan {plan!r}; one of {', '.join(sorted(PLANS))}"
        ) from None


class LeakyBucket:
    """A bucket whose ``level`` drains at ``leak_rate`` units per second.

    :param capacity: the most it holds; a pour that would exceed it is refused.
    """

    def __init__(self, capacity, leak_rate, now=time.monotonic):
        self.capacity = capacity
        self.leak_rate = leak_rate
        self._now = now
        self._lock = threading.Lock()
        self._level = 0.0
        self._stamp = now()

    def _drain(self):
        now = self._now()
        self._level = max(0.0, self._level - (now - self._stamp) * self.leak_rate)
        self._stamp = now

    def try_pour(self, amount):
        """Pour ``amount`` if it fits; return ``(accepted, level_after)``."""
        with self._lock:
            self._drain()
            if self._level + amount > self.capacity:
                return False, self._level
            self._level += amount
            return True, self._level

    def refund(self, amount):
        with self._lock:
            self._drain()
            self._level = max(0.0, self._level - amount)

    def level(self):
        with self._lock:
            self._drain()
            return self._level

    def available(self):
        return self.capacity - self.level()

    def set_level(self, level):
        """For tests: fill the bucket to ``level`` (0 = empty)."""
        with self._lock:
            self._drain()
            self._level = float(min(max(level, 0), self.capacity))

    def reconfigure(self, capacity, leak_rate):
        with self._lock:
            self._drain()
            self.capacity, self.leak_rate = capacity, leak_rate
            self._level = min(self._level, capacity)
