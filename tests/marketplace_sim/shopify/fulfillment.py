"""Fulfillment orders and fulfillments: what a merchant's app reads and
writes once an order ships.

Shopify splits every order into *fulfillment orders*, one per location the
order's items are assigned to (an order is born with one, at the location its
stock was committed at; :meth:`FulfillmentDesk.move` splits it as the
merchant's ``fulfillmentOrderMove`` does). A fulfillment order is ``OPEN``,
``IN_PROGRESS`` once partly fulfilled, ``CLOSED`` when nothing remains (or
its order was cancelled), ``ON_HOLD`` while the merchant holds it
(:meth:`FulfillmentDesk.hold`).

``fulfillmentCreate`` is validated as Shopify does and answers ``userErrors``
for: an unknown fulfillment order, fulfillment orders of two orders or two
locations in one call, a fulfillment order on hold or closed, a line item of
another fulfillment order, a quantity below 1 or above what remains. A
fulfillment lowers ``remainingQuantity``, moves the units out of
``committed`` at the location, updates the order's REST state
(``fulfillable_quantity``, ``fulfillment_status``, ``fulfillments``) and fires
``orders/updated`` and ``fulfillments/create``.

``fulfillmentCreate`` honours no ``@idempotent`` key here: an app must
recognise its own earlier fulfillment (tracking number, lines) after a lost
answer, which is what the connector does.

GraphQL: :mod:`.fulfillment_graphql`. Control surface (:func:`control`):
``GET /_sim/fulfillments``, ``GET /_sim/orders/{id}/fulfillments``, ``GET
/_sim/orders/{id}/fulfillment_orders``, ``POST /_sim/orders/{id}/hold``
``{reason, notes}``, ``POST /_sim/orders/{id}/release``, ``POST
/_sim/orders/{id}/move`` ``{line_item_id, location_id, quantity}``.
"""

import dataclasses
import random
import re

from .clock import format_ts
from .inventory import parse_gid
from .store import IdSequence

#: statuses a fulfillment can be created from
FULFILLABLE = ("OPEN", "IN_PROGRESS")
HOLD_REASONS = (
    "AWAITING_PAYMENT",
    "HIGH_RISK_OF_FRAUD",
    "INCORRECT_ADDRESS",
    "INVENTORY_OUT_OF_STOCK",
    "UNKNOWN_DELIVERY_DATE",
    "OTHER",
)


@dataclasses.dataclass
class OrderLine:
    """One line of a fulfillment order."""

    id: int
    line_item_id: int
    total: int
    remaining: int


@dataclasses.dataclass
class FulfillmentOrder:
    id: int
    order_id: int
    location_id: int
    lines: list
    created_ts: int
    updated_ts: int
    status: str = "OPEN"
    holds: list = dataclasses.field(default_factory=list)

    @property
    def gid(self):
        return f"gid://shopify/FulfillmentOrder/{self.id}"


@dataclasses.dataclass
class Fulfillment:
    id: int
    order_id: int
    name: str
    location_id: int
    #: ``[(fulfillment line id, line item id, fulfillment order line id, qty)]``
    lines: list
    fulfillment_order_ids: list
    tracking: list
    notify_customer: bool
    message: str | None
    created_ts: int

    @property
    def gid(self):
        return f"gid://shopify/Fulfillment/{self.id}"

    def as_dict(self, order_state=None):
        """The REST ``Fulfillment`` resource (the webhook's payload)."""
        items = {}
        for line in (order_state or {}).get("line_items", ()):
            items[line["id"]] = line
        first = self.tracking[0] if self.tracking else {}
        return {
            "id": self.id,
            "admin_graphql_api_id": self.gid,
            "order_id": self.order_id,
            "name": self.name,
            "status": "success",
            "created_at": format_ts(self.created_ts),
            "updated_at": format_ts(self.created_ts),
            "location_id": self.location_id,
            "notify_customer": self.notify_customer,
            "tracking_company": first.get("company"),
            "tracking_number": first.get("number"),
            "tracking_numbers": [t["number"] for t in self.tracking if t["number"]],
            "tracking_url": first.get("url"),
            "tracking_urls": [t["url"] for t in self.tracking if t["url"]],
            "line_items": [
                {
                    "id": line_item_id,
                    "sku": items.get(line_item_id, {}).get("sku"),
                    "quantity": quantity,
                    "fulfillment_order_line_item_id": fo_line_id,
                }
                for _id, line_item_id, fo_line_id, quantity in self.lines
            ],
        }


class FulfillmentError(Exception):
    """A ``userErrors`` entry: ``field`` path and message."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message


def _number(value, kind):
    """The number of a GID (:class:`InventoryInputError` when malformed:
    the request's error, not a user error)."""
    return parse_gid(value, kind)


class FulfillmentDesk:
    """The fulfillment orders and fulfillments of one simulated shop."""

    def __init__(self, sim):
        self.sim = sim
        rng = random.Random(7)
        self._ids = {
            "fulfillment_order": IdSequence(rng, 6_200_000_000_000),
            "fulfillment_order_line": IdSequence(rng, 13_900_000_000_000),
            "fulfillment": IdSequence(rng, 5_400_000_000_000),
            "fulfillment_line": IdSequence(rng, 11_200_000_000_000),
            "hold": IdSequence(rng, 2_300_000_000),
        }
        self._orders = {}  # order id -> [FulfillmentOrder]
        self._by_id = {}  # fulfillment order id -> FulfillmentOrder
        self._fulfillments = {}  # order id -> [Fulfillment]
        self._fulfillment_by_id = {}

    @property
    def lock(self):
        return self.sim.store.lock

    # Reading

    def of_order(self, order_id):
        """The order's fulfillment orders, made on first use from the order
        as it was placed (one at the location its stock was committed at)."""
        order_id = int(order_id)
        with self.lock:
            found = self._orders.get(order_id)
            if found is None:
                try:
                    row = self.sim.store.order_row(order_id)
                except KeyError:
                    raise KeyError(f"no order {order_id}") from None
                location_id = self.sim.store.order_locations[order_id]
                fulfillment_order = FulfillmentOrder(
                    id=self._ids["fulfillment_order"](),
                    order_id=order_id,
                    location_id=location_id,
                    lines=[
                        OrderLine(
                            self._ids["fulfillment_order_line"](),
                            line["id"],
                            line["quantity"],
                            line["quantity"],
                        )
                        for line in row.state["line_items"]
                    ],
                    created_ts=row.created_ts,
                    updated_ts=row.created_ts,
                )
                found = self._orders[order_id] = [fulfillment_order]
                self._by_id[fulfillment_order.id] = fulfillment_order
            return list(found)

    def status(self, fulfillment_order):
        """Its status; every fulfillment order of a cancelled order is
        closed."""
        state = self.sim.store.order_row(fulfillment_order.order_id).state
        if state.get("cancelled_at") and fulfillment_order.status != "CLOSED":
            return "CLOSED"
        return fulfillment_order.status

    def fulfillment_order(self, fulfillment_order_id):
        with self.lock:
            return self._by_id.get(int(fulfillment_order_id))

    def fulfillments_of(self, order_id):
        with self.lock:
            return list(self._fulfillments.get(int(order_id), ()))

    def fulfillment(self, fulfillment_id):
        with self.lock:
            return self._fulfillment_by_id.get(int(fulfillment_id))

    # Merchant-side actions

    def hold(self, order_id, reason="OTHER", notes=None, fulfillment_order_id=None):
        """Put the order's open fulfillment orders (or one) on hold, as the
        merchant's *Hold fulfillment* does; return them as dicts."""
        if reason not in HOLD_REASONS:
            raise ValueError(f"hold reason must be one of {HOLD_REASONS}")
        with self.lock:
            held = []
            for fulfillment_order in self.of_order(order_id):
                if fulfillment_order_id and fulfillment_order.id != int(
                    fulfillment_order_id
                ):
                    continue
                if self.status(fulfillment_order) not in FULFILLABLE:
                    continue
                fulfillment_order.status = "ON_HOLD"
                fulfillment_order.holds.append(
                    {"id": self._ids["hold"](), "reason": reason, "notes": notes}
                )
                fulfillment_order.updated_ts = self._stamp(fulfillment_order)
                held.append(fulfillment_order)
            if not held:
                raise ValueError(f"order {order_id} has no open fulfillment order")
            return [self.as_dict(fo) for fo in held]

    def release(self, order_id):
        """Release every hold of the order's fulfillment orders."""
        with self.lock:
            released = []
            for fulfillment_order in self.of_order(order_id):
                if fulfillment_order.status != "ON_HOLD":
                    continue
                fulfillment_order.holds.clear()
                started = any(
                    line.remaining < line.total for line in fulfillment_order.lines
                )
                fulfillment_order.status = "IN_PROGRESS" if started else "OPEN"
                fulfillment_order.updated_ts = self._stamp(fulfillment_order)
                released.append(fulfillment_order)
            return [self.as_dict(fo) for fo in released]

    def move(self, order_id, line_item_id, location_id, quantity=None):
        """Move what remains of a line item (or ``quantity`` of it) to a
        fulfillment order at ``location_id`` (a new one, as
        ``fulfillmentOrderMove`` makes); the stock moves from ``committed``
        at the old location to ``committed`` at the new one."""
        line_item_id, location_id = int(line_item_id), int(location_id)
        if location_id not in self.sim.store.locations:
            raise KeyError(f"no location {location_id}")
        with self.lock:
            fulfillment_orders = self.of_order(order_id)
            source = line = None
            for fulfillment_order in fulfillment_orders:
                for candidate in fulfillment_order.lines:
                    if candidate.line_item_id == line_item_id and candidate.remaining:
                        source, line = fulfillment_order, candidate
            if line is None:
                raise ValueError(f"line item {line_item_id} has nothing to move")
            if self.status(source) not in FULFILLABLE:
                raise ValueError(f"fulfillment order {source.id} cannot be moved")
            if source.location_id == location_id:
                raise ValueError("the line item is at that location already")
            quantity = line.remaining if quantity is None else int(quantity)
            if not 0 < quantity <= line.remaining:
                raise ValueError(f"quantity must be 1 to {line.remaining}")
            target = next(
                (
                    fo
                    for fo in fulfillment_orders
                    if fo.location_id == location_id and fo.status == "OPEN"
                ),
                None,
            )
            now = self._stamp(source)
            if target is None:
                target = FulfillmentOrder(
                    id=self._ids["fulfillment_order"](),
                    order_id=int(order_id),
                    location_id=location_id,
                    lines=[],
                    created_ts=now,
                    updated_ts=now,
                )
                self._orders[int(order_id)].append(target)
                self._by_id[target.id] = target
            line.remaining -= quantity
            line.total -= quantity
            if not any(item.remaining for item in source.lines):
                source.status = "CLOSED"
            target.lines.append(
                OrderLine(
                    self._ids["fulfillment_order_line"](),
                    line_item_id,
                    quantity,
                    quantity,
                )
            )
            source.updated_ts = target.updated_ts = now
            variant_id = self._line_item(order_id, line_item_id)["variant_id"]
            self.sim._move_stock(variant_id, source.location_id, -quantity, now)
            self.sim._move_stock(variant_id, location_id, quantity, now)
            return [self.as_dict(source), self.as_dict(target)]

    # fulfillmentCreate

    def create(self, data, message=None):
        """A fulfillment from the ``FulfillmentInput`` ``data``; raise
        :class:`FulfillmentError` as Shopify's ``userErrors`` would say."""
        groups = data.get("lineItemsByFulfillmentOrder") or []
        if not groups:
            raise FulfillmentError(
                ["fulfillment", "lineItemsByFulfillmentOrder"],
                "Line items by fulfillment order must contain at least one item.",
            )
        with self.lock:
            plan = []
            order_id = location_id = None
            for index, group in enumerate(groups):
                field = ["fulfillment", "lineItemsByFulfillmentOrder", str(index)]
                fulfillment_order = self._by_id.get(
                    _number(group["fulfillmentOrderId"], "FulfillmentOrder")
                )
                if fulfillment_order is None:
                    raise FulfillmentError(
                        [*field, "fulfillmentOrderId"],
                        "Fulfillment order does not exist.",
                    )
                if order_id is None:
                    order_id = fulfillment_order.order_id
                    location_id = fulfillment_order.location_id
                if fulfillment_order.order_id != order_id:
                    raise FulfillmentError(
                        field,
                        "All fulfillment orders must belong to the same order.",
                    )
                if fulfillment_order.location_id != location_id:
                    raise FulfillmentError(
                        field,
                        "All fulfillment orders must be assigned to the same location.",
                    )
                status = self.status(fulfillment_order)
                if status == "ON_HOLD":
                    raise FulfillmentError(
                        field,
                        f"Fulfillment order {fulfillment_order.id} is on hold "
                        f"and cannot be fulfilled.",
                    )
                if status not in FULFILLABLE:
                    raise FulfillmentError(
                        field,
                        f"Fulfillment order {fulfillment_order.id} has an "
                        f"unfulfillable status= {status.lower()}.",
                    )
                plan.extend(self._requested(fulfillment_order, group, field))
            if not plan:
                raise FulfillmentError(
                    ["fulfillment"], "No fulfillment order line item remains."
                )
            return self._record(order_id, location_id, plan, data, message)

    def _requested(self, fulfillment_order, group, field):
        """``[(fulfillment order, its line, quantity)]`` asked for."""
        lines = {line.id: line for line in fulfillment_order.lines}
        items = group.get("fulfillmentOrderLineItems")
        if items is None:
            return [
                (fulfillment_order, line, line.remaining)
                for line in fulfillment_order.lines
                if line.remaining
            ]
        asked = {}
        for position, item in enumerate(items):
            where = [*field, "fulfillmentOrderLineItems", str(position)]
            line = lines.get(_number(item["id"], "FulfillmentOrderLineItem"))
            if line is None:
                raise FulfillmentError(
                    [*where, "id"],
                    f"Fulfillment order line item {item['id']} does not belong "
                    f"to fulfillment order {fulfillment_order.id}.",
                )
            asked[line.id] = asked.get(line.id, 0) + item["quantity"]
            if item["quantity"] < 1 or asked[line.id] > line.remaining:
                raise FulfillmentError(
                    [*where, "quantity"],
                    "Invalid fulfillment order line item quantity requested.",
                )
        return [(fulfillment_order, lines[i], q) for i, q in asked.items()]

    def _record(self, order_id, location_id, plan, data, message):
        tracking = _tracking(data.get("trackingInfo") or {})
        number = len(self._fulfillments.get(order_id, ())) + 1
        state = self.sim.store.order_row(order_id).state
        fulfillment = Fulfillment(
            id=self._ids["fulfillment"](),
            order_id=order_id,
            name=f"{state['name']}.{number}",
            location_id=location_id,
            lines=[],
            fulfillment_order_ids=[],
            tracking=tracking,
            notify_customer=bool(data.get("notifyCustomer")),
            message=message,
            created_ts=0,
        )
        done = {}

        def change(order_state, stamp):
            fulfillment.created_ts = stamp
            for fulfillment_order, line, quantity in plan:
                line.remaining -= quantity
                fulfillment_order.updated_ts = stamp
                if fulfillment_order.id not in fulfillment.fulfillment_order_ids:
                    fulfillment.fulfillment_order_ids.append(fulfillment_order.id)
                fulfillment.lines.append(
                    (
                        self._ids["fulfillment_line"](),
                        line.line_item_id,
                        line.id,
                        quantity,
                    )
                )
                done[line.line_item_id] = done.get(line.line_item_id, 0) + quantity
            for fulfillment_order, _line, _quantity in plan:
                fulfillment_order.status = (
                    "IN_PROGRESS"
                    if any(item.remaining for item in fulfillment_order.lines)
                    else "CLOSED"
                )
            for item in order_state["line_items"]:
                quantity = done.get(item["id"], 0)
                if not quantity:
                    continue
                item["fulfillable_quantity"] -= quantity
                item["fulfillment_status"] = (
                    "partial" if item["fulfillable_quantity"] else "fulfilled"
                )
                self.sim._move_stock(
                    item["variant_id"], location_id, -quantity, stamp, restock=False
                )
            remaining = sum(
                i["fulfillable_quantity"] for i in order_state["line_items"]
            )
            order_state["fulfillment_status"] = "partial" if remaining else "fulfilled"
            order_state["fulfillments"] = [
                *order_state.get("fulfillments", ()),
                fulfillment.as_dict(order_state),
            ]

        state = self.sim._change_order(order_id, change, ["orders/updated"], True)
        self._fulfillments.setdefault(order_id, []).append(fulfillment)
        self._fulfillment_by_id[fulfillment.id] = fulfillment
        self.sim._send([("fulfillments/create", fulfillment.as_dict(state))])
        return fulfillment

    # Views for tests and the control surface

    def as_dict(self, fulfillment_order):
        return {
            "id": fulfillment_order.id,
            "order_id": fulfillment_order.order_id,
            "location_id": fulfillment_order.location_id,
            "status": self.status(fulfillment_order),
            "holds": [dict(hold) for hold in fulfillment_order.holds],
            "line_items": [
                {
                    "id": line.id,
                    "line_item_id": line.line_item_id,
                    "total_quantity": line.total,
                    "remaining_quantity": line.remaining,
                }
                for line in fulfillment_order.lines
            ],
        }

    def fulfillment_orders(self, order_id):
        with self.lock:
            return [self.as_dict(fo) for fo in self.of_order(order_id)]

    def fulfillment_dicts(self, order_id=None):
        """The fulfillments (REST shape) of an order, or of every order."""
        with self.lock:
            if order_id is None:
                found = [f for group in self._fulfillments.values() for f in group]
            else:
                found = self.fulfillments_of(order_id)
            return [
                f.as_dict(self.sim.store.order_row(f.order_id).state) for f in found
            ]

    def _line_item(self, order_id, line_item_id):
        state = self.sim.store.order_row(int(order_id)).state
        for item in state["line_items"]:
            if item["id"] == int(line_item_id):
                return item
        raise KeyError(f"no line item {line_item_id} in order {order_id}")

    def _stamp(self, fulfillment_order):
        return self.sim._next_timestamp(fulfillment_order.updated_ts)


def _tracking(info):
    numbers = list(info.get("numbers") or ())
    if info.get("number"):
        numbers.insert(0, info["number"])
    urls = list(info.get("urls") or ())
    if info.get("url"):
        urls.insert(0, info["url"])
    company = info.get("company")
    count = max(len(numbers), len(urls), 1 if company else 0)
    return [
        {
            "company": company,
            "number": numbers[i] if i < len(numbers) else None,
            "url": urls[i] if i < len(urls) else None,
        }
        for i in range(count)
    ]


# Control surface

_ORDER_PATH = re.compile(
    r"/_sim/orders/(\d+)/(fulfillments|fulfillment_orders|hold|release|move)"
)


def control(sim, method, path, body):
    """``(status, payload)`` of a fulfillment control request, or ``None``
    when the path is not one of them."""
    desk = sim.fulfillment
    if path == "/_sim/fulfillments" and method == "GET":
        return 200, desk.fulfillment_dicts()
    match = _ORDER_PATH.fullmatch(path)
    if not match:
        return None
    order_id, action = int(match.group(1)), match.group(2)
    reads = {
        "fulfillments": lambda: desk.fulfillment_dicts(order_id),
        "fulfillment_orders": lambda: desk.fulfillment_orders(order_id),
    }
    writes = {
        "hold": lambda: desk.hold(order_id, **body),
        "release": lambda: desk.release(order_id),
        "move": lambda: desk.move(order_id, **body),
    }
    if method == "GET" and action in reads:
        desk.of_order(order_id)  # KeyError: a 404 naming the order
        return 200, reads[action]()
    if method == "POST" and action in writes:
        return 200, writes[action]()
    return None
