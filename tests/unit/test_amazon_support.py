"""Shared helpers of the Amazon unit tests (no tests of its own).

``conftest.py`` stubs ``odoo.addons.<addon>`` for the addons it lists; this
module adds ``marketplace_amazon`` the same way when it is not listed yet,
so ``odoo.addons.marketplace_amazon.lib`` loads without Odoo. Test modules
import from here before they import the adapter.
"""

import os
import pathlib
import sys
import types

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_NAME = "odoo.addons.marketplace_amazon"
MODELS = pathlib.Path(_ROOT).parent / "shared" / "amazon-sp-api-models"
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


# Over HTTP: the simulator, a backend config, recorders


def make_sim(**options):
    """A started simulator on a frozen clock (tests move it with advance)."""
    from marketplace_sim.amazon import AmazonSimulator
    from marketplace_sim.amazon.clock import SimClock

    options.setdefault("clock", SimClock(time_scale=0))
    return AmazonSimulator(
        seller_id=SELLER, marketplace_ids=(MARKETPLACE,), **options
    ).start()


def make_config(sim, credentials=None, **settings):
    from odoo.addons.marketplace_connector.lib.adapter import BackendConfig

    values = {
        "region": "na",
        "seller_id": SELLER,
        "marketplace_ids": [MARKETPLACE],
        "sqs_queue_url": sim.queue_url,
        "sqs_region": "us-east-1",
        "sqs_endpoint_url": sim.sqs_url,
        "lwa_url": sim.lwa_url,
    }
    values.update(settings)
    secrets = {
        "lwa_client_id": sim.lwa.client_id,
        "lwa_client_secret": sim.lwa.client_secret,
        "lwa_refresh_token": sim.lwa.refresh_token,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "not-checked",
    }
    secrets.update(credentials or {})
    return BackendConfig(
        backend_id=1,
        name="Amazon test",
        api_url=sim.url,
        credentials=secrets,
        settings=values,
        timeout=5.0,
    )


class RecordingGate:
    """A rate gate that spends nothing and remembers what it was asked."""

    def __init__(self):
        self.reserved = []
        self.observed = []

    def reserve(self, family, cost=1):
        self.reserved.append((family, cost))

    def observe(self, family, available, maximum, restore_rate):
        self.observed.append((family, available, maximum, restore_rate))


def recording_session():
    """A requests session that keeps every request it sends (prepared)."""
    import requests

    session = requests.Session()
    session.sent = []

    def keep(response, *args, **kwargs):
        session.sent.append(response.request)

    session.hooks["response"].append(keep)
    return session


def sim_now(sim):
    """The simulator's clock as the naive UTC datetime the adapter uses."""
    import datetime

    moment = datetime.datetime.fromtimestamp(sim.clock(), datetime.timezone.utc)
    return moment.replace(tzinfo=None)


def make_adapter(sim, gate=None, **settings):
    from odoo.addons.marketplace_amazon.lib.adapter import AmazonAdapter

    adapter = AmazonAdapter(make_config(sim, **settings), rate_gate=gate)
    adapter.now = lambda: sim_now(sim)
    adapter.client._sleep = lambda seconds: None
    adapter.client.session = adapter.client.lwa.session = recording_session()
    return adapter
