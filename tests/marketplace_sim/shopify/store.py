"""The shop's data, behind one re-entrant lock.

Order states are published copy-on-write: a stored order dict is never
mutated after it is stored (a change stores a new dict), so HTTP handlers may
serialise a state they fetched without holding the lock, and a webhook may
carry it as it is. ``store.lock`` is held by every read-modify-write in the
simulator (order changes, inventory compare-and-set) so each is atomic.
"""

import bisect
import dataclasses
import json
import math
import threading

from .clock import format_ts


class IdSequence:
    """Increasing ids in the range Shopify's 64-bit ids have today."""

    def __init__(self, rng, start):
        self._rng = rng
        self._last = start + rng.randrange(10**6)

    def __call__(self):
        self._last += self._rng.randint(1, 97)
        return self._last


@dataclasses.dataclass
class Location:
    id: int
    name: str
    is_active: bool = True

    @property
    def gid(self):
        return f"gid://shopify/Location/{self.id}"


@dataclasses.dataclass
class Variant:
    product_id: int
    variant_id: int
    inventory_item_id: int
    sku: str
    price: str
    title: str
    tracked: bool = True

    def as_dict(self):
        return {
            "product_id": self.product_id,
            "variant_id": self.variant_id,
            "inventory_item_id": self.inventory_item_id,
            "sku": self.sku,
            "price": self.price,
            "title": self.title,
        }


@dataclasses.dataclass
class Level:
    """Quantities of one inventory item at one location.

    ``on_hand = available + committed``: a new order moves units from
    available to committed, as on Shopify.
    """

    id: int
    inventory_item_id: int
    location_id: int
    available: int
    committed: int
    updated_at: int  # epoch seconds

    QUANTITY_NAMES = (
        "available",
        "committed",
        "damaged",
        "incoming",
        "on_hand",
        "quality_control",
        "reserved",
        "safety_stock",
    )

    @property
    def on_hand(self):
        return self.available + self.committed

    def quantity(self, name):
        if name == "on_hand":
            return self.on_hand
        return getattr(self, name, 0)

    @property
    def gid(self):
        return (
            f"gid://shopify/InventoryLevel/{self.id}"
            f"?inventory_item_id={self.inventory_item_id}"
        )

    def webhook_payload(self):
        """The REST ``InventoryLevel`` (topic ``inventory_levels/update``)."""
        return {
            "inventory_item_id": self.inventory_item_id,
            "location_id": self.location_id,
            "available": self.available,
            "updated_at": format_ts(self.updated_at),
            "admin_graphql_api_id": self.gid,
        }


@dataclasses.dataclass
class OrderRow:
    """One published state of an order; replaced, never changed (only its
    JSON cache is filled in lazily)."""

    state: dict
    created_ts: int
    updated_ts: int
    json_text: str | None = None


class ShopStore:
    """Products, inventory and orders of one shop."""

    def __init__(self, rng):
        self.lock = threading.RLock()
        self.ids = {
            "product": IdSequence(rng, 8_100_000_000_000),
            "variant": IdSequence(rng, 45_300_000_000_000),
            "inventory_item": IdSequence(rng, 47_400_000_000_000),
            "inventory_level": IdSequence(rng, 120_000_000_000),
            "location": IdSequence(rng, 71_000_000_000),
            "customer": IdSequence(rng, 7_300_000_000_000),
            "order": IdSequence(rng, 5_900_000_000_000),
            "line_item": IdSequence(rng, 14_800_000_000_000),
            "shipping_line": IdSequence(rng, 4_900_000_000_000),
            "adjustment_group": IdSequence(rng, 30_100_000_000_000),
        }
        self.locations = {}
        self.variants_by_sku = {}
        self.variants_by_item = {}
        self.variants_by_id = {}
        self.levels = {}  # (inventory_item_id, location_id) -> Level
        self._orders = {}  # id -> OrderRow
        self._order_index = []  # sorted [(updated_ts, id)]
        self.next_order_number = 1001
        self.order_locations = {}  # order id -> location its stock is committed at
        #: inventorySetQuantities results by idempotency key
        self.idempotent_results = {}

    # Catalogue and inventory

    def add_location(self, name):
        with self.lock:
            location = Location(self.ids["location"](), name)
            self.locations[location.id] = location
            return location

    def add_variant(self, variant):
        with self.lock:
            self.variants_by_sku[variant.sku] = variant
            self.variants_by_item[variant.inventory_item_id] = variant
            self.variants_by_id[variant.variant_id] = variant

    def variant_for_sku(self, sku):
        try:
            return self.variants_by_sku[sku]
        except KeyError:
            raise ValueError(f"no product with SKU {sku!r} in the shop") from None

    def sorted_variants(self):
        with self.lock:
            return sorted(self.variants_by_id.values(), key=lambda v: v.variant_id)

    def sorted_locations(self):
        with self.lock:
            return sorted(self.locations.values(), key=lambda loc: loc.id)

    def level(self, inventory_item_id, location_id):
        return self.levels.get((inventory_item_id, location_id))

    def levels_of(self, inventory_item_id):
        with self.lock:
            return sorted(
                (
                    level
                    for (item_id, _loc), level in self.levels.items()
                    if item_id == inventory_item_id
                ),
                key=lambda level: level.location_id,
            )

    def stock(self, inventory_item_id, location_id, timestamp):
        """The level of an item at a location, created (0) if not stocked."""
        with self.lock:
            key = (inventory_item_id, location_id)
            if key not in self.levels:
                self.levels[key] = Level(
                    self.ids["inventory_level"](),
                    inventory_item_id,
                    location_id,
                    available=0,
                    committed=0,
                    updated_at=timestamp,
                )
            return self.levels[key]

    # Orders

    def insert_order(self, state, created_ts):
        with self.lock:
            self._orders[state["id"]] = OrderRow(state, created_ts, created_ts)
            bisect.insort(self._order_index, (created_ts, state["id"]))

    def replace_order(self, state, updated_ts):
        with self.lock:
            row = self._orders[state["id"]]
            old_key = (row.updated_ts, state["id"])
            del self._order_index[bisect.bisect_left(self._order_index, old_key)]
            bisect.insort(self._order_index, (updated_ts, state["id"]))
            self._orders[state["id"]] = OrderRow(state, row.created_ts, updated_ts)

    def order_row(self, order_id):
        """Raise KeyError when there is no such order."""
        with self.lock:
            return self._orders[order_id]

    def order_ids(self):
        with self.lock:
            return [order_id for _ts, order_id in self._order_index]

    def scan_orders(self, accept, after=None, before=None, limit=50, since=None):
        """Orders in (updated_at, id) order that ``accept(row)``.

        :param after: a key ``(updated_ts, id)``: only rows after it.
        :param since: skip straight to rows updated at or after this epoch
            (an index seek; ``accept`` must still apply the same bound).
        :param before: a key: only rows before it, walking backwards (the
            result is still in ascending order).
        :return: ``(rows, more)``: up to ``limit`` rows, and whether another
            accepted row lies beyond them in the walking direction.
        """
        with self.lock:
            index = self._order_index
            if before is not None:
                positions = range(bisect.bisect_left(index, tuple(before)) - 1, -1, -1)
            else:
                start = 0 if after is None else bisect.bisect_right(index, tuple(after))
                if since is not None:
                    start = max(start, bisect.bisect_left(index, (math.ceil(since),)))
                positions = range(start, len(index))
            rows = []
            for position in positions:
                row = self._orders[index[position][1]]
                if accept(row):
                    if len(rows) == limit:
                        return (rows[::-1] if before is not None else rows), True
                    rows.append(row)
            return (rows[::-1] if before is not None else rows), False

    def any_order(self, accept, after=None, before=None):
        rows, _more = self.scan_orders(accept, after=after, before=before, limit=1)
        return bool(rows)

    @staticmethod
    def order_json(row):
        """The compact JSON of a row's state, cached on the row."""
        text = row.json_text
        if text is None:
            text = row.json_text = json.dumps(row.state, separators=(",", ":"))
        return text
