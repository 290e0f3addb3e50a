"""HTTP: a threading server, and the dispatcher that applies, in order, the
checks Amazon's edge applies before an SP-API call reaches the service.

1. ``/_sim/`` control, ``/_documents/`` pre-signed document URLs, LWA
   (``/auth/o2/token``) and SQS (``X-Amz-Target: AmazonSQS.*``) are routed
   first; they are not SP-API operations.
2. The route (404 ``NotFound``) names the operation.
3. Injected faults (500/503).
4. ``x-amz-access-token`` (403 ``Unauthorized``).
5. The operation's token bucket (429 ``QuotaExceeded``).
6. A body that is not ``application/json`` (415).
7. The handler; an :class:`~.wire.ApiError` becomes Amazon's error body.
Every SP-API answer carries ``x-amzn-RequestId``; those that passed the
rate limiter also ``x-amzn-RateLimit-Limit``.
"""

import logging
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from . import control, listings_api, orders_api
from .wire import QUOTA_MESSAGE, ApiError, Request, Response, error_response

_logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024
_SEGMENT = r"[^/]+"


def _route(method, template, handler):
    pattern = re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m.group(1)}>{_SEGMENT})", template)
    return method, re.compile(pattern), handler


ROUTES = {
    "searchOrders": _route(
        "GET", "/orders/2026-01-01/orders", orders_api.search_orders
    ),
    "getOrder": _route(
        "GET", "/orders/2026-01-01/orders/{orderId}", orders_api.get_order
    ),
    "confirmShipment": _route(
        "POST",
        "/orders/v0/orders/{orderId}/shipmentConfirmation",
        orders_api.confirm_shipment,
    ),
    "patchListingsItem": _route(
        "PATCH",
        "/listings/2021-08-01/items/{sellerId}/{sku}",
        listings_api.patch_listings_item,
    ),
    "getListingsItem": _route(
        "GET",
        "/listings/2021-08-01/items/{sellerId}/{sku}",
        listings_api.get_listings_item,
    ),
    "searchListingsItems": _route(
        "GET",
        "/listings/2021-08-01/items/{sellerId}",
        listings_api.search_listings_items,
    ),
    "createFeedDocument": _route(
        "POST",
        "/feeds/2021-06-30/documents",
        lambda sim, request, match: sim.feeds.create_feed_document(request, match),
    ),
    "getFeedDocument": _route(
        "GET",
        "/feeds/2021-06-30/documents/{documentId}",
        lambda sim, request, match: sim.feeds.get_feed_document(request, match),
    ),
    "createFeed": _route(
        "POST",
        "/feeds/2021-06-30/feeds",
        lambda sim, request, match: sim.feeds.create_feed(request, match),
    ),
    "getFeed": _route(
        "GET",
        "/feeds/2021-06-30/feeds/{feedId}",
        lambda sim, request, match: sim.feeds.get_feed(request, match),
    ),
}
_DOCUMENT = re.compile(r"/_documents/([^/]+)")


def find_operation(method, path):
    """``(operation, handler, match)`` or None."""
    for operation, (route_method, pattern, handler) in ROUTES.items():
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return operation, handler, match
    return None


class Dispatcher:
    def __init__(self, sim):
        self.sim = sim

    def dispatch(self, request):
        sim = self.sim
        if request.path == "/_sim" or request.path.startswith("/_sim/"):
            return control.handle(sim, request)
        document = _DOCUMENT.fullmatch(request.path)
        if document:
            response = sim.feeds.handle_document(request, document.group(1))
            sim.request_stats.record(f"s3:{request.method}", response.status)
            return response
        if request.path == "/auth/o2/token":
            response = sim.lwa.handle_token(request)
            sim.request_stats.record("lwa:token", response.status)
            return response
        if (request.header("X-Amz-Target") or "").startswith("AmazonSQS."):
            operation, response = sim.sqs.handle(request)
            response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
            sim.request_stats.record(operation, response.status)
            return response
        found = find_operation(request.method, unquote(request.path))
        operation = found[0] if found else None
        response, injected = self._sp_api(request, found)
        response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
        sim.request_stats.record(operation, response.status, injected)
        sim.request_log.append(
            {
                "operation": operation,
                "method": request.method,
                "path": request.path,
                "status": response.status,
            }
        )
        return response

    def _sp_api(self, request, found):
        sim = self.sim
        if found is None:
            return error_response(404, "NotFound", "Resource not found"), False
        operation, handler, match = found
        fault = sim.faults.take(operation)
        if fault is not None:
            code, message = fault.code_and_message
            return error_response(fault.status, code, message), True
        try:
            application = sim.lwa.authenticate(request)
        except ApiError as err:
            return err.response(), False
        accepted, plan = sim.rate_limiter.try_take(
            application, sim.seller_id, operation
        )
        headers = {"x-amzn-RateLimit-Limit": plan.header} if plan else {}
        if not accepted:
            return error_response(
                429, "QuotaExceeded", QUOTA_MESSAGE, headers=headers
            ), False
        if request.body and request.method in ("POST", "PATCH", "PUT"):
            content_type = (request.header("Content-Type") or "").split(";")[0].strip()
            if content_type.lower() != "application/json":
                response = error_response(
                    415,
                    "UnsupportedMediaType",
                    "The request payload is in an unsupported format.",
                    f"Content-Type {content_type!r}; use application/json",
                )
                response.headers.update(headers)
                return response, False
        try:
            response = handler(sim, request, match)
        except ApiError as err:
            response = err.response()
        response.headers.update(headers)
        return response, False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonSimulator/1.0"
    disable_nagle_algorithm = True

    def version_string(self):
        return self.server_version

    def do_GET(self):
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
                total += size
                if total > MAX_BODY_BYTES:
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
            self._write(
                error_response(413, "RequestEntityTooLarge", "Request too large")
            )
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
            response = error_response(
                500, "InternalFailure", "Simulator internal error"
            )
        self._write(response)

    def _write(self, response: Response):
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

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
    server = SimulatorServer((host, port), sim)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"amazon-sim-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return server, thread
