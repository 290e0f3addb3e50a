"""Injected server errors: the next matching SP-API calls answer 500 or 503
with Amazon's error body, before any other check.

Rules are consumed first in, first out; ``count=n`` answers the next ``n``
matching calls; ``operation`` restricts a rule to one operation
(``"searchOrders"``...). LWA, SQS and the ``/_sim/`` control surface are
never affected (their faults are the LWA and SQS knobs of the simulator).
429 storms are not rules but :meth:`.ratelimit.RateLimiter.hold`, because a
real storm empties the buckets, which a client's later calls also see.
"""

import dataclasses
import threading

_MESSAGES = {
    500: ("InternalFailure", "We encountered an internal error. Please try again."),
    503: ("ServiceUnavailable", "Service is temporarily unavailable."),
}


@dataclasses.dataclass
class Fault:
    status: int
    remaining: int
    operation: str | None = None

    def matches(self, operation):
        return self.operation is None or self.operation == operation

    @property
    def code_and_message(self):
        return _MESSAGES.get(self.status, ("InternalFailure", "Internal failure."))


class FaultInjector:
    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []

    def fail_next(self, status=503, count=1, operation=None):
        status = int(status)
        if status not in _MESSAGES:
            raise ValueError(f"a server fault is 500 or 503, not {status}")
        if int(count) < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._rules.append(Fault(status, int(count), operation))

    def take(self, operation):
        """Consume one use of the first rule matching ``operation``."""
        with self._lock:
            for index, fault in enumerate(self._rules):
                if fault.matches(operation):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._rules[index]
                    return dataclasses.replace(fault, remaining=1)
        return None

    def clear(self):
        with self._lock:
            self._rules.clear()

    def pending(self):
        with self._lock:
            return sum(fault.remaining for fault in self._rules)
