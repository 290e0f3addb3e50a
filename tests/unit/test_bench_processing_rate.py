"""The benchmark's sustained processing rate: only intervals where import
jobs waited count, and with the latency fault the rate is also given before,
during and after it."""

from benchmarks.processing_rate import (
    AFTER_LATENCY,
    BEFORE_LATENCY,
    OUTSIDE_LATENCY,
    WITH_LATENCY,
    busy_intervals,
    sustained_rates,
)


def samples(*rows):
    """``(t, waiting jobs, imported)`` rows as the sampler records them."""
    return [
        {"t": t, "inbound": inbound, "imported": imported}
        for t, inbound, imported in rows
    ]


def test_only_intervals_starting_with_jobs_waiting_count():
    run = samples((0, 0, 0), (1, 5, 3), (2, 5, 23), (3, 0, 40), (4, 0, 41))
    # 0-1: nothing waited at 0; 1-2 and 2-3 count; 3-4: nothing waited at 3
    assert busy_intervals(run) == [(1, 2, 20), (2, 3, 17)]
    rates = sustained_rates(run)
    assert rates["sustained"] == 18.5
    assert rates["seconds"] == 2
    assert rates["phases"] == {}


def test_an_interval_where_the_database_did_not_answer_is_left_out():
    run = samples((0, 5, 0), (1, 5, None), (2, 5, 30), (3, 5, 50))
    assert busy_intervals(run) == [(2, 3, 20)]
    assert sustained_rates(run)["sustained"] == 20.0


def test_no_backlog_gives_no_rate():
    rates = sustained_rates(samples((0, 0, 0), (1, 0, 10)))
    assert rates["sustained"] is None
    assert rates["seconds"] == 0.0


def test_rates_by_phase_of_the_latency_fault():
    run = samples(
        (0, 9, 0),
        (1, 9, 20),  # before: 20/s
        (2, 9, 40),  # before: 20/s
        (3, 9, 45),  # with latency: 5/s
        (4, 9, 50),  # with latency: 5/s
        (5, 9, 74),  # after: 24/s
        (6, 0, 100),  # after: 26/s
    )
    rates = sustained_rates(run, latency_on=2.2, latency_off=4.1)
    phases = rates["phases"]
    # each interval goes to the phase its middle falls in: 2-3 (middle 2.5)
    # is with latency, 4-5 (middle 4.5) after it
    assert phases[BEFORE_LATENCY] == {"orders_per_s": 20.0, "seconds": 2}
    assert phases[WITH_LATENCY] == {"orders_per_s": 5.0, "seconds": 2}
    assert phases[AFTER_LATENCY] == {"orders_per_s": 25.0, "seconds": 2}
    assert phases[OUTSIDE_LATENCY] == {"orders_per_s": 22.5, "seconds": 4}
    assert rates["sustained"] == round(100 / 6, 1)


def test_latency_never_switched_off_lasts_to_the_end():
    run = samples((0, 9, 0), (1, 9, 20), (2, 9, 25), (3, 9, 30))
    phases = sustained_rates(run, latency_on=1.0)["phases"]
    assert phases[BEFORE_LATENCY]["orders_per_s"] == 20.0
    assert phases[WITH_LATENCY] == {"orders_per_s": 5.0, "seconds": 2}
    assert phases[AFTER_LATENCY] == {"orders_per_s": None, "seconds": 0.0}
