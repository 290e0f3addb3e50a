"""Counters and the request log, safe to update from server threads."""

import copy
import threading


class RequestStats:
    """``requests`` counts Admin API calls (not the ``/_sim/`` control
    surface); ``by_path`` is keyed ``"GET orders.json"``-style. GraphQL
    queries the bucket accepted are counted by operation name
    (``graphql_operations``) with the points they cost
    (``graphql_points``): what a test of an app's query budget reads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counters = self._empty()

    @staticmethod
    def _empty():
        return {
            "requests": 0,
            "throttled": 0,
            "rest_calls": 0,
            "graphql_calls": 0,
            "errors_injected": 0,
            "by_path": {},
            "by_status": {},
            "graphql_operations": {},
            "graphql_points": 0,
        }

    def count(self, name, amount=1):
        with self._lock:
            self._counters[name] += amount

    def count_request(self, route_key, kind):
        with self._lock:
            counters = self._counters
            counters["requests"] += 1
            if kind:
                counters[f"{kind}_calls"] += 1
            counters["by_path"][route_key] = counters["by_path"].get(route_key, 0) + 1

    def count_graphql(self, operation_name, points):
        with self._lock:
            operations = self._counters["graphql_operations"]
            name = operation_name or "(anonymous)"
            operations[name] = operations.get(name, 0) + 1
            self._counters["graphql_points"] += points

    def count_status(self, status):
        with self._lock:
            by_status = self._counters["by_status"]
            by_status[status] = by_status.get(status, 0) + 1

    def snapshot(self):
        with self._lock:
            return copy.deepcopy(self._counters)

    def reset(self):
        with self._lock:
            self._counters = self._empty()


class RequestLog:
    """The recorded Admin API requests, oldest first, at most ``limit``."""

    def __init__(self, limit=100_000):
        self.limit = limit
        self.enabled = True
        self._lock = threading.Lock()
        self.entries = []

    def record(self, request, status):
        if not self.enabled:
            return
        entry = {
            "method": request.method,
            "path": request.path,
            "query": {name: list(values) for name, values in request.query.items()},
            "headers": dict(request.headers),
            "json": request.json_or_none(),
            "status": status,
        }
        with self._lock:
            self.entries.append(entry)
            overflow = len(self.entries) - self.limit
            if overflow > 0:
                del self.entries[:overflow]

    def snapshot(self):
        with self._lock:
            return list(self.entries)

    def clear(self):
        with self._lock:
            self.entries.clear()
