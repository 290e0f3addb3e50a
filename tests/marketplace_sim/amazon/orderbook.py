"""The order book: creating orders and changing them, as the buyer, Amazon
or the seller would, each change stamped and announced by an ORDER_CHANGE
notification.

``lastUpdatedTime`` strictly increases (at least one second per change:
max(now, last + 1 s)), so a client's "updated since" cursor never sees two
versions of an order with the same stamp.
"""

import copy
import random
import threading
import zlib
from decimal import Decimal

from .marketplaces import marketplace
from .orders import STATUSES, Order, OrderItem, decimal, status_after_shipping

_NAMES = (
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Barbara Liskov",
    "Ken Iverson",
)
_CITIES = (
    ("Springfield", "IL", "62701"),
    ("Portland", "OR", "97205"),
    ("Austin", "TX", "78701"),
    ("Boston", "MA", "02108"),
)


def _asin(sku):
    """A stable made-up ASIN for a SKU."""
    return f"B0{zlib.crc32(str(sku).encode()) % 10**8:08d}"


#: status changes the control surface may make, and who may make them
_TRANSITIONS = {
    "UNSHIPPED": ("PENDING", "PENDING_AVAILABILITY"),
    "CANCELLED": ("PENDING", "PENDING_AVAILABILITY", "UNSHIPPED", "PARTIALLY_SHIPPED"),
    "UNFULFILLABLE": ("PENDING", "UNSHIPPED"),
}


class OrderBook:
    """Thread-safe; ``notify(order, change_type, reason)`` is called (outside
    the lock) after each change."""

    def __init__(self, seller_id, clock, notify, seed=0):
        self.seller_id = seller_id
        self.clock = clock
        self.notify = notify
        self.visibility_lag = 0.0
        self.lock = threading.RLock()
        self._rng = random.Random(seed)
        self._orders = {}
        self.shipment_log = []  # every confirmShipment attempt that reached the book

    # Ids

    def _order_id(self):
        while True:
            rng = self._rng
            order_id = (
                f"{rng.randint(111, 114)}-{rng.randint(0, 9_999_999):07d}"
                f"-{rng.randint(0, 9_999_999):07d}"
            )
            if order_id not in self._orders:
                return order_id

    def _item_id(self):
        return f"{self._rng.randint(10**13, 10**14 - 1)}"

    def _stamp(self, last):
        return max(float(int(self.clock())), float(int(last)) + 1.0)

    # Reads

    def get(self, order_id):
        with self.lock:
            order = self._orders.get(order_id)
            if order is None:
                raise KeyError(f"no order {order_id}")
            return order

    def horizon(self):
        return self.clock() - self.visibility_lag

    def visible_orders(self):
        """``(order, rendering)`` of every order visible now."""
        horizon = self.horizon()
        with self.lock:
            pairs = [(order, order.visible(horizon)) for order in self._orders.values()]
        return [(order, rendered) for order, rendered in pairs if rendered is not None]

    def all_orders(self):
        with self.lock:
            return [copy.deepcopy(order.render()) for order in self._orders.values()]

    # Changes

    def create(
        self,
        lines,
        marketplace_id,
        fulfillment="MFN",
        status="UNSHIPPED",
        tax_rate="0.10",
        shipping="0.00",
        buyer=None,
        address=None,
        created_at=None,
        service_level="STANDARD",
        marketplace_facilitator=False,
    ):
        """Place an order.

        :param lines: ``(sku, quantity, unit_price)`` tuples or dicts with
            ``sku, quantity, unit_price`` and optionally ``item_tax,
            shipping, shipping_tax, promotion_discount, promotion_id, asin,
            title``. Missing taxes are ``tax_rate`` x the amount; the order's
            ``shipping`` goes on its first line.
        :param status: PENDING (not paid yet) or UNSHIPPED (paid).
        :param marketplace_facilitator: Amazon collects and remits the
            taxes of every item (its ``tax.taxCollections``).
        """
        mkt = marketplace(marketplace_id)
        if fulfillment not in ("MFN", "AFN"):
            raise ValueError("fulfillment is MFN or AFN")
        if status not in ("PENDING", "UNSHIPPED", "PENDING_AVAILABILITY"):
            raise ValueError(
                "a new order is PENDING, PENDING_AVAILABILITY or UNSHIPPED"
            )
        if not lines:
            raise ValueError("an order needs at least one line")
        rate = Decimal(str(tax_rate))
        order_shipping = decimal(shipping, "shipping")
        with self.lock:
            items = []
            for index, line in enumerate(lines):
                if not isinstance(line, dict):
                    sku, quantity, unit_price = line
                    line = {"sku": sku, "quantity": quantity, "unit_price": unit_price}
                quantity = line["quantity"]
                if (
                    isinstance(quantity, bool)
                    or not isinstance(quantity, int)
                    or quantity < 1
                ):
                    raise ValueError(
                        f"quantity must be a positive integer, not {quantity!r}"
                    )
                unit = decimal(line["unit_price"], "unit_price")
                ship = decimal(
                    line.get("shipping", order_shipping if index == 0 else 0),
                    "shipping",
                )
                items.append(
                    OrderItem(
                        order_item_id=self._item_id(),
                        sku=str(line["sku"]),
                        asin=line.get("asin") or _asin(line["sku"]),
                        title=line.get("title") or str(line["sku"]),
                        quantity=quantity,
                        unit_price=unit,
                        item_tax=decimal(
                            line.get("item_tax", unit * quantity * rate), "item_tax"
                        ),
                        shipping=ship,
                        shipping_tax=decimal(
                            line.get("shipping_tax", ship * rate), "shipping_tax"
                        ),
                        promotion_discount=decimal(
                            line.get("promotion_discount", 0), "promotion_discount"
                        ),
                        promotion_id=line.get("promotion_id"),
                        facilitator=bool(marketplace_facilitator),
                    )
                )
            now = self.clock() if created_at is None else float(created_at)
            name = self._rng.choice(_NAMES)
            city, state, postal = self._rng.choice(_CITIES)
            order = Order(
                order_id=self._order_id(),
                seller_id=self.seller_id,
                marketplace_id=mkt.marketplace_id,
                fulfillment=fulfillment,
                status=status,
                created=float(int(now)),
                updated=float(int(now)),
                items=items,
                buyer=copy.deepcopy(buyer)
                or {
                    "buyerName": name,
                    "buyerEmail": f"{self._rng.getrandbits(40):010x}"
                    "@marketplace.amazon.com",
                },
                address=copy.deepcopy(address)
                or {
                    "name": name,
                    "addressLine1": f"{self._rng.randint(1, 999)} Main Street",
                    "city": city,
                    "stateOrRegion": state,
                    "postalCode": postal,
                    "countryCode": mkt.country,
                    "addressType": "RESIDENTIAL",
                },
                service_level=service_level,
            )
            order.snapshot()
            self._orders[order.order_id] = order
        self.notify(order, "OrderStatusChange", "NewOrder")
        return copy.deepcopy(order.render())

    def _change(self, order_id, change, change_type="OrderStatusChange", reason=None):
        with self.lock:
            order = self.get(order_id)
            change(order)
            order.updated = self._stamp(order.updated)
            order.snapshot()
            rendered = copy.deepcopy(order.render())
        self.notify(order, change_type, reason or "StatusChange")
        return rendered

    def set_status(self, order_id, status, reason=None, cancelled_by="SELLER"):
        """Move an order to ``status`` (pay: UNSHIPPED; CANCELLED; SHIPPED
        ships whatever is left, e.g. Amazon shipping an AFN order)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {STATUSES}")

        def change(order):
            if status == "SHIPPED":
                if order.status not in ("UNSHIPPED", "PARTIALLY_SHIPPED"):
                    raise ValueError(f"order {order_id} is {order.status}: cannot ship")
                for item in order.items:
                    item.shipped = item.quantity
                order.status = "SHIPPED"
                return
            allowed = _TRANSITIONS.get(status, ())
            if order.status not in allowed:
                raise ValueError(f"order {order_id} is {order.status}: not -> {status}")
            if status == "CANCELLED":
                order.cancelled_by = cancelled_by
                order.cancel_reason = reason or "Cancelled by the simulator"
            order.status = status

        change_reason = {
            "CANCELLED": "BuyerRequestedCancel"
            if cancelled_by == "BUYER"
            else "Cancel",
        }.get(status, "StatusChange")
        change_type = (
            "BuyerRequestedChange" if cancelled_by == "BUYER" else "OrderStatusChange"
        )
        return self._change(order_id, change, change_type, change_reason)

    def pay(self, order_id):
        return self.set_status(order_id, "UNSHIPPED")

    def cancel(self, order_id, reason=None, by="SELLER"):
        return self.set_status(order_id, "CANCELLED", reason=reason, cancelled_by=by)

    def ship(self, order_id):
        return self.set_status(order_id, "SHIPPED")

    def record_package(self, order_id, package, quantities):
        """Apply an accepted shipment confirmation (already validated)."""

        def change(order):
            for item_id, quantity in quantities.items():
                order.item(item_id).shipped += quantity
            order.packages.append(package)
            order.status = status_after_shipping(order)

        return self._change(order_id, change)
