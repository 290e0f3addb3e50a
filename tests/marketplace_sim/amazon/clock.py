"""Simulated time.

Amazon's timestamps are UTC ISO 8601 with a ``Z``. Every delay in the
simulator (token expiry, rate-limit refill, feed processing, the quantity
update lag, SQS visibility timeouts) runs on one :class:`SimClock` so a test
can jump minutes ahead with ``advance()`` instead of sleeping, and a demo can
run a whole day in minutes with ``time_scale``.
"""

import datetime as dt
import threading
import time


def format_ts(epoch_seconds):
    """``1795446902.5`` -> ``"2026-11-23T15:15:02.500Z"`` (millisecond precision,
    as Amazon's APIs write them)."""
    moment = dt.datetime.fromtimestamp(float(epoch_seconds), tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def format_ts_seconds(epoch_seconds):
    """Second precision, e.g. the Orders API's ``createdTime``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch_seconds)))


def parse_ts(text):
    """An ISO 8601 date-time with a ``Z`` or an offset, as Amazon requires.

    A time without an offset is refused: Amazon reads it as UTC, but a client
    that sends one almost always meant local time, which is the bug to catch.

    :return: epoch seconds (float).
    :raise ValueError: not an ISO 8601 date-time with a zone.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"not a date-time: {text!r}")
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"a date-time needs a zone (Z or an offset): {text!r}")
    return moment.timestamp()


class SimClock:
    """Epoch seconds that run ``time_scale`` times as fast as real time.

    ``time_scale=1`` is real time, ``0`` a frozen clock that only moves by
    ``advance()``/``set()`` (what unit tests use), ``60`` a minute per second.
    Calling the clock returns the current simulated epoch seconds.
    """

    def __init__(self, start=None, time_scale=1.0):
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self._lock = threading.Lock()
        self.time_scale = float(time_scale)
        self._origin = float(time.time() if start is None else start)
        self._real_origin = time.monotonic()

    def __call__(self):
        with self._lock:
            elapsed = time.monotonic() - self._real_origin
            return self._origin + elapsed * self.time_scale

    def advance(self, seconds):
        with self._lock:
            self._origin += float(seconds)
        return self()

    def set(self, epoch_seconds):
        with self._lock:
            self._origin = float(epoch_seconds)
            self._real_origin = time.monotonic()

    def real_seconds(self, sim_seconds):
        """How long to wait in real time for ``sim_seconds`` to pass (0 on a
        frozen clock: nothing will pass by waiting)."""
        if self.time_scale <= 0:
            return 0.0
        return max(0.0, sim_seconds / self.time_scale)
