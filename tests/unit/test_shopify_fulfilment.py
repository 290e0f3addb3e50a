"""Shipments as Shopify fulfillments (``marketplace_shopify.lib.fulfilment``)
against the simulator over real HTTP, without Odoo: the lines and
quantities of each delivery, one fulfillment per location, a retry after a
lost answer never fulfilling twice, holds and closed fulfillment orders
refused with what to do; and the documents sent validate against Shopify's
own Admin schemas."""

import datetime

import pytest
import requests
from graphql import parse, validate
from graphql.execution.values import get_variable_values
from marketplace_sim.shopify import ShopifySimulator

from odoo.addons.marketplace_connector.lib.errors import DataError
from odoo.addons.marketplace_connector.lib.shipment import Shipment, ShipmentLine
from odoo.addons.marketplace_shopify.lib import fulfilment
from odoo.addons.marketplace_shopify.lib.client import ShopifyClient

TOKEN = "shpat_fulfil"


@pytest.fixture
def sim():
    simulator = ShopifySimulator(
        shop_domain="fulfil.myshopify.com", access_token=TOKEN, plan="plus"
    )
    for sku in ("MUG", "TEE", "CAP"):
        simulator.add_product(sku=sku, price="10.00", title=sku, inventory=20)
    simulator.start()
    yield simulator
    simulator.stop()
    assert not simulator.internal_errors


@pytest.fixture
def client(sim):
    shopify = ShopifyClient(sim.url, TOKEN, "2026-07", sleep=lambda _s: None)
    yield shopify
    shopify.close()


def shipment(
    order, quantities, tracking="1Z001", attempt=1, carrier="UPS", locations=()
):
    """A shipment of ``quantities`` ({sku: qty}) of a simulator order."""
    ids = {line["sku"]: str(line["id"]) for line in order["line_items"]}
    return Shipment(
        reference=f"odoo-test-{tracking}",
        order_id=str(order["id"]),
        marketplace="",
        carrier_code=carrier,
        carrier_name="UPS Ground",
        service="",
        tracking_number=tracking,
        shipped_at=datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        - datetime.timedelta(seconds=30),
        lines=tuple(ShipmentLine(ids[sku], qty) for sku, qty in quantities.items()),
        attempt=attempt,
        locations=tuple(str(location) for location in locations),
    )


def fulfilled(sim, order):
    """``[(tracking number, {sku: quantity}, location id)]`` of an order."""
    return [
        (
            made["tracking_number"],
            {line["sku"]: line["quantity"] for line in made["line_items"]},
            made["location_id"],
        )
        for made in sim.fulfillment.fulfillment_dicts(order["id"])
    ]


def test_a_partial_delivery_then_the_rest(sim, client):
    order = sim.create_order(lines=[("MUG", 3), ("TEE", 1)], notify=False)
    made = fulfilment.send_shipment(client, shipment(order, {"MUG": 2}), True)
    assert made == ["#1001.1"]
    fulfilment.send_shipment(
        client, shipment(order, {"MUG": 1, "TEE": 1}, tracking="1Z002"), False
    )
    assert fulfilled(sim, order) == [
        ("1Z001", {"MUG": 2}, sim.location_id),
        ("1Z002", {"MUG": 1, "TEE": 1}, sim.location_id),
    ]
    first, second = sim.fulfillment.fulfillment_dicts(order["id"])
    assert (first["notify_customer"], second["notify_customer"]) == (True, False)
    assert first["tracking_company"] == "UPS"
    state = sim.get_order(order["id"])
    assert state["fulfillment_status"] == "fulfilled"
    [fulfillment_order] = sim.fulfillment.fulfillment_orders(order["id"])
    assert fulfillment_order["status"] == "CLOSED"


def test_a_retry_after_a_lost_answer_fulfils_once(sim, client):
    order = sim.create_order(lines=[("MUG", 2), ("TEE", 2)], notify=False)
    sent = shipment(order, {"MUG": 1, "TEE": 2})
    fulfilment.send_shipment(client, sent, True)
    # the job did not hear the answer: it runs again, a second attempt
    retried = shipment(order, {"MUG": 1, "TEE": 2}, attempt=2)
    assert fulfilment.send_shipment(client, retried, True) == []
    assert len(fulfilled(sim, order)) == 1
    # without a tracking number, a retry recognises its own fulfillment too
    rest = shipment(order, {"MUG": 1}, tracking="")
    fulfilment.send_shipment(client, rest, True)
    again = shipment(order, {"MUG": 1}, tracking="", attempt=2)
    assert fulfilment.send_shipment(client, again, True) == []
    assert [f[1] for f in fulfilled(sim, order)] == [{"MUG": 1, "TEE": 2}, {"MUG": 1}]


def test_a_first_attempt_without_tracking_is_never_taken_for_a_retry(sim, client):
    order = sim.create_order(lines=[("MUG", 2)], notify=False)
    fulfilment.send_shipment(client, shipment(order, {"MUG": 1}, tracking=""), True)
    fulfilment.send_shipment(client, shipment(order, {"MUG": 1}, tracking=""), True)
    assert [f[1] for f in fulfilled(sim, order)] == [{"MUG": 1}, {"MUG": 1}]


def test_items_at_two_locations_make_one_fulfillment_per_location(sim, client):
    order = sim.create_order(lines=[("MUG", 2), ("TEE", 1), ("CAP", 1)], notify=False)
    second = sim.add_location("Second warehouse")
    tee = next(line for line in order["line_items"] if line["sku"] == "TEE")
    sim.fulfillment.move(order["id"], tee["id"], second)
    fulfilment.send_shipment(
        client, shipment(order, {"MUG": 2, "TEE": 1, "CAP": 1}), True
    )
    assert sorted(fulfilled(sim, order), key=lambda f: len(f[1])) == [
        ("1Z001", {"TEE": 1}, second),
        ("1Z001", {"MUG": 2, "CAP": 1}, sim.location_id),
    ]


def test_a_line_split_between_locations_ships_from_the_delivery_s(sim, client):
    order = sim.create_order(lines=[("MUG", 3)], notify=False)
    second = sim.add_location("Second warehouse")
    mug = order["line_items"][0]
    sim.fulfillment.move(order["id"], mug["id"], second, quantity=1)
    # packed at the second warehouse: its fulfillment order first
    fulfilment.send_shipment(
        client, shipment(order, {"MUG": 1}, locations=[second]), True
    )
    # packed where Odoo knows no channel location: Shopify's order
    fulfilment.send_shipment(client, shipment(order, {"MUG": 2}, "1Z002"), True)
    assert fulfilled(sim, order) == [
        ("1Z001", {"MUG": 1}, second),
        ("1Z002", {"MUG": 2}, sim.location_id),
    ]


def test_a_held_fulfillment_order_is_refused_with_what_to_do(sim, client):
    order = sim.create_order(lines=[("MUG", 1)], notify=False)
    sim.fulfillment.hold(order["id"], "INCORRECT_ADDRESS", "no street number")
    with pytest.raises(DataError, match="Release the hold") as refused:
        fulfilment.send_shipment(client, shipment(order, {"MUG": 1}), True)
    assert "incorrect address (no street number)" in str(refused.value)
    assert fulfilled(sim, order) == []
    sim.fulfillment.release(order["id"])
    fulfilment.send_shipment(client, shipment(order, {"MUG": 1}, attempt=2), True)
    assert len(fulfilled(sim, order)) == 1


def test_a_cancelled_order_and_a_quantity_shopify_has_no_more(sim, client):
    order = sim.create_order(lines=[("MUG", 1)], notify=False)
    sim.cancel_order(order["id"], notify=False)
    with pytest.raises(DataError, match="is closed"):
        fulfilment.send_shipment(client, shipment(order, {"MUG": 1}), True)
    other = sim.create_order(lines=[("TEE", 1)], notify=False)
    with pytest.raises(DataError, match="1 of the 2 units"):
        fulfilment.send_shipment(client, shipment(other, {"TEE": 2}), True)
    assert sim.fulfillment.fulfillment_dicts() == []


def test_the_simulator_refuses_what_shopify_refuses(sim, client):
    order = sim.create_order(lines=[("MUG", 2)], notify=False)
    view = fulfilment.OrderFulfilment(
        order["id"],
        client.graphql(
            fulfilment.ORDER_FULFILMENT, {"id": fulfilment.gid("Order", order["id"])}
        ),
    )
    [fulfillment_order] = view.fulfillment_orders
    [(line_id, _item, remaining)] = fulfillment_order["lines"]
    assert remaining == 2

    def create(fulfillment_order_id, lines):
        data = client.graphql(
            fulfilment.FULFILLMENT_CREATE,
            {
                "fulfillment": {
                    "lineItemsByFulfillmentOrder": [
                        {
                            "fulfillmentOrderId": fulfillment_order_id,
                            "fulfillmentOrderLineItems": lines,
                        }
                    ]
                }
            },
        )
        return [e["message"] for e in data["fulfillmentCreate"]["userErrors"]]

    assert create(fulfillment_order["id"], [{"id": line_id, "quantity": 3}]) == [
        "Invalid fulfillment order line item quantity requested."
    ]
    other = sim.create_order(lines=[("TEE", 1)], notify=False)
    other_line = sim.fulfillment.fulfillment_orders(other["id"])[0]["line_items"][0]
    assert (
        "does not belong"
        in create(
            fulfillment_order["id"],
            [
                {
                    "id": fulfilment.gid("FulfillmentOrderLineItem", other_line["id"]),
                    "quantity": 1,
                }
            ],
        )[0]
    )
    assert create(fulfillment_order["id"], [{"id": line_id, "quantity": 2}]) == []
    assert "unfulfillable status= closed" in create(fulfillment_order["id"], None)[0]


def test_the_control_surface_shows_fulfillments_and_holds(sim, client):
    order = sim.create_order(lines=[("MUG", 2)], notify=False)
    base = f"{sim.url}/_sim/orders/{order['id']}"
    held = requests.post(f"{base}/hold", json={"reason": "OTHER"}, timeout=5)
    assert [fo["status"] for fo in held.json()] == ["ON_HOLD"]
    requests.post(f"{base}/release", timeout=5).raise_for_status()
    fulfilment.send_shipment(client, shipment(order, {"MUG": 2}), True)
    [made] = requests.get(f"{base}/fulfillments", timeout=5).json()
    assert (made["tracking_number"], made["line_items"][0]["quantity"]) == ("1Z001", 2)
    assert requests.get(f"{sim.url}/_sim/fulfillments", timeout=5).json() == [made]
    [closed] = requests.get(f"{base}/fulfillment_orders", timeout=5).json()
    assert closed["status"] == "CLOSED"
    missing = requests.get(f"{sim.url}/_sim/orders/999/fulfillments", timeout=5)
    assert (missing.status_code, missing.json()) == (404, {"error": "no order 999"})


# The contract: Shopify's own schemas


def _variables():
    sent = shipment(
        {"id": 1, "line_items": [{"sku": "MUG", "id": 2}]}, {"MUG": 1}, "1Z9"
    )
    groups = [("gid://shopify/FulfillmentOrder/3", [("gid://shopify/X/4", 1)])]
    return {
        "OrderFulfilment": {"id": fulfilment.gid("Order", 1)},
        "OrderFulfillments": {"id": fulfilment.gid("Order", 1)},
        "CreateFulfillment": {
            "fulfillment": fulfilment.fulfillment_input(groups, sent, True),
            "message": "Shipped by Odoo (odoo-test-1Z9)",
        },
    }


def test_documents_validate_against_shopifys_schema(shopify_schema):
    variables = _variables()
    for name, text in (
        ("OrderFulfilment", fulfilment.ORDER_FULFILMENT),
        ("OrderFulfillments", fulfilment.ORDER_FULFILLMENTS),
        ("CreateFulfillment", fulfilment.FULFILLMENT_CREATE),
    ):
        document = parse(text)
        assert not validate(shopify_schema, document), name
        operation = document.definitions[0]
        coerced = get_variable_values(
            shopify_schema, operation.variable_definitions, variables[name]
        )
        assert not isinstance(coerced, list), f"{name}: {coerced}"
