"""The simulator's Python API: one seller, one application, its orders,
listings, feeds and notification queue, and the HTTP server that exposes
them. See the package docstring."""

import json
import logging
import threading
import traceback
import uuid

from .auth import LoginWithAmazon
from .catalog import Catalog, SoldOut
from .clock import SimClock, format_ts
from .faults import FaultInjector
from .feeds import FeedService
from .listings_api import PageTokens
from .marketplaces import marketplace
from .orderbook import OrderBook
from .orders_api import PaginationTokens
from .ratelimit import RateLimiter
from .server import serve_in_thread
from .sqs import SqsService
from .stats import OperationStats

_logger = logging.getLogger(__name__)


class AmazonSimulator:
    """One Amazon seller over HTTP on loopback.

    :param clock: a :class:`~.clock.SimClock` (or any callable returning
        epoch seconds with ``real_seconds``); by default one running at
        ``time_scale`` times real time.
    :param aws_access_keys: access key ids the SQS endpoint accepts.
    """

    def __init__(
        self,
        seller_id="A1SIMSELLER0001",
        marketplace_ids=("ATVPDKIKX0DER",),
        client_id="amzn1.application-oa2-client.sim",
        client_secret="sim-client-secret",
        refresh_token="Atzr|sim-refresh-token",
        *,
        clock=None,
        time_scale=1.0,
        seed=0,
        application_id="amzn1.sp.solution.sim-application",
        queue_name="sp-api-notifications",
        visibility_timeout=30,
        max_receive_count=None,
        aws_access_keys=("AKIDSIMULATOR", "testing"),
    ):
        for marketplace_id in marketplace_ids:
            marketplace(marketplace_id)  # ValueError for an unknown id
        self.seller_id = seller_id
        self.marketplace_ids = list(marketplace_ids)
        self.application_id = application_id
        self.clock = clock or SimClock(time_scale=time_scale)
        self.lwa = LoginWithAmazon(self.clock, client_id, client_secret, refresh_token)
        self.rate_limiter = RateLimiter(self.clock)
        self.faults = FaultInjector()
        self.request_stats = OperationStats()
        self.request_log = []
        self.internal_errors = []
        self.orders = OrderBook(seller_id, self.clock, self._notify_order, seed=seed)
        self.catalog = Catalog(self.clock)
        self.feeds = FeedService(self)
        self.pagination_tokens = PaginationTokens()
        self.listing_page_tokens = PageTokens()
        self.sqs = SqsService(self.clock, aws_access_keys, lambda: self.sqs_url)
        self.queue_name = queue_name
        self.sqs.create_queue(queue_name, visibility_timeout, max_receive_count)
        self.subscription_id = f"subscription-{uuid.uuid4()}"
        self._server = None
        self._thread = None
        self._lock = threading.Lock()

    # Server lifecycle

    def start(self, port=0, host="127.0.0.1"):
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._server, self._thread = serve_in_thread(self, host, port)
        _logger.info("Amazon simulator for %s on %s", self.seller_id, self.url)
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self):
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def port(self):
        return self._server.server_address[1] if self._server else None

    @property
    def url(self):
        """Base URL of the SP-API (stands for sellingpartnerapi-na.amazon.com)."""
        if self._server is None:
            raise RuntimeError("start() the simulator first")
        return f"http://{self._server.server_address[0]}:{self.port}"

    @property
    def lwa_url(self):
        return f"{self.url}/auth/o2/token"

    @property
    def sqs_url(self):
        """``endpoint_url`` for ``boto3.client("sqs", ...)``."""
        return self.url

    @property
    def queue_url(self):
        return self.sqs.queues[self.queue_name].url

    @property
    def dead_letter_queue_url(self):
        queue = self.sqs.queues[self.queue_name].dead_letter
        return queue.url if queue else None

    # Observability

    @property
    def stats(self):
        return self.request_stats.snapshot()

    def reset_stats(self):
        self.request_stats.reset()
        with self._lock:
            self.request_log.clear()

    def record_internal_error(self, error):
        text = "".join(traceback.format_exception(error))
        with self._lock:
            self.internal_errors.append(text)
        _logger.error("Amazon simulator internal error:\n%s", text)

    # Login and faults

    def access_token(self):
        """A live access token without the LWA round trip."""
        return self.lwa.issue()

    def expire_tokens(self):
        self.lwa.expire_tokens()

    def revoke_refresh_token(self):
        self.lwa.revoke()

    def throttle(self, seconds, operation=None):
        """A 429 storm: empty the buckets and hold them empty ``seconds``."""
        self.rate_limiter.hold(seconds, operation)

    def fail_next(self, status=503, count=1, operation=None):
        self.faults.fail_next(status, count, operation)

    # Orders

    @property
    def visibility_lag(self):
        return self.orders.visibility_lag

    @visibility_lag.setter
    def visibility_lag(self, seconds):
        self.orders.visibility_lag = float(seconds)

    def create_order(self, lines, marketplace_id=None, from_listings=False, **options):
        """Place an order (see :meth:`.orderbook.OrderBook.create`); returns
        its full v2026 rendering.

        :param from_listings: an MFN order takes its quantities from the
            listings, as a buyer's purchase does on Amazon: refused with
            :class:`SoldOut` (nothing placed) when a listing shows less than
            its line asks (a storefront's "deny" policy), else every
            listing is lowered by its line in the same step. A write of
            ours landing later overwrites the result (last write wins).
            AFN orders never touch the listings (Amazon's own stock).
        """
        marketplace_id = marketplace_id or self.marketplace_ids[0]
        if marketplace_id not in self.marketplace_ids:
            raise ValueError(f"{marketplace_id} is not a marketplace of this seller")
        if not from_listings or options.get("fulfillment", "MFN") != "MFN":
            return self.orders.create(lines, marketplace_id, **options)
        wanted = {}
        for line in lines:
            sku, quantity = (
                (line["sku"], line["quantity"]) if isinstance(line, dict) else line[:2]
            )
            wanted[str(sku)] = wanted.get(str(sku), 0) + int(quantity)
        with self.catalog.lock:
            self.catalog.settle()
            for sku, quantity in wanted.items():
                listing = self.catalog.listings.get(sku)
                if listing is None:
                    raise SoldOut(f"no listing {sku}")
                if listing.quantity < quantity:
                    raise SoldOut(
                        f"{sku} shows {listing.quantity}, the order asks {quantity}"
                    )
            order = self.orders.create(lines, marketplace_id, **options)
            now = self.clock()
            for sku, quantity in wanted.items():
                listing = self.catalog.listings[sku]
                self.catalog.set_quantity(
                    sku, listing.quantity - quantity, now, f"order:{order['orderId']}"
                )
        return order

    def pay_order(self, order_id):
        return self.orders.pay(order_id)

    def cancel_order(self, order_id, reason=None, by="SELLER"):
        return self.orders.cancel(order_id, reason=reason, by=by)

    def ship_order(self, order_id):
        return self.orders.ship(order_id)

    def set_order_status(self, order_id, status):
        return self.orders.set_status(order_id, status)

    def get_order(self, order_id):
        """The order as it is now (no lag, every section)."""
        with self.orders.lock:
            return self.orders.get(order_id).render()

    def shipments(self, order_id):
        """Every package confirmed for the order, in confirmation order."""
        with self.orders.lock:
            return list(self.orders.get(order_id).packages)

    def shipment_attempts(self, order_id=None):
        """Every confirmShipment that reached validation, refused ones included."""
        with self.orders.lock:
            return [
                dict(entry)
                for entry in self.orders.shipment_log
                if order_id in (None, entry["orderId"])
            ]

    # Listings

    def add_listing(self, sku, quantity=0, product_type="PRODUCT", title=None):
        listing = self.catalog.add(sku, quantity, product_type, title)
        return {"sku": listing.sku, "quantity": listing.quantity, "asin": listing.asin}

    def listing_quantity(self, sku):
        """The quantity live now (after every write due by now)."""
        listing = self.catalog.get(sku)
        if listing is None:
            raise KeyError(f"no listing {sku}")
        return listing.quantity

    def listing_history(self, sku):
        """``[(at, quantity, source)]`` of applied writes (source ``patch:<id>``
        or ``feed:<id>``)."""
        listing = self.catalog.get(sku)
        if listing is None:
            raise KeyError(f"no listing {sku}")
        return list(listing.history)

    def listings(self):
        self.catalog.settle()
        with self.catalog.lock:
            return {sku: item.quantity for sku, item in self.catalog.listings.items()}

    def listing_histories(self):
        """Every listing's applied writes (see :meth:`listing_history`) and
        how many scheduled writes (PATCHes, feeds) have not landed yet."""
        self.catalog.settle()
        with self.catalog.lock:
            return {
                "pending": self.catalog.pending(),
                "history": {
                    sku: [list(entry) for entry in item.history]
                    for sku, item in self.catalog.listings.items()
                },
            }

    @property
    def listing_delay(self):
        return self.catalog.patch_delay

    @listing_delay.setter
    def listing_delay(self, seconds):
        self.catalog.patch_delay = float(seconds)

    def feed_report(self, feed_id):
        self.catalog.settle()
        return self.feeds.feeds[feed_id].report

    # Notifications

    def _notify_order(self, order, change_type, reason):
        now = self.clock()
        notification = {
            "NotificationVersion": "1.0",
            "NotificationType": "ORDER_CHANGE",
            "PayloadVersion": "1.0",
            "EventTime": format_ts(now),
            "Payload": {
                "OrderChangeNotification": {
                    "NotificationLevel": "OrderLevel",
                    "SellerId": self.seller_id,
                    "AmazonOrderId": order.order_id,
                    "OrderChangeType": change_type,
                    "OrderChangeTrigger": {
                        "TimeOfOrderChange": format_ts(order.updated),
                        "ChangeReason": reason,
                    },
                    "Summary": order.notification_summary(),
                }
            },
            "NotificationMetadata": {
                "ApplicationId": self.application_id,
                "SubscriptionId": self.subscription_id,
                "PublishTime": format_ts(now),
                "NotificationId": str(uuid.uuid4()),
            },
        }
        if self.queue_name in self.sqs.queues:
            self.sqs.send(self.queue_name, json.dumps(notification))

    def send_raw_message(self, body):
        """Put any body on the queue (e.g. a malformed, non-JSON one)."""
        return self.sqs.send(self.queue_name, body)

    def inject_malformed_message(self, body="{not json"):
        return self.send_raw_message(body)

    def duplicate_next_messages(self, count=1):
        """The next ``count`` received messages are delivered once more."""
        with self.sqs.lock:
            self.sqs.queues[self.queue_name].duplicates_pending += int(count)

    def fail_next_deletes(self, count=1):
        """The next ``count`` messages asked to be deleted are not: each is
        reported in ``Failed`` (``InternalError``), as SQS does now and
        then, and comes back after its visibility timeout."""
        if int(count) < 1:
            raise ValueError("count must be at least 1")
        with self.sqs.lock:
            self.sqs.queues[self.queue_name].deletes_failing += int(count)

    def reorder_messages(self, enabled=True):
        with self.sqs.lock:
            self.sqs.queues[self.queue_name].reorder = bool(enabled)

    def queue_messages(self, dead_letter=False):
        """Bodies of the messages still in the queue (or its DLQ), parsed
        when JSON."""
        queue = self.sqs.queues[self.queue_name]
        if dead_letter:
            queue = queue.dead_letter
        with self.sqs.lock:
            bodies = [copy.body for copy in queue.copies]
        parsed = []
        for body in bodies:
            try:
                parsed.append(json.loads(body))
            except ValueError:
                parsed.append(body)
        return parsed
