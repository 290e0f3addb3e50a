"""The test channel: a small marketplace served over real HTTP on loopback,
for the core's own tests. Its wire format is its own (plain JSON), chosen to
be obvious rather than to mimic a real channel; what it does is what the
core must cope with from any channel:

* orders, read one at a time or by ``updated_since`` (polling);
* quantities per (item, location), written compare-and-set (a write naming
  a quantity the channel no longer has is refused as stale, all of the call
  or nothing) or last-write-wins, synchronously or as submissions whose
  outcome is asked for later;
* a message queue with at-least-once delivery: a received message stays
  hidden until it is deleted, and comes back if it is not
  (:meth:`ChannelServer.redeliver_unacknowledged`);
* a bearer token, and faults on demand (429 with ``Retry-After``, 5xx, or
  an answer later than any client waits: ``"timeout"``);
* a hook called with the quantities a write applied, before the write is
  answered (:attr:`ChannelServer.on_applied`): what a channel that reports
  a change at once does while the writer has not heard back yet.

Inventory reports (a quantity the channel shows) reach the connector as
webhooks of topic ``inventory`` (see ``adapter.py``); this server only holds
the quantities they report.

Use it in-process::

    channel = ChannelServer(api_key="k").start()
    channel.set_quantity("ITEM-1", "LOC-1", 5)
    ...
    channel.stop()
"""

import hmac
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PAGE_SIZE = 2
#: how long a ``"timeout"`` fault keeps the client waiting (longer than
#: any client's timeout in the tests), before it is answered all the same
TIMEOUT_SECONDS = 3.0


class ChannelServer:
    """The channel's state and its HTTP server."""

    def __init__(self, api_key="test-key", compare_and_set=True, asynchronous=False):
        self.api_key = api_key
        self.compare_and_set = compare_and_set
        self.asynchronous = asynchronous
        self.orders = {}
        self.quantities = {}
        self.writes = []  # every write call, as received
        self.submissions = {}
        self.shipments = {}  # reference -> shipment as received
        self.queue = []  # [message dict], in arrival order
        self.in_flight = {}  # receipt -> message
        self.calls = []  # (method, path)
        self._faults = []  # [status or "timeout", remaining]
        self.faults_served = {}  # status or "timeout" -> count
        #: called with [(item, location, quantity)] a write applied, before
        #: it is answered (the writer has not heard back yet)
        self.on_applied = None
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._server = None
        self._thread = None

    # Lifecycle

    def start(self):
        handler = type("Handler", (_Handler,), {"channel": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self):
        host, port = self._server.server_address
        return f"http://{host}:{port}"

    # What tests do to the channel

    def add_order(self, order):
        with self._lock:
            self.orders[str(order["id"])] = order
        return order

    def set_quantity(self, item, location, quantity):
        with self._lock:
            self.quantities[(str(item), str(location))] = int(quantity)

    def quantity(self, item, location):
        return self.quantities.get((str(item), str(location)))

    def push_message(self, body, message_id=None):
        """Put a message on the queue (``body``: text as sent)."""
        with self._lock:
            message = {"id": message_id or f"m-{next(self._ids)}", "body": body}
            self.queue.append(message)
        return message

    def redeliver_unacknowledged(self):
        """What a queue does when visibility timeouts expire."""
        with self._lock:
            self.queue[0:0] = list(self.in_flight.values())
            self.in_flight.clear()

    def fail_next(self, status, count=1):
        """The next ``count`` calls fail: ``status`` 429 (with
        ``Retry-After``), another HTTP status, or ``"timeout"`` (answered
        after :data:`TIMEOUT_SECONDS`, then served as usual)."""
        if status != "timeout" and not 400 <= int(status) <= 599:
            raise ValueError(f"not a fault: {status!r}")
        with self._lock:
            self._faults.append([status, count])

    def clear_faults(self):
        with self._lock:
            self._faults.clear()

    def finish_submissions(self, errors=None):
        """Process every pending submission; ``errors``: {item: message}
        refused ones."""
        errors = errors or {}
        with self._lock:
            for submission in self.submissions.values():
                if submission["state"] != "processing":
                    continue
                results = []
                for write in submission["writes"]:
                    if write["item"] in errors:
                        results.append(
                            {"status": "error", "message": errors[write["item"]]}
                        )
                        continue
                    self.quantities[(write["item"], write["location"])] = write[
                        "quantity"
                    ]
                    results.append({"status": "applied"})
                submission.update(state="done", results=results)

    # Serving

    def take_fault(self):
        with self._lock:
            for fault in self._faults:
                if fault[1] > 0:
                    fault[1] -= 1
                    self.faults_served[fault[0]] = (
                        self.faults_served.get(fault[0], 0) + 1
                    )
                    return fault[0]
        return None

    def handle(self, method, path, query, body):
        """``(status, json body, headers)`` of one request."""
        route = (method, path.rstrip("/").split("/")[1] if path != "/" else "")
        if route == ("GET", "orders"):
            return self._orders(path, query)
        if route == ("POST", "stock"):
            return self._stock_post(path, body)
        if route == ("GET", "stock"):
            return self._stock_get(path, query)
        if route == ("POST", "queue"):
            return self._queue(path, body)
        if route == ("POST", "shipments"):
            return self._ship(body)
        return 404, {"error": f"no route {method} {path}"}, {}

    def _orders(self, path, query):
        parts = path.strip("/").split("/")
        if len(parts) == 2:
            order = self.orders.get(parts[1])
            if not order:
                return 404, {"error": f"order {parts[1]} not found"}, {}
            return 200, order, {}
        since = (query.get("updated_since") or [""])[0]
        if not since:
            return 400, {"error": "updated_since is required"}, {}
        found = sorted(
            (o for o in self.orders.values() if o["updated_at"] >= since),
            key=lambda o: o["updated_at"],
        )
        return 200, {"orders": found}, {}

    def _stock_post(self, path, body):
        if path == "/stock/write":
            return self._write(body)
        if path == "/stock/read":
            pairs = [tuple(map(str, pair)) for pair in body.get("pairs") or []]
            known = [[*p, self.quantities[p]] for p in pairs if p in self.quantities]
            return 200, {"quantities": known}, {}
        return 404, {"error": "unknown stock operation"}, {}

    def _write(self, body):
        writes = body.get("writes")
        if not isinstance(writes, list) or not writes:
            return 400, {"error": "writes must be a non-empty list"}, {}
        for write in writes:
            if not isinstance(write.get("quantity"), int) or write["quantity"] < 0:
                return 400, {"error": f"invalid quantity in {write}"}, {}
            if not self.compare_and_set and write.get("change_from") is not None:
                return 400, {"error": "this channel has no compare-and-set"}, {}
        self.writes.append(writes)
        if self.asynchronous:
            reference = f"S{next(self._ids)}"
            self.submissions[reference] = {
                "state": "processing",
                "writes": [dict(w, item=str(w["item"])) for w in writes],
            }
            return 202, {"submission": reference}, {}
        pairs = [(str(w["item"]), str(w["location"])) for w in writes]
        if self.compare_and_set and any(
            w.get("change_from") is not None
            and self.quantities.get(pair) != w["change_from"]
            for w, pair in zip(writes, pairs, strict=True)
        ):
            return 200, {"results": [{"status": "stale"} for _ in writes]}, {}
        results, applied = [], []
        for write, pair in zip(writes, pairs, strict=True):
            if pair not in self.quantities:
                results.append(
                    {"status": "error", "message": f"unknown item {pair[0]}"}
                )
                continue
            self.quantities[pair] = write["quantity"]
            applied.append((*pair, write["quantity"]))
            results.append({"status": "applied"})
        return 200, {"results": results}, {}, applied

    def _ship(self, body):
        """A package: refused when it ships more of a line than was
        ordered and not yet shipped; the same reference again is the same
        package (answered as the first time, nothing shipped twice)."""
        reference = body.get("reference")
        if reference in self.shipments:
            return 200, {"shipment": reference, "repeat": True}, {}
        order = self.orders.get(str(body.get("order")))
        if not order:
            return 400, {"error": f"unknown order {body.get('order')}"}, {}
        if not body.get("tracking_number"):
            return 400, {"error": "a tracking number is required"}, {}
        ordered = {line["id"]: line["quantity"] for line in order["lines"]}
        shipped = {}
        for previous in self.shipments.values():
            if previous["order"] == body["order"]:
                for line in previous["lines"]:
                    shipped[line["id"]] = shipped.get(line["id"], 0) + line["quantity"]
        for line in body.get("lines") or []:
            left = ordered.get(line["id"], 0) - shipped.get(line["id"], 0)
            if line["quantity"] > left:
                return (
                    400,
                    {"error": f"line {line['id']}: only {left} left to ship"},
                    {},
                )
        self.shipments[reference] = body
        return 200, {"shipment": reference}, {}

    def _stock_get(self, path, query):
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[1] == "submissions":
            submission = self.submissions.get(parts[2])
            if not submission:
                return 404, {"error": f"submission {parts[2]} not found"}, {}
            return 200, submission, {}
        location = (query.get("location") or [""])[0]
        page = int((query.get("page") or ["0"])[0])
        items = sorted(
            [item, qty]
            for (item, loc), qty in self.quantities.items()
            if loc == location
        )
        chunk = items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        more = (page + 1) * PAGE_SIZE < len(items)
        return 200, {"items": chunk, "next": page + 1 if more else None}, {}

    def _queue(self, path, body):
        if path == "/queue/receive":
            count = int(body.get("max") or 1)
            if not 1 <= count <= 10:
                return 400, {"error": "max must be between 1 and 10"}, {}
            taken, self.queue = self.queue[:count], self.queue[count:]
            messages = []
            for message in taken:
                receipt = f"r-{next(self._ids)}"
                self.in_flight[receipt] = message
                messages.append(dict(message, receipt=receipt))
            return 200, {"messages": messages}, {}
        if path == "/queue/delete":
            unknown = [r for r in body.get("receipts") or [] if r not in self.in_flight]
            if unknown:
                return 400, {"error": f"unknown receipts {unknown}"}, {}
            for receipt in body["receipts"]:
                del self.in_flight[receipt]
            return 200, {"deleted": len(body["receipts"])}, {}
        return 404, {"error": "unknown queue operation"}, {}


class _Handler(BaseHTTPRequestHandler):
    channel = None  # set per server

    def log_message(self, *_args):  # quiet
        return

    def _serve(self, method):
        channel = self.channel
        parts = urlsplit(self.path)
        channel.calls.append((method, parts.path))
        token = self.headers.get("Authorization", "")
        if not hmac.compare_digest(token, f"Bearer {channel.api_key}"):
            return self._answer(401, {"error": "invalid API key"})
        fault = channel.take_fault()
        if fault == 429:
            return self._answer(429, {"error": "throttled"}, {"Retry-After": "1"})
        if fault == "timeout":
            time.sleep(TIMEOUT_SECONDS)
        elif fault:
            return self._answer(fault, {"error": "unavailable"})
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._answer(400, {"error": "body is not JSON"})
        with channel._lock:
            status, payload, headers, *applied = channel.handle(
                method, parts.path, parse_qs(parts.query), body
            )
        if applied and applied[0] and channel.on_applied:
            channel.on_applied(applied[0])
        return self._answer(status, payload, headers)

    def _answer(self, status, payload, headers=None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")
