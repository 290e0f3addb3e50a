"""A delivery we shipped, told to Shopify as fulfillments (GraphQL).

Shopify fulfils *fulfillment orders*, not orders: each order is split into
one fulfillment order per location its items are assigned to, each line
with a ``remainingQuantity``. So a shipment is sent in three steps:

1. **Read** the order's fulfillment orders (status, location, holds, lines)
   and, on a retry, its fulfillments (tracking numbers, lines).
2. **Plan**: what the delivery shipped (channel line item id → quantity),
   less what an earlier attempt of the *same* shipment already fulfilled
   (see below), is taken from the fulfillment orders that can be fulfilled
   (``OPEN``, ``IN_PROGRESS``) holding those line items, those at the
   location the delivery left from first (the backend's channel locations),
   and grouped by location: ``fulfillmentCreate`` takes fulfillment orders
   of one location only, so a delivery of items assigned to two locations
   is two fulfillments.
3. **Create** one fulfillment per location, with the tracking company
   (the backend's carrier mapping, else our carrier's name), number and
   whether Shopify notifies the customer.

Exactly once. The core keeps one shipment row per delivery and sends it
from one job at a time; what is left is a retry after a lost answer (the
fulfillment was made, the job did not hear of it). ``fulfillmentCreate``
has no reference of ours to recognise, so an earlier attempt is recognised
by its fulfillments, on a retry (the core counts the attempts): those
carrying our tracking number made since the delivery was validated (for a
delivery without one, those without tracking), holding none of the order's
lines but ours. What they fulfilled of
our lines is not sent again. A plain retry would otherwise be refused
(quantity above what remains) or, on a line with units left by another
delivery, fulfil them twice.

A fulfillment order on hold, closed or cancelled, or a quantity Shopify no
longer has to fulfil, is a :class:`DataError` whose message says what to do
in Shopify before pressing *Retry* (shown on the picking and the order).
"""

import datetime
import logging

from odoo.addons.marketplace_connector.lib.errors import DataError

_logger = logging.getLogger(__name__)

#: what an order can be fulfilled from
FULFILLABLE = ("OPEN", "IN_PROGRESS")
#: fulfillments of an earlier attempt are those made after the delivery's
#: validation, less this much (the clocks of Odoo and Shopify differ)
CLOCK_SKEW = datetime.timedelta(minutes=5)

#: up to 5 fulfillment orders of 25 lines each are read (a bigger order is
#: refused with a clear message rather than fulfilled from a partial view),
#: and on a retry the order's first 20 fulfillments of 25 lines
MAX_FULFILLMENT_ORDERS = 5
MAX_LINES = 25
#: points of the reads and of one ``fulfillmentCreate`` as Shopify costs them
READ_COST = 285
RETRY_READ_COST = 55
CREATE_COST = 15

ORDER_FULFILMENT = """
query OrderFulfilment($id: ID!) {
  order(id: $id) {
    id
    name
    fulfillmentOrders(first: 5) {
      nodes {
        id
        status
        assignedLocation { name location { id } }
        fulfillmentHolds { reason reasonNotes }
        lineItems(first: 25) {
          nodes { id remainingQuantity lineItem { id } }
          pageInfo { hasNextPage }
        }
      }
      pageInfo { hasNextPage }
    }
  }
}
"""

#: read on a retry only (an earlier attempt may have made some)
ORDER_FULFILLMENTS = """
query OrderFulfillments($id: ID!) {
  order(id: $id) {
    id
    fulfillments(first: 20) {
      id
      name
      createdAt
      trackingInfo(first: 10) { number }
      fulfillmentLineItems(first: 25) {
        nodes { quantity lineItem { id } }
      }
    }
  }
}
"""

FULFILLMENT_CREATE = """
mutation CreateFulfillment($fulfillment: FulfillmentInput!, $message: String) {
  fulfillmentCreate(fulfillment: $fulfillment, message: $message) {
    fulfillment { id name status }
    userErrors { field message }
  }
}
"""


def gid(kind, number):
    return f"gid://shopify/{kind}/{number}"


def gid_number(value):
    """``gid://shopify/LineItem/123`` → ``"123"``."""
    return str(value or "").rsplit("/", 1)[-1]


def _parse_time(text):
    try:
        moment = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment


def _utc(moment):
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


class OrderFulfilment:
    """The order as the fulfilment needs it (from :data:`ORDER_FULFILMENT`).

    :ivar fulfillment_orders: dicts ``id, status, location_id,
        location_name, holds, lines`` (``lines``: ``[(fulfillment order line
        item id, line item id, remaining quantity)]``).
    :ivar fulfillments: dicts ``name, created_at, numbers, lines``
        (``lines``: ``{line item id: quantity}``).
    """

    def __init__(self, order_id, data):
        order = (data or {}).get("order")
        if not order:
            raise DataError(
                f"Shopify has no order {order_id} (deleted, or older than the "
                f"app may read): the delivery cannot be told to Shopify."
            )
        self.name = order.get("name") or order_id
        connection = order.get("fulfillmentOrders") or {}
        nodes = connection.get("nodes") or []
        too_big = (connection.get("pageInfo") or {}).get("hasNextPage") or any(
            ((node.get("lineItems") or {}).get("pageInfo") or {}).get("hasNextPage")
            for node in nodes
        )
        if too_big:
            raise DataError(
                f"Shopify order {self.name} has more than "
                f"{MAX_FULFILLMENT_ORDERS} fulfillment orders or more than "
                f"{MAX_LINES} lines in one: fulfil it in Shopify."
            )
        self.fulfillment_orders = [self._fulfillment_order(node) for node in nodes]
        self.fulfillments = []

    def read_fulfillments(self, data):
        """Add the fulfillments of :data:`ORDER_FULFILLMENTS`' answer."""
        order = (data or {}).get("order") or {}
        self.fulfillments = [
            self._fulfillment(node) for node in order.get("fulfillments") or []
        ]

    @staticmethod
    def _fulfillment_order(node):
        assigned = node.get("assignedLocation") or {}
        return {
            "id": node["id"],
            "status": node.get("status") or "",
            "location_id": gid_number((assigned.get("location") or {}).get("id")),
            "location_name": assigned.get("name") or "",
            "holds": [
                " ".join(
                    part
                    for part in (
                        str(hold.get("reason") or "").replace("_", " ").lower(),
                        f"({hold['reasonNotes']})" if hold.get("reasonNotes") else "",
                    )
                    if part
                )
                for hold in node.get("fulfillmentHolds") or []
            ],
            "lines": [
                (
                    line["id"],
                    gid_number((line.get("lineItem") or {}).get("id")),
                    int(line.get("remainingQuantity") or 0),
                )
                for line in (node.get("lineItems") or {}).get("nodes") or []
            ],
        }

    @staticmethod
    def _fulfillment(node):
        lines = {}
        for line in (node.get("fulfillmentLineItems") or {}).get("nodes") or []:
            line_id = gid_number((line.get("lineItem") or {}).get("id"))
            lines[line_id] = lines.get(line_id, 0) + int(line.get("quantity") or 0)
        return {
            "name": node.get("name") or node.get("id"),
            "created_at": _parse_time(node.get("createdAt")),
            "numbers": {
                info["number"]
                for info in node.get("trackingInfo") or []
                if info.get("number")
            },
            "lines": lines,
        }


def already_fulfilled(order, shipment):
    """``{line item id: quantity}`` an earlier attempt of ``shipment``
    fulfilled (see the module doc), capped at what the shipment holds."""
    since = _utc(shipment.shipped_at) - CLOCK_SKEW
    number = shipment.tracking_number
    if shipment.attempt <= 1:
        return {}
    wanted = {line.line_id: line.quantity for line in shipment.lines}
    done = {}
    for fulfillment in order.fulfillments:
        if fulfillment["created_at"] is None or fulfillment["created_at"] < since:
            continue
        if number and number not in fulfillment["numbers"]:
            continue
        if not number and fulfillment["numbers"]:
            continue
        if not set(fulfillment["lines"]) <= set(wanted):
            continue  # another package: it holds a line ours does not
        for line_id, quantity in fulfillment["lines"].items():
            done[line_id] = min(wanted[line_id], done.get(line_id, 0) + quantity)
    return done


def plan(order, wanted, preferred=()):
    """The fulfillments to create for ``wanted`` (``{line item id:
    quantity}``): one per location, as ``[(location name, [(fulfillment
    order id, [(fulfillment order line item id, quantity)])])]``.

    :param preferred: Shopify location ids the delivery left from: their
        fulfillment orders are used first (a line split between locations
        is fulfilled where the parcel was packed).
    :raise DataError: a line Shopify cannot fulfil now, saying why.
    """
    rank = {str(location): index for index, location in enumerate(preferred)}
    fulfillment_orders = sorted(
        order.fulfillment_orders,
        key=lambda fo: rank.get(fo["location_id"], len(rank)),
    )
    by_location = {}
    for line_id, quantity in wanted.items():
        left = quantity
        holders = [
            (fulfillment_order, fo_line_id, remaining)
            for fulfillment_order in fulfillment_orders
            for fo_line_id, item_id, remaining in fulfillment_order["lines"]
            if item_id == line_id
        ]
        if not holders:
            raise DataError(
                f"Shopify order {order.name} has no line item {line_id}: the "
                f"order was edited in Shopify. Fulfil the delivery in Shopify."
            )
        for fulfillment_order, fo_line_id, remaining in holders:
            if left <= 0:
                break
            if fulfillment_order["status"] not in FULFILLABLE or remaining <= 0:
                continue
            take = min(left, remaining)
            left -= take
            location = by_location.setdefault(
                fulfillment_order["location_id"],
                (fulfillment_order["location_name"], {}),
            )
            location[1].setdefault(fulfillment_order["id"], []).append(
                (fo_line_id, take)
            )
        if left > 0:
            raise _cannot_fulfil(order, line_id, quantity, left, holders)
    return [
        (name, list(groups.items()))
        for _location, (name, groups) in by_location.items()
    ]


def _cannot_fulfil(order, line_id, quantity, left, holders):
    for fulfillment_order, _fo_line, remaining in holders:
        if remaining <= 0:
            continue
        status = fulfillment_order["status"]
        where = fulfillment_order["location_name"] or "its location"
        if status == "ON_HOLD":
            reasons = "; ".join(fulfillment_order["holds"]) or "no reason given"
            return DataError(
                f"Shopify holds the fulfillment of order {order.name} at "
                f"{where} ({reasons}). Release the hold in Shopify (the "
                f"order's Release fulfillment), then press Retry."
            )
        if status not in FULFILLABLE:
            return DataError(
                f"Shopify's fulfillment order of order {order.name} at {where} "
                f"is {status.lower().replace('_', ' ')}: it cannot be "
                f"fulfilled. Check the order in Shopify (cancelled, or "
                f"fulfilled there); if it still ships, reopen or move it, "
                f"then press Retry."
            )
    return DataError(
        f"Shopify has {quantity - left} of the {quantity} units of line "
        f"{line_id} of order {order.name} left to fulfil (fulfilled or "
        f"removed in Shopify already). Check the order in Shopify; press "
        f"Retry once the quantities agree."
    )


def fulfillment_input(groups, shipment, notify_customer):
    """``FulfillmentInput`` of one location's fulfillment."""
    data = {
        "lineItemsByFulfillmentOrder": [
            {
                "fulfillmentOrderId": fulfillment_order_id,
                "fulfillmentOrderLineItems": [
                    {"id": fo_line_id, "quantity": int(quantity)}
                    for fo_line_id, quantity in lines
                ],
            }
            for fulfillment_order_id, lines in groups
        ],
        "notifyCustomer": bool(notify_customer),
    }
    company = shipment.carrier_code or shipment.carrier_name
    tracking = {}
    if company:
        tracking["company"] = company
    if shipment.tracking_number:
        tracking["number"] = shipment.tracking_number
    if tracking:
        data["trackingInfo"] = tracking
    return data


def wanted_lines(shipment, done):
    wanted = {}
    for line in shipment.lines:
        left = int(line.quantity) - done.get(str(line.line_id), 0)
        if left > 0:
            wanted[str(line.line_id)] = wanted.get(str(line.line_id), 0) + left
    return wanted


def _no_budget(_cost):
    return None


def send_shipment(client, shipment, notify_customer, reserve=_no_budget):
    """Fulfil ``shipment`` on Shopify (see the module doc); return the
    names of the fulfillments made (empty when an earlier attempt made
    them all).

    :param reserve: called with the points of each call before it is made
        (the backend's shared GraphQL budget).
    :raise DataError: Shopify cannot fulfil it as it stands.
    """
    reserve(READ_COST)
    order = OrderFulfilment(
        shipment.order_id,
        client.graphql(ORDER_FULFILMENT, {"id": gid("Order", shipment.order_id)}),
    )
    if shipment.attempt > 1:
        reserve(RETRY_READ_COST)
        order.read_fulfillments(
            client.graphql(ORDER_FULFILLMENTS, {"id": gid("Order", shipment.order_id)})
        )
    done = already_fulfilled(order, shipment)
    wanted = wanted_lines(shipment, done)
    if not wanted:
        _logger.info(
            "Shopify order %s: %s was fulfilled already", order.name, shipment.reference
        )
        return []
    made = []
    for location_name, groups in plan(order, wanted, shipment.locations):
        reserve(CREATE_COST)
        data = client.graphql(
            FULFILLMENT_CREATE,
            {
                "fulfillment": fulfillment_input(groups, shipment, notify_customer),
                "message": f"Shipped by Odoo ({shipment.reference})",
            },
        )
        answer = data.get("fulfillmentCreate") or {}
        errors = answer.get("userErrors") or []
        if errors or not answer.get("fulfillment"):
            text = "; ".join(str(e.get("message")) for e in errors) or "no answer"
            raise DataError(
                f"Shopify refused the fulfillment of order {order.name} at "
                f"{location_name or 'its location'}: {text}"
                + (f" ({len(made)} made before: {', '.join(made)})" if made else "")
            )
        made.append(answer["fulfillment"].get("name") or answer["fulfillment"]["id"])
    _logger.info(
        "Shopify order %s: %s fulfilled as %s",
        order.name,
        shipment.reference,
        ", ".join(made),
    )
    return made
