"""A server whose job places can take every HTTP worker is told so."""

import pytest

from odoo.addons.marketplace_connector.lib.worker_capacity import (
    WEBHOOK_WORKERS_WANTED,
    jobs_sent_here,
    webhook_workers_warning,
)


@pytest.mark.parametrize(
    "workers, places",
    [(2, 2), (2, 3), (4, 3), (3, 2)],
)
def test_too_few_workers_left_for_webhooks_warns(workers, places):
    warning = webhook_workers_warning(workers, places)
    assert warning
    assert f"{workers} HTTP workers" in warning
    assert f"{places} jobs at a time" in warning
    assert f"{max(workers - places, 0)} worker(s) answer webhooks" in warning
    assert f"at least {places + WEBHOOK_WORKERS_WANTED}" in warning


@pytest.mark.parametrize(
    "workers, places",
    [
        (5, 3),  # the Docker deployment's
        (8, 4),
        (0, 4),  # threaded mode: a thread per request
        (2, 0),  # no job runs here
    ],
)
def test_enough_workers_or_no_workers_says_nothing(workers, places):
    assert webhook_workers_warning(workers, places) is None


def test_wanted_is_a_parameter():
    assert webhook_workers_warning(3, 2, wanted=1) is None
    assert webhook_workers_warning(3, 2, wanted=2)


@pytest.mark.parametrize(
    "host, interface",
    [
        ("localhost", ""),
        ("127.0.0.1", "127.0.0.1"),
        ("", ""),
        ("LOCALHOST", "0.0.0.0"),
        ("odoo.internal", "odoo.internal"),
    ],
)
def test_jobs_sent_to_this_servers_port_on_this_machine(host, interface):
    assert jobs_sent_here(host, "8069", interface, 8069)


@pytest.mark.parametrize(
    "host, port",
    [
        ("localhost", 8070),  # a jobs server of its own on this machine
        ("jobs.internal", 8069),  # another machine
        ("localhost", "not a port"),  # queue_job fails on it, not this check
    ],
)
def test_jobs_sent_elsewhere(host, port):
    assert not jobs_sent_here(host, port, "", 8069)
