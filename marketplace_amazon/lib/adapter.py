"""The Amazon adapter: what the channel-neutral core asks of Amazon.

Events arrive three ways, all describing order *states*:

* ORDER_CHANGE notifications pulled from the seller's SQS queue
  (:class:`PullIntakeMixin`; :mod:`.notifications`): triggers only, the
  importer re-reads the order through :meth:`prepare_event_payload`;
* a poll of ``searchOrders`` as the backstop Amazon tells apps to keep,
  never closer than 2 min 10 s to now (:meth:`poll_until`);
* no webhooks: Amazon has none (the core's default refuses them).

Which orders import (:meth:`importable`): ``UNSHIPPED``,
``PARTIALLY_SHIPPED`` and ``SHIPPED``. ``PENDING`` (not paid yet; Amazon
withholds prices and PII) waits, its demand counting against stock;
``CANCELLED`` cancels; ``UNFULFILLABLE`` and ``PENDING_AVAILABILITY``
(pre-orders) wait too.

Stock: last write wins and asynchronously (:data:`STOCK_ABILITIES`); up to
``patch_threshold`` writes go as one PATCH each, more as one feed.

Settings (non-secret, from the backend): ``region`` (na, eu, fe),
``seller_id``, ``marketplace_ids`` (list), ``sqs_queue_url``,
``sqs_region``, ``sqs_endpoint_url`` (optional), ``lwa_url`` (optional),
``patch_threshold`` (optional, default 10). Credentials:
``lwa_client_id``, ``lwa_client_secret``, ``lwa_refresh_token``,
``aws_access_key_id`` and ``aws_secret_access_key`` (optional: boto3's own
chain otherwise).
"""

import datetime
import logging
from urllib.parse import quote

from odoo.addons.marketplace_connector.lib.adapter import (
    MarketplaceAdapter,
    PullIntakeMixin,
    ShipmentAdapterMixin,
    StockAbilities,
    StockAdapterMixin,
    register_adapter,
)
from odoo.addons.marketplace_connector.lib.errors import (
    PermanentError,
    RetryableError,
)
from odoo.addons.marketplace_connector.lib.stock import StockWriteResult

from . import feeds, listings, mapping, notifications, orders, shipments
from .client import RATE_LIMITS, NotFoundError, SpApiClient, endpoint
from .lwa import DEFAULT_TOKEN_URL, LoginWithAmazon

_logger = logging.getLogger(__name__)

IMPORTABLE_STATUSES = ("unshipped", "partially_shipped", "shipped")
DEFAULT_PATCH_THRESHOLD = 10
#: how long a notification may wait for Amazon's order data to catch up
PROPAGATION_RETRY = 60.0


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


@register_adapter
class AmazonAdapter(
    PullIntakeMixin, StockAdapterMixin, ShipmentAdapterMixin, MarketplaceAdapter
):
    """Amazon's Selling Partner API, SQS notifications and listings feeds.

    :param config: the backend's :class:`BackendConfig`.
    :param token_store: where LWA access tokens are shared (the Odoo side
        passes a database-backed one; in memory by default).
    :param sqs_client: a ready boto3 SQS client (tests); built on first use.
    """

    marketplace_type = "amazon"
    #: Amazon keeps the units of a PENDING order (not paid yet) for it
    unpaid_orders_hold_stock = True
    #: each order is re-read with getOrder (0.5/s): never with another
    #: import's stock locks held
    batch_imports = False
    stock_abilities = StockAbilities(
        compare_and_set=False, asynchronous=True, batch_size=feeds.MAX_MESSAGES
    )
    pull_batch_size = notifications.MAX_MESSAGES
    pull_wait_seconds = 5

    def __init__(self, config, rate_gate=None, token_store=None, sqs_client=None):
        super().__init__(config, rate_gate)
        self.token_store = token_store
        self._sqs_client = sqs_client
        self._client = None
        self._queue = None
        #: naive UTC now (tests move it)
        self.now = _utcnow

    # Wiring

    @property
    def seller_id(self):
        seller = self.config.setting("seller_id")
        if not seller:
            raise PermanentError(
                "No Amazon seller id (merchant token) is set on the backend: "
                "copy it from Seller Central, Settings > Account Info > "
                "Merchant Token."
            )
        return seller

    @property
    def marketplace_ids(self):
        ids = self.config.setting("marketplace_ids") or ()
        if isinstance(ids, str):
            ids = [part.strip() for part in ids.split(",")]
        ids = [str(i).strip() for i in ids if str(i).strip()]
        if not ids:
            raise PermanentError(
                "No Amazon marketplace id is set on the backend: enter the "
                "marketplaces sold on (e.g. ATVPDKIKX0DER for amazon.com)."
            )
        return ids

    @property
    def client(self):
        """The SP-API client, built on first use (queue intake needs none)."""
        if self._client is None:
            lwa = LoginWithAmazon(
                self.config.credential("lwa_client_id"),
                self.config.credential("lwa_client_secret"),
                self.config.credential("lwa_refresh_token"),
                token_url=self.config.setting("lwa_url") or DEFAULT_TOKEN_URL,
                store=self.token_store,
                timeout=self.config.timeout,
            )
            self._client = SpApiClient(
                endpoint(self.config.setting("region"), self.config.api_url),
                lwa,
                self.rate_gate,
                timeout=self.config.timeout,
            )
        return self._client

    @property
    def queue(self):
        if self._queue is None:
            sqs = self._sqs_client or notifications.make_sqs_client(self.config)
            self._queue = notifications.NotificationQueue(
                sqs, self.config.setting("sqs_queue_url")
            )
        return self._queue

    def rate_limits(self):
        return dict(RATE_LIMITS)

    # Intake: the queue

    def receive_messages(self, max_messages, wait_seconds):
        return self.queue.receive(max_messages, wait_seconds)

    def parse_message(self, message):
        return notifications.parse_notification(message.body)

    def acknowledge(self, messages):
        self.queue.delete(messages)

    # Orders

    def parse_order(self, payload):
        return mapping.parse_order(payload)

    def importable(self, order):
        return (
            not order.is_cancelled and order.fulfillment_status in IMPORTABLE_STATUSES
        )

    def prepare_event_payload(self, payload):
        """A notification becomes the order it announces (``getOrder``); an
        order payload (a poll's) is returned as it is.

        :raise RetryableError: the order is not readable yet (Amazon's data
            lags its notifications by up to about two minutes).
        """
        if not notifications.is_notification(payload):
            return payload
        order_id, status, changed_at = notifications.notification_order(payload)
        try:
            order = self.get_order(order_id)
        except NotFoundError as err:
            raise RetryableError(
                f"Amazon order {order_id} is not readable yet (its data lags "
                f"the notification); retrying.",
                retry_after=PROPAGATION_RETRY,
            ) from err
        self._check_propagated(order, order_id, status, changed_at)
        return order

    @staticmethod
    def _check_propagated(order, order_id, status, changed_at):
        """Refuse (for now) an order older than its notification's change."""
        updated = mapping.optional_datetime(order.get("lastUpdatedTime"))
        current = mapping.normalise_status(
            (order.get("fulfillment") or {}).get("fulfillmentStatus")
        )
        if (
            updated is not None
            and changed_at is not None
            and updated < changed_at.replace(microsecond=0)
            and current != status
        ):
            raise RetryableError(
                f"Amazon order {order_id} still reads {current} as of {updated}, "
                f"older than the notified change to {status} at {changed_at}; "
                f"retrying.",
                retry_after=PROPAGATION_RETRY,
            )

    def get_order(self, order_id):
        """The order (v2026) with every section the mapping reads."""
        return orders.get_order(self.client, order_id)

    def poll_until(self, now):
        return now - orders.DATA_LAG

    def iter_updated_orders(self, since, resume=None):
        """Every order updated since ``since``; with ``resume`` (what
        :attr:`poll_resume` held), the rest of an interrupted poll: its
        window and the page token where it stopped."""
        self.poll_resume = None
        token = None
        until = self.poll_until(self.now())
        if resume:
            since = mapping.parse_datetime(resume["since"])
            until = mapping.parse_datetime(resume["until"])
            token = resume["token"]

        def on_page(next_token):
            self.poll_resume = next_token and {
                "since": orders.iso_utc(since),
                "until": orders.iso_utc(until),
                "token": next_token,
            }

        return orders.iter_updated_orders(
            self.client, self.marketplace_ids, since, until, token, on_page
        )

    def confirm_shipment(
        self,
        order_id,
        marketplace_id,
        package_reference_id,
        carrier_code,
        carrier_name,
        shipping_method,
        tracking_number,
        ship_date,
        items,
    ):
        """Confirm one package of an MFN order (see :mod:`.shipments`)."""
        return shipments.confirm_shipment(
            self.client,
            order_id,
            marketplace_id,
            package_reference_id,
            carrier_code,
            carrier_name,
            shipping_method,
            tracking_number,
            ship_date,
            items,
        )

    def send_shipment(self, shipment):
        """The core's shipment as one package confirmation. An unmapped
        carrier goes as ``Other`` with our carrier's name (Amazon then
        wants the name). The package is numbered from the shipment's
        reference (:func:`.shipments.package_reference_id`): Amazon takes
        only positive numbers, and a retry must send the same one."""
        shipped_at = shipment.shipped_at
        if shipped_at.tzinfo is None:
            shipped_at = shipped_at.replace(tzinfo=datetime.timezone.utc)
        return self.confirm_shipment(
            shipment.order_id,
            shipment.marketplace or self.marketplace_ids[0],
            shipments.package_reference_id(shipment.reference),
            shipment.carrier_code or "Other",
            shipment.carrier_name,
            shipment.service,
            shipment.tracking_number,
            shipped_at.isoformat(timespec="seconds"),
            [(line.line_id, line.quantity) for line in shipment.lines],
        )

    # Connection check

    def test_connection(self):
        """Log in, make one cheap SP-API call, read the queue's attributes;
        each failure names what to fix."""
        seller = self.seller_id
        marketplaces = self.marketplace_ids
        self.client.lwa.access_token()
        answer = self.client.call(
            "searchListingsItems",
            "GET",
            listings.ITEMS_PATH.format(quote(seller, safe="")),
            params={"marketplaceIds": marketplaces, "pageSize": 1},
        )
        count = (answer or {}).get("numberOfResults", 0)
        queue_text = "no notification queue set"
        if self.config.setting("sqs_queue_url"):
            attributes = self.queue.attributes()
            queue_text = (
                f"queue {attributes.get('QueueArn') or self.queue.queue_url} with "
                f"about {attributes.get('ApproximateNumberOfMessages', '?')} "
                f"message(s) waiting"
            )
        return (
            f"Connected to Amazon as seller {seller} "
            f"({', '.join(marketplaces)}): {count} listing(s); {queue_text}."
        )

    # Stock

    def patch_threshold(self):
        try:
            return max(
                0, int(self.config.setting("patch_threshold", DEFAULT_PATCH_THRESHOLD))
            )
        except (TypeError, ValueError):
            return DEFAULT_PATCH_THRESHOLD

    def write_stock(self, writes, idempotency_key):
        """A few writes as PATCHes (applied or refused now), more as one feed
        (a submission checked later). ``idempotency_key`` has no Amazon
        counterpart: a replayed ``replace`` is harmless."""
        writes = list(writes)
        if not writes:
            return StockWriteResult()
        if len(writes) > self.stock_abilities.batch_size:
            raise ValueError(
                f"at most {self.stock_abilities.batch_size} writes per call"
            )
        _logger.debug(
            "Amazon stock write %s: %d quantities", idempotency_key, len(writes)
        )
        if len(writes) <= self.patch_threshold():
            return listings.patch_quantities(
                self.client, self.seller_id, self.marketplace_ids, writes
            )
        return feeds.submit_feed(
            self.client, self.seller_id, self.marketplace_ids, writes
        )

    def check_submission(self, submission, writes):
        return feeds.feed_outcome(self.client, submission, list(writes))

    def read_stock(self, pairs):
        skus = [item for item, location in pairs if location == listings.CHANNEL]
        found = listings.read_quantities(
            self.client, self.seller_id, self.marketplace_ids, skus
        )
        return {(sku, listings.CHANNEL): quantity for sku, quantity in found.items()}

    def iter_stock(self, location_id):
        if location_id != listings.CHANNEL:
            return iter(())
        return listings.iter_quantities(
            self.client, self.seller_id, self.marketplace_ids
        )
