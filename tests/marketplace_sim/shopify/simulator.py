"""The simulator's Python API: the shop's state, merchant-side actions, and
the HTTP server that exposes them. See the package docstring."""

import copy
import logging
import random
import re
import threading
import time
import traceback
import uuid

from . import orders
from .clock import coerce_epoch, format_ts
from .faults import FaultInjector
from .fulfillment import FulfillmentDesk
from .inventory import InventorySetter
from .ratelimit import LeakyBucket, plan_limits
from .server import serve_in_thread
from .stats import RequestLog, RequestStats
from .store import IdSequence, ShopStore, Variant
from .webhook_subscriptions import WebhookSubscriptions
from .webhooks import WebhookSender

_logger = logging.getLogger(__name__)

DEFAULT_API_VERSIONS = ("2025-10", "2026-01", "2026-04", "2026-07", "2026-10")
_CURRENCY = re.compile(r"[A-Z]{3}")
_FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken")
_LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen")
_CITIES = (
    ("Springfield", "Illinois", "IL", "62701"),
    ("Portland", "Oregon", "OR", "97205"),
    ("Austin", "Texas", "TX", "78701"),
    ("Boston", "Massachusetts", "MA", "02108"),
)


class ShopifySimulator:
    """One Shopify shop over HTTP on loopback.

    :param clock: a callable returning epoch seconds (``time.time`` by
        default, :class:`~.clock.FakeClock` in tests); it dates the shop's
        resources. Rate-limit buckets always use real monotonic time.
    """

    def __init__(
        self,
        shop_domain="acme.myshopify.com",
        access_token="shpat_test",
        plan="standard",
        seed=0,
        clock=None,
        *,
        api_versions=DEFAULT_API_VERSIONS,
        currency="USD",
        shop_name=None,
        visible_days=60,
        location_name="Shop location",
    ):
        self.shop_domain = shop_domain
        self.access_token = access_token
        self.currency = currency
        self.shop_name = (
            shop_name or shop_domain.split(".")[0].replace("-", " ").title()
        )
        self.clock = clock or time.time
        #: supported API versions (``YYYY-MM``); older well-formed ones are
        #: served by the oldest of these
        self.api_versions = list(api_versions)
        #: only orders created within this many days are visible (None: all)
        self.visible_days = visible_days
        #: HTTP status of a THROTTLED GraphQL answer (Shopify: 200, some 429)
        self.graphql_throttle_status = 200
        #: fire inventory_levels/update for changes made through the API
        self.notify_api_inventory_changes = True
        #: a WebhookSender; every notify=True change is sent through it
        self.webhooks = None
        self.faults = FaultInjector()
        self.internal_errors = []
        self.request_stats = RequestStats()
        self.request_log = RequestLog()
        self._rng = random.Random(seed)
        self.store = ShopStore(self._rng)
        self.shop_id = IdSequence(self._rng, 68_000_000_000)()
        self.location_id = self.store.add_location(location_name).id
        self.inventory_setter = InventorySetter(self.store, self._next_timestamp)
        self.plan = plan
        limits = plan_limits(plan)
        self.rest_bucket = LeakyBucket(
            limits.rest_capacity, limits.rest_leak_per_second
        )
        self.graphql_bucket = LeakyBucket(
            limits.graphql_capacity, limits.graphql_restore_per_second
        )
        self._owned_webhooks = None
        #: subscriptions made through the API (``webhook_subscriptions``)
        self.subscriptions = WebhookSubscriptions(self.clock)
        #: fulfillment orders and fulfillments (``fulfillment``)
        self.fulfillment = FulfillmentDesk(self)
        self._server = None
        self._thread = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    # Server lifecycle

    def start(self, port=0, host="127.0.0.1"):
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._stopping.clear()
        self._server, self._thread = serve_in_thread(self, host, port)
        _logger.info("Shopify simulator for %s on %s", self.shop_domain, self.url)
        return self

    @property
    def port(self):
        return self._server.server_address[1] if self._server else None

    @property
    def url(self):
        if self._server is None:
            raise RuntimeError("start() the simulator first")
        host = self._server.server_address[0]
        return f"http://{host}:{self.port}"

    def stop(self):
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None
        self.detach_webhooks()

    def wait_unless_stopped(self, seconds):
        """Sleep (a held response) but wake up when the simulator stops."""
        self._stopping.wait(seconds)

    def __enter__(self):
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info):
        self.stop()

    def set_plan(self, plan):
        limits = plan_limits(plan)
        self.plan = plan
        self.rest_bucket.reconfigure(limits.rest_capacity, limits.rest_leak_per_second)
        self.graphql_bucket.reconfigure(
            limits.graphql_capacity, limits.graphql_restore_per_second
        )

    # Observability

    @property
    def stats(self):
        return self.request_stats.snapshot()

    @property
    def requests(self):
        """Recorded Admin API requests (a copy), oldest first."""
        return self.request_log.snapshot()

    def reset_stats(self):
        self.request_stats.reset()
        self.request_log.clear()

    def count_throttled(self):
        self.request_stats.count("throttled")

    def record_internal_error(self, error):
        text = "".join(traceback.format_exception(error))
        with self._lock:
            self.internal_errors.append(text)
        _logger.error("Shopify simulator internal error:\n%s", text)

    def visibility_horizon(self):
        if self.visible_days is None:
            return None
        return self.clock() - self.visible_days * 86400

    def _next_timestamp(self, last):
        """Now, but at least one second after ``last`` (epoch seconds)."""
        return max(int(self.clock()), int(last) + 1)

    # Catalogue and inventory

    def add_location(self, name):
        return self.store.add_location(name).id

    def add_product(
        self, sku, price, title=None, inventory=0, location_id=None, tracked=True
    ):
        """Add a single-variant product (or update the one with this SKU:
        price, title and the available quantity). Returns ``product_id,
        variant_id, inventory_item_id, sku, price, title``."""
        if not isinstance(sku, str) or not sku.strip():
            raise ValueError("a product needs a SKU")
        price_text = orders.money(orders.decimal(price, "price"))
        inventory = int(inventory)
        store = self.store
        with store.lock:
            location_id = self._location(location_id)
            variant = store.variants_by_sku.get(sku)
            if variant is None:
                variant = Variant(
                    product_id=store.ids["product"](),
                    variant_id=store.ids["variant"](),
                    inventory_item_id=store.ids["inventory_item"](),
                    sku=sku,
                    price=price_text,
                    title=title or sku,
                    tracked=bool(tracked),
                )
                store.add_variant(variant)
            else:
                variant.price, variant.title = price_text, title or variant.title
            now = int(self.clock())
            level = store.stock(variant.inventory_item_id, location_id, now)
            level.available = inventory
            level.updated_at = self._next_timestamp(level.updated_at)
            return variant.as_dict()

    def variant(self, sku):
        return self.store.variant_for_sku(sku).as_dict()

    def products(self):
        return [variant.as_dict() for variant in self.store.sorted_variants()]

    def _location(self, location_id):
        location_id = self.location_id if location_id is None else int(location_id)
        if location_id not in self.store.locations:
            raise ValueError(f"no location {location_id}")
        return location_id

    def _level(self, inventory_item_id, location_id):
        level = self.store.level(int(inventory_item_id), self._location(location_id))
        if level is None:
            raise KeyError(
                f"inventory item {inventory_item_id} is not stocked at {location_id}"
            )
        return level

    def inventory_level(self, inventory_item_id, location_id=None):
        """The ``available`` quantity of an item at a location (primary by
        default); KeyError when it is not stocked there."""
        return self._level(inventory_item_id, location_id).available

    def inventory_snapshot(self):
        with self.store.lock:
            return [
                {
                    "sku": self.store.variants_by_item[level.inventory_item_id].sku,
                    "inventory_item_id": level.inventory_item_id,
                    "location_id": level.location_id,
                    "available": level.available,
                    "committed": level.committed,
                    "on_hand": level.on_hand,
                    "updated_at": format_ts(level.updated_at),
                }
                for level in self.store.levels.values()
            ]

    def set_inventory(
        self, inventory_item_id, available, location_id=None, notify=False
    ):
        """A merchant-side change of ``available`` (stocks the item at the
        location if needed); ``notify`` fires ``inventory_levels/update``."""
        store = self.store
        with store.lock:
            item_id = int(inventory_item_id)
            if item_id not in store.variants_by_item:
                raise KeyError(f"no inventory item {item_id}")
            level = store.stock(item_id, self._location(location_id), int(self.clock()))
            level.available = int(available)
            level.updated_at = self._next_timestamp(level.updated_at)
            payload = level.webhook_payload()
        if notify:
            self._send([("inventory_levels/update", payload)])

    def notify_inventory_levels(self, levels):
        """Called after API changes of these levels."""
        if self.notify_api_inventory_changes and levels:
            with self.store.lock:
                payloads = [level.webhook_payload() for level in levels]
            for payload in payloads:
                self._send([("inventory_levels/update", payload)])

    # Orders

    def create_order(
        self,
        lines,
        customer=None,
        email=None,
        currency="USD",
        taxes_included=False,
        tax_rate="0.20",
        shipping="5.00",
        discount_pct="0",
        financial_status="paid",
        shipping_address=None,
        notify=True,
        *,
        billing_address=None,
        note=None,
        tags="",
        test=False,
        created_at=None,
        location_id=None,
    ):
        """Place an order; return its REST resource (a copy).

        :param lines: ``(sku, quantity)`` or ``(sku, quantity, unit_price)``.
        :param tax_rate: a fraction (``"0.20"``); ``discount_pct`` a
            percentage (``"10"`` = 10 % off every line, as a discount code).
        :param customer: a dict used as is; by default one is generated.
        :param created_at: back-date the order (epoch, datetime or ISO text).
        Fires ``orders/create``, and ``orders/paid`` when paid.
        """
        if financial_status not in orders.FINANCIAL_STATUSES:
            raise ValueError(f"unknown financial_status {financial_status!r}")
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
            raise ValueError(f"currency must be an ISO 4217 code, not {currency!r}")
        store = self.store
        with store.lock:
            location_id = self._location(location_id)
            resolved = []
            for sku, quantity, *price in lines:
                variant = store.variant_for_sku(sku)
                resolved.append(
                    (variant, quantity, price[0] if price else variant.price)
                )
            pricing = orders.price_order(
                resolved, tax_rate, shipping, discount_pct, taxes_included
            )
            created = (
                int(self.clock()) if created_at is None else coerce_epoch(created_at)
            )
            number = store.next_order_number
            store.next_order_number += 1
            customer = (
                copy.deepcopy(customer)
                if customer is not None
                else self._customer(email)
            )
            email = email or (customer or {}).get("email")
            address = (
                copy.deepcopy(shipping_address)
                if shipping_address is not None
                else self._address(customer)
            )
            state = orders.build_order(
                pricing,
                ids={
                    "order": store.ids["order"](),
                    "line_items": [store.ids["line_item"]() for _line in pricing.lines],
                    "shipping_line": store.ids["shipping_line"](),
                },
                number=number,
                timestamp=format_ts(created),
                currency=currency,
                email=email,
                customer=customer,
                shipping_address=address,
                billing_address=(
                    copy.deepcopy(billing_address)
                    if billing_address is not None
                    else copy.deepcopy(address)
                ),
                financial_status=financial_status,
                note=note,
                tags=tags,
                test=test,
            )
            store.insert_order(state, created)
            store.order_locations[state["id"]] = location_id
            for line in pricing.lines:
                self._move_stock(line.variant_id, location_id, line.quantity, created)
        topics = ["orders/create"] + (
            ["orders/paid"] if financial_status == "paid" else []
        )
        if notify:
            self._send([(topic, state) for topic in topics])
        return copy.deepcopy(state)

    def _move_stock(self, variant_id, location_id, quantity, now, restock=True):
        """Commit ``quantity`` units to an order (positive) or release them
        (negative: back to available when ``restock``, else gone)."""
        variant = self.store.variants_by_id[variant_id]
        level = self.store.stock(variant.inventory_item_id, location_id, now)
        level.committed += quantity
        if quantity > 0 or restock:
            level.available -= quantity
        level.updated_at = self._next_timestamp(level.updated_at)

    def _customer(self, email):
        rng = self._rng
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        customer_id = self.store.ids["customer"]()
        return {
            "id": customer_id,
            "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
            "email": email
            or f"{first}.{last}.{customer_id % 10000}@example.com".lower(),
            "first_name": first,
            "last_name": last,
            "phone": None,
        }

    def _address(self, customer):
        city, province, code, zip_code = self._rng.choice(_CITIES)
        return {
            "first_name": (customer or {}).get("first_name"),
            "last_name": (customer or {}).get("last_name"),
            "address1": f"{self._rng.randint(1, 999)} Main Street",
            "address2": None,
            "city": city,
            "province": province,
            "province_code": code,
            "zip": zip_code,
            "country": "United States",
            "country_code": "US",
            "phone": None,
        }

    def _change_order(self, order_id, change, topics, notify):
        """Apply ``change(state, timestamp_text)`` to a copy of the order,
        store it with a new ``updated_at``, fire ``topics``."""
        store = self.store
        with store.lock:
            try:
                row = store.order_row(int(order_id))
            except KeyError:
                raise KeyError(f"no order {order_id}") from None
            state = copy.deepcopy(row.state)
            stamp = self._next_timestamp(row.updated_ts)
            change(state, stamp)
            state["updated_at"] = format_ts(stamp)
            store.replace_order(state, stamp)
        if notify:
            self._send([(topic, state) for topic in topics])
        return copy.deepcopy(state)

    def update_order(self, order_id, notify=True, **fields):
        """Change fields an app or the merchant may edit (note, tags, email,
        addresses, statuses...); fires ``orders/updated``."""
        unknown = set(fields) - orders.UPDATABLE_FIELDS
        if unknown:
            raise ValueError(f"fields that cannot be updated: {sorted(unknown)}")
        if fields.get("financial_status", "paid") not in orders.FINANCIAL_STATUSES:
            raise ValueError(f"unknown financial_status {fields['financial_status']!r}")
        if fields.get("fulfillment_status") not in orders.FULFILLMENT_STATUSES:
            raise ValueError(
                f"unknown fulfillment_status {fields['fulfillment_status']!r}"
            )

        def change(state, _stamp):
            state.update(copy.deepcopy(fields))
            if "email" in fields:
                state["contact_email"] = fields["email"]

        return self._change_order(order_id, change, ["orders/updated"], notify)

    def mark_paid(self, order_id, notify=True):
        """Capture payment; fires ``orders/paid`` and ``orders/updated``."""

        def change(state, _stamp):
            if state["financial_status"] == "paid":
                raise ValueError(f"order {order_id} is already paid")
            if state["cancelled_at"]:
                raise ValueError(f"order {order_id} is cancelled")
            state["financial_status"] = "paid"

        return self._change_order(
            order_id, change, ["orders/paid", "orders/updated"], notify
        )

    def cancel_order(self, order_id, reason="customer", notify=True, restock=True):
        """Cancel (and archive) an order; unpaid ones become ``voided``;
        committed stock is released (back to available when ``restock``).
        Fires ``orders/cancelled`` and ``orders/updated``."""
        if reason not in orders.CANCEL_REASONS:
            raise ValueError(f"cancel reason must be one of {orders.CANCEL_REASONS}")

        def change(state, stamp):
            if state["cancelled_at"]:
                raise ValueError(f"order {order_id} is already cancelled")
            text = format_ts(stamp)
            state.update(cancelled_at=text, cancel_reason=reason, closed_at=text)
            if state["financial_status"] in ("pending", "authorized"):
                state["financial_status"] = "voided"
            location_id = self.store.order_locations[state["id"]]
            for line in state["line_items"]:
                if line["fulfillable_quantity"]:
                    self._move_stock(
                        line["variant_id"],
                        location_id,
                        -line["fulfillable_quantity"],
                        stamp,
                        restock=restock,
                    )
                    line["fulfillable_quantity"] = 0

        return self._change_order(
            order_id, change, ["orders/cancelled", "orders/updated"], notify
        )

    def close_order(self, order_id, notify=True):
        """Archive an order (REST ``status=closed``); fires ``orders/updated``."""

        def change(state, stamp):
            if state["closed_at"]:
                raise ValueError(f"order {order_id} is already closed")
            state["closed_at"] = format_ts(stamp)

        return self._change_order(order_id, change, ["orders/updated"], notify)

    def get_order(self, order_id):
        try:
            return copy.deepcopy(self.store.order_row(int(order_id)).state)
        except KeyError:
            raise KeyError(f"no order {order_id}") from None

    def orders(self):
        """Every order (copies), by updated_at then id."""
        with self.store.lock:
            states = [self.store.order_row(i).state for i in self.store.order_ids()]
        return copy.deepcopy(states)

    # Webhooks

    def _send(self, deliveries):
        """Send ``(topic, payload)`` pairs caused by one action: they share
        one ``X-Shopify-Event-Id``."""
        sender = self.webhooks
        if sender is None:
            return
        event_id = str(uuid.uuid4())
        triggered_ns = int(self.clock() * 1_000_000_000)
        for topic, payload in deliveries:
            sender.send(topic, payload, event_id=event_id, triggered_at_ns=triggered_ns)

    def attach_webhooks(self, url, secret, **options):
        """Create a WebhookSender this simulator owns (closed on stop) and
        send every notify=True change through it. Returns it."""
        sender = WebhookSender(url, secret, self.shop_domain, **options)
        self.detach_webhooks()
        self.webhooks = self._owned_webhooks = sender
        return sender

    def detach_webhooks(self):
        owned, self._owned_webhooks = self._owned_webhooks, None
        if owned is not None and self.webhooks is owned:
            self.webhooks = None
        if owned is not None:
            owned.close()
