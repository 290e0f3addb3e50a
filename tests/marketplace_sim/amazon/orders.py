"""The seller's orders: their state, the seller-side and buyer-side changes
the simulator can make, and how an order reads in Orders API v2026-01-01.

Every change stores a new *version* of the order's rendering, stamped with
its ``lastUpdatedTime``. Reads see the newest version at least
``visibility_lag`` seconds old, which is how Amazon's ~2 minute data lag
looks from outside (default 0 in tests).

Money is Decimal internally and ``{"amount": "12.50", "currencyCode"}`` on
the wire; an item's ITEM proceeds are unit price x quantity; taxes are
amounts, never rates; a DISCOUNT breakdown is negative; ``grandTotal`` and
``proceedsTotal`` are the sums of their breakdowns.
"""

import copy
import dataclasses
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .clock import format_ts_seconds
from .marketplaces import marketplace

#: v2026 fulfilment statuses (FulfillmentStatus in the model).
STATUSES = (
    "PENDING_AVAILABILITY",
    "PENDING",
    "UNSHIPPED",
    "PARTIALLY_SHIPPED",
    "SHIPPED",
    "CANCELLED",
    "UNFULFILLABLE",
)
#: The same statuses as v0 and the ORDER_CHANGE notification spell them.
V0_STATUSES = {
    "PENDING_AVAILABILITY": "PendingAvailability",
    "PENDING": "Pending",
    "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped",
    "SHIPPED": "Shipped",
    "CANCELLED": "Canceled",
    "UNFULFILLABLE": "Unfulfillable",
}
FULFILLMENT_CHANNELS = {"MFN": "MERCHANT", "AFN": "AMAZON"}
#: includedData value -> the order-level and item-level keys it adds.
ORDER_SECTIONS = {
    "BUYER": ("buyer",),
    "RECIPIENT": ("recipient",),
    "PROCEEDS": ("proceeds",),
    "FULFILLMENT": ("fulfillment",),
    "PACKAGES": ("packages",),
}
ITEM_SECTIONS = {
    "PROCEEDS": ("proceeds",),
    "TAX": ("tax",),
    "PROMOTION": ("promotion",),
    "CANCELLATION": ("cancellation",),
    "FULFILLMENT": ("fulfillment",),
}
CENT = Decimal("0.01")


def decimal(value, what):
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{what} must be a decimal number, not {value!r}") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"{what} must be a non-negative number, not {value!r}")
    return number.quantize(CENT, ROUND_HALF_UP)


def money(amount, currency):
    return {"amount": f"{amount:.2f}", "currencyCode": currency}


@dataclasses.dataclass
class OrderItem:
    order_item_id: str
    sku: str
    asin: str
    title: str
    quantity: int
    unit_price: Decimal
    item_tax: Decimal
    shipping: Decimal
    shipping_tax: Decimal
    promotion_discount: Decimal
    promotion_id: str | None = None
    shipped: int = 0
    #: Amazon collects and remits the item's tax (marketplace facilitator)
    facilitator: bool = False

    @property
    def unshipped(self):
        return self.quantity - self.shipped

    def proceeds(self, currency):
        item = self.unit_price * self.quantity
        tax = self.item_tax + self.shipping_tax
        breakdowns = [
            {"type": "ITEM", "subtotal": money(item, currency)},
            {"type": "SHIPPING", "subtotal": money(self.shipping, currency)},
            {
                "type": "TAX",
                "subtotal": money(tax, currency),
                "detailedBreakdowns": [
                    {"subtype": "ITEM", "value": money(self.item_tax, currency)},
                    {
                        "subtype": "SHIPPING",
                        "value": money(self.shipping_tax, currency),
                    },
                ],
            },
        ]
        total = item + self.shipping + tax
        if self.promotion_discount:
            breakdowns.append(
                {
                    "type": "DISCOUNT",
                    "subtotal": money(-self.promotion_discount, currency),
                    "detailedBreakdowns": [
                        {
                            "subtype": "ITEM",
                            "value": money(-self.promotion_discount, currency),
                        }
                    ],
                }
            )
            total -= self.promotion_discount
        return total, breakdowns


@dataclasses.dataclass
class Order:
    order_id: str
    seller_id: str
    marketplace_id: str
    fulfillment: str  # MFN | AFN
    status: str
    created: float
    updated: float
    items: list
    buyer: dict
    address: dict
    service_level: str = "STANDARD"
    cancel_reason: str | None = None
    cancelled_by: str | None = None
    packages: list = dataclasses.field(default_factory=list)
    versions: list = dataclasses.field(default_factory=list)  # (updated, render)

    @property
    def currency(self):
        return marketplace(self.marketplace_id).currency

    def item(self, order_item_id):
        for item in self.items:
            if item.order_item_id == order_item_id:
                return item
        return None

    def render(self):
        """The order with every section the simulator fills."""
        mkt = marketplace(self.marketplace_id)
        currency = mkt.currency
        pending = self.status in ("PENDING", "PENDING_AVAILABILITY")
        items, totals = [], {}
        for item in self.items:
            rendered = {
                "orderItemId": item.order_item_id,
                "quantityOrdered": item.quantity,
                "product": {
                    "asin": item.asin,
                    "title": item.title,
                    "sellerSku": item.sku,
                    "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
                    "price": {"unitPrice": money(item.unit_price, currency)},
                },
                "fulfillment": {
                    "quantityFulfilled": item.shipped,
                    "quantityUnfulfilled": 0
                    if self.status == "CANCELLED"
                    else item.unshipped,
                },
            }
            if not pending:
                total, breakdowns = item.proceeds(currency)
                rendered["proceeds"] = {
                    "proceedsTotal": money(total, currency),
                    "breakdowns": breakdowns,
                }
                for entry in breakdowns:
                    amount = Decimal(entry["subtotal"]["amount"])
                    totals[entry["type"]] = totals.get(entry["type"], 0) + amount
            if item.facilitator:
                rendered["tax"] = {
                    "taxCollections": [
                        {
                            "model": "MARKETPLACE_FACILITATOR",
                            "responsibleParty": "Amazon Services, Inc.",
                        }
                    ]
                }
            if item.promotion_id:
                rendered["promotion"] = {
                    "breakdowns": [{"promotionId": item.promotion_id}]
                }
            if self.status == "CANCELLED":
                rendered["cancellation"] = {
                    "cancellationExecution": {
                        "cancelledBy": self.cancelled_by,
                        "cancelReason": self.cancel_reason,
                    }
                }
            items.append(rendered)
        order = {
            "orderId": self.order_id,
            "createdTime": format_ts_seconds(self.created),
            "lastUpdatedTime": format_ts_seconds(self.updated),
            "programs": [],
            "salesChannel": {
                "channelName": "AMAZON",
                "marketplaceId": mkt.marketplace_id,
                "marketplaceName": mkt.name,
            },
            "fulfillment": {
                "fulfillmentStatus": self.status,
                "fulfilledBy": FULFILLMENT_CHANNELS[self.fulfillment],
                "fulfillmentServiceLevel": self.service_level,
                "shipByWindow": {
                    "earliestDateTime": format_ts_seconds(self.created),
                    "latestDateTime": format_ts_seconds(self.created + 2 * 86400),
                },
            },
            "orderItems": items,
            "packages": copy.deepcopy(self.packages),
        }
        if not pending:  # Amazon withholds PII and prices until payment
            order["buyer"] = copy.deepcopy(self.buyer)
            order["recipient"] = {"deliveryAddress": copy.deepcopy(self.address)}
            breakdowns = [
                {"type": kind, "subtotal": money(amount, currency)}
                for kind, amount in totals.items()
            ]
            grand = sum((amount for amount in totals.values()), Decimal(0))
            order["proceeds"] = {
                "grandTotal": money(grand, currency),
                "breakdowns": breakdowns,
            }
        return order

    def snapshot(self):
        self.versions.append((self.updated, self.render()))

    def visible(self, horizon):
        """The newest rendering stamped at or before ``horizon`` (or None)."""
        for updated, rendered in reversed(self.versions):
            if updated <= horizon:
                return rendered
        return None

    def notification_summary(self):
        """``Summary`` of an ORDER_CHANGE notification (v0 spelling)."""
        return {
            "MarketplaceId": self.marketplace_id,
            "OrderStatus": V0_STATUSES[self.status],
            "PurchaseDate": format_ts_seconds(self.created),
            "DestinationPostalCode": None
            if self.status in ("PENDING", "PENDING_AVAILABILITY")
            else self.address.get("postalCode"),
            "FulfillmentType": self.fulfillment,
            "OrderType": "StandardOrder",
            "NumberOfItemsShipped": sum(item.shipped for item in self.items),
            "NumberOfItemsUnshipped": 0
            if self.status == "CANCELLED"
            else sum(item.unshipped for item in self.items),
            "OrderItems": [
                {
                    "OrderItemId": item.order_item_id,
                    "SellerSKU": item.sku,
                    "SupplySourceId": None,
                    "OrderItemStatus": "Shipped" if not item.unshipped else "Unshipped",
                    "Quantity": item.quantity,
                    "QuantityShipped": item.shipped,
                    "IsBuyerRequestedCancel": self.cancelled_by == "BUYER",
                }
                for item in self.items
            ],
        }


def select_sections(rendered, included):
    """Drop the sections ``includedData`` did not ask for."""
    included = set(included or ())
    order = {
        key: value
        for key, value in rendered.items()
        if not any(
            key in keys and name not in included
            for name, keys in ORDER_SECTIONS.items()
        )
    }
    order["orderItems"] = [
        {
            key: value
            for key, value in item.items()
            if not any(
                key in keys and name not in included
                for name, keys in ITEM_SECTIONS.items()
            )
        }
        for item in rendered["orderItems"]
    ]
    return order


def status_after_shipping(order):
    if all(item.unshipped == 0 for item in order.items):
        return "SHIPPED"
    if any(item.shipped for item in order.items):
        return "PARTIALLY_SHIPPED"
    return order.status
