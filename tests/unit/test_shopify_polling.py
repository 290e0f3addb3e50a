"""Polling on GraphQL (``marketplace_shopify.lib.polling``) against the
simulator over real HTTP, without Odoo: a polled order maps exactly as the
webhook of the same state (same ``Order``, same digest, hence the same
dedupe key), whatever its taxes, discounts, cancellation, fulfilment or
number of lines; paging with the cursor; only the orders whose listed state
is not known are read in full, and what that costs; the documents validate
against Shopify's own Admin schemas."""

import pytest
from graphql import parse, validate
from graphql.execution.values import get_variable_values
from marketplace_sim.shopify import ShopifySimulator

from odoo.addons.marketplace_shopify.lib import mapping, polling
from odoo.addons.marketplace_shopify.lib.client import ShopifyClient

TOKEN = "shpat_poll"
SINCE = "2020-01-01T00:00:00+00:00"


@pytest.fixture
def sim():
    simulator = ShopifySimulator(
        shop_domain="poll.myshopify.com", access_token=TOKEN, plan="plus"
    )
    for sku, price in (("MUG", "19.99"), ("TEE", "25.00")):
        simulator.add_product(sku=sku, price=price, title=sku, inventory=500)
    simulator.start()
    yield simulator
    simulator.stop()
    assert not simulator.internal_errors


@pytest.fixture
def client(sim):
    shopify = ShopifyClient(sim.url, TOKEN, "2026-07", sleep=lambda _s: None)
    yield shopify
    shopify.close()


def polled(client, since=SINCE, known=None, on_page=None):
    return list(
        polling.iter_updated_orders(
            client, since, lambda _cost: None, known=known, on_page=on_page
        )
    )


def test_a_polled_order_maps_as_its_webhook(sim, client):
    taxed = sim.create_order(
        lines=[("MUG", 2), ("TEE", 1)],
        tax_rate="0.20",
        discount_pct="10",
        shipping="5.00",
        notify=False,
    )
    included = sim.create_order(
        lines=[("TEE", 3)], currency="EUR", taxes_included=True, notify=False
    )
    cancelled = sim.create_order(lines=[("MUG", 1)], notify=False)
    sim.cancel_order(cancelled["id"], notify=False)
    many = sim.create_order(lines=[("MUG", 1)] * 30, notify=False)
    orders = {order["id"]: order for order in polled(client)}
    assert set(orders) == {o["id"] for o in (taxed, included, cancelled, many)}
    for order_id, rest in orders.items():
        webhook = sim.get_order(order_id)
        assert mapping.parse_order(rest) == mapping.parse_order(webhook)
        assert mapping.order_digest(rest) == mapping.order_digest(webhook)
        assert mapping.order_demand(rest) == mapping.order_demand(webhook)
    assert len(orders[many["id"]]["line_items"]) == 30


def test_pages_follow_the_cursor_oldest_change_first(sim, client, monkeypatch):
    monkeypatch.setattr(polling, "PAGE_SIZE", 4)
    first = [sim.create_order(lines=[("MUG", 1)], notify=False) for _n in range(7)]
    sim.update_order(first[0]["id"], note="changed", notify=False)
    pages = []
    seen = polled(client, on_page=pages.append)
    assert len(pages) == 2 and pages[0] is None and pages[1]
    # the changed order comes last: it is the newest change
    assert [order["id"] for order in seen] == [o["id"] for o in first[1:] + first[:1]]
    newest = seen[-1]["updated_at"]
    assert [o["id"] for o in polled(client, newest)] == [first[0]["id"]]


def test_only_states_the_inbox_lacks_are_read_in_full(sim, client):
    orders = [sim.create_order(lines=[("MUG", 1)], notify=False) for _n in range(6)]
    states = [
        (str(order["id"]), mapping.parse_datetime(order["updated_at"]))
        for order in orders
    ]
    held = set(states[:4])
    asked = []

    def known(listed):
        asked.append(list(listed))
        return held & set(listed)

    sim.reset_stats()
    read = polled(client, known=known)
    assert [order["id"] for order in read] == [o["id"] for o in orders[4:]]
    assert asked == [states], "one question per listed page"
    stats = sim.stats
    assert stats["graphql_operations"] == {"PollOrderStates": 1, "PollOrder": 2}
    assert stats["graphql_points"] == polling.page_cost() + 2 * polling.ORDER_COST
    # a held state that changed since is a new state: read again
    sim.update_order(orders[0]["id"], note="changed", notify=False)
    assert [o["id"] for o in polled(client, known=known)] == [
        o["id"] for o in orders[4:] + orders[:1]
    ]


def test_listing_and_reading_stay_under_shopifys_query_cost_ceiling(sim, client):
    sim.create_order(lines=[("MUG", 1)], notify=False)
    sim.reset_stats()
    polled(client)
    assert polling.page_cost() == 252
    assert sim.stats["graphql_points"] == 252 + polling.ORDER_COST
    status = client.throttle_status
    assert status.requested_cost == polling.ORDER_COST <= 1000


def test_documents_validate_against_shopifys_schema(shopify_schema):
    for text, variables in (
        (polling.LIST_ORDERS, {"first": 250, "after": None, "query": "updated_at:>=x"}),
        (polling.FULL_ORDER, {"id": "gid://shopify/Order/1"}),
        (polling.ORDER_LINES, {"id": "gid://shopify/Order/1", "after": "abc"}),
    ):
        document = parse(text)
        assert not validate(shopify_schema, document)
        operation = document.definitions[0]
        coerced = get_variable_values(
            shopify_schema, operation.variable_definitions, variables
        )
        assert not isinstance(coerced, list), coerced
