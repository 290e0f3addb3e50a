"""Orders API v2026-01-01 (searchOrders, getOrder) and the v0 shipment
confirmation, with the validation Amazon applies.

searchOrders
------------
- exactly one of ``createdAfter`` / ``lastUpdatedAfter``; ``createdBefore``
  only with ``createdAfter``, ``lastUpdatedBefore`` only with
  ``lastUpdatedAfter``; a *Before* is not earlier than its *After* and at
  least two minutes before now; ISO 8601 with a zone;
- ``marketplaceIds`` required here (1 to 50, each one of the seller's);
  the model marks it optional, but every documented call sends it and a
  client that omits it would read other marketplaces' orders;
- ``fulfillmentStatuses``, ``fulfilledBy`` and ``includedData`` from the
  model's enums; ``maxResultsPerPage`` 1..100 (default 100);
- ``paginationToken``: opaque, expires after 24 h of sim time; the other
  parameters must be the ones of the first page, except
  ``maxResultsPerPage`` and ``includedData``. The page list is fixed when the
  first page is served.
Anything else wrong is 400 ``InvalidInput`` with the parameter in ``details``.
Results are ordered by the time filtered on, then by creation order.
"""

import hashlib
import json
import re
import secrets
import threading

from .clock import format_ts_seconds, parse_ts
from .orders import ITEM_SECTIONS, ORDER_SECTIONS, STATUSES, select_sections
from .wire import InvalidInput, NotFound, Response, json_response

MIN_AGE = 120  # seconds a *Before bound must lie in the past
TOKEN_LIFETIME = 24 * 3600
INCLUDED_DATA = (
    "BUYER",
    "RECIPIENT",
    "PROCEEDS",
    "EXPENSE",
    "PROMOTION",
    "CANCELLATION",
    "FULFILLMENT",
    "PACKAGES",
    "TAX",
    "PAYMENT",
    "FULFILLMENT_ORDERS",
)
assert set(ORDER_SECTIONS) | set(ITEM_SECTIONS) <= set(INCLUDED_DATA)
_FILTERS = (
    "createdAfter",
    "createdBefore",
    "lastUpdatedAfter",
    "lastUpdatedBefore",
    "fulfillmentStatuses",
    "marketplaceIds",
    "fulfilledBy",
)
_PACKAGE_REFERENCE = re.compile(r"[1-9][0-9]*")


def _enum_list(request, name, allowed):
    values = request.many(name)
    if values is None:
        return None
    bad = [value for value in values if value not in allowed]
    if bad or not values:
        raise InvalidInput("Invalid Input", f"{name}: invalid value(s) {bad or values}")
    return values


def _time(request, name):
    text = request.one(name)
    if text is None:
        return None
    try:
        return parse_ts(text)
    except ValueError:
        raise InvalidInput(
            "Invalid Input", f"{name} must be an ISO 8601 date-time, not {text!r}"
        ) from None


def _marketplaces(sim, request):
    ids = request.many("marketplaceIds")
    if not ids:
        raise InvalidInput("Invalid Input", "marketplaceIds is required")
    if len(ids) > 50:
        raise InvalidInput("Invalid Input", "marketplaceIds accepts at most 50 values")
    unknown = [mid for mid in ids if mid not in sim.marketplace_ids]
    if unknown:
        raise InvalidInput(
            "Invalid Input",
            f"marketplaceIds: not marketplaces of this seller: {unknown}",
        )
    return ids


def _window(request, now):
    created_after = _time(request, "createdAfter")
    created_before = _time(request, "createdBefore")
    updated_after = _time(request, "lastUpdatedAfter")
    updated_before = _time(request, "lastUpdatedBefore")
    if (created_after is None) == (updated_after is None):
        raise InvalidInput(
            "Invalid Input",
            "Exactly one of createdAfter and lastUpdatedAfter must be provided",
        )
    if created_after is not None:
        field, after, before, other = (
            "created",
            created_after,
            created_before,
            updated_before,
        )
    else:
        field, after, before, other = (
            "updated",
            updated_after,
            updated_before,
            created_before,
        )
    if other is not None:
        raise InvalidInput(
            "Invalid Input",
            "createdBefore goes with createdAfter, "
            "lastUpdatedBefore with lastUpdatedAfter",
        )
    name = "createdBefore" if field == "created" else "lastUpdatedBefore"
    if before is not None:
        if before < after:
            raise InvalidInput("Invalid Input", f"{name} must not be before its After")
        if before > now - MIN_AGE:
            raise InvalidInput(
                "Invalid Input", f"{name} must be at least two minutes before now"
            )
    if after > now:
        raise InvalidInput("Invalid Input", "the After date must not be in the future")
    return field, after, before


class PaginationTokens:
    """Token -> the first page's filters, fixed order list and issue time."""

    def __init__(self):
        self._lock = threading.Lock()
        self._tokens = {}

    def issue(self, fingerprint, order_ids, offset, issued, extra):
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = (fingerprint, order_ids, offset, issued, extra)
        return token

    def take(self, token):
        with self._lock:
            return self._tokens.get(token)


def _fingerprint(request):
    params = {name: request.query.get(name) for name in _FILTERS}
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def search_orders(sim, request, _match):
    now = sim.clock()
    page_size = request.one("maxResultsPerPage")
    try:
        page_size = 100 if page_size is None else int(page_size)
    except ValueError:
        page_size = 0
    if not 1 <= page_size <= 100:
        raise InvalidInput(
            "Invalid Input", "maxResultsPerPage must be between 1 and 100"
        )
    included = _enum_list(request, "includedData", INCLUDED_DATA)
    marketplace_ids = _marketplaces(sim, request)
    statuses = _enum_list(request, "fulfillmentStatuses", STATUSES)
    fulfilled_by = _enum_list(request, "fulfilledBy", ("MERCHANT", "AMAZON"))
    field, after, before = _window(request, now)
    token = request.one("paginationToken")
    fingerprint = _fingerprint(request)
    if token is not None:
        entry = sim.pagination_tokens.take(token)
        if entry is None:
            raise InvalidInput("Invalid Input", "paginationToken is invalid")
        token_fingerprint, order_ids, offset, issued, bound = entry
        if now - issued > TOKEN_LIFETIME:
            raise InvalidInput("Invalid Input", "paginationToken has expired")
        if token_fingerprint != fingerprint:
            raise InvalidInput(
                "Invalid Input",
                "paginationToken: the other parameters must be those of the first page",
            )
    else:
        bound = before if before is not None else sim.orders.horizon()
        key = "createdTime" if field == "created" else "lastUpdatedTime"
        matches = []
        for order, rendered in sim.orders.visible_orders():
            stamp = order.created if field == "created" else _stamp_of(rendered, key)
            fulfillment = rendered["fulfillment"]
            if (
                after <= stamp <= bound
                and rendered["salesChannel"]["marketplaceId"] in marketplace_ids
                and (statuses is None or fulfillment["fulfillmentStatus"] in statuses)
                and (fulfilled_by is None or fulfillment["fulfilledBy"] in fulfilled_by)
            ):
                matches.append((stamp, order.order_id))
        order_ids = [oid for _stamp, oid in sorted(matches, key=lambda m: m[0])]
        offset, issued = 0, now
    page = order_ids[offset : offset + page_size]
    horizon = sim.orders.horizon()
    orders = []
    for order_id in page:
        rendered = sim.orders.get(order_id).visible(horizon)
        orders.append(select_sections(rendered, included))
    body = {"orders": orders}
    if offset + page_size < len(order_ids):
        body["pagination"] = {
            "nextToken": sim.pagination_tokens.issue(
                fingerprint, order_ids, offset + page_size, issued, bound
            )
        }
    body["createdBefore" if field == "created" else "lastUpdatedBefore"] = (
        format_ts_seconds(bound)
    )
    return json_response(200, body)


def _stamp_of(rendered, key):
    return parse_ts(rendered[key])


def get_order(sim, request, match):
    included = _enum_list(request, "includedData", INCLUDED_DATA)
    order_id = match.group("orderId")
    try:
        order = sim.orders.get(order_id)
    except KeyError:
        raise NotFound(
            "Order not found", f"No order {order_id} for this seller"
        ) from None
    rendered = order.visible(sim.orders.horizon())
    if rendered is None:  # not propagated yet (data lag)
        raise NotFound("Order not found", f"No order {order_id} for this seller")
    return json_response(200, {"order": select_sections(rendered, included)})


# Shipment confirmation (v0)


def _required_text(data, name, where):
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("Invalid Input", f"{where}{name} is required (a string)")
    return value


def _parse_confirmation(body):
    """``(marketplace_id, package_detail, {item id: quantity})`` or InvalidInput."""
    if not isinstance(body, dict):
        raise InvalidInput("Invalid Input", "the body must be a JSON object")
    marketplace_id = _required_text(body, "marketplaceId", "")
    detail = body.get("packageDetail")
    if not isinstance(detail, dict):
        raise InvalidInput("Invalid Input", "packageDetail is required (an object)")
    where = "packageDetail."
    reference = _required_text(detail, "packageReferenceId", where)
    if not _PACKAGE_REFERENCE.fullmatch(reference):
        raise InvalidInput(
            "Invalid Input",
            "packageReferenceId: only positive numeric values are supported",
        )
    carrier = _required_text(detail, "carrierCode", where)
    if carrier == "Other":
        _required_text(detail, "carrierName", where)
    _required_text(detail, "trackingNumber", where)
    ship_date = _required_text(detail, "shipDate", where)
    try:
        parse_ts(ship_date)
    except ValueError:
        raise InvalidInput(
            "Invalid Input",
            f"shipDate must be an ISO 8601 date-time, not {ship_date!r}",
        ) from None
    items = detail.get("orderItems")
    if not isinstance(items, list) or not items:
        raise InvalidInput("Invalid Input", "packageDetail.orderItems is required")
    quantities = {}
    for entry in items:
        if not isinstance(entry, dict):
            raise InvalidInput("Invalid Input", "orderItems entries are objects")
        item_id = _required_text(entry, "orderItemId", "orderItems[].")
        quantity = entry.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise InvalidInput(
                "Invalid Input",
                f"orderItems[].quantity must be a positive integer for {item_id}",
            )
        quantities[item_id] = quantities.get(item_id, 0) + quantity
    return marketplace_id, detail, quantities


def _check_shippable(order, marketplace_id, reference, quantities):
    if marketplace_id != order.marketplace_id:
        return f"marketplaceId {marketplace_id} is not the order's marketplace"
    if order.fulfillment == "AFN":
        return "The order is fulfilled by Amazon: shipment confirmation is not allowed"
    if order.status == "CANCELLED":
        return "The order is canceled"
    if order.status not in ("UNSHIPPED", "PARTIALLY_SHIPPED"):
        return f"The order is {order.status}: it cannot be shipped"
    if any(pkg["packageReferenceId"] == reference for pkg in order.packages):
        return f"packageReferenceId {reference} was already confirmed for this order"
    for item_id, quantity in quantities.items():
        item = order.item(item_id)
        if item is None:
            return f"orderItemId {item_id} is not an item of this order"
        if quantity > item.unshipped:
            return (
                f"orderItemId {item_id}: quantity {quantity} exceeds the "
                f"{item.unshipped} unit(s) not shipped yet"
            )
    return None


def confirm_shipment(sim, request, match):
    order_id = match.group("orderId")
    try:
        body = request.json()
    except ValueError:
        body = None
    book = sim.orders
    try:
        order = book.get(order_id)
    except KeyError:
        raise NotFound(
            "Order not found", f"No order {order_id} for this seller"
        ) from None
    marketplace_id, detail, quantities = _parse_confirmation(body)
    reference = detail["packageReferenceId"]
    with book.lock:
        problem = _check_shippable(order, marketplace_id, reference, quantities)
        book.shipment_log.append(
            {
                "orderId": order_id,
                "packageDetail": detail,
                "accepted": problem is None,
                "error": problem,
                "at": format_ts_seconds(sim.clock()),
            }
        )
        if problem is not None:
            raise InvalidInput("Invalid Input", problem)
        package = {
            "packageReferenceId": reference,
            "createdTime": format_ts_seconds(sim.clock()),
            "packageStatus": {"status": "SHIPPED"},
            "carrier": detail.get("carrierName") or detail["carrierCode"],
            "shipTime": format_ts_seconds(parse_ts(detail["shipDate"])),
            "trackingNumber": detail["trackingNumber"],
            "packageItems": [
                {"orderItemId": item_id, "quantity": quantity}
                for item_id, quantity in quantities.items()
            ],
        }
        if detail.get("shippingMethod"):
            package["shippingService"] = detail["shippingMethod"]
        book.record_package(order_id, package, quantities)
    return Response(204)
