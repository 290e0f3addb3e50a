"""CPU time used by groups of processes over an interval: where the flash
sale's CPU went (Odoo's job workers, its webhook workers, PostgreSQL, the
benchmark and its simulated stores, the rest of the machine).

A group is a function returning its root processes (an Odoo server's main
process, PostgreSQL's postmaster). A root is charged with what its live
process tree used plus what its exited children used: the kernel adds a
reaped child's time, and that of the children it reaped itself, to its
parent's ``children_user``/``children_system``. A worker SIGKILLed mid-run
or a PostgreSQL backend that lived 50 ms between two readings is counted all
the same. A root that appears during the interval (PostgreSQL restarted) is
charged all of its time; one that disappears, up to its last reading.

Nothing here needs Odoo: :class:`CpuUsage` takes its readings through
``read_tree``, ``read_own`` and ``read_machine``, which the unit tests
replace.
"""

import threading
import time

import psutil


def tree_seconds(root):
    """CPU seconds of ``root`` and its live descendants, with what the
    children they reaped used; ``None`` when ``root`` is gone."""
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0.0
    for index, process in enumerate(processes):
        try:
            times = process.cpu_times()
        except psutil.Error:
            if index == 0:
                return None
            continue  # exited since the listing: its parent has it now
        total += times.user + times.system + times.children_user + times.children_system
    return total


def own_seconds(process):
    """CPU seconds of ``process`` alone (all its threads) and of the children
    it reaped, not of its live children: the benchmark starts the Odoo
    servers, which are groups of their own."""
    try:
        times = process.cpu_times()
    except psutil.Error:
        return None
    return times.user + times.system + times.children_user + times.children_system


def machine_busy_seconds():
    """CPU seconds the whole machine spent not idle, all cores."""
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)
    return sum(times) - idle


def _key(process):
    try:
        return (process.pid, process.create_time())
    except psutil.Error:
        return None


class CpuUsage:
    """Accumulates, reading after reading, the CPU seconds of each group.

    :param groups: ``{name: callable returning [psutil.Process]}``: each
        root is read with ``read_tree``
    :param own_groups: the same, each root read alone (``read_own``)
    """

    def __init__(
        self,
        groups,
        own_groups=None,
        read_tree=tree_seconds,
        read_own=own_seconds,
        read_machine=machine_busy_seconds,
    ):
        self.groups = {
            **{name: (roots, read_tree) for name, roots in groups.items()},
            **{name: (roots, read_own) for name, roots in (own_groups or {}).items()},
        }
        self._read_machine = read_machine
        self._lock = threading.Lock()
        self._last = {}  # (group, root key) -> seconds at the last reading
        self.seconds = dict.fromkeys(self.groups, 0.0)
        self.started_at = self.read_at = None
        self._stopped = False
        self._machine_start = self._machine_last = None

    def start(self):
        """The first reading: what the roots used before is not charged."""
        with self._lock:
            self.started_at = self.read_at = time.time()
            self._machine_start = self._machine_last = self._read_machine()
            for name, (roots, read) in self.groups.items():
                for root in roots():
                    key = _key(root)
                    seconds = read(root)
                    if key is not None and seconds is not None:
                        self._last[(name, key)] = seconds

    def stop(self):
        """The last reading: the interval ends here."""
        self.read()
        with self._lock:
            self._stopped = True

    def read(self):
        """One more reading; a no-op before :meth:`start` and after
        :meth:`stop`."""
        with self._lock:
            if self.started_at is None or self._stopped:
                return
            self.read_at = time.time()
            self._machine_last = self._read_machine()
            for name, (roots, read) in self.groups.items():
                for root in roots():
                    key = _key(root)
                    seconds = read(root)
                    if key is None or seconds is None:
                        continue
                    before = self._last.get((name, key))
                    if before is None:
                        # appeared meanwhile (restarted): all of it is ours
                        before = 0.0 if key[1] >= self.started_at - 1 else seconds
                    # a tree read after a child exited and before its
                    # parent reaped it reads low for a moment: the highest
                    # reading stays the base, or that child would count twice
                    self.seconds[name] += max(0.0, seconds - before)
                    self._last[(name, key)] = max(seconds, before)

    def figures(self, orders=None, cores=None):
        """``{"interval_s", "machine_busy_s", "capacity_s", "groups_s",
        "rest_s", "ms_per_order"}`` (per order: when ``orders`` is given)."""
        with self._lock:
            interval = (self.read_at or 0.0) - (self.started_at or 0.0)
            machine = (self._machine_last or 0.0) - (self._machine_start or 0.0)
            groups = {name: round(value, 1) for name, value in self.seconds.items()}
        rest = max(0.0, machine - sum(self.seconds.values()))
        result = {
            "interval_s": round(interval, 1),
            "machine_busy_s": round(machine, 1),
            "capacity_s": round(interval * cores, 1) if cores else None,
            "groups_s": groups,
            "rest_s": round(rest, 1),
        }
        if orders:
            per_order = {
                name: value * 1000 / orders for name, value in self.seconds.items()
            }
            per_order["rest of the machine"] = rest * 1000 / orders
            per_order["all"] = machine * 1000 / orders
            result["ms_per_order"] = {k: round(v, 1) for k, v in per_order.items()}
        return result
