"""The Admin API client over real HTTP against the Shopify simulator: retries
and their waits, the retry/permanent classification, and the
budget figures Shopify reports. Waits go through an injected ``sleep`` that
records them, so the tests assert the seconds without spending them."""

import logging
import socket
import time

import pytest
import requests
from marketplace_sim.shopify import ShopifySimulator

from odoo.addons.marketplace_connector.lib.errors import (
    AuthenticationError,
    DataError,
    PermanentError,
    RateLimitedError,
    RetryableError,
)
from odoo.addons.marketplace_shopify.lib.client import (
    REQUEUE_CAP,
    ShopifyClient,
    ThrottleStatus,
    parse_call_limit,
)

SHOP = "acme-test.myshopify.com"
TOKEN = "shpat_test_access_0123456789abcdef"
VERSION = "2026-10"
SHOP_QUERY = "query { shop { name myshopifyDomain currencyCode } }"


class Sleeps(list):
    """An injected ``sleep``: records the seconds; waits them when ``real``
    (needed when the server's state must really change, e.g. a bucket)."""

    def __init__(self, real=False):
        super().__init__()
        self.real = real

    def __call__(self, seconds):
        self.append(seconds)
        if self.real:
            time.sleep(seconds)


@pytest.fixture
def sim():
    simulator = ShopifySimulator(shop_domain=SHOP, access_token=TOKEN).start()
    simulator.add_product(sku="MUG-BLUE", price="19.99", inventory=100)
    yield simulator
    simulator.stop()


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def client(sim, sleeps):
    shopify = ShopifyClient(sim.url, TOKEN, VERSION, sleep=sleeps)
    yield shopify
    shopify.close()


def order_requests(sim):
    return [r for r in sim.requests if r["path"].endswith("/orders.json")]


# Transport basics


def test_url_token_header_and_version(sim, client):
    assert client.url("orders.json") == f"{sim.url}/admin/api/2026-10/orders.json"
    trailing = ShopifyClient(sim.url + "/", TOKEN, VERSION)
    assert trailing.url("/shop.json") == f"{sim.url}/admin/api/2026-10/shop.json"
    data, response = client.rest_get("shop.json")
    assert data["shop"]["myshopify_domain"] == SHOP
    assert response.status_code == 200
    (request,) = sim.requests
    assert request["path"] == "/admin/api/2026-10/shop.json"
    assert request["headers"]["X-Shopify-Access-Token"] == TOKEN
    assert TOKEN not in repr(client)


def test_timeout_is_a_pair_by_default_or_the_backends_number():
    assert ShopifyClient("https://x", TOKEN, VERSION).timeout == (3.05, 10.0)
    # one number stays one number (Odoo's test harness compares it with 10)
    assert ShopifyClient("https://x", TOKEN, VERSION, timeout=2).timeout == 2.0


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        (("", TOKEN, VERSION), PermanentError, "API URL"),
        (("https://x", "", VERSION), AuthenticationError, "access token"),
        (("https://x", TOKEN, ""), PermanentError, "API version"),
    ],
)
def test_missing_configuration_is_an_actionable_error(args, error, words):
    with pytest.raises(error, match=words):
        ShopifyClient(*args)


# Retries inside one call


def test_429_waits_retry_after_then_succeeds(sim, client, sleeps):
    sim.faults.throttle_next(count=1, retry_after="2.0")
    data, _response = client.rest_get("orders.json", {"status": "any"})
    assert data == {"orders": []}
    assert sleeps == [2.0]
    assert [r["status"] for r in order_requests(sim)] == [429, 200]
    assert sim.stats["throttled"] == 1


def test_429_asking_longer_than_the_inline_limit_is_left_to_the_job(
    sim, client, sleeps
):
    sim.faults.throttle_next(count=1, retry_after="30")
    with pytest.raises(RateLimitedError) as info:
        client.rest_get("orders.json")
    assert info.value.retry_after == 30.0
    assert sleeps == []
    assert len(order_requests(sim)) == 1


def test_5xx_is_retried_after_a_jittered_backoff(sim, client, sleeps):
    sim.faults.fail_next(status=503, count=1)
    data, _response = client.rest_get("orders.json")
    assert data == {"orders": []}
    assert len(sleeps) == 1
    assert 0.25 <= sleeps[0] <= 0.5  # base 0.5 s, half of it random
    assert [r["status"] for r in order_requests(sim)] == [503, 200]


def test_backoff_doubles_and_is_capped(client):
    for attempt, (low, high) in enumerate([(0.25, 0.5), (0.5, 1), (1, 2)], 1):
        assert low <= client._backoff(attempt) <= high
    assert client._backoff(20) <= client.max_inline_wait


def test_timeout_is_retried(sim, sleeps):
    shopify = ShopifyClient(sim.url, TOKEN, VERSION, timeout=(1.0, 0.3), sleep=sleeps)
    sim.faults.timeout_next(count=1, seconds=1.5)
    started = time.monotonic()
    data, _response = shopify.rest_get("orders.json")
    assert data == {"orders": []}
    assert len(sleeps) == 1
    assert time.monotonic() - started < 1.4, "the held answer was not awaited"


def test_timeout_on_the_last_attempt_says_so(sim, sleeps):
    shopify = ShopifyClient(
        sim.url, TOKEN, VERSION, timeout=(1.0, 0.3), max_attempts=1, sleep=sleeps
    )
    sim.faults.timeout_next(count=1, seconds=1.0)
    with pytest.raises(RetryableError, match=r"read timeout, 0\.3 s") as info:
        shopify.rest_get("orders.json")
    assert isinstance(info.value.__cause__.__cause__, requests.ReadTimeout)
    assert sleeps == []


def test_exhausted_retries_raise_retryable_with_retry_after(sim, sleeps):
    shopify = ShopifyClient(sim.url, TOKEN, VERSION, max_attempts=3, sleep=sleeps)
    sim.faults.fail_next(status=502, count=10)
    with pytest.raises(RetryableError) as info:
        shopify.rest_get("orders.json")
    error = info.value
    assert not isinstance(error, RateLimitedError)
    assert 0 < error.retry_after <= REQUEUE_CAP
    assert "HTTP 502" in str(error)
    assert "3 attempt" in str(error)
    assert isinstance(error.__cause__, RetryableError)
    assert len(sleeps) == 2
    assert len(order_requests(sim)) == 3


def test_exhausted_throttling_keeps_the_servers_retry_after(sim, sleeps):
    shopify = ShopifyClient(sim.url, TOKEN, VERSION, max_attempts=2, sleep=sleeps)
    sim.faults.throttle_next(count=5, retry_after="0.5")
    with pytest.raises(RateLimitedError) as info:
        shopify.rest_get("orders.json")
    assert info.value.retry_after == 0.5
    assert sleeps == [0.5]


def test_connection_refused_is_retryable(sleeps):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    shopify = ShopifyClient(f"http://127.0.0.1:{port}", TOKEN, VERSION, sleep=sleeps)
    with pytest.raises(RetryableError) as info:
        shopify.rest_get("orders.json")
    assert "Cannot reach Shopify" in str(info.value)
    assert isinstance(info.value.__cause__.__cause__, requests.ConnectionError)
    assert len(sleeps) == shopify.max_attempts - 1


def test_non_json_5xx_body_is_retryable_with_a_readable_message(client):
    # The simulator always answers JSON; a proxy's HTML page is built here
    # and classified by the same code a real answer goes through.
    response = requests.Response()
    response.status_code = 502
    response.reason = "Bad Gateway"
    response.headers["Content-Type"] = "text/html"
    response._content = b"<html>\n<body><h1>502 Bad Gateway</h1></body>\n</html>"
    error = client._http_error(response, "GET orders.json")
    assert type(error) is RetryableError
    assert "HTTP 502 Bad Gateway" in str(error)
    assert "<h1>502 Bad Gateway</h1>" in str(error)
    assert "\n" not in str(error)


# Permanent errors


def test_401_is_an_authentication_error_without_the_token(sim, sleeps, caplog):
    wrong = "shpat_wrong_token_feedfacecafe"
    shopify = ShopifyClient(sim.url, wrong, VERSION, sleep=sleeps)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(AuthenticationError) as info:
            shopify.rest_get("orders.json")
    text = str(info.value)
    assert "refused the access token" in text
    assert "uninstalled" in text
    assert "Update the access token on the backend" in text
    for secret in (wrong, TOKEN):
        assert secret not in text
        assert secret not in repr(info.value.args)
        assert secret not in caplog.text
    assert sleeps == [], "not retried"


def test_no_token_in_logs_of_retries(sim, client, caplog):
    sim.faults.fail_next(status=503, count=2)
    with caplog.at_level(logging.DEBUG, logger="odoo.addons.marketplace_shopify"):
        client.rest_get("orders.json")
        client.graphql(SHOP_QUERY)
    assert "retrying" in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (402, PermanentError, "frozen"),
        (423, PermanentError, "locked"),
        (403, AuthenticationError, "access scope"),
        (404, PermanentError, "API version"),
        (422, DataError, "HTTP 422"),
        (400, PermanentError, "HTTP 400"),
        (406, PermanentError, "HTTP 406"),
    ],
)
def test_permanent_statuses(sim, client, sleeps, status, error, words):
    sim.faults.fail_next(status=status)
    with pytest.raises(error, match=words) as info:
        client.rest_get("orders.json")
    assert not isinstance(info.value, RetryableError)
    assert sleeps == []


def test_graphql_validation_error_is_permanent_with_the_remote_message(client):
    with pytest.raises(PermanentError, match="nope") as info:
        client.graphql("query { shop { nope } }")
    assert "refused the GraphQL query" in str(info.value)


def test_graphql_access_denied_is_an_authentication_error(client):
    # not produced by the simulator: the answer's shape, as Shopify sends it
    payload = {
        "errors": [
            {
                "message": "Access denied for orders field. Required access: "
                "`read_orders` access scope.",
                "extensions": {"code": "ACCESS_DENIED"},
            }
        ],
        "data": None,
    }
    with pytest.raises(AuthenticationError, match="read_orders"):
        client._graphql_data(payload)


# Budget awareness


def test_rest_call_limit_header_is_parsed(client):
    assert client.rest_call_limit is None
    client.rest_get("orders.json")
    used, maximum = client.rest_call_limit
    assert maximum == 40
    assert 1 <= used <= 40
    assert parse_call_limit("32/40") == (32, 40)
    assert parse_call_limit("garbage") is None
    assert parse_call_limit(None) is None


def test_graphql_throttle_status_is_parsed(client):
    data = client.graphql(SHOP_QUERY)
    assert data["shop"]["myshopifyDomain"] == SHOP
    status = client.throttle_status
    assert isinstance(status, ThrottleStatus)
    assert status.maximum_available == 2000
    assert status.restore_rate == 100
    assert status.actual_cost >= 1
    assert status.requested_cost >= 1
    assert status.currently_available <= 2000 - status.actual_cost + 1


def test_graphql_throttled_in_http_200_waits_and_retries(sim, client, sleeps):
    sim.faults.throttle_next(count=1)
    data = client.graphql(SHOP_QUERY)
    assert data["shop"]["name"]
    assert len(sleeps) == 1
    assert 0 < sleeps[0] <= 0.05  # the bucket is full: one restore tick
    assert sim.stats["throttled"] == 1


def test_graphql_throttled_in_http_429_waits_and_retries(sim, client, sleeps):
    sim.graphql_throttle_status = 429
    sim.faults.throttle_next(count=1)
    assert client.graphql(SHOP_QUERY)["shop"]["name"]
    assert len(sleeps) == 1
    assert sim.stats["throttled"] == 1


def test_graphql_waits_the_computed_deficit_of_an_empty_bucket(sim):
    sleeps = Sleeps(real=True)  # the bucket must really refill
    shopify = ShopifyClient(sim.url, TOKEN, VERSION, sleep=sleeps)
    query = "query { locations(first: 20) { edges { node { id name } } } }"
    shopify.graphql(query)
    cost = shopify.throttle_status.actual_cost
    sim.graphql_bucket.set_level(sim.graphql_bucket.capacity)
    assert shopify.graphql(query)["locations"]["edges"]
    assert sleeps, "throttled first"
    # the deficit (cost - what was left) over the restore rate (100/s)
    assert 0 < sleeps[0] <= cost / 100 + 0.01
    assert sim.stats["throttled"] >= 1


def test_graphql_deficit_beyond_the_inline_limit_is_left_to_the_job(sim, sleeps):
    shopify = ShopifyClient(sim.url, TOKEN, VERSION, max_inline_wait=0.05, sleep=sleeps)
    query = "query { locations(first: 50) { edges { node { id name } } } }"
    sim.graphql_bucket.set_level(sim.graphql_bucket.capacity)
    with pytest.raises(RateLimitedError) as info:
        shopify.graphql(query)
    assert info.value.retry_after > 0.05
    assert sleeps == []
    # the status of the throttled answer is kept: fewer points than asked
    # (the bucket leaks while the request travels: not an exact figure)
    status = shopify.throttle_status
    assert status.actual_cost is None
    assert status.currently_available < status.requested_cost
