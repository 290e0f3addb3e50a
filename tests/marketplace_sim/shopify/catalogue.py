"""Merchant-side catalogue changes and the webhooks Shopify sends for them:
``products/update`` (the REST product with its variants) when a variant's
SKU or title changes, ``products/delete`` (``{"id": ...}``) and
``inventory_items/delete`` when a product goes, with its variants, inventory
items and levels. Used by the simulator's control surface and by tests."""

from .clock import format_ts
from .store import Variant


def product_payload(sim, variant):
    """The REST ``Product`` of a (single-variant) product."""
    stamp = format_ts(int(sim.clock()))
    return {
        "id": variant.product_id,
        "admin_graphql_api_id": f"gid://shopify/Product/{variant.product_id}",
        "title": variant.title,
        "status": "active",
        "updated_at": stamp,
        "variants": [
            {
                "id": variant.variant_id,
                "admin_graphql_api_id": (
                    f"gid://shopify/ProductVariant/{variant.variant_id}"
                ),
                "product_id": variant.product_id,
                "title": "Default Title",
                "sku": variant.sku,
                "price": variant.price,
                "inventory_item_id": variant.inventory_item_id,
                "updated_at": stamp,
            }
        ],
    }


def update_product(sim, sku, new_sku=None, title=None, notify=True):
    """Change a product's SKU or title; fires ``products/update``."""
    store = sim.store
    with store.lock:
        variant = store.variant_for_sku(sku)
        if new_sku is not None and new_sku != sku:
            if not isinstance(new_sku, str):
                raise ValueError("the SKU must be text")
            if new_sku and new_sku in store.variants_by_sku:
                raise ValueError(f"SKU {new_sku!r} is taken in the simulator")
            del store.variants_by_sku[sku]
            variant.sku = new_sku
            if new_sku:
                store.variants_by_sku[new_sku] = variant
        if title is not None:
            variant.title = title
        payload = product_payload(sim, variant)
    if notify:
        sim._send([("products/update", payload)])  # pylint: disable=protected-access
    return payload


def delete_product(sim, sku, notify=True):
    """Delete a product, its variant, inventory item and levels; fires
    ``products/delete`` and ``inventory_items/delete``."""
    store = sim.store
    with store.lock:
        variant = store.variant_for_sku(sku)
        del store.variants_by_sku[sku]
        del store.variants_by_id[variant.variant_id]
        del store.variants_by_item[variant.inventory_item_id]
        for key in [k for k in store.levels if k[0] == variant.inventory_item_id]:
            del store.levels[key]
    if notify:
        sim._send(  # pylint: disable=protected-access
            [
                ("products/delete", {"id": variant.product_id}),
                (
                    "inventory_items/delete",
                    {
                        "id": variant.inventory_item_id,
                        "admin_graphql_api_id": (
                            f"gid://shopify/InventoryItem/{variant.inventory_item_id}"
                        ),
                    },
                ),
            ]
        )
    return variant.as_dict()


def add_variants(sim, count, prefix="SKU", price="10.00", start=0):
    """Add ``count`` products in bulk (a benchmark's catalogue), unstocked:
    ``{sku: variant dict}``."""
    added = {}
    for number in range(start, start + count):
        sku = f"{prefix}-{number:06d}"
        added[sku] = sim.add_product(sku=sku, price=price, title=f"Item {number}")
    return added


def add_variant(sim, sku, price="10.00", title=None, inventory=0):
    """A new product even when another one has this SKU already (Shopify
    does not keep SKUs unique); the SKU's lookups then find the new one."""
    store = sim.store
    with store.lock:
        variant = Variant(
            product_id=store.ids["product"](),
            variant_id=store.ids["variant"](),
            inventory_item_id=store.ids["inventory_item"](),
            sku=sku,
            price=price,
            title=title or sku,
        )
        store.add_variant(variant)
        level = store.stock(
            variant.inventory_item_id, sim.location_id, int(sim.clock())
        )
        level.available = int(inventory)
        return variant.as_dict()
