"""Shopify inventory over the GraphQL Admin API: compare-and-set writes,
batched reads, paged reads for reconciliation.

* ``inventorySetQuantities`` with ``changeFromQuantity`` on every quantity
  (mandatory from API 2026-04) and an ``@idempotent`` key (a retry of the
  same call returns the first result instead of applying twice). A call is
  all-or-nothing: when any quantity is stale (``CHANGE_FROM_QUANTITY_STALE``)
  nothing is applied, so every write of the call is reported stale, to be
  re-read and sent again.
* at most 250 quantities per call (Shopify's input limit).
* ids on our side are the numeric ids (as in REST payloads and webhooks); the
  GraphQL API wants GIDs.
"""

from odoo.addons.marketplace_connector.lib.errors import DataError
from odoo.addons.marketplace_connector.lib.stock import StockWriteResult

BATCH_SIZE = 250
STALE_CODE = "CHANGE_FROM_QUANTITY_STALE"
WRITE_REASON = "correction"
REFERENCE_URI = "logistics://odoo-marketplace-connector/available-to-sell"

SET_QUANTITIES = """
mutation SetAvailable($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}
"""

ITEMS_AT_LOCATION = """
query ItemsAtLocation($first: Int!, $after: String, $location: ID!) {
  inventoryItems(first: $first, after: $after) {
    edges {
      node {
        id
        tracked
        inventoryLevel(locationId: $location) {
          quantities(names: ["available"]) { name quantity }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

#: what a call costs in points, as Shopify computes it for these queries
#: (mutation 10 + its selection; per read node: item, level, quantities)
WRITE_COST = 12
READ_COST_PER_ITEM = 3


def item_gid(item_id):
    return f"gid://shopify/InventoryItem/{item_id}"


def location_gid(location_id):
    return f"gid://shopify/Location/{location_id}"


def numeric_id(gid):
    return str(gid).rsplit("/", 1)[-1]


def _available(level):
    for quantity in (level or {}).get("quantities") or []:
        if quantity.get("name") == "available":
            return quantity.get("quantity")
    return None


def write_stock(client, writes, idempotency_key):
    """Send up to 250 compare-and-set writes in one call."""
    if len(writes) > BATCH_SIZE:
        raise ValueError(f"at most {BATCH_SIZE} quantities per call")
    if not writes:
        return StockWriteResult()
    data = client.graphql(
        SET_QUANTITIES,
        {
            "key": idempotency_key,
            "input": {
                "name": "available",
                "reason": WRITE_REASON,
                "referenceDocumentUri": REFERENCE_URI,
                "quantities": [
                    {
                        "inventoryItemId": item_gid(w.item_ref),
                        "locationId": location_gid(w.location_id),
                        "quantity": w.quantity,
                        "changeFromQuantity": w.change_from,
                    }
                    for w in writes
                ],
            },
        },
    )
    errors = data["inventorySetQuantities"]["userErrors"]
    if not errors:
        return StockWriteResult(applied=tuple(writes))
    if all(error.get("code") == STALE_CODE for error in errors):
        return StockWriteResult(stale=tuple(writes))
    details = "; ".join(
        f"{error.get('code')}: {error.get('message')} ({error.get('field')})"
        for error in errors
    )
    raise DataError(f"Shopify refused the inventory update: {details}")


def read_stock(client, pairs):
    """Current "available" of (item, location) pairs, one call per 250."""
    result = {}
    pairs = list(pairs)
    for start in range(0, len(pairs), BATCH_SIZE):
        chunk = pairs[start : start + BATCH_SIZE]
        fields = "\n".join(
            f'i{index}: inventoryItem(id: "{item_gid(item)}") {{ '
            f'inventoryLevel(locationId: "{location_gid(location)}") {{ '
            f'quantities(names: ["available"]) {{ name quantity }} }} }}'
            for index, (item, location) in enumerate(chunk)
        )
        data = client.graphql(f"query ReadLevels {{\n{fields}\n}}")
        for index, pair in enumerate(chunk):
            node = data.get(f"i{index}") or {}
            quantity = _available(node.get("inventoryLevel"))
            if quantity is not None:
                result[(str(pair[0]), str(pair[1]))] = quantity
    return result


def iter_stock(client, location_id, page_size=BATCH_SIZE):
    """Yield ``{item_id: available}`` pages for the tracked items stocked at
    a location."""
    after = None
    while True:
        data = client.graphql(
            ITEMS_AT_LOCATION,
            {"first": page_size, "after": after, "location": location_gid(location_id)},
        )
        connection = data["inventoryItems"]
        page = {}
        for edge in connection["edges"]:
            node = edge["node"]
            quantity = _available(node.get("inventoryLevel"))
            if node.get("tracked") and quantity is not None:
                page[numeric_id(node["id"])] = quantity
        yield page
        if not connection["pageInfo"]["hasNextPage"]:
            return
        after = connection["pageInfo"]["endCursor"]


def parse_stock_level(payload):
    """``(inventory_item_id, location_id, available or None)`` from an
    ``inventory_levels/update`` payload."""
    try:
        item = payload["inventory_item_id"]
        location = payload["location_id"]
    except (KeyError, TypeError) as err:
        raise DataError(f"Inventory level payload without {err}") from err
    available = payload.get("available")
    return str(item), str(location), None if available is None else int(available)
