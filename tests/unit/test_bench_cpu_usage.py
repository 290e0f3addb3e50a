"""The flash-sale benchmark's CPU accounting, with readings made up."""

import os

import psutil
import pytest
from benchmarks.cpu_usage import CpuUsage, own_seconds, tree_seconds


class FakeProcess:
    def __init__(self, pid, created):
        self.pid, self.created = pid, created

    def create_time(self):
        return self.created


class Readings:
    """What each fake process has used so far, and the machine."""

    def __init__(self):
        self.used = {}
        self.machine = 100.0

    def tree(self, process):
        return self.used.get(process.pid)

    def read_machine(self):
        return self.machine


@pytest.fixture
def readings():
    return Readings()


def make_usage(readings, groups, own=None):
    return CpuUsage(
        groups,
        own_groups=own,
        read_tree=readings.tree,
        read_own=readings.tree,
        read_machine=readings.read_machine,
    )


def test_only_what_is_used_after_start_is_charged(readings):
    odoo = FakeProcess(1, created=0.0)
    readings.used[1] = 500.0  # before the sale
    usage = make_usage(readings, {"odoo": lambda: [odoo]})
    usage.start()
    readings.used[1] = 530.0
    readings.machine = 150.0
    usage.read()
    readings.used[1] = 545.5
    readings.machine = 170.0
    usage.stop()
    figures = usage.figures(orders=10, cores=2)
    assert figures["groups_s"] == {"odoo": 45.5}
    assert figures["machine_busy_s"] == 70.0
    assert figures["rest_s"] == 24.5
    assert figures["ms_per_order"]["odoo"] == 4550.0
    assert figures["ms_per_order"]["all"] == 7000.0


def test_a_root_restarted_meanwhile_is_charged_all_of_its_time(readings):
    old = FakeProcess(10, created=0.0)
    readings.used[10] = 50.0
    roots = [old]
    usage = make_usage(readings, {"postgres": lambda: list(roots)})
    usage.start()
    readings.used[10] = 58.0
    usage.read()
    # restarted: the old postmaster is gone, a new one has used 3 s
    new = FakeProcess(11, created=usage.started_at + 30)
    roots[:] = [new]
    readings.used[11] = 3.0
    usage.read()
    readings.used[11] = 7.0
    usage.stop()
    assert usage.figures()["groups_s"] == {"postgres": 8.0 + 7.0}


def started_on_one_root(readings, seconds):
    """A usage of one group, ``odoo``, whose root has used ``seconds``."""
    odoo = FakeProcess(1, created=0.0)
    readings.used[1] = seconds
    usage = make_usage(readings, {"odoo": lambda: [odoo]})
    usage.start()
    return usage


def test_a_reading_low_for_a_moment_is_not_counted_twice(readings):
    # a tree read after a child exited and before its parent reaped it
    # misses that child's time for a moment; once reaped, it is back
    usage = started_on_one_root(readings, 10.0)
    for seconds in (9.0, 12.0):
        readings.used[1] = seconds
        usage.read()
    assert usage.figures()["groups_s"]["odoo"] == 2.0


def test_nothing_is_read_after_stop(readings):
    usage = started_on_one_root(readings, 0.0)
    readings.used[1] = 2.0
    usage.stop()
    readings.used[1] = 50.0
    usage.read()
    assert usage.figures()["groups_s"]["odoo"] == 2.0


def test_own_groups_use_their_own_reader():
    readings = Readings()
    bench = FakeProcess(7, created=0.0)
    readings.used[7] = 1.0
    trees = []
    usage = CpuUsage(
        {},
        own_groups={"bench": lambda: [bench]},
        read_tree=lambda process: trees.append(process),
        read_own=readings.tree,
        read_machine=readings.read_machine,
    )
    usage.start()
    readings.used[7] = 4.0
    usage.stop()
    assert usage.figures()["groups_s"] == {"bench": 3.0}
    assert not trees


def test_real_readings_of_this_process_grow_with_work():
    me = psutil.Process(os.getpid())
    before_tree, before_own = tree_seconds(me), own_seconds(me)
    deadline = psutil.Process().cpu_times().user + 0.2
    while psutil.Process().cpu_times().user < deadline:
        sum(range(10_000))
    assert tree_seconds(me) >= before_tree + 0.2
    assert own_seconds(me) >= before_own + 0.2
