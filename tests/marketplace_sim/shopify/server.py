"""HTTP: a threading server, and the dispatcher that applies, in order, the
checks Shopify's edge applies before an Admin API call reaches the shop.

1. ``/admin/api/{version}/...``: a malformed version is a 404; a well-formed
   one older than the oldest supported is served by the oldest supported;
   one newer than the newest is a 404. Every answer after this point carries
   ``X-Shopify-API-Version`` (the version served).
2. Injected faults (``sim.faults``).
3. ``X-Shopify-Access-Token`` (401).
4. The route (404 ``{"errors":"Not Found"}``).
5. The rate limit: REST calls pour 1 into the REST bucket (429 when full)
   and carry ``X-Shopify-Shop-Api-Call-Limit``; GraphQL is charged by cost
   in :mod:`.graphql_api`.
"""

import hmac
import logging
import math
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import control, graphql_api, rest_api
from .wire import REST_THROTTLED, Request, error_response, json_response

_logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024
API_PATH = re.compile(r"/admin/api/([^/]+)/(.+)")
VERSION = re.compile(r"\d{4}-(01|04|07|10)")

# (method, path after the version, handler, kind, key for stats)
ROUTES = (
    ("GET", re.compile(r"orders\.json"), rest_api.list_orders, "rest", "orders.json"),
    (
        "GET",
        re.compile(r"orders/count\.json"),
        rest_api.count_orders,
        "rest",
        "orders/count.json",
    ),
    (
        "GET",
        re.compile(r"orders/(\d+)\.json"),
        rest_api.get_order,
        "rest",
        "orders/{id}.json",
    ),
    ("GET", re.compile(r"shop\.json"), rest_api.get_shop, "rest", "shop.json"),
    (
        "POST",
        re.compile(r"graphql\.json"),
        graphql_api.handle,
        "graphql",
        "graphql.json",
    ),
)


def resolve_version(requested, supported):
    """The version that serves ``requested``, or None (404)."""
    if not VERSION.fullmatch(requested) or not supported:
        return None
    ordered = sorted(supported)
    if requested in ordered:
        return requested
    if requested < ordered[0]:
        return ordered[0]
    return None


def _find_route(method, rest):
    for route_method, pattern, handler, kind, key in ROUTES:
        match = pattern.fullmatch(rest)
        if match and route_method == method:
            return handler, kind, key, match
    return None


class Dispatcher:
    def __init__(self, sim):
        self.sim = sim

    def dispatch(self, request):
        if request.path == "/_sim" or request.path.startswith("/_sim/"):
            return control.handle(self.sim, request)
        response = self._admin(request)
        self.sim.request_stats.count_status(response.status)
        self.sim.request_log.record(request, response.status)
        return response

    def _admin(self, request):
        match = API_PATH.fullmatch(request.path)
        version = match and resolve_version(match.group(1), self.sim.api_versions)
        if not version:
            self.sim.request_stats.count_request(f"{request.method} unknown", None)
            return error_response(404)
        response = self._versioned(request, version, match.group(2))
        response.headers["X-Shopify-API-Version"] = version
        response.headers["X-Request-Id"] = str(uuid.uuid4())
        return response

    def _versioned(self, request, version, rest):
        sim = self.sim
        route = _find_route(request.method, rest)
        kind = route[1] if route else None
        sim.request_stats.count_request(
            f"{request.method} {route[2] if route else 'unknown'}", kind
        )
        fault = sim.faults.take(request.path)
        if fault is not None:
            sim.request_stats.count("errors_injected")
            if not (fault.kind == "timeout" and fault.apply):
                return self._fault(fault, kind)
        if not self._authorised(request):
            response = error_response(401)
        elif route is None:
            response = error_response(404)
        else:
            handler, kind, _key, match = route
            response = (
                self._rest(request, version, handler, match)
                if kind == "rest"
                else handler(sim, request, version, match)
            )
        if fault is not None:  # a timeout after the work was done
            response.delay = fault.seconds
        return response

    def _authorised(self, request):
        token = request.header("X-Shopify-Access-Token") or ""
        return hmac.compare_digest(token.encode(), self.sim.access_token.encode())

    def _call_limit(self, level):
        bucket = self.sim.rest_bucket
        used = min(bucket.capacity, math.ceil(level - 1e-9))
        return {"X-Shopify-Shop-Api-Call-Limit": f"{used}/{bucket.capacity}"}

    def _rest_throttled(self, retry_after):
        self.sim.count_throttled()
        headers = self._call_limit(self.sim.rest_bucket.level())
        headers["Retry-After"] = retry_after
        return json_response(429, REST_THROTTLED, headers)

    def _rest(self, request, version, handler, match):
        accepted, level = self.sim.rest_bucket.try_pour(1)
        if not accepted:
            return self._rest_throttled("2.0")
        response = handler(self.sim, request, version, match)
        response.headers.update(self._call_limit(level))
        return response

    def _fault(self, fault, kind):
        if fault.kind == "throttle":
            if kind == "graphql":
                return graphql_api.throttled_response(self.sim)
            return self._rest_throttled(fault.retry_after)
        response = error_response(fault.status)
        if fault.kind == "timeout":
            response.delay = fault.seconds
        return response


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ShopifySimulator/1.0"
    # headers and body are written separately: without this, Nagle and the
    # client's delayed ACK add ~40 ms to every keep-alive answer
    disable_nagle_algorithm = True

    def version_string(self):
        return self.server_version

    def do_GET(self):
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
                if sum(map(len, chunks)) > MAX_BODY_BYTES:
                    raise OverflowError
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise OverflowError
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self):
        sim = self.server.sim
        split = urlsplit(self.path)
        try:
            body = self._read_body()
        except (OverflowError, ValueError):
            self.close_connection = True
            self._write(error_response(413))
            return
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=dict(self.headers.items()),
            body=body,
            client_host=self.client_address[0],
        )
        try:
            response = self.server.dispatcher.dispatch(request)
        except Exception as err:  # a simulator bug: never a traceback to clients
            sim.record_internal_error(err)
            response = json_response(500, {"errors": "Internal Server Error"})
        if response.delay:
            sim.wait_unless_stopped(response.delay)
        self._write(response)

    def _write(self, response):
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout)

    def log_message(self, format, *args):
        _logger.debug("%s %s", self.address_string(), format % args)


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, sim):
        super().__init__(address, _Handler)
        self.sim = sim
        self.dispatcher = Dispatcher(sim)


def serve_in_thread(sim, host, port):
    """Start a server; return ``(server, thread)``."""
    server = SimulatorServer((host, port), sim)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"shopify-sim-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return server, thread
