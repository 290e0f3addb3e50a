"""Reading orders (Orders API v2026-01-01) and describing them for the inbox.

Amazon's order data lags about two minutes behind its changes, and
``searchOrders`` refuses a ``lastUpdatedBefore`` less than two minutes old:
a poll asks up to :data:`DATA_LAG` (2 min 10 s, ten seconds of slack for
clock skew) before now, and the core resumes the next poll from there.

``searchOrders`` is Amazon's scarcest budget (0.0056 requests/s, burst 20:
one call per three minutes once the burst is spent): pages are as large as
allowed (100) and ask for the same ``includedData`` as ``getOrder``, so a
polled order is imported from the poll's own payload without another call.

Dedupe keys name an order *state*: ``order:<id>:<STATUS>:<change>:<time>``.
A notification's change is its ``OrderChangeType`` and its time
``TimeOfOrderChange``; a polled order's change is ``state`` and its time
``lastUpdatedTime``. SQS redeliveries of a notification, and two
notifications of the same change, make one event; a poll and a notification
of the same state usually make two, which the importer's idempotency
absorbs (it ignores a state it has applied).
"""

import datetime
import logging

from odoo.addons.marketplace_connector.lib.errors import DataError
from odoo.addons.marketplace_connector.lib.inbound import (
    SOURCE_POLL,
    DemandLine,
    InboundEvent,
)

from .mapping import CANCELLED, normalise_status, optional_datetime

_logger = logging.getLogger(__name__)

RESOURCE_ORDER = "order"
POLL_TOPIC = "orders/poll"
SEARCH_PATH = "/orders/2026-01-01/orders"
ORDER_PATH = "/orders/2026-01-01/orders/{}"
#: what the mapping reads: buyer and address (PII), money, status and
#: channel, the cancellation reason (promotion ids, tax registrations,
#: payment and package details are not imported)
ORDER_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "FULFILLMENT", "CANCELLATION", "TAX")
PAGE_SIZE = 100
#: how far behind now a poll stops (Amazon's two-minute rule, plus slack)
DATA_LAG = datetime.timedelta(minutes=2, seconds=10)
POLL_CHANGE = "state"


def iso_utc(moment):
    """A naive-UTC (or aware) datetime as Amazon wants it: ``...Z``."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


def dedupe_key(order_id, status, change, moment):
    """The inbox key of one order state (see the module doc)."""
    stamp = moment.isoformat() if moment else ""
    return f"order:{order_id}:{normalise_status(status)}:{change}:{stamp}"


def order_demand(payload):
    """What a v2026 order takes from our stock: nothing when Amazon fulfils
    it (AFN) or it is cancelled; else each item's SKU and quantity ordered.
    Read leniently: an item without SKU or quantity is left out (its import
    fails with the reason), the event is never refused for it."""
    fulfillment = payload.get("fulfillment") or {}
    if str(fulfillment.get("fulfilledBy") or "").upper() == "AMAZON":
        return ()
    if normalise_status(fulfillment.get("fulfillmentStatus")) == CANCELLED:
        return ()
    demand = []
    for item in payload.get("orderItems") or ():
        if not isinstance(item, dict):
            continue
        sku = str((item.get("product") or {}).get("sellerSku") or "").strip()
        quantity = item.get("quantityOrdered")
        if sku and isinstance(quantity, int) and quantity > 0:
            demand.append(DemandLine(variant_id=sku, sku=sku, quantity=float(quantity)))
    return tuple(demand)


def order_event(payload, topic=POLL_TOPIC, source=SOURCE_POLL):
    """Describe a v2026 order payload (polled) for the inbox.

    :raise DataError: without ``orderId`` or a readable ``lastUpdatedTime``
        (nothing could deduplicate it).
    """
    if not isinstance(payload, dict) or not payload.get("orderId"):
        raise DataError(f"An Amazon order without orderId: {str(payload)[:200]}")
    order_id = str(payload["orderId"])
    updated_at = optional_datetime(payload.get("lastUpdatedTime"))
    if updated_at is None:
        raise DataError(
            f"Amazon order {order_id} has no readable lastUpdatedTime: "
            f"{payload.get('lastUpdatedTime')!r}."
        )
    status = (payload.get("fulfillment") or {}).get("fulfillmentStatus")
    return InboundEvent(
        topic=topic,
        dedupe_key=dedupe_key(order_id, status, POLL_CHANGE, updated_at),
        resource_type=RESOURCE_ORDER,
        external_id=order_id,
        external_updated_at=updated_at,
        payload=payload,
        headers={},
        source=source,
        demand=order_demand(payload),
    )


def get_order(client, order_id, included=ORDER_DATA):
    """``getOrder``: the order as the mapping reads it.

    :raise DataError: unknown order (404) or a malformed answer.
    """
    answer = client.call(
        "getOrder",
        "GET",
        ORDER_PATH.format(order_id),
        params={"includedData": list(included)},
    )
    order = answer.get("order") if isinstance(answer, dict) else None
    if not isinstance(order, dict):
        raise DataError(f"Amazon's getOrder answer for {order_id} has no order.")
    return order


def search_updated_orders(client, marketplace_ids, since, until, token=None):
    """Yield ``(orders, next_token)`` per page (v2026 orders updated in
    ``[since, until]``), from the page of ``token`` when given.

    Later pages send the token with the first page's filters: Amazon
    refuses a token whose filters changed.
    """
    if not marketplace_ids:
        raise DataError(
            "No Amazon marketplace id is set on the backend: enter the "
            "marketplaces to import (e.g. ATVPDKIKX0DER for amazon.com)."
        )
    params = {
        "lastUpdatedAfter": iso_utc(since),
        "lastUpdatedBefore": iso_utc(until),
        "marketplaceIds": list(marketplace_ids),
        "maxResultsPerPage": PAGE_SIZE,
        "includedData": list(ORDER_DATA),
    }
    seen = set()
    if token:
        params = dict(params, paginationToken=token)
    while True:
        answer = client.call("searchOrders", "GET", SEARCH_PATH, params=params)
        orders = answer.get("orders") if isinstance(answer, dict) else None
        if not isinstance(orders, list):
            raise DataError("Amazon's searchOrders answer has no orders list.")
        token = (answer.get("pagination") or {}).get("nextToken")
        yield orders, token
        if not token:
            return
        if token in seen:
            raise DataError("Amazon's searchOrders paging loops; polling stopped.")
        seen.add(token)
        params = dict(params, paginationToken=token)


def iter_updated_orders(
    client, marketplace_ids, since, until, token=None, on_page=None
):
    """Yield poll events of every order updated in ``[since, until]``
    (from the page of ``token``). ``on_page(next_token)`` is called once
    every order of a page was yielded: a poll cut short by the rate budget
    goes on from there (searchOrders allows a call every 3 minutes once its
    burst is spent)."""
    if since >= until:  # polled less than the data lag ago: nothing yet
        return
    pages = count = 0
    for page, next_token in search_updated_orders(
        client, marketplace_ids, since, until, token=token
    ):
        pages += 1
        for payload in page:
            count += 1
            yield order_event(payload)
        if on_page is not None:
            on_page(next_token)
    _logger.debug(
        "Amazon poll: %d orders on %d pages, %s to %s",
        count,
        pages,
        iso_utc(since),
        iso_utc(until),
    )
