"""The Shopify adapter against the simulator over real HTTP: polling (status,
window, paging, retries, dedupe with webhooks) and the connection test."""

import datetime

import pytest
from marketplace_sim.shopify import ShopifySimulator

from odoo.addons.marketplace_connector.lib.adapter import BackendConfig, RateLimit
from odoo.addons.marketplace_connector.lib.errors import (
    AuthenticationError,
    DataError,
    RetryableError,
)
from odoo.addons.marketplace_shopify.lib import polling
from odoo.addons.marketplace_shopify.lib.adapter import ShopifyAdapter
from odoo.addons.marketplace_shopify.lib.client import ShopifyClient
from odoo.addons.marketplace_shopify.lib.mapping import order_event

SHOP = "acme-test.myshopify.com"
TOKEN = "shpat_test_access_0123456789abcdef"
VERSION = "2026-10"
UTC = datetime.timezone.utc


@pytest.fixture
def sim():
    simulator = ShopifySimulator(shop_domain=SHOP, access_token=TOKEN).start()
    for sku, price in (("MUG-BLUE", "19.99"), ("TEE-L", "25.00")):
        simulator.add_product(sku=sku, price=price, inventory=100)
    yield simulator
    simulator.stop()


def config_for(sim, **overrides):
    settings = {"shop_domain": SHOP, "api_version": VERSION}
    credentials = {"access_token": TOKEN, "webhook_secret": "whsec-current"}
    for name in list(overrides):
        if name in settings:
            settings[name] = overrides.pop(name)
        elif name in credentials:
            credentials[name] = overrides.pop(name)
    values = {
        "backend_id": 7,
        "name": "Acme Shopify",
        "api_url": sim.url,
        "credentials": credentials,
        "settings": settings,
        "timeout": 2.0,
    }
    values.update(overrides)
    return BackendConfig(**values)


@pytest.fixture
def sleeps():
    waited = []
    return waited.append, waited


@pytest.fixture
def adapter(sim, sleeps):
    record, _waited = sleeps
    client = ShopifyClient(sim.url, TOKEN, VERSION, timeout=(1.0, 0.5), sleep=record)
    return ShopifyAdapter(config_for(sim), client=client)


def hours_ago(hours):
    """Naive UTC, as the core passes ``since``."""
    moment = datetime.datetime.now(UTC) - datetime.timedelta(hours=hours)
    return moment.replace(tzinfo=None, microsecond=0)


def order_requests(sim):
    return [r for r in sim.requests if r["path"].endswith("/orders.json")]


# The client


def test_client_is_built_lazily_from_the_config(sim):
    shopify = ShopifyAdapter(config_for(sim))
    assert shopify._client is None
    client = shopify.client
    assert client is shopify.client
    assert client.url("orders.json") == f"{sim.url}/admin/api/{VERSION}/orders.json"
    assert client.timeout == 2.0


def test_webhook_intake_needs_no_client_and_no_token(sim):
    shopify = ShopifyAdapter(config_for(sim, access_token=""))
    assert shopify.parse_order  # constructing the adapter does not need a token
    with pytest.raises(AuthenticationError, match="No access token"):
        list(shopify.iter_updated_orders(hours_ago(1)))


# Polling


def test_poll_yields_every_updated_order_as_a_poll_event(sim, adapter):
    created = [
        sim.create_order(lines=[("MUG-BLUE", 1), ("TEE-L", 2)], notify=False)
        for _ in range(3)
    ]
    events = list(adapter.iter_updated_orders(hours_ago(1)))
    assert sorted(e.external_id for e in events) == sorted(
        str(o["id"]) for o in created
    )
    for event in events:
        assert event.source == "poll"
        assert event.topic == "orders/updated"
        assert event.resource_type == "order"
        assert event.external_updated_at.tzinfo is None
        assert adapter.parse_order(event.payload).external_id == event.external_id


def recorded_polls(adapter):
    """The variables of every GraphQL call ``adapter`` makes from now on."""
    sent = []
    graphql = adapter.client.graphql

    def recording(query, variables=None):
        sent.append(dict(variables or {}))
        return graphql(query, variables)

    adapter.client.graphql = recording
    return sent


def test_poll_asks_graphql_for_orders_updated_since_the_window(sim, adapter):
    sent = recorded_polls(adapter)
    since = datetime.datetime(2026, 11, 23, 15, 4, 5)
    list(adapter.iter_updated_orders(since))
    assert sent == [
        {
            "first": polling.PAGE_SIZE,
            "after": None,
            "query": "updated_at:>='2026-11-23T15:04:05+00:00'",
        }
    ]
    assert order_requests(sim) == [], "no legacy REST call"


def test_aware_since_is_sent_in_utc(sim, adapter):
    sent = recorded_polls(adapter)
    paris = datetime.timezone(datetime.timedelta(hours=1))
    list(
        adapter.iter_updated_orders(
            datetime.datetime(2026, 11, 23, 16, 0, tzinfo=paris)
        )
    )
    assert sent[0]["query"] == "updated_at:>='2026-11-23T15:00:00+00:00'"


def test_poll_includes_cancelled_orders(sim, adapter):
    cancelled = sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)
    sim.cancel_order(cancelled["id"], notify=False)
    (event,) = adapter.iter_updated_orders(hours_ago(1))
    assert event.external_id == str(cancelled["id"])
    assert adapter.parse_order(event.payload).is_cancelled


def test_poll_leaves_out_orders_updated_before_since(sim, adapter):
    old_time = datetime.datetime.now(UTC) - datetime.timedelta(days=2)
    sim.create_order(lines=[("MUG-BLUE", 1)], notify=False, created_at=old_time)
    recent = sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)
    events = list(adapter.iter_updated_orders(hours_ago(24)))
    assert [e.external_id for e in events] == [str(recent["id"])]


def test_poll_follows_pages(sim, adapter, monkeypatch):
    monkeypatch.setattr(polling, "PAGE_SIZE", 2)
    sent = recorded_polls(adapter)
    created = {
        str(sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)["id"])
        for _ in range(5)
    }
    events = list(adapter.iter_updated_orders(hours_ago(1)))
    assert [e.external_id for e in events].count(next(iter(created))) == 1
    assert {e.external_id for e in events} == created
    assert len(events) == 5
    listed = [variables for variables in sent if "query" in variables]
    assert len(listed) == 3
    assert listed[0]["after"] is None
    assert listed[1]["after"] and listed[2]["after"] != listed[1]["after"]
    assert len(sent) - len(listed) == 5, "each order read in full once"


def test_poll_and_webhook_of_one_state_share_the_dedupe_key(sim, adapter):
    webhook_payload = sim.create_order(lines=[("TEE-L", 1)], notify=False)
    webhook = order_event(webhook_payload, "orders/create", "webhook")
    (polled,) = adapter.iter_updated_orders(hours_ago(1))
    assert polled.dedupe_key == webhook.dedupe_key
    sim.update_order(webhook_payload["id"], note="gift wrap", notify=False)
    (later,) = adapter.iter_updated_orders(hours_ago(1))
    assert later.dedupe_key != webhook.dedupe_key, "a new updated_at"
    assert later.external_updated_at > webhook.external_updated_at


def test_poll_rides_out_throttling_5xx_and_a_timeout(sim, adapter, sleeps):
    _record, waited = sleeps
    created = {
        str(sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)["id"])
        for _ in range(3)
    }
    sim.faults.throttle_next(count=1, retry_after="0.2")
    sim.faults.fail_next(status=503, count=1)
    sim.faults.timeout_next(count=1, seconds=1.0)
    events = list(adapter.iter_updated_orders(hours_ago(1)))
    assert {e.external_id for e in events} == created
    assert len(waited) == 3
    assert 0 < waited[0] <= 1, "throttled: the bucket's restore time"
    assert sim.stats["throttled"] == 1


def test_a_long_outage_is_raised_for_the_job_to_requeue(sim, adapter):
    sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)
    sim.faults.fail_next(status=502, count=50)
    with pytest.raises(RetryableError) as info:
        list(adapter.iter_updated_orders(hours_ago(1)))
    assert info.value.retry_after > 0


def test_revoked_token_stops_the_poll_with_an_actionable_error(sim):
    shopify = ShopifyAdapter(config_for(sim, access_token="shpat_revoked"))
    with pytest.raises(AuthenticationError, match="access token") as info:
        list(shopify.iter_updated_orders(hours_ago(1)))
    assert "shpat_revoked" not in str(info.value)


# Connection test


def test_connection_names_the_shop(adapter):
    message = adapter.test_connection()
    assert "Acme Test" in message
    assert SHOP in message
    assert "USD" in message


def test_connection_with_a_refused_token_is_an_authentication_error(sim):
    shopify = ShopifyAdapter(config_for(sim, access_token="shpat_wrong"))
    with pytest.raises(AuthenticationError, match="refused the access token"):
        shopify.test_connection()


def test_connection_to_another_shop_than_configured_is_refused(sim):
    shopify = ShopifyAdapter(config_for(sim, shop_domain="other.myshopify.com"))
    with pytest.raises(DataError, match="webhooks would be refused"):
        shopify.test_connection()


# Stock budget hooks


def test_rate_limit_and_throttle_status_follow_the_last_answer(adapter):
    assert adapter.rate_limits() == {"graphql": RateLimit(2000.0, 100.0)}
    assert adapter.throttle_status() is None
    adapter.test_connection()
    available, maximum, restore_rate = adapter.throttle_status()["graphql"]
    assert (maximum, restore_rate) == (2000.0, 100.0)
    assert 0 < available <= maximum
    assert adapter.rate_limits() == {"graphql": RateLimit(2000.0, 100.0)}
