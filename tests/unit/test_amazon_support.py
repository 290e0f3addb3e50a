"""Shared helpers of the Amazon unit tests (no tests of its own).

``conftest.py`` stubs ``odoo.addons.<addon>`` for the addons it lists; this
module adds ``marketplace_amazon`` the same way when it is not listed yet,
so ``odoo.addons.marketplace_amazon.lib`` loads without Odoo. Test modules
import from here before they import the adapter.
"""

import os
import sys
import types

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_NAME = "odoo.addons.marketplace_amazon"
MODELS = os.path.join(os.path.dirname(_ROOT), "shared", "amazon-sp-api-models")
SELLER = "A1SIMSELLER0001"
MARKETPLACE = "ATVPDKIKX0DER"

if _NAME not in sys.modules:
    _module = types.ModuleType(_NAME)
    _module.__path__ = [os.path.join(_ROOT, "marketplace_amazon")]
    sys.modules[_NAME] = _module
    sys.modules["odoo.addons"].marketplace_amazon = _module


def money(amount, currency="USD"):
    return {"amount": str(amount), "currencyCode": currency}


def item(
    item_id="1001",
    sku="MUG-BLUE",
    quantity=1,
    unit="10.00",
    tax="0.00",
    shipping="0.00",
    shipping_tax="0.00",
    discount="0.00",
    shipping_discount="0.00",
    currency="USD",
    proceeds=True,
    title="Blue mug",
):
    """An Orders API v2026 order item as Amazon renders it."""
    rendered = {
        "orderItemId": item_id,
        "quantityOrdered": quantity,
        "product": {
            "asin": "B000TEST01",
            "title": title,
            "sellerSku": sku,
            "price": {"unitPrice": money(unit, currency)},
        },
    }
    if proceeds:
        from decimal import Decimal

        gross = Decimal(unit) * quantity
        taxes = Decimal(tax) + Decimal(shipping_tax)
        breakdowns = [
            {"type": "ITEM", "subtotal": money(f"{gross:.2f}", currency)},
            {"type": "SHIPPING", "subtotal": money(shipping, currency)},
            {
                "type": "TAX",
                "subtotal": money(f"{taxes:.2f}", currency),
                "detailedBreakdowns": [
                    {"subtype": "ITEM", "value": money(tax, currency)},
                    {"subtype": "SHIPPING", "value": money(shipping_tax, currency)},
                ],
            },
        ]
        total = gross + Decimal(shipping) + taxes
        discounts = Decimal(discount) + Decimal(shipping_discount)
        if discounts:
            breakdowns.append(
                {
                    "type": "DISCOUNT",
                    "subtotal": money(f"{-discounts:.2f}", currency),
                    "detailedBreakdowns": [
                        {"subtype": "ITEM", "value": money(f"-{discount}", currency)},
                        {
                            "subtype": "SHIPPING",
                            "value": money(f"-{shipping_discount}", currency),
                        },
                    ],
                }
            )
            total -= discounts
        rendered["proceeds"] = {
            "proceedsTotal": money(f"{total:.2f}", currency),
            "breakdowns": breakdowns,
        }
    return rendered


def order(
    items=None,
    order_id="111-0000001-0000001",
    status="UNSHIPPED",
    fulfilled_by="MERCHANT",
    marketplace=MARKETPLACE,
    currency="USD",
    grand_total="auto",
    buyer=True,
    recipient=True,
    updated="2026-11-23T15:00:00Z",
):
    """An Orders API v2026 order; ``grand_total="auto"`` sums the items."""
    from decimal import Decimal

    items = items if items is not None else [item(currency=currency)]
    payload = {
        "orderId": order_id,
        "createdTime": "2026-11-23T14:00:00Z",
        "lastUpdatedTime": updated,
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": marketplace},
        "fulfillment": {"fulfillmentStatus": status, "fulfilledBy": fulfilled_by},
        "orderItems": items,
    }
    if buyer:
        payload["buyer"] = {
            "buyerName": "Jane Doe",
            "buyerEmail": "abc123@marketplace.amazon.com",
        }
    if recipient:
        payload["recipient"] = {
            "deliveryAddress": {
                "name": "Jane Doe",
                "addressLine1": "1 Main St",
                "addressLine2": "Apt 4",
                "city": "Seattle",
                "stateOrRegion": "WA",
                "postalCode": "98101",
                "countryCode": "US",
                "phone": "+1 206 555 0100",
            }
        }
    with_proceeds = [i for i in items if "proceeds" in i]
    if with_proceeds and grand_total is not None:
        if grand_total == "auto":
            grand_total = sum(
                (
                    Decimal(i["proceeds"]["proceedsTotal"]["amount"])
                    for i in with_proceeds
                ),
                Decimal(0),
            )
            grand_total = f"{grand_total:.2f}"
        payload["proceeds"] = {"grandTotal": money(grand_total, currency)}
    return payload
