"""The adapter of the test channel (``server.py``): the smallest complete
adapter, and the example README's *Adding a channel* points to. Every call
spends the backend's shared budget of its family first.

Webhooks carry their topic in ``X-Test-Topic``: ``order`` (the default) is
an order payload; ``inventory`` is a quantity the channel shows,
``{"item", "location", "quantity", "updated_at"}`` (``quantity`` null: an
untracked item), stored as an ``inventory_level`` event. Any other topic is
refused (400)."""

import datetime
import hashlib
import hmac
import json
from decimal import Decimal

import requests

from odoo.addons.marketplace_connector.lib.adapter import (
    MarketplaceAdapter,
    PulledMessage,
    PullIntakeMixin,
    RateLimit,
    ShipmentAdapterMixin,
    StockAbilities,
    StockAdapterMixin,
    register_adapter,
)
from odoo.addons.marketplace_connector.lib.errors import (
    AuthenticationError,
    DataError,
    RateLimitedError,
    RetryableError,
    WebhookRejected,
)
from odoo.addons.marketplace_connector.lib.inbound import (
    SOURCE_POLL,
    SOURCE_WEBHOOK,
    DemandLine,
    InboundEvent,
)
from odoo.addons.marketplace_connector.lib.order import (
    Address,
    Customer,
    Order,
    OrderLine,
    ShippingLine,
    TaxRate,
)
from odoo.addons.marketplace_connector.lib.stock import StockWriteResult

SIGNATURE_HEADER = "X-Test-Signature"
TOPIC_HEADER = "X-Test-Topic"
ORDERS = "orders"
STOCK = "stock"
QUEUE = "queue"
SOURCE_QUEUE = "queue"


def _naive_utc(text):
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def inventory_event(payload, topic, source):
    """The inbox event of an inventory report: one per reported state (item,
    location, time, quantity)."""
    if not isinstance(payload, dict):
        raise DataError("An inventory report must be a JSON object.")
    item, location = payload.get("item"), payload.get("location")
    if not item or not location:
        raise DataError("An inventory report names its item and location.")
    quantity = payload.get("quantity")
    if quantity is not None and (not isinstance(quantity, int) or quantity < 0):
        raise DataError(f"Invalid quantity {quantity!r}.")
    stamp = payload.get("updated_at") or ""
    try:
        updated_at = _naive_utc(stamp) if stamp else None
    except ValueError as err:
        raise DataError(f"Invalid updated_at: {err}") from err
    return InboundEvent(
        topic=topic,
        dedupe_key=f"inventory:{item}:{location}:{stamp}:{quantity}",
        resource_type="inventory_level",
        external_id=f"{item}:{location}",
        external_updated_at=updated_at,
        payload=payload,
        source=source,
    )


def _tax_rates(taxes):
    """A line's ``taxes``: ``[{title, rate, country?, region?,
    collected_by_channel?}]``, rates as fractions in text ("0.2")."""
    return tuple(
        TaxRate(
            title=tax["title"],
            rate=Decimal(str(tax["rate"])),
            country=tax.get("country") or "",
            region=tax.get("region") or "",
            collected_by_channel=bool(tax.get("collected_by_channel")),
        )
        for tax in taxes or ()
    )


def order_event(payload, topic, source):
    """The inbox event of an order payload: one per order state."""
    try:
        external_id = str(payload["id"])
        updated_at = _naive_utc(payload["updated_at"])
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(f"Not an order: {err}") from err
    demand = ()
    if payload.get("status") != "cancelled" and not payload.get("fulfilled_by_channel"):
        demand = tuple(
            DemandLine(str(line["item"]), line.get("sku") or "", line["quantity"])
            for line in payload.get("lines") or ()
        )
    return InboundEvent(
        topic=topic,
        dedupe_key=f"order:{external_id}:{payload['updated_at']}:{payload.get('status')}",
        resource_type="order",
        external_id=external_id,
        external_updated_at=updated_at,
        payload=payload,
        source=source,
        demand=demand,
    )


@register_adapter
class TestChannelAdapter(
    PullIntakeMixin, StockAdapterMixin, ShipmentAdapterMixin, MarketplaceAdapter
):
    marketplace_type = "test_channel"
    pull_wait_seconds = 0

    @property
    def unpaid_orders_hold_stock(self):
        return bool(self.config.setting("hold_unpaid", False))

    @property
    def stock_abilities(self):
        return StockAbilities(
            compare_and_set=bool(self.config.setting("compare_and_set", True)),
            asynchronous=bool(self.config.setting("asynchronous", False)),
            batch_size=50,
        )

    def rate_limits(self):
        return {
            ORDERS: RateLimit(20, 10),
            STOCK: RateLimit(10, 5),
            QUEUE: RateLimit(20, 10),
        }

    # HTTP

    def _call(self, family, method, path, **kwargs):
        self.rate_gate.reserve(family, 1)
        try:
            response = requests.request(
                method,
                f"{self.config.api_url}{path}",
                headers={
                    "Authorization": f"Bearer {self.config.credential('test_api_key')}"
                },
                timeout=self.config.timeout,
                **kwargs,
            )
        except requests.RequestException as err:
            raise RetryableError(f"Test channel unreachable: {err}") from err
        if response.status_code == 401:
            raise AuthenticationError("The test channel refused the API key.")
        if response.status_code == 429:
            raise RateLimitedError(
                "Test channel throttled",
                retry_after=float(response.headers["Retry-After"]),
            )
        if response.status_code >= 500:
            raise RetryableError(f"Test channel answered {response.status_code}")
        if response.status_code >= 400:
            raise DataError(f"Test channel refused: {response.json().get('error')}")
        return response.json()

    # Intake

    def verify_webhook(self, headers, body):
        secret = self.config.credential("test_webhook_secret")
        signature = headers.get(SIGNATURE_HEADER) or ""
        expected = hmac.new(secret.encode(), bytes(body), hashlib.sha256).hexdigest()
        if not secret or not hmac.compare_digest(signature, expected):
            raise WebhookRejected(401, "invalid signature")
        try:
            payload = json.loads(body)
        except ValueError:
            raise WebhookRejected(400, "body is not JSON") from None
        topic = headers.get(TOPIC_HEADER) or "order"
        parsers = {"order": order_event, "inventory": inventory_event}
        if topic not in parsers:
            raise WebhookRejected(400, f"unknown topic {topic}")
        try:
            return parsers[topic](payload, topic, SOURCE_WEBHOOK)
        except DataError as err:
            raise WebhookRejected(400, str(err)) from err

    def receive_messages(self, max_messages, wait_seconds):
        answer = self._call(QUEUE, "POST", "/queue/receive", json={"max": max_messages})
        return [
            PulledMessage(m["id"], m["receipt"], m["body"]) for m in answer["messages"]
        ]

    def parse_message(self, message):
        try:
            payload = json.loads(message.body)
        except ValueError as err:
            raise DataError(f"not JSON ({err})") from err
        if not isinstance(payload, dict) or payload.get("type") not in (
            "order",
            "ping",
        ):
            raise DataError("not a message of the test channel")
        if payload["type"] == "ping":
            return None
        event = order_event(payload.get("order") or {}, "order", SOURCE_QUEUE)
        # a notification is a trigger: the job re-reads the order
        return InboundEvent(
            **{**event.__dict__, "payload": {"trigger": event.external_id}}
        )

    def acknowledge(self, messages):
        if messages:
            self._call(
                QUEUE,
                "POST",
                "/queue/delete",
                json={"receipts": [m.receipt for m in messages]},
            )

    def prepare_event_payload(self, payload):
        if "trigger" in payload:
            return self._call(ORDERS, "GET", f"/orders/{payload['trigger']}")
        return payload

    def iter_updated_orders(self, since):
        answer = self._call(
            ORDERS, "GET", "/orders", params={"updated_since": since.isoformat()}
        )
        for payload in answer["orders"]:
            yield order_event(payload, "order", SOURCE_POLL)

    def test_connection(self):
        self._call(ORDERS, "GET", "/orders", params={"updated_since": "2000-01-01"})
        return "Connected to the test channel."

    # Orders

    def importable(self, order):
        if order.is_cancelled:
            return False
        return order.financial_status == "paid" or bool(
            self.config.setting("import_unpaid", False)
        )

    def parse_order(self, payload):
        try:
            return self._parse_order(payload)
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"Order {payload.get('id')} cannot be read: {err}") from err

    @staticmethod
    def _parse_order(payload):
        address = Address(**(payload.get("address") or {}))
        customer = payload.get("customer") or {}
        lines = tuple(
            OrderLine(
                external_id=str(line["id"]),
                sku=line.get("sku") or "",
                variant_id=str(line["item"]),
                title=line.get("title") or line.get("sku") or "",
                quantity=Decimal(line["quantity"]),
                price_unit=Decimal(line["price"]),
                taxes=_tax_rates(line.get("taxes")),
            )
            for line in payload["lines"]
        )
        shipping = Decimal(payload.get("shipping") or "0")
        total = sum((line.price_unit * line.quantity for line in lines), shipping)
        if payload.get("total") is not None:
            # the total the channel charged, when it states one: the core
            # checks its own figures against it
            total = Decimal(payload["total"])
        status = payload.get("status") or "paid"
        return Order(
            external_id=str(payload["id"]),
            name=payload.get("name") or str(payload["id"]),
            currency=payload.get("currency") or "USD",
            created_at=_naive_utc(payload.get("created_at") or payload["updated_at"]),
            updated_at=_naive_utc(payload["updated_at"]),
            taxes_included=bool(payload.get("taxes_included")),
            financial_status="pending" if status == "pending" else "paid",
            fulfillment_status="",
            cancelled_at=_naive_utc(payload["updated_at"])
            if status == "cancelled"
            else None,
            cancel_reason="",
            customer=Customer(
                external_id=str(customer.get("id") or ""),
                email=customer.get("email") or "",
                first_name=customer.get("first_name") or "",
                last_name=customer.get("last_name") or "",
            ),
            shipping_address=address,
            billing_address=address,
            lines=lines,
            shipping_lines=(
                ShippingLine(
                    "Shipping",
                    "standard",
                    shipping,
                    taxes=_tax_rates(payload.get("shipping_taxes")),
                ),
            )
            if shipping
            else (),
            total_price=total,
            total_tax=Decimal(str(payload.get("total_tax") or 0)),
            total_discounts=Decimal(0),
            digest=hashlib.sha1(
                json.dumps(payload, sort_keys=True).encode()
            ).hexdigest(),
            fulfilled_by_channel=bool(payload.get("fulfilled_by_channel")),
            payment_gateway=payload.get("payment_gateway") or "",
        )

    # Stock

    def write_stock(self, writes, idempotency_key):
        body = {
            "key": idempotency_key,
            "writes": [
                {
                    "item": w.item_ref,
                    "location": w.location_id,
                    "quantity": w.quantity,
                    "change_from": w.change_from,
                }
                for w in writes
            ],
        }
        answer = self._call(STOCK, "POST", "/stock/write", json=body)
        if "submission" in answer:
            return StockWriteResult(
                submission=answer["submission"], pending=tuple(writes)
            )
        return self._results(writes, answer["results"])

    @staticmethod
    def _results(writes, results):
        applied, stale, errors = [], [], []
        for write, result in zip(writes, results, strict=True):
            if result["status"] == "applied":
                applied.append(write)
            elif result["status"] == "stale":
                stale.append(write)
            else:
                errors.append((write, result.get("message") or "refused"))
        return StockWriteResult(
            applied=tuple(applied), stale=tuple(stale), errors=tuple(errors)
        )

    def check_submission(self, submission, writes):
        answer = self._call(STOCK, "GET", f"/stock/submissions/{submission}")
        if answer["state"] == "processing":
            return None
        return self._results(writes, answer["results"])

    def read_stock(self, pairs):
        answer = self._call(
            STOCK, "POST", "/stock/read", json={"pairs": [list(p) for p in pairs]}
        )
        return {(item, loc): qty for item, loc, qty in answer["quantities"]}

    def iter_stock(self, location_id):
        page = 0
        while page is not None:
            answer = self._call(
                STOCK, "GET", "/stock", params={"location": location_id, "page": page}
            )
            yield [(item, qty) for item, qty in answer["items"]]
            page = answer["next"]

    def parse_stock_level(self, payload):
        return str(payload["item"]), str(payload["location"]), payload["quantity"]

    # Shipments

    def send_shipment(self, shipment):
        self._call(
            ORDERS,
            "POST",
            "/shipments",
            json={
                "reference": shipment.reference,
                "order": shipment.order_id,
                "carrier": shipment.carrier_code or shipment.carrier_name,
                "tracking_number": shipment.tracking_number,
                "lines": [
                    {"id": line.line_id, "quantity": line.quantity}
                    for line in shipment.lines
                ],
            },
        )
