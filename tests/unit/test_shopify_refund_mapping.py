"""Shopify's ``refunds/create`` payload (as the simulator makes it, and
hand-written variants) mapped to the channel-neutral refund; the simulator's
refunds validated as Shopify validates them; the adapter's intake of the
topic."""

from decimal import Decimal

import pytest
import requests
from marketplace_sim.shopify import ShopifySimulator, sign_webhook
from marketplace_sim.shopify import refunds as sim_refunds

from odoo.addons.marketplace_connector.lib.adapter import BackendConfig
from odoo.addons.marketplace_connector.lib.errors import DataError
from odoo.addons.marketplace_connector.lib.refund import (
    AMOUNT_ADJUSTMENT,
    AMOUNT_SHIPPING,
    RESTOCK_CANCEL,
    RESTOCK_NONE,
    RESTOCK_RETURN,
)
from odoo.addons.marketplace_shopify.lib.adapter import ShopifyAdapter
from odoo.addons.marketplace_shopify.lib.refund_mapping import (
    parse_refund,
    refund_event,
)

D = Decimal
SHOP = "acme-test.myshopify.com"
SECRET = "whsec-current"


@pytest.fixture
def sim():
    simulator = ShopifySimulator(shop_domain=SHOP)
    for sku, price in (("MUG-BLUE", "19.99"), ("TEE-L", "25.00")):
        simulator.add_product(sku=sku, price=price, inventory=10)
    return simulator


def item(order, sku):
    return next(li for li in order["line_items"] if li["sku"] == sku)


def test_a_simulated_refund_maps_to_the_neutral_refund(sim):
    order = sim.create_order(
        lines=[("MUG-BLUE", 3), ("TEE-L", 1)], discount_pct="10", notify=False
    )
    payload = sim_refunds.refund_order(
        sim,
        order["id"],
        lines=[
            {
                "line_item_id": item(order, "MUG-BLUE")["id"],
                "quantity": 2,
                "restock_type": "CANCEL",
            }
        ],
        shipping=True,
        notify=False,
    )
    refund = parse_refund(payload)
    assert refund.external_id == str(payload["id"])
    assert refund.order_external_id == str(order["id"])
    assert refund.currency == "USD"
    (line,) = refund.lines
    assert line.line_id == str(item(order, "MUG-BLUE")["id"])
    assert line.quantity == 2
    assert line.restock_type == RESTOCK_CANCEL
    # 2 x 19.99 less 2/3 of the line's 6.00 discount; 2/3 of its tax
    assert line.subtotal == D("35.98")
    assert line.tax == D("7.19")  # 2/3 of 10.79
    (shipping,) = refund.shipping
    assert (shipping.kind, shipping.amount, shipping.tax) == (
        AMOUNT_SHIPPING,
        D("5.00"),
        D("1.00"),
    )
    assert refund.total == D(payload["transactions"][0]["amount"])
    assert refund.computed_total == refund.expected_total == D("49.17")


def test_every_unit_refunded_gives_back_the_lines_tax_exactly(sim):
    order = sim.create_order(lines=[("MUG-BLUE", 3)], notify=False)
    line_id = item(order, "MUG-BLUE")["id"]
    taxes = [
        D(
            str(
                sim_refunds.refund_order(
                    sim,
                    order["id"],
                    lines=[{"line_item_id": line_id, "quantity": 1}],
                    notify=False,
                )["refund_line_items"][0]["total_tax"]
            )
        )
        for _unit in range(3)
    ]
    assert sum(taxes) == D(item(order, "MUG-BLUE")["tax_lines"][0]["price"])
    assert sim.get_order(order["id"])["financial_status"] == "partially_refunded"


def test_restock_types_adjustments_and_shipping_lines():
    payload = {
        "id": 11,
        "order_id": 22,
        "created_at": "2026-11-23T10:00:00-05:00",
        "refund_line_items": [
            {"line_item_id": 1, "quantity": 1, "restock_type": "return",
             "subtotal": 10.0, "total_tax": 2.0, "location_id": 5},
            {"line_item_id": 2, "quantity": 1, "restock_type": "legacy_restock",
             "subtotal_set": {"shop_money": {"amount": "4.00"}}},
            {"line_item_id": 3, "quantity": 2, "restock_type": "no_restock",
             "subtotal": "3.00"},
        ],
        "order_adjustments": [
            {"kind": "refund_discrepancy", "amount": "1.50", "tax_amount": "0.00"}
        ],
        "refund_shipping_lines": [
            {"subtotal_amount_set": {"shop_money": {"amount": "4.95"}},
             "tax_amount_set": {"shop_money": {"amount": "0.99"}}}
        ],
        "transactions": [
            {"kind": "refund", "status": "success", "amount": "23.44",
             "currency": "EUR"},
            {"kind": "refund", "status": "failure", "amount": "23.44"},
        ],
    }  # fmt: skip
    refund = parse_refund(payload)
    assert [line.restock_type for line in refund.lines] == [
        RESTOCK_RETURN,
        RESTOCK_RETURN,
        RESTOCK_NONE,
    ]
    assert refund.lines[0].location_id == "5"
    assert refund.lines[1].subtotal == D("4.00")
    assert refund.currency == "EUR"
    (discrepancy,) = refund.adjustments
    assert (discrepancy.kind, discrepancy.amount) == (AMOUNT_ADJUSTMENT, D("-1.50"))
    (shipping,) = refund.shipping
    assert (shipping.amount, shipping.tax) == (D("4.95"), D("0.99"))
    assert refund.total == D("23.44"), "only successful refund transactions"
    assert refund.computed_total == D("23.44")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"order_id": None}, "has no id"),
        ({"refund_line_items": [{"line_item_id": 1, "quantity": -1}]}, "negative"),
        (
            {"refund_line_items": [{"line_item_id": 1, "quantity": 1,
                                    "restock_type": "sideways"}]},
            "Unknown restock type",
        ),
        ({"order_adjustments": "x"}, "not a list"),
    ],
)  # fmt: skip
def test_what_cannot_be_booked_is_refused_with_the_reason(change, message):
    payload = dict({"id": 11, "order_id": 22}, **change)
    with pytest.raises(DataError, match=message):
        parse_refund(payload)


def test_one_refund_is_one_event_however_often_delivered():
    first = refund_event({"id": 11, "order_id": 22}, "refunds/create", "webhook")
    again = refund_event(
        {"id": 11, "order_id": 22, "note": "x"}, "refunds/create", "poll"
    )
    assert first.dedupe_key == again.dedupe_key == "refund:11"
    assert first.resource_type == "refund"
    assert first.demand is None


def test_the_adapter_takes_refunds_create_and_lists_it_among_its_topics():
    adapter = ShopifyAdapter(
        BackendConfig(
            backend_id=1,
            name="Acme",
            credentials={"webhook_secret": SECRET},
            settings={"shop_domain": SHOP},
        )
    )
    assert "refunds/create" in ShopifyAdapter.handled_topics()
    body = b'{"id": 11, "order_id": 22, "refund_line_items": []}'
    headers = {
        "X-Shopify-Hmac-Sha256": sign_webhook(body, SECRET),
        "X-Shopify-Topic": "refunds/create",
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Webhook-Id": "w-1",
    }
    event = adapter.verify_webhook(headers, body)
    assert (event.resource_type, event.external_id) == ("refund", "11")
    assert adapter.parse_refund(event.payload).order_external_id == "22"


def test_the_simulator_refuses_what_shopify_refuses(sim):
    order = sim.create_order(lines=[("MUG-BLUE", 2)], shipping="5.00", notify=False)
    line_id = item(order, "MUG-BLUE")["id"]

    def refund(quantity=None, restock="no_restock", **kwargs):
        if quantity is not None:
            kwargs["lines"] = [
                {"line_item_id": line_id, "quantity": quantity, "restock_type": restock}
            ]
        return sim_refunds.refund_order(sim, order["id"], notify=False, **kwargs)

    with pytest.raises(ValueError, match="2 left to refund"):
        refund(3)
    with pytest.raises(ValueError, match="0 fulfilled and not returned"):
        refund(
            lines=[{"line_item_id": line_id, "quantity": 1, "restock_type": "return"}]
        )
    with pytest.raises(ValueError, match="shipping"):
        refund(shipping="5.01")
    with pytest.raises(ValueError, match="at least one"):
        refund()
    with pytest.raises(ValueError, match="restock_type"):
        refund(1, "x")

    sim_refunds.mark_fulfilled(sim, order["id"], notify=False)
    with pytest.raises(ValueError, match="only 0 unfulfilled"):
        refund(
            lines=[{"line_item_id": line_id, "quantity": 1, "restock_type": "cancel"}]
        )
    refund(2, "return")
    with pytest.raises(ValueError, match="0 left to refund"):
        refund(1)
    level = sim.inventory_snapshot()[0]
    assert (level["sku"], level["available"], level["committed"]) == ("MUG-BLUE", 10, 0)


def test_the_control_surface_refunds_and_refuses_over_http(sim):
    sim.start()
    try:
        order = sim.create_order(lines=[("MUG-BLUE", 2)], notify=False)
        url = f"{sim.url}/_sim/orders/{order['id']}/refund"
        line = {"sku": "MUG-BLUE", "quantity": 1, "restock_type": "cancel"}
        answer = requests.post(url, json={"lines": [line], "shipping": True}, timeout=5)
        assert answer.status_code == 200
        assert answer.json()["refund_line_items"][0]["quantity"] == 1
        line["quantity"] = 5
        refused = requests.post(url, json={"lines": [line]}, timeout=5)
        assert refused.status_code == 400
        assert "1 left to refund" in refused.json()["error"]
    finally:
        sim.stop()
