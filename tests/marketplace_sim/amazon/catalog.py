"""The seller's listings and the timeline of writes to their quantities.

Amazon applies a listing write some time after accepting it, and there is no
compare-and-set: whatever lands last wins. The catalogue keeps one timeline
of scheduled events (a PATCH landing, a feed finishing) ordered by the sim
time they take effect, and plays it lazily up to "now" before every read, so
a PATCH and a feed racing for the same SKU resolve by application time,
exactly and without background threads.
"""

import dataclasses
import heapq
import itertools
import threading

from .clock import format_ts


class SoldOut(ValueError):
    """An order asked for more than a listing shows (``from_listings``)."""


@dataclasses.dataclass
class Listing:
    sku: str
    product_type: str
    title: str
    asin: str
    created: float
    updated: float
    quantity: int = 0
    channel: str = "DEFAULT"
    history: list = dataclasses.field(default_factory=list)  # (at, quantity, source)

    def render(self, included, marketplace_ids):
        item = {"sku": self.sku}
        if "summaries" in included:
            item["summaries"] = [
                {
                    "marketplaceId": marketplace_id,
                    "asin": self.asin,
                    "productType": self.product_type,
                    "conditionType": "new_new",
                    "status": ["BUYABLE", "DISCOVERABLE"]
                    if self.quantity > 0
                    else ["DISCOVERABLE"],
                    "itemName": self.title,
                    "createdDate": format_ts(self.created),
                    "lastUpdatedDate": format_ts(self.updated),
                }
                for marketplace_id in marketplace_ids
            ]
        if "attributes" in included:
            item["attributes"] = {
                "fulfillment_availability": [
                    {
                        "fulfillment_channel_code": self.channel,
                        "quantity": self.quantity,
                    }
                ]
            }
        if "issues" in included:
            item["issues"] = []
        if "fulfillmentAvailability" in included:
            item["fulfillmentAvailability"] = [
                {"fulfillmentChannelCode": self.channel, "quantity": self.quantity}
            ]
        for name in ("offers", "procurement"):
            if name in included:
                item[name] = []
        return item


class Catalog:
    def __init__(self, clock):
        self.clock = clock
        #: seconds between an accepted PATCH and its quantity being live
        self.patch_delay = 0.0
        self.lock = threading.RLock()
        self.listings = {}
        self._timeline = []  # heap of (at, sequence, callable(at))
        self._sequence = itertools.count()

    def add(self, sku, quantity=0, product_type="PRODUCT", title=None, asin=None):
        now = self.clock()
        with self.lock:
            listing = Listing(
                sku=sku,
                product_type=product_type,
                title=title or sku,
                asin=asin or f"B0{abs(sum(map(ord, sku)) * 7919) % 10**8:08d}",
                created=now,
                updated=now,
                quantity=int(quantity),
            )
            self.listings[sku] = listing
            return listing

    def schedule(self, at, event):
        with self.lock:
            heapq.heappush(self._timeline, (at, next(self._sequence), event))

    def settle(self, now=None):
        """Play every event due by ``now`` in order of application time."""
        now = self.clock() if now is None else now
        with self.lock:
            while self._timeline and self._timeline[0][0] <= now:
                at, _seq, event = heapq.heappop(self._timeline)
                event(at)

    def pending(self):
        with self.lock:
            return len(self._timeline)

    def get(self, sku):
        """The listing as of now (None when unknown)."""
        self.settle()
        with self.lock:
            return self.listings.get(sku)

    def set_quantity(self, sku, quantity, at, source):
        with self.lock:
            listing = self.listings.get(sku)
            if listing is None:  # deleted meanwhile: the write is lost
                return
            listing.quantity = quantity
            listing.updated = at
            listing.history.append((at, quantity, source))

    def schedule_quantity(self, sku, quantity, source, delay=None):
        at = self.clock() + (self.patch_delay if delay is None else delay)
        self.schedule(at, lambda when: self.set_quantity(sku, quantity, when, source))
        return at
