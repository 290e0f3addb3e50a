"""Quantities of merchant-fulfilled listings through the Listings Items API.

On Amazon a quantity is the ``fulfillment_availability`` attribute of a
listing (one seller SKU), for the fulfilment channel ``DEFAULT``: Amazon's
code for "fulfilled by the merchant". It is the only location this adapter
knows (the core's ``location_id``); FBA quantities (channel ``AMAZON_NA``...)
are Amazon's, never written or read here.

* A write is ``patchListingsItem`` with a ``replace`` of that attribute: no
  precondition exists (last write wins, no compare-and-set). ``ACCEPTED``
  means queued for processing, not applied yet; ``INVALID`` carries issues,
  which become the write's error in the operator's words ("SKU X: ...").
  5 requests/s, burst 5: a few writes go this way, many through a feed
  (:mod:`.feeds`).
* Reads use ``searchListingsItems`` with up to 20 SKUs per call
  (``identifiersType=SKU``) rather than one ``getListingsItem`` per SKU:
  twenty times fewer calls on the same 5/s budget.
* Reconciliation pages through every listing, 20 per call, sorted by SKU.
  Amazon lets a search reach at most 1,000 listings; beyond that a warning
  says so (the listings report would be needed, see the report's gaps).
"""

import logging
from urllib.parse import quote

from odoo.addons.marketplace_connector.lib.errors import DataError
from odoo.addons.marketplace_connector.lib.stock import StockWriteResult

_logger = logging.getLogger(__name__)

#: Amazon's fulfilment channel code of merchant-fulfilled quantities: the
#: one ``location_id`` of an Amazon backend
CHANNEL = "DEFAULT"
QUANTITY_ATTRIBUTE = "fulfillment_availability"
QUANTITY_PATH = f"/attributes/{QUANTITY_ATTRIBUTE}"
#: a patch of offer attributes needs a product type; Amazon accepts this
#: generic one for them
PRODUCT_TYPE = "PRODUCT"
ITEMS_PATH = "/listings/2021-08-01/items/{}"
ITEM_PATH = "/listings/2021-08-01/items/{}/{}"
SEARCH_PAGE_SIZE = 20
SEARCH_LIMIT = 1000


def quantity_patches(quantity):
    """The JSON Patch that sets a merchant-fulfilled quantity."""
    return [
        {
            "op": "replace",
            "path": QUANTITY_PATH,
            "value": [{"fulfillment_channel_code": CHANNEL, "quantity": int(quantity)}],
        }
    ]


def issue_text(sku, issues, severities=("ERROR",)):
    """``"SKU X: message; message"`` of the issues that refuse a write."""
    messages = [
        str(issue.get("message") or issue.get("code") or "")
        for issue in issues or ()
        if isinstance(issue, dict) and issue.get("severity", "ERROR") in severities
    ]
    return f"SKU {sku}: {'; '.join(m for m in messages if m) or 'refused by Amazon'}"


def location_problem(write):
    """Why a write cannot go to Amazon before any call, or ``None``."""
    if write.location_id != CHANNEL:
        return (
            f"SKU {write.item_ref}: Amazon quantities are only written for the "
            f"merchant channel {CHANNEL}, not {write.location_id!r}."
        )
    if write.quantity < 0:
        return f"SKU {write.item_ref}: Amazon refuses a negative quantity."
    return None


def patch_quantities(client, seller_id, marketplace_ids, writes):
    """One ``patchListingsItem`` per write.

    A write Amazon refuses (``INVALID``, or a 400/404 for its SKU) is an
    error of that write; a failure that says "later" stops the batch
    (:class:`RetryableError`): replaying a ``replace`` is harmless.
    """
    applied, errors = [], []
    for write in writes:
        problem = location_problem(write)
        if problem:
            errors.append((write, problem))
            continue
        path = ITEM_PATH.format(
            quote(seller_id, safe=""), quote(write.item_ref, safe="")
        )
        try:
            answer = client.call(
                "patchListingsItem",
                "PATCH",
                path,
                params={"marketplaceIds": list(marketplace_ids)},
                body={
                    "productType": PRODUCT_TYPE,
                    "patches": quantity_patches(write.quantity),
                },
            )
        except DataError as err:
            errors.append((write, f"SKU {write.item_ref}: {err}"))
            continue
        status = (answer or {}).get("status")
        if status == "ACCEPTED":
            applied.append(write)
        else:
            errors.append(
                (write, issue_text(write.item_ref, (answer or {}).get("issues")))
            )
    return StockWriteResult(applied=tuple(applied), errors=tuple(errors))


def _quantity(item):
    """The merchant-fulfilled quantity of a listings item, or ``None``."""
    for entry in item.get("fulfillmentAvailability") or ():
        if isinstance(entry, dict) and entry.get("fulfillmentChannelCode") == CHANNEL:
            quantity = entry.get("quantity")
            if isinstance(quantity, int) and not isinstance(quantity, bool):
                return quantity
    return None


def _search(client, seller_id, params):
    answer = client.call(
        "searchListingsItems",
        "GET",
        ITEMS_PATH.format(quote(seller_id, safe="")),
        params=params,
    )
    if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
        raise DataError("Amazon's searchListingsItems answer has no items list.")
    return answer


def read_quantities(client, seller_id, marketplace_ids, skus):
    """``{sku: quantity}`` of the SKUs Amazon has a merchant quantity for
    (an unknown SKU is simply absent)."""
    skus = list(dict.fromkeys(skus))
    result = {}
    for start in range(0, len(skus), SEARCH_PAGE_SIZE):
        chunk = skus[start : start + SEARCH_PAGE_SIZE]
        answer = _search(
            client,
            seller_id,
            {
                "marketplaceIds": list(marketplace_ids),
                "identifiers": chunk,
                "identifiersType": "SKU",
                "includedData": ["fulfillmentAvailability"],
                "pageSize": SEARCH_PAGE_SIZE,
            },
        )
        for item in answer["items"]:
            quantity = _quantity(item) if isinstance(item, dict) else None
            if quantity is not None and item.get("sku") in chunk:
                result[item["sku"]] = quantity
    return result


def iter_quantities(client, seller_id, marketplace_ids):
    """Yield pages ``{sku: quantity}`` of every merchant-fulfilled listing."""
    params = {
        "marketplaceIds": list(marketplace_ids),
        "includedData": ["fulfillmentAvailability"],
        "pageSize": SEARCH_PAGE_SIZE,
        "sortBy": "sku",
        "sortOrder": "ASC",
    }
    seen = set()
    while True:
        answer = _search(client, seller_id, params)
        page = {}
        for item in answer["items"]:
            quantity = _quantity(item) if isinstance(item, dict) else None
            if quantity is not None and item.get("sku"):
                page[str(item["sku"])] = quantity
        yield page
        token = (answer.get("pagination") or {}).get("nextToken")
        if not token:
            if (answer.get("numberOfResults") or 0) >= SEARCH_LIMIT:
                _logger.warning(
                    "Amazon lists %s listings but a search reaches %d: "
                    "reconciliation saw only those",
                    answer.get("numberOfResults"),
                    SEARCH_LIMIT,
                )
            return
        if token in seen:
            raise DataError("Amazon's searchListingsItems paging loops; stopped.")
        seen.add(token)
        params = dict(params, pageToken=token)
