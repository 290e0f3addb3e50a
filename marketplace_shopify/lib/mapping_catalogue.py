"""Catalogue webhooks as inbox events: ``products/create`` and
``products/update`` carry the product with its variants (SKU, inventory
item); ``inventory_items/delete`` names an inventory item gone with its
variant (a deleted product sends one per variant)."""

import hashlib
import json

from odoo.addons.marketplace_connector.lib.errors import DataError
from odoo.addons.marketplace_connector.lib.inbound import InboundEvent

from .catalogue import product_variants
from .mapping import parse_datetime

RESOURCE_CATALOGUE = "catalogue"
ITEM_DELETE_TOPIC = "inventory_items/delete"
PRODUCT_TOPICS = ("products/create", "products/update", ITEM_DELETE_TOPIC)


def catalogue_event(payload, topic, source, headers=None):
    """Describe a catalogue payload for the inbox.

    The dedupe key of a product names its state (id, ``updated_at`` and a
    digest of what we keep of its variants), so a redelivery stores
    nothing; a deletion is one event per item.

    :raise DataError: when the payload lacks its ids.
    """
    if not isinstance(payload, dict) or payload.get("id") in (None, ""):
        raise DataError(f"A {topic} payload needs its id.")
    resource_id = str(payload["id"])
    updated_at = None
    if topic == ITEM_DELETE_TOPIC:
        dedupe_key = f"inventory_item_delete:{resource_id}"
    else:
        variants = product_variants(payload)
        if payload.get("updated_at"):
            updated_at = parse_datetime(payload["updated_at"], "updated_at")
        digest = hashlib.sha256(
            json.dumps(
                [[v.variant_id, v.sku, v.title, v.inventory_item_id] for v in variants]
            ).encode()
        ).hexdigest()[:16]
        stamp = updated_at.isoformat() if updated_at else ""
        dedupe_key = f"product:{resource_id}:{stamp}:{digest}"
    return InboundEvent(
        topic=topic,
        dedupe_key=dedupe_key,
        resource_type=RESOURCE_CATALOGUE,
        external_id=resource_id,
        external_updated_at=updated_at,
        payload=payload,
        headers=dict(headers or {}),
        source=source,
    )
