"""The Shopify adapter: what the channel-neutral core asks of Shopify.

Webhook intake answers before anything is stored, so the checks run in an
order that never trusts an unsigned body: signature first (401), then the
headers Shopify always sends (400), then that the delivery is for *our* shop
(403), then the body (400). Topics we do not handle are acknowledged with a
200 and not stored: an error would make Shopify retry eight times and then
delete the subscription, which is worse than ignoring a topic somebody
subscribed to by mistake.

Polling is the safety net Shopify itself recommends (delivery is not
guaranteed): GraphQL ``orders(query: "updated_at:>='...'", sortKey:
UPDATED_AT)`` paged by cursor (:mod:`.polling`; REST is legacy). It lists
the orders' states cheaply and reads in full only those the inbox does not
hold. Each polled order becomes an event with the same dedupe key a webhook
of the same order state gets, so the inbox stores it once.

Stock operations (:class:`StockAdapterMixin`) delegate to :mod:`.inventory`.
"""

import datetime
import json
import logging

from odoo.addons.marketplace_connector.lib.adapter import (
    MarketplaceAdapter,
    RateLimit,
    ShipmentAdapterMixin,
    StockAbilities,
    StockAdapterMixin,
    register_adapter,
)
from odoo.addons.marketplace_connector.lib.errors import DataError, WebhookRejected
from odoo.addons.marketplace_connector.lib.inbound import SOURCE_POLL, SOURCE_WEBHOOK

from . import (
    catalogue,
    fulfilment,
    inventory,
    mapping,
    mapping_catalogue,
    polling,
    refund_mapping,
)
from .client import ShopifyClient
from .webhook import verify_hmac

_logger = logging.getLogger(__name__)

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
SHOP_HEADER = "X-Shopify-Shop-Domain"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
#: kept with the event (never the signature)
KEPT_HEADERS = (
    TOPIC_HEADER,
    SHOP_HEADER,
    "X-Shopify-API-Version",
    WEBHOOK_ID_HEADER,
    "X-Shopify-Event-Id",
    "X-Shopify-Triggered-At",
)
POLL_TOPIC = "orders/updated"
INVENTORY_LEVEL_TOPIC = "inventory_levels/update"

SHOP_QUERY = "query ShopName { shop { name myshopifyDomain currencyCode } }"


def _lowered(headers):
    """A plain dict of ``headers`` with lower-case names (any mapping with
    ``items()``: a dict, werkzeug's headers, requests' headers)."""
    return {str(name).lower(): value for name, value in (headers or {}).items()}


def _domain(value):
    text = (value or "").strip().lower()
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    return text.rstrip("/")


def _iso_utc(moment):
    """A naive-UTC (or aware) datetime as ISO 8601 with an explicit offset."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="seconds")


@register_adapter
class ShopifyAdapter(StockAdapterMixin, ShipmentAdapterMixin, MarketplaceAdapter):
    """Shopify through signed webhooks and GraphQL (orders are polled too).

    :param config: the backend's :class:`BackendConfig`.
    :param client: a ready :class:`ShopifyClient` (tests); built lazily from
        ``config`` otherwise.
    """

    marketplace_type = "shopify"
    TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/cancelled")
    #: non-order topics this adapter turns into events
    STOCK_TOPICS = (INVENTORY_LEVEL_TOPIC,)
    #: refunds (``returns/*`` need nothing of us: a return's money and
    #: restock reach us as the refund that closes it)
    REFUND_TOPICS = (refund_mapping.REFUND_TOPIC,)
    #: the catalogue: bindings follow the shop's variants (a deleted
    #: product's variants arrive as ``inventory_items/delete``)
    PRODUCT_TOPICS = mapping_catalogue.PRODUCT_TOPICS

    @classmethod
    def handled_topics(cls):
        """Every topic this adapter turns into events: the one list webhook
        subscriptions are made from."""
        return cls.TOPICS + cls.STOCK_TOPICS + cls.REFUND_TOPICS + cls.PRODUCT_TOPICS

    #: the one rate budget this adapter spends, polls included: the GraphQL
    #: bucket
    GRAPHQL = "graphql"
    stock_abilities = StockAbilities(
        compare_and_set=True, asynchronous=False, batch_size=inventory.BATCH_SIZE
    )

    def __init__(self, config, client=None, rate_gate=None):
        super().__init__(config, rate_gate=rate_gate)
        self._client = client

    @property
    def shop_domain(self):
        return self.config.setting("shop_domain")

    @property
    def webhook_secrets(self):
        """The secrets a delivery may be signed with, the current one first
        (during a rotation the previous one stays valid)."""
        return tuple(
            secret
            for secret in (
                self.config.credential("webhook_secret"),
                self.config.credential("webhook_secret_previous"),
            )
            if secret
        )

    @property
    def client(self):
        """The Admin API client, built on first use (intake needs none)."""
        if self._client is None:
            self._client = ShopifyClient(
                self.config.api_url,
                self.config.credential("access_token"),
                self.config.setting("api_version"),
                timeout=self.config.timeout,
            )
        return self._client

    # Webhooks

    def verify_webhook(self, headers, body):
        headers = _lowered(headers)
        body = bytes(body or b"")
        signature = headers.get(HMAC_HEADER.lower())
        if not signature:
            raise WebhookRejected(401, f"missing {HMAC_HEADER} header")
        if not self.webhook_secrets:
            raise WebhookRejected(401, "no webhook secret is configured on the backend")
        if not verify_hmac(body, signature, self.webhook_secrets):
            raise WebhookRejected(401, "invalid signature")
        for name in (TOPIC_HEADER, SHOP_HEADER, WEBHOOK_ID_HEADER):
            if not headers.get(name.lower()):
                raise WebhookRejected(400, f"missing {name} header")
        topic = headers[TOPIC_HEADER.lower()].strip()
        shop = headers[SHOP_HEADER.lower()]
        if _domain(shop) != _domain(self.shop_domain):
            raise WebhookRejected(403, f"delivery for another shop: {shop}")
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise WebhookRejected(400, "body is not JSON") from None
        if not isinstance(payload, dict):
            raise WebhookRejected(400, "body is not a JSON object")
        kept = {
            name: headers[name.lower()]
            for name in KEPT_HEADERS
            if headers.get(name.lower())
        }
        try:
            if topic in self.TOPICS:
                return mapping.order_event(payload, topic, SOURCE_WEBHOOK, kept)
            if topic in self.STOCK_TOPICS:
                return mapping.inventory_level_event(
                    payload, topic, SOURCE_WEBHOOK, kept
                )
            if topic in self.PRODUCT_TOPICS:
                return mapping_catalogue.catalogue_event(
                    payload, topic, SOURCE_WEBHOOK, kept
                )
            if topic in self.REFUND_TOPICS:
                return refund_mapping.refund_event(payload, topic, SOURCE_WEBHOOK, kept)
        except DataError as err:
            raise WebhookRejected(400, str(err)) from err
        raise WebhookRejected(200, f"ignored topic {topic}")

    # Orders

    def parse_order(self, payload):
        return mapping.parse_order(payload)

    def parse_refund(self, payload):
        return refund_mapping.parse_refund(payload)

    def importable(self, order):
        """Shopify orders import once their financial status is one the
        backend names (``import_financial_states``): by default paid,
        partially paid or authorised."""
        states = self.config.setting("import_financial_states", ())
        return not order.is_cancelled and order.financial_status in states

    def iter_updated_orders(self, since, resume=None):
        """Every order updated at or after ``since`` whose state the inbox
        does not hold (:attr:`poll_known`), as ``poll`` events, oldest change
        first: GraphQL ``orders`` sorted by ``UPDATED_AT`` lists the states,
        only the missing ones are read in full (:mod:`.polling`). Each call
        spends the shared GraphQL budget; when it runs out, the poll goes on
        later from the listing page it stopped in (``resume``, what
        :attr:`poll_resume` held).
        """
        since_iso = resume["since"] if resume else _iso_utc(since)
        self.poll_resume = None
        orders = 0

        def on_page(after):
            self.poll_resume = {"since": since_iso, "after": after}

        for payload in polling.iter_updated_orders(
            self.client,
            since_iso,
            lambda cost: self.rate_gate.reserve(self.GRAPHQL, cost),
            known=self.poll_known,
            after=resume["after"] if resume else None,
            on_page=on_page,
        ):
            orders += 1
            yield mapping.order_event(payload, POLL_TOPIC, SOURCE_POLL)
        self.poll_resume = None
        _logger.debug(
            "Polled %s: %d orders read in full since %s",
            self.config.name,
            orders,
            since_iso,
        )

    def test_connection(self):
        shop = self.client.graphql(SHOP_QUERY).get("shop") or {}
        domain = shop.get("myshopifyDomain") or ""
        if self.shop_domain and _domain(domain) != _domain(self.shop_domain):
            raise DataError(
                f"The access token belongs to the shop {domain}, but the "
                f"backend's shop domain is {self.shop_domain}: webhooks "
                f"would be refused. Correct the shop domain or the token."
            )
        connected = (
            f"Connected to the Shopify shop {shop.get('name') or '?'} ({domain}), "
            f"currency {shop.get('currencyCode') or '?'}, "
            f"API version {self.config.setting('api_version')}."
        )
        return f"{connected} {self.subscription_report().describe()}"

    # Catalogue and webhook subscriptions (delegated to .catalogue)

    def subscription_report(self):
        """The shop's webhook subscriptions against every topic we handle,
        to the backend's webhook URL (:class:`catalogue.SubscriptionReport`)."""
        self.rate_gate.reserve(self.GRAPHQL, catalogue.SUBSCRIPTION_PAGE_COST)
        return catalogue.compare_subscriptions(
            catalogue.read_subscriptions(self.client),
            self.handled_topics(),
            self.config.setting("webhook_url"),
        )

    def register_webhooks(self):
        """Subscribe the backend's webhook URL to every topic we handle
        that it is not subscribed to yet (existing ones are left alone);
        ``(topics subscribed now, the report before)``."""
        report = self.subscription_report()
        uri = self.config.setting("webhook_url")
        for topic in report.missing:
            self.rate_gate.reserve(self.GRAPHQL, catalogue.SUBSCRIPTION_CREATE_COST)
            catalogue.subscribe(self.client, topic, uri)
        return report.missing, report

    def read_locations(self):
        self.rate_gate.reserve(self.GRAPHQL, catalogue.LOCATION_PAGE_COST)
        return catalogue.read_locations(self.client)

    def read_variant_page(self, after=None):
        self.rate_gate.reserve(self.GRAPHQL, catalogue.VARIANT_PAGE_COST)
        return catalogue.read_variant_page(self.client, after)

    def lookup_variants(self, variant_ids):
        self.rate_gate.reserve(
            self.GRAPHQL, catalogue.LOOKUP_COST_PER_VARIANT * len(variant_ids)
        )
        return catalogue.lookup_variants(self.client, variant_ids)

    # Fulfilment (delegated to .fulfilment)

    def send_shipment(self, shipment):
        """A validated delivery as Shopify fulfillments, one per location
        (:func:`.fulfilment.send_shipment`); the customer is notified as
        the backend says (``notify_customer``)."""
        return fulfilment.send_shipment(
            self.client,
            shipment,
            self.config.setting("notify_customer", True),
            reserve=lambda cost: self.rate_gate.reserve(self.GRAPHQL, cost),
        )

    # Stock (delegated to .inventory)

    def rate_limits(self):
        """The GraphQL bucket: what the last answer reported, else Shopify's
        Standard plan (2000 points, 100/s)."""
        status = self.client.throttle_status
        if status is None:
            return {self.GRAPHQL: RateLimit(2000.0, 100.0)}
        return {self.GRAPHQL: RateLimit(status.maximum_available, status.restore_rate)}

    def throttle_status(self):
        status = self.client.throttle_status
        if status is None:
            return None
        return {
            self.GRAPHQL: (
                status.currently_available,
                status.maximum_available,
                status.restore_rate,
            )
        }

    def stock_write_cost(self, count):
        return {self.GRAPHQL: inventory.WRITE_COST} if count else {}

    def stock_read_cost(self, count):
        return {self.GRAPHQL: inventory.READ_COST_PER_ITEM * count}

    def write_stock(self, writes, idempotency_key):
        return inventory.write_stock(self.client, writes, idempotency_key)

    def read_stock(self, pairs):
        return inventory.read_stock(self.client, pairs)

    def iter_stock(self, location_id):
        return inventory.iter_stock(self.client, location_id)

    def parse_stock_level(self, payload):
        return inventory.parse_stock_level(payload)
