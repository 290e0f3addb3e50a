"""Shop time.

Shopify's REST resources carry second-precision ISO 8601 timestamps in the
shop's time zone (``2026-11-23T10:15:02-05:00``). The simulated shop lives in
``America/Bogota``, which is UTC-05:00 all year (no daylight saving time), so a
fixed offset is exact rather than an approximation.

Timestamps are kept internally as integer epoch seconds.
"""

import datetime as dt
import threading
import time

SHOP_UTC_OFFSET = dt.timezone(dt.timedelta(hours=-5))
SHOP_IANA_TIMEZONE = "America/Bogota"


def format_ts(epoch_seconds):
    """``1795446902`` -> ``"2026-11-23T10:15:02-05:00"``."""
    moment = dt.datetime.fromtimestamp(int(epoch_seconds), tz=SHOP_UTC_OFFSET)
    return moment.isoformat()


def format_utc(epoch_seconds):
    """GraphQL ``DateTime``: UTC with a ``Z``, e.g. ``2026-11-23T15:15:02Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch_seconds)))


def parse_ts(text):
    """Parse a timestamp as Shopify's REST filters accept it.

    An offset (or ``Z``) is honoured; a time without one is read in the shop's
    time zone, as Shopify does, so a client that sends naive UTC is off by
    five hours here exactly as it would be on the real service.

    :return: epoch seconds (a float: fractions are kept for comparisons).
    :raise ValueError: when ``text`` is not an ISO 8601 date or date-time.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"not a timestamp: {text!r}")
    moment = dt.datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHOP_UTC_OFFSET)
    return moment.timestamp()


def coerce_epoch(value):
    """Accept epoch seconds, an aware/naive datetime or an ISO string."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=SHOP_UTC_OFFSET)
        return int(value.timestamp())
    if isinstance(value, str):
        return int(parse_ts(value))
    return int(value)


def triggered_at(epoch_ns=None):
    """Webhook ``X-Shopify-Triggered-At``: UTC with nanoseconds,
    e.g. ``2026-11-23T18:00:27.877041743Z``."""
    if epoch_ns is None:
        epoch_ns = time.time_ns()
    seconds, fraction = divmod(int(epoch_ns), 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{fraction:09d}Z"


class FakeClock:
    """A settable clock for tests: calling it returns epoch seconds.

    ``ShopifySimulator(clock=FakeClock(...))`` makes every shop timestamp
    deterministic; ``advance()`` moves time forward.
    """

    def __init__(self, start=None):
        self._lock = threading.Lock()
        self._now = float(time.time() if start is None else coerce_epoch(start))

    def __call__(self):
        with self._lock:
            return self._now

    def advance(self, seconds):
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when):
        with self._lock:
            self._now = float(coerce_epoch(when))
