"""Orders imported per second while orders waited, over the whole run and
by phase of a fault that slows imports down on purpose.

The sampler reads, every half second, how many orders are imported and how
many import jobs wait. An interval counts when jobs waited at its start: the
rate over those intervals is what the deployment sustains, not how fast the
orders came in. ``latency`` (a slow Odoo, simulated) bounds the rate by
design while it lasts -- each import sleeps with its stock locked -- so the
figure is also given for the intervals before, during and after it.
"""

import itertools

WITH_LATENCY = "with import latency"
OUTSIDE_LATENCY = "outside import latency"
BEFORE_LATENCY = "before import latency"
AFTER_LATENCY = "after import latency"
#: the order the report shows them in
PHASES = (BEFORE_LATENCY, WITH_LATENCY, AFTER_LATENCY, OUTSIDE_LATENCY)


def busy_intervals(samples):
    """``[(start, end, orders imported)]`` for the consecutive samples where
    import jobs waited at the start (``inbound``) and both counts were read
    (the database answers)."""
    intervals = []
    for before, after in itertools.pairwise(samples):
        if not before.get("inbound"):
            continue
        if before.get("imported") is None or after.get("imported") is None:
            continue
        intervals.append(
            (before["t"], after["t"], after["imported"] - before["imported"])
        )
    return intervals


def _rate(intervals):
    seconds = sum(end - start for start, end, _orders in intervals)
    if not seconds:
        return None, 0.0
    orders = sum(orders for _start, _end, orders in intervals)
    return round(orders / seconds, 1), round(seconds, 1)


def sustained_rates(samples, latency_on=None, latency_off=None):
    """``{"sustained": rate, "seconds": s, "phases": {name: {"orders_per_s",
    "seconds"}}}``; phases only when the latency fault ran (``latency_on``;
    ``latency_off`` missing: it lasted to the end). An interval belongs to
    the phase its middle falls in."""
    intervals = busy_intervals(samples)
    sustained, seconds = _rate(intervals)
    result = {"sustained": sustained, "seconds": seconds, "phases": {}}
    if latency_on is None:
        return result
    off = float("inf") if latency_off is None else latency_off
    groups = {BEFORE_LATENCY: [], WITH_LATENCY: [], AFTER_LATENCY: []}
    for interval in intervals:
        middle = (interval[0] + interval[1]) / 2
        if middle < latency_on:
            groups[BEFORE_LATENCY].append(interval)
        elif middle < off:
            groups[WITH_LATENCY].append(interval)
        else:
            groups[AFTER_LATENCY].append(interval)
    groups[OUTSIDE_LATENCY] = groups[BEFORE_LATENCY] + groups[AFTER_LATENCY]
    for name, members in groups.items():
        rate, phase_seconds = _rate(members)
        result["phases"][name] = {"orders_per_s": rate, "seconds": phase_seconds}
    return result
