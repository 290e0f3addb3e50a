"""Injected failures: the next matching Admin API calls answer an error,
hang past the client's timeout, or are throttled.

Rules are consumed first in, first out: ``throttle_next(); fail_next()``
makes the next call throttled and the one after it fail. A rule with
``count=n`` answers the next ``n`` matching calls. ``path_contains``
restricts a rule to calls whose path contains that text. The control
surface (``/_sim/``) is never affected.
"""

import dataclasses
import threading

DEFAULT_TIMEOUT_SECONDS = 6.0


@dataclasses.dataclass
class Fault:
    kind: str  # "fail" | "timeout" | "throttle"
    remaining: int
    status: int = 503
    path_contains: str | None = None
    retry_after: str = "2.0"
    seconds: float = DEFAULT_TIMEOUT_SECONDS
    apply: bool = False  # timeout: process the call, then hold its answer

    def matches(self, path):
        return self.path_contains is None or self.path_contains in path


class FaultInjector:
    """Thread-safe queue of fault rules."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []
        #: how long ``timeout_next`` holds a response when ``seconds`` is None
        self.default_timeout_seconds = DEFAULT_TIMEOUT_SECONDS

    def fail_next(self, status=503, count=1, path_contains=None):
        status = int(status)
        if not 400 <= status <= 599:
            raise ValueError(f"a failure status is 4xx or 5xx, not {status}")
        self._add(Fault("fail", count, status=status, path_contains=path_contains))

    def timeout_next(self, count=1, seconds=None, path_contains=None, apply=False):
        """Hold the next responses ``seconds`` (default 6 s, longer than the
        5 s clients use). With ``apply=True`` the call is processed first and
        only its answer is late, as when a gateway times out after the shop
        did the work; otherwise the shop never sees it and answers 504."""
        seconds = self.default_timeout_seconds if seconds is None else float(seconds)
        self._add(
            Fault(
                "timeout",
                count,
                status=504,
                path_contains=path_contains,
                seconds=seconds,
                apply=bool(apply),
            )
        )

    def throttle_next(self, count=1, retry_after="2.0", path_contains=None):
        self._add(
            Fault(
                "throttle",
                count,
                status=429,
                path_contains=path_contains,
                retry_after=str(retry_after),
            )
        )

    def add(self, kind, count=1, **options):
        """Add a rule by kind name (what the control surface uses)."""
        adders = {
            "fail": self.fail_next,
            "timeout": self.timeout_next,
            "throttle": self.throttle_next,
        }
        if kind not in adders:
            raise ValueError(f"unknown fault kind {kind!r}; one of {sorted(adders)}")
        adders[kind](count=count, **options)

    def _add(self, fault):
        if int(fault.remaining) < 1:
            raise ValueError("count must be at least 1")
        fault.remaining = int(fault.remaining)
        with self._lock:
            self._rules.append(fault)

    def take(self, path):
        """Consume one use of the first rule matching ``path``; return a copy
        of it, or None."""
        with self._lock:
            for index, fault in enumerate(self._rules):
                if fault.matches(path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._rules[index]
                    return dataclasses.replace(fault, remaining=1)
        return None

    def clear(self):
        with self._lock:
            self._rules.clear()

    def pending(self):
        """How many injected answers are still to come."""
        with self._lock:
            return sum(fault.remaining for fault in self._rules)
