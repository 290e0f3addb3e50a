"""The Shopify simulator over real HTTP on loopback: what it accepts, what it
refuses and how, and its webhook delivery engine."""

import base64
import datetime as dt
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from marketplace_sim.shopify import (
    RETRY_DELAYS,
    FakeClock,
    ShopifySimulator,
    WebhookSender,
    sign_webhook,
)
from marketplace_sim.shopify.clock import format_ts, parse_ts

TOKEN = "shpat_unit_test"
SHOP = "unit-shop.myshopify.com"
VERSION = "2026-10"


# Fixtures and helpers


@pytest.fixture
def sim():
    simulator = ShopifySimulator(shop_domain=SHOP, access_token=TOKEN, seed=7)
    simulator.start()
    simulator.add_product(sku="MUG", price="19.99", title="Blue mug", inventory=10)
    simulator.add_product(sku="TEE", price="25.00", title="T-shirt", inventory=5)
    yield simulator
    simulator.stop()
    assert simulator.internal_errors == []


@pytest.fixture
def http():
    with requests.Session() as session:
        session.headers["X-Shopify-Access-Token"] = TOKEN
        yield session


def api(sim, path, version=VERSION):
    return f"{sim.url}/admin/api/{version}/{path}"


def graphql(sim, http, query, variables=None, version=VERSION, **extra):
    body = {"query": query, "variables": variables or {}, **extra}
    return http.post(api(sim, "graphql.json", version), json=body, timeout=5)


def gid(kind, number):
    return f"gid://shopify/{kind}/{number}"


def next_link(response, rel="next"):
    for part in response.headers.get("Link", "").split(", "):
        if part.endswith(f'rel="{rel}"'):
            return part[1 : part.index(">")]
    return None


# Authentication, versions, plumbing


def test_missing_or_wrong_token_is_401_with_shopify_message(sim):
    for headers in ({}, {"X-Shopify-Access-Token": "shpat_wrong"}):
        response = requests.get(api(sim, "orders.json"), headers=headers, timeout=5)
        assert response.status_code == 401
        assert response.json() == {
            "errors": "[API] Invalid API key or access token "
            "(unrecognized login or wrong password)"
        }
        assert response.headers["X-Shopify-API-Version"] == VERSION


@pytest.mark.parametrize(
    ("requested", "status", "served"),
    [
        ("2026-10", 200, "2026-10"),
        ("2026-04", 200, "2026-04"),
        ("2024-01", 200, "2025-10"),  # retired: served by the oldest supported
        ("2026-02", 404, None),  # not a release month
        ("2026-7", 404, None),
        ("latest", 404, None),
        ("2027-01", 404, None),  # not released
    ],
)
def test_api_versions(sim, http, requested, status, served):
    response = http.get(api(sim, "shop.json", requested), timeout=5)
    assert response.status_code == status
    assert response.headers.get("X-Shopify-API-Version") == served
    if status == 404:
        assert response.json() == {"errors": "Not Found"}


def test_supported_versions_are_configurable(sim, http):
    sim.api_versions = ["2026-07", "2026-10"]
    response = http.get(api(sim, "shop.json", "2026-01"), timeout=5)
    assert response.headers["X-Shopify-API-Version"] == "2026-07"


def test_unknown_path_and_bad_bodies(sim, http):
    response = http.get(api(sim, "products/1/nothing.json"), timeout=5)
    assert (response.status_code, response.json()) == (404, {"errors": "Not Found"})
    response = http.post(
        api(sim, "graphql.json"),
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400
    response = http.post(api(sim, "graphql.json"), json={"variables": {}}, timeout=5)
    assert response.status_code == 400


def test_a_simulator_bug_is_a_json_500_and_recorded(sim, http, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(sim.store, "order_ids", broken)
    response = http.get(api(sim, "orders/count.json"), timeout=5)
    assert response.status_code == 500
    assert response.json() == {"errors": "Internal Server Error"}
    monkeypatch.setattr(sim.store, "sorted_locations", broken)
    body = graphql(sim, http, "{ locations(first: 1) { nodes { id } } }").json()
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "simulated bug" not in json.dumps(body)
    assert len(sim.internal_errors) == 2
    assert "RuntimeError: simulated bug" in sim.internal_errors[0]
    sim.internal_errors.clear()  # expected here; the fixture asserts none


def test_requests_are_recorded_and_counted(sim, http):
    sim.reset_stats()
    http.get(api(sim, "orders.json"), params={"status": "any"}, timeout=5)
    graphql(sim, http, "{ shop { name } }")
    recorded = sim.requests
    assert [r["method"] for r in recorded] == ["GET", "POST"]
    assert recorded[0]["query"] == {"status": ["any"]}
    assert recorded[0]["headers"]["X-Shopify-Access-Token"] == TOKEN
    assert recorded[1]["json"]["query"] == "{ shop { name } }"
    assert [r["status"] for r in recorded] == [200, 200]
    stats = sim.stats
    assert (stats["requests"], stats["rest_calls"], stats["graphql_calls"]) == (2, 1, 1)
    assert stats["by_path"] == {"GET orders.json": 1, "POST graphql.json": 1}


# Orders: pricing and timestamps


def test_totals_with_taxes_excluded_discount_and_shipping(sim):
    order = sim.create_order(
        lines=[("MUG", 2), ("TEE", 1)],
        tax_rate="0.20",
        shipping="5.00",
        discount_pct="10",
        notify=False,
    )
    mug, tee = order["line_items"]
    assert (mug["total_discount"], tee["total_discount"]) == ("4.00", "2.50")
    assert mug["tax_lines"] == [{"title": "Tax", "rate": 0.2, "price": "7.20"}]
    assert tee["tax_lines"][0]["price"] == "4.50"
    assert order["shipping_lines"][0]["tax_lines"][0]["price"] == "1.00"
    assert order["total_discounts"] == "6.50"
    assert order["subtotal_price"] == "58.48"  # 39.98 + 25.00 - 6.50
    assert order["total_tax"] == "12.70"
    assert order["total_price"] == "76.18"  # 58.48 + 5.00 + 12.70
    assert order["discount_codes"] == [
        {"code": "SAVE10", "amount": "6.50", "type": "percentage"}
    ]
    assert_totals_consistent(order)


def test_totals_with_taxes_included(sim):
    order = sim.create_order(
        lines=[("MUG", 3)],
        currency="EUR",
        taxes_included=True,
        tax_rate="0.21",
        shipping="4.95",
        discount_pct="5",
        notify=False,
    )
    line = order["line_items"][0]
    # 59.97 - 3.00 discount = 56.97, of which 56.97 - 56.97/1.21 = 9.89 is tax
    assert line["total_discount"] == "3.00"
    assert line["tax_lines"][0]["price"] == "9.89"
    assert order["shipping_lines"][0]["tax_lines"][0]["price"] == "0.86"
    assert order["total_tax"] == "10.75"
    assert order["subtotal_price"] == "56.97"
    assert order["total_price"] == "61.92"  # tax included: not added again
    assert order["currency"] == "EUR"
    assert_totals_consistent(order)


def assert_totals_consistent(order):
    def money(value):
        return Decimal(value)

    lines = order["line_items"]
    gross = sum(money(line["price"]) * line["quantity"] for line in lines)
    discounts = sum(money(line["total_discount"]) for line in lines)
    taxes = sum(
        money(tax["price"])
        for item in lines + order["shipping_lines"]
        for tax in item["tax_lines"]
    )
    shipping = sum(money(line["price"]) for line in order["shipping_lines"])
    assert money(order["total_discounts"]) == discounts
    assert money(order["subtotal_price"]) == gross - discounts
    assert money(order["total_tax"]) == taxes
    expected = gross - discounts + shipping + (0 if order["taxes_included"] else taxes)
    assert money(order["total_price"]) == expected
    for value in (order["total_price"], order["total_tax"], order["subtotal_price"]):
        assert value == f"{money(value):.2f}"


def test_order_shape(sim):
    order = sim.create_order(lines=[("MUG", 1)], email="ada@example.com", notify=False)
    assert isinstance(order["id"], int) and order["id"] > 2**32
    assert order["admin_graphql_api_id"] == gid("Order", order["id"])
    assert order["name"] == f"#{order['order_number']}"
    assert order["email"] == order["customer"]["email"] == "ada@example.com"
    assert set(order["customer"]) >= {"id", "email", "first_name", "last_name"}
    assert order["shipping_address"]["address1"]
    assert order["created_at"] == order["updated_at"] == order["processed_at"]
    assert order["created_at"].endswith("-05:00")
    line = order["line_items"][0]
    assert {"id", "variant_id", "product_id", "sku", "fulfillable_quantity"} <= set(
        line
    )
    # the customer kwarg is used as is, so a test can reuse a customer
    again = sim.create_order(
        lines=[("MUG", 1)], customer=order["customer"], notify=False
    )
    assert again["customer"] == order["customer"]
    assert again["order_number"] == order["order_number"] + 1


def test_updated_at_strictly_increases_even_with_a_frozen_clock():
    clock = FakeClock("2026-11-23T10:15:02-05:00")
    sim = ShopifySimulator(clock=clock)
    sim.add_product(sku="MUG", price="1.00", inventory=5)
    created = sim.create_order(lines=[("MUG", 1)], financial_status="pending")
    assert created["created_at"] == created["updated_at"] == "2026-11-23T10:15:02-05:00"
    states = [
        created,
        sim.update_order(created["id"], note="gift"),
        sim.mark_paid(created["id"]),
        sim.cancel_order(created["id"]),
    ]
    stamps = [parse_ts(state["updated_at"]) for state in states]
    assert stamps == [stamps[0] + n for n in range(4)]
    assert states[-1]["created_at"] == created["created_at"]
    clock.advance(3600)
    noted = sim.update_order(created["id"], note="later")
    assert parse_ts(noted["updated_at"]) == stamps[0] + 3600


def test_order_changes_move_inventory_and_are_validated(sim):
    item = sim.add_product(sku="CAP", price="9.00", inventory=10)["inventory_item_id"]
    order = sim.create_order(lines=[("CAP", 3)], notify=False)
    assert sim.inventory_level(item) == 7
    sim.cancel_order(order["id"], notify=False)
    assert sim.inventory_level(item) == 10
    with pytest.raises(ValueError):
        sim.cancel_order(order["id"], notify=False)
    with pytest.raises(ValueError):
        sim.update_order(order["id"], total_price="0.00", notify=False)
    with pytest.raises(ValueError):
        sim.create_order(lines=[("NO-SUCH-SKU", 1)], notify=False)
    with pytest.raises(KeyError):
        sim.get_order(12345)


# REST orders


def test_rest_paging_follows_link_headers_across_pages(sim, http):
    created = [sim.create_order(lines=[("MUG", 1)], notify=False) for _ in range(7)]
    response = http.get(
        api(sim, "orders.json"), params={"status": "any", "limit": 3}, timeout=5
    )
    pages = [response]
    while next_link(pages[-1]):
        url = next_link(pages[-1])
        assert url.startswith(sim.url + "/admin/api/2026-10/orders.json?")
        assert set(parse_qs(urlsplit(url).query)) == {"limit", "page_info"}
        pages.append(http.get(url, timeout=5))
    ids = [[order["id"] for order in page.json()["orders"]] for page in pages]
    assert [len(page) for page in ids] == [3, 3, 1]
    assert list(itertools.chain(*ids)) == [order["id"] for order in created]
    assert next_link(pages[0], "previous") is None
    assert next_link(pages[1], "previous") and next_link(pages[1], "next")
    back = http.get(next_link(pages[2], "previous"), timeout=5)
    assert [order["id"] for order in back.json()["orders"]] == ids[1]


def test_page_info_may_only_come_with_limit_and_fields(sim, http):
    for _ in range(3):
        sim.create_order(lines=[("MUG", 1)], notify=False)
    first = http.get(api(sim, "orders.json"), params={"limit": 2}, timeout=5)
    token = parse_qs(urlsplit(next_link(first)).query)["page_info"][0]
    response = http.get(
        api(sim, "orders.json"),
        params={"page_info": token, "status": "any"},
        timeout=5,
    )
    assert response.status_code == 400
    assert (
        "status cannot be passed when page_info is present"
        in (response.json()["errors"]["status"])
    )
    response = http.get(
        api(sim, "orders.json"),
        params={"page_info": token, "limit": 2, "fields": "id,updated_at"},
        timeout=5,
    )
    assert response.status_code == 200
    assert [set(order) for order in response.json()["orders"]] == [{"id", "updated_at"}]
    response = http.get(
        api(sim, "orders.json"), params={"page_info": "garbage"}, timeout=5
    )
    assert response.status_code == 400
    assert response.json() == {"errors": {"page_info": "Invalid value."}}


@pytest.mark.parametrize("limit", ["0", "251", "ten"])
def test_limit_out_of_range_is_400(sim, http, limit):
    response = http.get(api(sim, "orders.json"), params={"limit": limit}, timeout=5)
    assert response.status_code == 400
    assert "limit" in response.json()["errors"]


def test_default_status_open_misses_cancelled_and_closed_orders(sim, http):
    kept = sim.create_order(lines=[("MUG", 1)], notify=False)
    cancelled = sim.create_order(lines=[("MUG", 1)], notify=False)
    closed = sim.create_order(lines=[("MUG", 1)], notify=False)
    sim.cancel_order(cancelled["id"], notify=False)
    sim.close_order(closed["id"], notify=False)

    def ids(**params):
        response = http.get(api(sim, "orders.json"), params=params, timeout=5)
        return {order["id"] for order in response.json()["orders"]}

    assert ids() == {kept["id"]}
    assert ids(status="any") == {kept["id"], cancelled["id"], closed["id"]}
    assert ids(status="cancelled") == {cancelled["id"]}
    assert ids(status="closed") == {cancelled["id"], closed["id"]}
    count = http.get(api(sim, "orders/count.json"), params={"status": "any"}, timeout=5)
    assert count.json() == {"count": 3}


def test_updated_at_filters_read_naive_times_in_shop_time():
    clock = FakeClock("2026-11-23T10:00:00-05:00")
    with (
        ShopifySimulator(access_token=TOKEN, clock=clock) as sim,
        requests.Session() as http,
    ):
        http.headers["X-Shopify-Access-Token"] = TOKEN
        sim.add_product(sku="MUG", price="1.00")
        early = sim.create_order(lines=[("MUG", 1)], notify=False)
        clock.advance(3600)
        late = sim.create_order(lines=[("MUG", 1)], notify=False)

        def ids(since):
            response = http.get(
                api(sim, "orders.json"),
                params={"status": "any", "updated_at_min": since},
                timeout=5,
            )
            assert response.status_code == 200, response.text
            return [order["id"] for order in response.json()["orders"]]

        assert ids("2026-11-23T10:30:00-05:00") == [late["id"]]
        assert ids("2026-11-23T15:30:00Z") == [late["id"]]
        # naive = shop time: naive UTC from a careless client misses orders
        assert ids("2026-11-23T15:00:00") == []
        assert ids("2026-11-23T10:00:00") == [early["id"], late["id"]]
        bad = http.get(
            api(sim, "orders.json"), params={"updated_at_min": "yesterday"}, timeout=5
        )
        assert bad.status_code == 400


def test_only_the_last_60_days_are_visible(sim, http):
    old = sim.create_order(
        lines=[("MUG", 1)], created_at=time.time() - 61 * 86400, notify=False
    )
    recent = sim.create_order(lines=[("MUG", 1)], notify=False)
    listed = http.get(api(sim, "orders.json"), params={"status": "any"}, timeout=5)
    assert [o["id"] for o in listed.json()["orders"]] == [recent["id"]]
    assert http.get(api(sim, f"orders/{old['id']}.json"), timeout=5).status_code == 404
    sim.visible_days = None
    one = http.get(api(sim, f"orders/{old['id']}.json"), timeout=5)
    assert one.status_code == 200
    assert one.json()["order"]["id"] == old["id"]


def test_rest_bucket_overflows_into_429(sim, http):
    limits = []
    statuses = []
    while 429 not in statuses and len(statuses) < 200:  # leaks 2/s meanwhile
        response = http.get(api(sim, "shop.json"), timeout=5)
        statuses.append(response.status_code)
        limits.append(response.headers["X-Shopify-Shop-Api-Call-Limit"])
    assert limits[:3] == ["1/40", "2/40", "3/40"]
    assert statuses[-1] == 429
    assert len(statuses) > 40
    sim.rest_bucket.set_level(40)
    response = http.get(api(sim, "orders.json"), timeout=5)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2.0"
    assert response.headers["X-Shopify-Shop-Api-Call-Limit"] == "40/40"
    assert response.json()["errors"].startswith("Exceeded 2 calls per second")
    assert sim.stats["throttled"] >= 2


def test_plus_plan_has_a_bigger_bucket(sim, http):
    sim.set_plan("plus")
    response = http.get(api(sim, "shop.json"), timeout=5)
    assert response.headers["X-Shopify-Shop-Api-Call-Limit"].endswith("/400")


# Injected faults


def test_injected_failure_then_recovery(sim, http):
    sim.faults.fail_next(status=503, count=2, path_contains="orders")
    assert http.get(api(sim, "shop.json"), timeout=5).status_code == 200
    assert http.get(api(sim, "orders.json"), timeout=5).status_code == 503
    assert http.get(api(sim, "orders.json"), timeout=5).status_code == 503
    assert http.get(api(sim, "orders.json"), timeout=5).status_code == 200
    assert sim.stats["errors_injected"] == 2


def test_injected_timeout_outlasts_the_client(sim, http):
    sim.faults.timeout_next(seconds=0.6)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        http.get(api(sim, "orders.json"), timeout=0.2)
    assert time.monotonic() - started < 0.6
    assert http.get(api(sim, "orders.json"), timeout=5).status_code == 200


def test_injected_throttle_rest_and_graphql(sim, http):
    sim.faults.throttle_next(retry_after="0.5")
    response = http.get(api(sim, "orders.json"), timeout=5)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "0.5")
    sim.faults.throttle_next()
    response = graphql(sim, http, "{ shop { name } }")
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert sim.stats["throttled"] == 2
    assert sim.faults.pending() == 0


# GraphQL: validation, cost, throttling


def test_graphql_validation_errors_are_200_with_codes(sim, http):
    response = graphql(sim, http, "{ shop { name nonsense } }")
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["message"] == "Field 'nonsense' doesn't exist on type 'Shop'"
    assert error["extensions"]["code"] == "undefinedField"
    assert "data" not in response.json()
    response = graphql(
        sim, http, "{ locations(first: 1, sort: NAME) { nodes { id } } }"
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "argumentNotAccepted"
    response = graphql(sim, http, "{ locations { nodes { id } } }")
    assert (
        response.json()["errors"][0]["extensions"]["code"] == "missingRequiredArguments"
    )
    response = graphql(sim, http, "{ shop { name }")
    assert response.status_code == 200 and response.json()["errors"]


def test_graphql_reads(sim, http):
    query = """
    query Variant($q: String!) {
      shop { myshopifyDomain currencyCode ianaTimezone }
      locations(first: 5) {
        edges { cursor node { id name isActive } }
        pageInfo { hasNextPage }
      }
      productVariants(first: 5, query: $q) {
        nodes { sku price legacyResourceId inventoryItem { id tracked } }
      }
    }"""
    data = graphql(sim, http, query, {"q": "sku:TEE"}).json()["data"]
    assert data["shop"]["myshopifyDomain"] == SHOP
    assert data["locations"]["edges"][0]["node"]["id"] == gid(
        "Location", sim.location_id
    )
    [variant] = data["productVariants"]["nodes"]
    assert (variant["sku"], variant["price"]) == ("TEE", "25.00")
    item_id = sim.variant("TEE")["inventory_item_id"]
    assert variant["inventoryItem"]["id"] == gid("InventoryItem", item_id)
    levels_query = """
    query Item($id: ID!, $loc: ID!) {
      inventoryItem(id: $id) {
        sku
        inventoryLevel(locationId: $loc) {
          quantities(names: ["available", "on_hand"]) { name quantity }
        }
        inventoryLevels(first: 5) {
          edges { node {
            location { id } quantities(names: ["available"]) { quantity } } }
        }
      }
    }"""
    variables = {
        "id": gid("InventoryItem", item_id),
        "loc": gid("Location", sim.location_id),
    }
    item = graphql(sim, http, levels_query, variables).json()["data"]["inventoryItem"]
    assert item["inventoryLevel"]["quantities"] == [
        {"name": "available", "quantity": 5},
        {"name": "on_hand", "quantity": 5},
    ]
    assert item["inventoryLevels"]["edges"][0]["node"]["quantities"] == [
        {"quantity": 5}
    ]


def test_graphql_paging_with_cursors(sim, http):
    for index in range(3):
        sim.add_product(sku=f"PAGE-{index}", price="1.00")
    query = """query($after: String) {
      productVariants(first: 2, after: $after) {
        nodes { sku } pageInfo { hasNextPage endCursor } } }"""
    skus, after = [], None
    while True:
        page = graphql(sim, http, query, {"after": after}).json()["data"][
            "productVariants"
        ]
        skus += [node["sku"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert skus == ["MUG", "TEE", "PAGE-0", "PAGE-1", "PAGE-2"]


def test_graphql_cost_extensions(sim, http):
    response = graphql(sim, http, "{ productVariants(first: 10) { nodes { id sku } } }")
    cost = response.json()["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 12  # 2 + 10 x 1
    assert cost["actualQueryCost"] == 12
    status = cost["throttleStatus"]
    assert (status["maximumAvailable"], status["restoreRate"]) == (2000.0, 100.0)
    assert 1988 <= status["currentlyAvailable"] <= 2000
    nested = """{ inventoryItems(first: 100) { nodes { id
        inventoryLevels(first: 10) {
          nodes { quantities(names: ["available"]) { quantity } } } } } }"""
    response = graphql(sim, http, nested)
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    # 2 + 100 x (1 item + 2 + 10 x (1 level + 1 quantities))
    assert response.json()["extensions"]["cost"]["requestedQueryCost"] == 2302


def test_graphql_throttled_when_the_bucket_is_empty(sim, http):
    sim.graphql_bucket.set_level(2000)
    response = graphql(sim, http, "{ productVariants(first: 50) { nodes { id } } }")
    assert response.status_code == 200
    body = response.json()
    assert body["errors"][0]["message"] == "Throttled"
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["requestedQueryCost"] == 52
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 52
    sim.graphql_throttle_status = 429
    response = graphql(sim, http, "{ productVariants(first: 50) { nodes { id } } }")
    assert response.status_code == 429
    assert sim.stats["throttled"] == 2


# GraphQL: inventorySetQuantities


SET_QUANTITIES = """
mutation Set($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id reason referenceDocumentUri
      changes { name delta quantityAfterChange item { id } location { id } } }
    userErrors { code field message }
  }
}"""


def set_input(sim, *quantities, **overrides):
    """``quantities``: (sku, quantity, changeFromQuantity) or (sku, quantity)
    to leave changeFromQuantity out."""
    entries = []
    for sku, quantity, *compare in quantities:
        entry = {
            "inventoryItemId": gid(
                "InventoryItem", sim.variant(sku)["inventory_item_id"]
            ),
            "locationId": gid("Location", sim.location_id),
            "quantity": quantity,
        }
        if compare:
            entry["changeFromQuantity"] = compare[0]
        entries.append(entry)
    return {
        "name": "available",
        "reason": "correction",
        "referenceDocumentUri": "logistics://odoo/stock.quant/42",
        "quantities": entries,
        **overrides,
    }


def set_quantities(sim, http, data, key=None, query=SET_QUANTITIES, version=VERSION):
    variables = {"input": data, "key": key or str(uuid.uuid4())}
    return graphql(sim, http, query, variables, version=version).json()


def level(sim, sku):
    return sim.inventory_level(sim.variant(sku)["inventory_item_id"])


def test_set_quantities_compare_and_set(sim, http):
    body = set_quantities(sim, http, set_input(sim, ("MUG", 4, 10), ("TEE", 9, None)))
    payload = body["data"]["inventorySetQuantities"]
    assert payload["userErrors"] == []
    group = payload["inventoryAdjustmentGroup"]
    assert group["reason"] == "correction"
    available = [c for c in group["changes"] if c["name"] == "available"]
    assert [(c["delta"], c["quantityAfterChange"]) for c in available] == [
        (-6, 4),
        (4, 9),
    ]
    assert (level(sim, "MUG"), level(sim, "TEE")) == (4, 9)
    assert body["extensions"]["cost"]["requestedQueryCost"] >= 10


def test_stale_compare_applies_nothing(sim, http):
    data = set_input(sim, ("MUG", 1, 10), ("TEE", 1, 4))  # TEE holds 5, not 4
    payload = set_quantities(sim, http, data)["data"]["inventorySetQuantities"]
    assert payload["inventoryAdjustmentGroup"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["CHANGE_FROM_QUANTITY_STALE"]
    assert payload["userErrors"][0]["field"] == [
        "input",
        "quantities",
        "1",
        "changeFromQuantity",
    ]
    assert (level(sim, "MUG"), level(sim, "TEE")) == (10, 5)


def test_missing_change_from_quantity_is_rejected(sim, http):
    body = set_quantities(sim, http, set_input(sim, ("MUG", 3, 10), ("TEE", 3)))
    assert body["data"]["inventorySetQuantities"] is None
    assert "changeFromQuantity is required" in body["errors"][0]["message"]
    assert (level(sim, "MUG"), level(sim, "TEE")) == (10, 5)


def test_missing_idempotent_directive_is_rejected(sim, http):
    query = SET_QUANTITIES.replace(" @idempotent(key: $key)", "").replace(
        ", $key: String!", ""
    )
    body = graphql(sim, http, query, {"input": set_input(sim, ("MUG", 3, 10))}).json()
    assert body["data"]["inventorySetQuantities"] is None
    assert body["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REQUIRED"
    assert "@idempotent" in body["errors"][0]["message"]
    assert level(sim, "MUG") == 10


def test_same_idempotency_key_replays_without_applying_again(sim, http):
    key = str(uuid.uuid4())
    data = set_input(sim, ("MUG", 7, 10))
    first = set_quantities(sim, http, data, key)["data"]["inventorySetQuantities"]
    assert level(sim, "MUG") == 7
    sim.set_inventory(sim.variant("MUG")["inventory_item_id"], 3)  # merchant sells 4
    replay = set_quantities(sim, http, data, key)["data"]["inventorySetQuantities"]
    assert replay == first
    assert level(sim, "MUG") == 3, "not applied a second time"
    other = set_quantities(sim, http, set_input(sim, ("MUG", 1, 3)), key)
    errors = other["data"]["inventorySetQuantities"]["userErrors"]
    assert [e["code"] for e in errors] == ["IDEMPOTENCY_KEY_PARAMETER_MISMATCH"]
    assert level(sim, "MUG") == 3


def test_more_than_250_quantities_is_rejected(sim, http):
    data = set_input(sim, *[("MUG", 1, None)] * 251)
    body = set_quantities(sim, http, data)
    assert body["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
    assert level(sim, "MUG") == 10


def test_set_quantities_user_errors(sim, http):
    cases = [
        (set_input(sim, ("MUG", 1, None), name="committed"), "INVALID_NAME"),
        (set_input(sim, ("MUG", 1, None), reason="because"), "INVALID_REASON"),
        (set_input(sim, ("MUG", -1, None)), "INVALID_QUANTITY_NEGATIVE"),
        (
            set_input(sim, ("MUG", 1, None), ("MUG", 2, None)),
            "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
        ),
    ]
    unknown = set_input(sim, ("MUG", 1, None))
    unknown["quantities"][0]["inventoryItemId"] = gid("InventoryItem", 1)
    cases.append((unknown, "INVALID_INVENTORY_ITEM"))
    elsewhere = set_input(sim, ("MUG", 1, None))
    elsewhere["quantities"][0]["locationId"] = gid(
        "Location", sim.add_location("Depot")
    )
    cases.append((elsewhere, "ITEM_NOT_STOCKED_AT_LOCATION"))
    for data, code in cases:
        payload = set_quantities(sim, http, data)["data"]["inventorySetQuantities"]
        assert code in [e["code"] for e in payload["userErrors"]], code
    assert level(sim, "MUG") == 10


def test_older_versions_use_compare_quantity(sim, http):
    old_query = SET_QUANTITIES.replace(" @idempotent(key: $key)", "").replace(
        ", $key: String!", ""
    )
    item = gid("InventoryItem", sim.variant("MUG")["inventory_item_id"])
    location = gid("Location", sim.location_id)

    def call(version, quantity_fields, **extra):
        data = {
            "name": "available",
            "reason": "correction",
            "quantities": [
                {
                    "inventoryItemId": item,
                    "locationId": location,
                    "quantity": 8,
                    **quantity_fields,
                }
            ],
            **extra,
        }
        return graphql(sim, http, old_query, {"input": data}, version=version).json()

    body = call("2026-01", {})
    errors = body["data"]["inventorySetQuantities"]["userErrors"]
    assert [e["code"] for e in errors] == ["COMPARE_QUANTITY_REQUIRED"]
    body = call("2026-01", {"compareQuantity": 9})
    errors = body["data"]["inventorySetQuantities"]["userErrors"]
    assert [e["code"] for e in errors] == ["COMPARE_QUANTITY_STALE"]
    body = call("2026-01", {"changeFromQuantity": 10})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    body = call("2026-01", {}, ignoreCompareQuantity=True)
    assert body["data"]["inventorySetQuantities"]["userErrors"] == []
    assert level(sim, "MUG") == 8
    body = call("2026-04", {"compareQuantity": 8})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"


def test_concurrent_compare_and_set_never_loses_an_update(sim):
    item_id = sim.variant("MUG")["inventory_item_id"]
    sim.set_inventory(item_id, 100)
    read = """query($id: ID!, $loc: ID!) { inventoryItem(id: $id) {
        inventoryLevel(locationId: $loc) {
          quantities(names: ["available"]) { quantity } } } }"""
    variables = {
        "id": gid("InventoryItem", item_id),
        "loc": gid("Location", sim.location_id),
    }
    successes = []

    def worker():
        with requests.Session() as http:
            http.headers["X-Shopify-Access-Token"] = TOKEN
            for _ in range(5):
                while True:
                    data = graphql(sim, http, read, variables).json()["data"]
                    current = data["inventoryItem"]["inventoryLevel"]["quantities"][0][
                        "quantity"
                    ]
                    body = set_quantities(
                        sim, http, set_input(sim, ("MUG", current - 1, current))
                    )
                    if not body["data"]["inventorySetQuantities"]["userErrors"]:
                        successes.append(1)
                        break

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(successes) == 30
    assert sim.inventory_level(item_id) == 70


# Webhook delivery


class Receiver:
    """A webhook endpoint on loopback that records deliveries and answers
    from a script of statuses (then 200); ``"slow"`` sleeps past timeouts."""

    def __init__(self, port=0):
        self.deliveries = []
        self.script = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.deliveries.append((dict(self.headers.items()), body))
                    action = receiver.script.pop(0) if receiver.script else 200
                if action == "slow":
                    time.sleep(0.5)
                    action = 200
                self.send_response(action)
                if action in (301, 302):
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def headers_of(self, topic=None):
        return [
            h for h, _body in self.deliveries if topic in (None, h["X-Shopify-Topic"])
        ]


@pytest.fixture
def receiver():
    target = Receiver()
    yield target
    target.close()


@pytest.fixture
def make_sender(receiver):
    senders = []

    def make(**options):
        options.setdefault("time_scale", 0.00001)
        sender = WebhookSender(receiver.url, "whsec-test", SHOP, **options)
        senders.append(sender)
        return sender

    yield make
    for sender in senders:
        sender.close()


def test_retry_schedule_spans_about_four_hours():
    assert len(RETRY_DELAYS) == 8
    assert 3.5 * 3600 < sum(RETRY_DELAYS) <= 4 * 3600
    assert all(
        later == 2 * earlier for earlier, later in itertools.pairwise(RETRY_DELAYS)
    )


def test_signed_delivery_with_every_header(receiver, make_sender):
    sender = make_sender()
    delivery = sender.send("orders/create", {"id": 1, "note": "héllo"})
    assert sender.drain(timeout=5)
    [(headers, body)] = receiver.deliveries
    expected = base64.b64encode(
        hmac.new(b"whsec-test", body, hashlib.sha256).digest()
    ).decode()
    assert (
        headers["X-Shopify-Hmac-Sha256"] == expected == sign_webhook(body, "whsec-test")
    )
    assert json.loads(body) == {"id": 1, "note": "héllo"}
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Shopify-Topic"] == "orders/create"
    assert headers["X-Shopify-Shop-Domain"] == SHOP
    assert headers["X-Shopify-API-Version"] == "2026-10"
    assert headers["X-Shopify-Webhook-Id"] == delivery.webhook_id
    assert uuid.UUID(headers["X-Shopify-Event-Id"]) == uuid.UUID(delivery.event_id)
    stamp = headers["X-Shopify-Triggered-At"]
    assert len(stamp.split(".")[1]) == 10 and stamp.endswith("Z")  # 9 digits + Z
    assert delivery.state == "accepted"
    assert sender.stats["accepted"] == 1


def test_failed_delivery_is_retried_with_the_same_webhook_id(receiver, make_sender):
    receiver.script = [500, 503]
    sender = make_sender()
    delivery = sender.send("orders/updated", {"id": 2})
    assert sender.drain(timeout=5)
    ids = {h["X-Shopify-Webhook-Id"] for h in receiver.headers_of()}
    assert ids == {delivery.webhook_id}
    assert len(receiver.deliveries) == 3
    stats = sender.stats
    assert stats["non_2xx"] == {500: 1, 503: 1}
    assert (stats["retried"], stats["accepted"], stats["attempts"]) == (2, 1, 3)
    assert delivery.attempts == 3 and delivery.state == "accepted"


def test_redirect_counts_as_failure_and_delivery_gives_up(receiver, make_sender):
    receiver.script = [302] * 9
    sender = make_sender()
    delivery = sender.send("orders/create", {"id": 3})
    assert sender.drain(timeout=5)
    assert delivery.state == "gave_up"
    assert delivery.attempts == 9
    assert sender.stats["gave_up"] == 1
    assert len(receiver.deliveries) == 9  # the redirect was not followed


def test_slow_answer_is_a_timeout_and_retried(receiver, make_sender):
    receiver.script = ["slow"]
    sender = make_sender(read_timeout=0.2)
    delivery = sender.send("orders/create", {"id": 4})
    assert sender.drain(timeout=5)
    assert sender.stats["timeouts"] == 1
    assert delivery.state == "accepted" and delivery.attempts == 2


def test_target_down_loses_nothing_until_it_is_back():
    probe = Receiver()
    url, port = probe.url, probe.server.server_address[1]
    probe.close()  # nothing listens there now
    sender = WebhookSender(url, "s", SHOP, time_scale=0.0002, connect_timeout=0.2)
    try:
        delivery = sender.send("orders/create", {"id": 5})
        time.sleep(0.05)
        assert delivery.state == "queued", "waiting for its next retry"
        assert sender.stats["connection_errors"] >= 1
        back = Receiver(port)
        try:
            assert sender.drain(timeout=5)
            assert delivery.state == "accepted"
            assert [json.loads(body) for _h, body in back.deliveries] == [{"id": 5}]
        finally:
            back.close()
    finally:
        sender.close()


def test_duplicates_keep_the_webhook_id(receiver, make_sender):
    sender = make_sender(duplicate_rate=1.0)
    delivery = sender.send("orders/create", {"id": 6})
    assert sender.drain(timeout=5)
    ids = [h["X-Shopify-Webhook-Id"] for h in receiver.headers_of()]
    assert ids == [delivery.webhook_id] * 2
    assert sender.stats["duplicates_sent"] == 1


def test_drops_are_never_sent(receiver, make_sender):
    sender = make_sender(drop_rate=1.0)
    delivery = sender.send("orders/create", {"id": 7})
    assert sender.drain(timeout=5)
    assert delivery.state == "dropped"
    assert receiver.deliveries == []
    assert sender.stats["dropped"] == 1


def test_rates_are_deterministic_under_a_seed(receiver, make_sender):
    def run(seed):
        sender = make_sender(drop_rate=0.3, duplicate_rate=0.3, seed=seed)
        deliveries = [sender.send("orders/create", {"id": n}) for n in range(40)]
        return [d.state == "dropped" for d in deliveries], sender.stats[
            "duplicates_sent"
        ]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_reorder_window_shuffles_deterministically(receiver, make_sender):
    def order_received(seed):
        receiver.deliveries.clear()
        sender = make_sender(reorder_window=5, workers=1, seed=seed)
        for number in range(10):
            sender.send("orders/create", {"id": number})
        assert sender.drain(timeout=5)
        return [json.loads(body)["id"] for _headers, body in receiver.deliveries]

    received = order_received(3)
    assert sorted(received[:5]) == [0, 1, 2, 3, 4]  # shuffled within its window
    assert sorted(received) == list(range(10))
    assert received != list(range(10))
    assert order_received(3) == received


def test_deliver_once_for_crafted_deliveries(receiver, make_sender):
    sender = make_sender()
    status, seconds = sender.deliver_once(
        "orders/create",
        {"id": 8},
        webhook_id="fixed-id",
        headers_override={"X-Shopify-Hmac-Sha256": "bad", "X-Shopify-Topic": None},
        body_override=b"{broken",
    )
    assert status == 200 and seconds >= 0
    [(headers, body)] = receiver.deliveries
    assert body == b"{broken"
    assert headers["X-Shopify-Hmac-Sha256"] == "bad"
    assert "X-Shopify-Topic" not in headers
    assert headers["X-Shopify-Webhook-Id"] == "fixed-id"


def test_simulator_changes_fire_webhooks(sim, receiver, make_sender):
    sender = make_sender()
    sim.webhooks = sender
    order = sim.create_order(lines=[("MUG", 1)], financial_status="pending")
    sim.mark_paid(order["id"])
    cancelled = sim.cancel_order(order["id"])
    sim.set_inventory(sim.variant("MUG")["inventory_item_id"], 42, notify=True)
    assert sender.drain(timeout=5)
    topics = sorted(h["X-Shopify-Topic"] for h in receiver.headers_of())
    assert topics == sorted(
        [
            "orders/create",
            "orders/paid",
            "orders/updated",
            "orders/cancelled",
            "orders/updated",
            "inventory_levels/update",
        ]
    )
    paid_event = receiver.headers_of("orders/paid")[0]["X-Shopify-Event-Id"]
    updated = receiver.headers_of("orders/updated")
    assert paid_event in {h["X-Shopify-Event-Id"] for h in updated}
    assert len({h["X-Shopify-Webhook-Id"] for h in receiver.headers_of()}) == 6
    bodies = {h["X-Shopify-Topic"]: json.loads(b) for h, b in receiver.deliveries}
    assert bodies["orders/cancelled"] == cancelled
    assert bodies["inventory_levels/update"]["available"] == 42


# Control surface and CLI-style use


def test_control_surface(sim, receiver):
    base = f"{sim.url}/_sim"
    product = requests.post(
        f"{base}/products",
        json={"sku": "LAMP", "price": "89.00", "title": "Lamp", "inventory": 5},
        timeout=5,
    )
    assert product.status_code == 201
    attached = requests.post(
        f"{base}/webhooks",
        json={"url": receiver.url, "secret": "s", "time_scale": 0.0001, "seed": 1},
        timeout=5,
    )
    assert attached.json() == {"attached": True}
    order = requests.post(
        f"{base}/orders",
        json={
            "lines": [["LAMP", 2]],
            "financial_status": "pending",
            "shipping": "0.00",
        },
        timeout=5,
    ).json()
    assert order["total_price"] == "213.60"
    paid = requests.post(f"{base}/orders/{order['id']}/paid", timeout=5).json()
    assert paid["financial_status"] == "paid"
    cancelled = requests.post(
        f"{base}/orders/{order['id']}/cancel", json={"reason": "fraud"}, timeout=5
    ).json()
    assert cancelled["cancel_reason"] == "fraud"
    drained = requests.post(f"{base}/webhooks/drain", json={"timeout": 5}, timeout=10)
    assert drained.json() == {"drained": True}
    stats = requests.get(f"{base}/webhooks/stats", timeout=5).json()
    assert stats["accepted"] == 5
    inventory = requests.get(f"{base}/inventory", timeout=5).json()
    assert {"sku": "LAMP", "available": 5} in [
        {"sku": row["sku"], "available": row["available"]} for row in inventory
    ]
    fault = requests.post(
        f"{base}/faults", json={"kind": "fail", "status": 502, "count": 1}, timeout=5
    )
    assert fault.json() == {"pending": 1}
    response = requests.get(
        api(sim, "shop.json"), headers={"X-Shopify-Access-Token": TOKEN}, timeout=5
    )
    assert response.status_code == 502
    assert requests.get(f"{base}/stats", timeout=5).json()["errors_injected"] == 1
    bad = requests.post(f"{base}/orders", json={"lines": [["NOPE", 1]]}, timeout=5)
    assert bad.status_code == 400
    assert requests.get(f"{base}/orders/1", timeout=5).status_code == 404
    assert requests.get(f"{base}/nothing", timeout=5).status_code == 404


def test_timestamps_format():
    stamp = parse_ts("2026-11-23T10:15:02-05:00")
    assert format_ts(stamp) == "2026-11-23T10:15:02-05:00"
    assert format_ts(parse_ts("2026-11-23T15:15:02Z")) == "2026-11-23T10:15:02-05:00"
    aware = dt.datetime(2026, 11, 23, 15, 15, 2, tzinfo=dt.timezone.utc)
    assert FakeClock(aware)() == stamp
