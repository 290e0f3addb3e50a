"""The shop's catalogue and webhook subscriptions over the GraphQL Admin API.

* **Catalogue**: ``locations`` and ``productVariants`` paged 250 at a time.
  A variant page selects only scalars and the inventory item's id (the
  product's title comes with ``displayName``, a scalar), so a page costs
  2 + 250 x 2 = 502 points: 10,000 variants are 40 calls.
* **Targeted lookup**: the inventory items of variants we learn of from an
  order (bindings the order import creates carry none), up to 100 variants
  per call as aliased ``productVariant(id:)`` fields (2 points each).
* **Webhook subscriptions**: ``webhookSubscriptions`` (ours are those whose
  URI is our webhook URL) and ``webhookSubscriptionCreate`` with ``uri``
  (``callbackUrl`` is deprecated).

Ids on our side are the numeric ids (what REST payloads and webhooks carry);
the GraphQL API wants GIDs.
"""

import dataclasses

from odoo.addons.marketplace_connector.lib.errors import DataError

PAGE_SIZE = 250
LOOKUP_SIZE = 100
LOCATION_PAGE_SIZE = 50
#: points a call costs, as Shopify computes them before running it
#: (connection 2 + first x (node 1 + inventoryItem 1))
VARIANT_PAGE_COST = 2 + PAGE_SIZE * 2
LOCATION_PAGE_COST = 2 + LOCATION_PAGE_SIZE
LOOKUP_COST_PER_VARIANT = 2
SUBSCRIPTION_PAGE_SIZE = 100
SUBSCRIPTION_PAGE_COST = 2 + SUBSCRIPTION_PAGE_SIZE
SUBSCRIPTION_CREATE_COST = 12

LOCATIONS = """
query CatalogueLocations($first: Int!, $after: String) {
  locations(first: $first, after: $after) {
    nodes { id legacyResourceId name isActive }
    pageInfo { hasNextPage endCursor }
  }
}
"""

VARIANTS = """
query CatalogueVariants($first: Int!, $after: String) {
  productVariants(first: $first, after: $after) {
    nodes {
      id
      legacyResourceId
      sku
      displayName
      inventoryItem { legacyResourceId }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SUBSCRIPTIONS = """
query WebhookSubscriptions($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    nodes { id topic uri format }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SUBSCRIBE = """
mutation Subscribe($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(
    topic: $topic
    webhookSubscription: { uri: $uri, format: JSON }
  ) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""


@dataclasses.dataclass(frozen=True)
class ShopVariant:
    """One variant of the shop, as the catalogue import keeps it."""

    variant_id: str
    sku: str
    title: str
    inventory_item_id: str


@dataclasses.dataclass(frozen=True)
class ShopLocation:
    location_id: str
    name: str
    active: bool


def variant_gid(variant_id):
    return f"gid://shopify/ProductVariant/{variant_id}"


def numeric_id(gid):
    return str(gid).rsplit("/", 1)[-1]


def topic_enum(topic):
    """``orders/create`` -> ``ORDERS_CREATE`` (GraphQL's topic names)."""
    return topic.replace("/", "_").upper()


def topic_name(enum):
    """``ORDERS_CREATE`` -> ``orders/create`` (for the topics we handle:
    one slash, after the resource)."""
    resource, _sep, action = str(enum).lower().rpartition("_")
    return f"{resource}/{action}"


def _variant(node):
    item = node.get("inventoryItem") or {}
    return ShopVariant(
        variant_id=str(node.get("legacyResourceId") or numeric_id(node["id"])),
        sku=(node.get("sku") or "").strip(),
        title=node.get("displayName") or "",
        inventory_item_id=str(item.get("legacyResourceId") or ""),
    )


def read_locations(client):
    """Every location of the shop (a shop has few: one or two pages)."""
    locations = []
    after = None
    while True:
        data = client.graphql(LOCATIONS, {"first": LOCATION_PAGE_SIZE, "after": after})
        connection = data["locations"]
        for node in connection["nodes"]:
            locations.append(
                ShopLocation(
                    location_id=str(
                        node.get("legacyResourceId") or numeric_id(node["id"])
                    ),
                    name=node.get("name") or "",
                    active=bool(node.get("isActive")),
                )
            )
        if not connection["pageInfo"]["hasNextPage"]:
            return locations
        after = connection["pageInfo"]["endCursor"]


def read_variant_page(client, after=None):
    """``(variants, next cursor or None)``: one page of the catalogue."""
    data = client.graphql(VARIANTS, {"first": PAGE_SIZE, "after": after})
    connection = data["productVariants"]
    variants = [_variant(node) for node in connection["nodes"]]
    page_info = connection["pageInfo"]
    return variants, page_info["endCursor"] if page_info["hasNextPage"] else None


def lookup_variants(client, variant_ids):
    """``{variant id: ShopVariant or None}`` (None: no such variant on the
    shop, deleted) for up to :data:`LOOKUP_SIZE` variants in one call."""
    variant_ids = [str(v) for v in variant_ids]
    if len(variant_ids) > LOOKUP_SIZE:
        raise ValueError(f"at most {LOOKUP_SIZE} variants per call")
    if not variant_ids:
        return {}
    fields = "\n".join(
        f'v{index}: productVariant(id: "{variant_gid(int(variant_id))}") {{ '
        f"id legacyResourceId sku displayName "
        f"inventoryItem {{ legacyResourceId }} }}"
        for index, variant_id in enumerate(variant_ids)
    )
    data = client.graphql(f"query LookupVariants {{\n{fields}\n}}")
    return {
        variant_id: (_variant(data[f"v{index}"]) if data.get(f"v{index}") else None)
        for index, variant_id in enumerate(variant_ids)
    }


def read_subscriptions(client):
    """``[(id, topic as we name it, uri)]`` of every subscription the app
    made on the shop."""
    subscriptions = []
    after = None
    while True:
        data = client.graphql(
            SUBSCRIPTIONS, {"first": SUBSCRIPTION_PAGE_SIZE, "after": after}
        )
        connection = data["webhookSubscriptions"]
        for node in connection["nodes"]:
            subscriptions.append(
                (node["id"], topic_name(node["topic"]), node.get("uri") or "")
            )
        if not connection["pageInfo"]["hasNextPage"]:
            return subscriptions
        after = connection["pageInfo"]["endCursor"]


def subscribe(client, topic, uri):
    """Subscribe ``uri`` to ``topic``; the new subscription's id."""
    data = client.graphql(SUBSCRIBE, {"topic": topic_enum(topic), "uri": uri})
    payload = data["webhookSubscriptionCreate"]
    errors = payload.get("userErrors") or []
    if errors:
        details = "; ".join(
            f"{error.get('message')} ({'.'.join(error.get('field') or [])})"
            for error in errors
        )
        raise DataError(f"Shopify refused the subscription to {topic}: {details}")
    return payload["webhookSubscription"]["id"]


@dataclasses.dataclass(frozen=True)
class SubscriptionReport:
    """What the shop's subscriptions look like against the topics we handle.

    :param missing: topics we handle with no subscription to our URL.
    :param foreign: ``(topic, uri)`` of subscriptions to another URL (an old
        Odoo, another app's copy): they receive our shop's events.
    :param ours: topics subscribed to our URL.
    """

    missing: tuple
    foreign: tuple
    ours: tuple

    def describe(self):
        parts = []
        if self.missing:
            parts.append(
                "no subscription for "
                + ", ".join(self.missing)
                + " (press Register webhooks)"
            )
        if self.foreign:
            parts.append(
                "subscriptions to another address: "
                + ", ".join(f"{topic} -> {uri}" for topic, uri in self.foreign)
            )
        if not parts:
            return (
                f"All {len(self.ours)} webhook topics are subscribed to this backend."
            )
        return "Webhooks: " + "; ".join(parts) + "."


def compare_subscriptions(subscriptions, topics, uri):
    """A :class:`SubscriptionReport` of ``subscriptions`` (as
    :func:`read_subscriptions` returns them) against ``topics`` to ``uri``."""
    ours = sorted({topic for _id, topic, sub_uri in subscriptions if sub_uri == uri})
    foreign = sorted(
        {(topic, sub_uri) for _id, topic, sub_uri in subscriptions if sub_uri != uri}
    )
    missing = [topic for topic in topics if topic not in ours]
    return SubscriptionReport(tuple(missing), tuple(foreign), tuple(ours))


def product_variants(payload):
    """The variants of a ``products/update`` payload (REST product)."""
    if not isinstance(payload, dict) or payload.get("id") in (None, ""):
        raise DataError("A product payload needs its id.")
    variants = []
    for item in payload.get("variants") or []:
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            raise DataError("A product variant needs its id.")
        title = payload.get("title") or ""
        if item.get("title") and item["title"] != "Default Title":
            title = f"{title} - {item['title']}"
        variants.append(
            ShopVariant(
                variant_id=str(item["id"]),
                sku=(item.get("sku") or "").strip(),
                title=title,
                inventory_item_id=str(item.get("inventory_item_id") or ""),
            )
        )
    return variants
