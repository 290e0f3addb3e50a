"""Counters per operation, safe to update from server threads.

``snapshot()`` is ``{"requests", "throttled", "errors", "faults_injected",
"by_operation": {op: {"calls", "throttled", "errors"}}, "by_status"}``:
``errors`` counts answers of 400 and above other than throttling, so a
benchmark can tell "the client was too fast" from "the client sent something
Amazon refuses". SQS actions are operations named ``sqs:ReceiveMessage``...,
LWA ``lwa:token``.
"""

import copy
import threading


class OperationStats:
    def __init__(self):
        self._lock = threading.Lock()
        self._counters = self._empty()

    @staticmethod
    def _empty():
        return {
            "requests": 0,
            "throttled": 0,
            "errors": 0,
            "faults_injected": 0,
            "by_operation": {},
            "by_status": {},
        }

    def record(self, operation, status, injected=False):
        with self._lock:
            counters = self._counters
            counters["requests"] += 1
            entry = counters["by_operation"].setdefault(
                operation or "unknown", {"calls": 0, "throttled": 0, "errors": 0}
            )
            entry["calls"] += 1
            if status == 429:
                counters["throttled"] += 1
                entry["throttled"] += 1
            elif status >= 400:
                counters["errors"] += 1
                entry["errors"] += 1
            if injected:
                counters["faults_injected"] += 1
            key = str(status)
            counters["by_status"][key] = counters["by_status"].get(key, 0) + 1

    def snapshot(self):
        with self._lock:
            return copy.deepcopy(self._counters)

    def operation(self, name):
        """One operation's counters (zeros when never called)."""
        with self._lock:
            entry = self._counters["by_operation"].get(name)
            return dict(entry or {"calls": 0, "throttled": 0, "errors": 0})

    def reset(self):
        with self._lock:
            self._counters = self._empty()
