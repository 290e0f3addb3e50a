"""SP-API usage plans: a token bucket per operation, per seller and
application, on the simulated clock.

A bucket holds at most ``burst`` tokens and gains ``rate`` tokens a second;
a call takes one token or is answered 429 ``QuotaExceeded``. Running on the
sim clock means ``clock.advance(180)`` refills searchOrders (0.0056/s) the way
three real minutes would, without a test sleeping.

``hold(seconds)`` empties every bucket and keeps them empty for that long: a
429 storm as a client sees one when other apps of the same seller spend the
shared budget.
"""

import dataclasses
import threading


@dataclasses.dataclass(frozen=True)
class UsagePlan:
    rate: float  # tokens per second
    burst: int

    @property
    def header(self):
        """``x-amzn-RateLimit-Limit``: the rate as Amazon prints it."""
        return f"{self.rate:g}"


#: The models' default plans (protocols doc, Amazon section).
USAGE_PLANS = {
    "searchOrders": UsagePlan(0.0056, 20),
    "getOrder": UsagePlan(0.5, 30),
    "confirmShipment": UsagePlan(2.0, 10),
    "patchListingsItem": UsagePlan(5.0, 5),
    "getListingsItem": UsagePlan(5.0, 10),
    "searchListingsItems": UsagePlan(5.0, 5),
    "createFeedDocument": UsagePlan(0.5, 15),
    "createFeed": UsagePlan(0.0083, 15),
    "getFeed": UsagePlan(2.0, 15),
    "getFeedDocument": UsagePlan(0.0222, 10),
}


class TokenBucket:
    def __init__(self, plan, clock):
        self.plan = plan
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(plan.burst)
        self._stamp = clock()
        self._held_until = None

    def _refill(self, now):
        if self._held_until is not None:
            if now < self._held_until:
                self._tokens, self._stamp = 0.0, now
                return
            self._stamp, self._held_until = self._held_until, None
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(self.plan.burst, self._tokens + elapsed * self.plan.rate)
        self._stamp = now

    def try_take(self):
        with self._lock:
            self._refill(self._clock())
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True

    def tokens(self):
        with self._lock:
            self._refill(self._clock())
            return self._tokens

    def set_tokens(self, tokens):
        with self._lock:
            self._refill(self._clock())
            self._tokens = float(min(max(tokens, 0), self.plan.burst))

    def hold(self, until):
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens, self._stamp = 0.0, now
            self._held_until = max(until, self._held_until or until)


class RateLimiter:
    """Buckets created on first use, keyed ``(application, seller, operation)``."""

    def __init__(self, clock, plans=None):
        self.clock = clock
        self.plans = dict(USAGE_PLANS if plans is None else plans)
        self._lock = threading.Lock()
        self._buckets = {}
        self._held_until = None

    def bucket(self, application, seller, operation):
        key = (application, seller, operation)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = TokenBucket(self.plans[operation], self.clock)
                if self._held_until is not None:
                    bucket.hold(self._held_until)
                self._buckets[key] = bucket
            return bucket

    def try_take(self, application, seller, operation):
        """``(accepted, plan)``; an operation without a plan is never throttled."""
        plan = self.plans.get(operation)
        if plan is None:
            return True, None
        return self.bucket(application, seller, operation).try_take(), plan

    def hold(self, seconds, operation=None):
        """Empty the buckets (of one operation, or all) for ``seconds`` of sim
        time, including buckets first used during the storm."""
        until = self.clock() + float(seconds)
        with self._lock:
            if operation is None:
                self._held_until = until
            buckets = [
                bucket
                for (_app, _seller, op), bucket in self._buckets.items()
                if operation in (None, op)
            ]
        for bucket in buckets:
            bucket.hold(until)
