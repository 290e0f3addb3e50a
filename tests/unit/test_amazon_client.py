"""Login with Amazon and the SP-API client, over real HTTP against the
Amazon simulator: the token cache (expiry, refresh margin, sharing through
the store, one new login after a refused token), LWA's refusals in words,
and the mapping of Amazon's answers to retry-or-fix errors. Logs never
contain a token or a secret."""

import logging
import socket

import pytest
import requests
from test_amazon_support import RecordingGate, make_sim, recording_session

from odoo.addons.marketplace_amazon.lib.client import (
    RATE_LIMITS,
    NotFoundError,
    SpApiClient,
    endpoint,
)
from odoo.addons.marketplace_amazon.lib.lwa import (
    LoginWithAmazon,
    MemoryTokenStore,
)
from odoo.addons.marketplace_connector.lib.adapter import RateLimit
from odoo.addons.marketplace_connector.lib.errors import (
    AuthenticationError,
    DataError,
    PermanentError,
    RateLimitedError,
    RetryableError,
)

ORDER_PATH = "/orders/2026-01-01/orders/{}"


class Clock:
    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def sim():
    simulator = make_sim()
    yield simulator
    simulator.stop()


def lwa_for(sim, store=None, clock=None, **overrides):
    values = {
        "client_id": sim.lwa.client_id,
        "client_secret": sim.lwa.client_secret,
        "refresh_token": sim.lwa.refresh_token,
    }
    values.update(overrides)
    return LoginWithAmazon(
        token_url=sim.lwa_url,
        store=store,
        clock=clock or Clock(),
        session=recording_session(),
        **values,
    )


def client_for(sim, lwa=None, gate=None):
    return SpApiClient(
        sim.url,
        lwa or lwa_for(sim, clock=sim.clock),
        gate or RecordingGate(),
        session=recording_session(),
        sleep=lambda seconds: None,
    )


def token_requests(lwa):
    return [r for r in lwa.session.sent if r.url.endswith("/auth/o2/token")]


# Login with Amazon


def test_token_is_cached_until_the_refresh_margin(sim):
    clock = Clock()
    lwa = lwa_for(sim, clock=clock)
    first = lwa.access_token()
    assert first.startswith("Atza|")
    body = token_requests(lwa)[0].body
    assert "grant_type=refresh_token" in body and "client_secret=" in body
    clock.now += 3600 - 61  # 61 s left: still good
    assert lwa.access_token() == first
    clock.now += 2  # 59 s left: inside the margin
    second = lwa.access_token()
    assert second != first
    assert len(token_requests(lwa)) == 2


def test_store_is_shared_between_clients(sim):
    store = MemoryTokenStore()
    one, two = lwa_for(sim, store=store), lwa_for(sim, store=store)
    assert one.access_token() == two.access_token()
    assert len(token_requests(one)) + len(token_requests(two)) == 1
    token, expires_at = store.get()
    assert token == one.access_token()
    assert expires_at == Clock().now + 3600


def test_refresh_after_a_rejection_reuses_a_token_refreshed_meanwhile(sim):
    store = MemoryTokenStore()
    lwa = lwa_for(sim, store=store)
    stale = lwa.access_token()
    store.put("Atza|refreshed-by-another-worker", Clock().now + 3600)
    assert lwa.refresh(rejected=stale) == "Atza|refreshed-by-another-worker"
    assert len(token_requests(lwa)) == 1
    assert lwa.refresh(rejected="Atza|refreshed-by-another-worker") not in (
        stale,
        "Atza|refreshed-by-another-worker",
    )


def test_invalid_grant_tells_to_authorise_again(sim, caplog):
    sim.revoke_refresh_token()
    lwa = lwa_for(sim)
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationError) as err:
        lwa.access_token()
    assert "invalid_grant" in str(err.value)
    assert "authorise the app again" in str(err.value)
    assert "refresh token" in str(err.value)
    assert sim.lwa.refresh_token not in caplog.text + str(err.value)


def test_invalid_client_names_the_lwa_credentials(sim, caplog):
    lwa = lwa_for(sim, client_secret="wrong-secret-123")
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationError) as err:
        lwa.access_token()
    assert "client id and client secret" in str(err.value)
    assert "wrong-secret-123" not in caplog.text + str(err.value)


def test_missing_credentials_are_named(sim):
    with pytest.raises(AuthenticationError, match="LWA refresh token"):
        lwa_for(sim, refresh_token="")


class FakeResponse:
    def __init__(self, status, payload=None):
        self.status_code = status
        self._payload = payload

    def json(self):
        if self._payload is None:
            raise ValueError("no JSON")
        return self._payload


class FakeSession:
    def __init__(self, outcome):
        self.outcome = outcome

    def post(self, *args, **kwargs):
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@pytest.mark.parametrize(
    "outcome, error",
    [
        (requests.ReadTimeout("slow"), RetryableError),
        (requests.ConnectionError("reset"), RetryableError),
        (FakeResponse(503), RetryableError),
        (FakeResponse(429, {"error": "slow_down"}), RateLimitedError),
        (FakeResponse(400, {"error": "invalid_request"}), AuthenticationError),
    ],
)
def test_lwa_transient_and_other_failures(outcome, error):
    lwa = LoginWithAmazon("id", "secret", "Atzr|token", session=FakeSession(outcome))
    with pytest.raises(error):
        lwa.access_token()


# The SP-API client


def test_call_sends_token_and_user_agent_and_spends_the_gate(sim):
    order = sim.create_order([("MUG", 1, "9.99")])
    gate = RecordingGate()
    client = client_for(sim, gate=gate)
    answer = client.call(
        "getOrder",
        "GET",
        ORDER_PATH.format(order["orderId"]),
        params={"includedData": ["FULFILLMENT", "PROCEEDS"]},
    )
    assert answer["order"]["orderId"] == order["orderId"]
    assert gate.reserved == [("getOrder", 1)]
    sent = client.session.sent[-1]
    assert sent.headers["x-amz-access-token"].startswith("Atza|")
    assert sent.headers["user-agent"].startswith("odoo-marketplace-connector/")
    assert "includedData=FULFILLMENT%2CPROCEEDS" in sent.url


def test_expired_token_is_refreshed_once_and_the_call_retried(sim):
    order = sim.create_order([("MUG", 1, "9.99")])
    gate = RecordingGate()
    client = client_for(sim, gate=gate)
    client.call("getOrder", "GET", ORDER_PATH.format(order["orderId"]))
    sim.expire_tokens()
    client.call("getOrder", "GET", ORDER_PATH.format(order["orderId"]))
    assert len(token_requests(client.lwa)) == 2
    assert gate.reserved == [("getOrder", 1)] * 3  # the retry spends too


def test_forbidden_even_after_a_new_login(sim):
    client = client_for(sim)
    client.lwa.access_token()
    sim.expire_tokens()
    client.lwa.refresh = lambda rejected=None: "Atza|still-wrong"
    with pytest.raises(AuthenticationError, match="role"):
        client.call("getOrder", "GET", ORDER_PATH.format("111-0000000-0000000"))


def test_throttling_is_rate_limited_with_one_restore_period(sim):
    sim.throttle(600)  # (per operation, only buckets already used are held)
    gate = RecordingGate()
    client = client_for(sim, gate=gate)
    with pytest.raises(RateLimitedError) as err:
        client.call(
            "searchOrders",
            "GET",
            "/orders/2026-01-01/orders",
            params={
                "createdAfter": "2026-01-01T00:00:00Z",
                "marketplaceIds": ["ATVPDKIKX0DER"],
            },
        )
    assert err.value.retry_after == pytest.approx(1 / 0.0056)
    assert "QuotaExceeded" in str(err.value)
    assert gate.observed == [("searchOrders", 0, 20, 0.0056)]
    assert gate.reserved == [("searchOrders", 1)]  # never retried inline


def test_server_errors_are_retried_then_retryable(sim):
    order = sim.create_order([("MUG", 1, "9.99")])
    client = client_for(sim)
    sim.fail_next(503, count=1, operation="getOrder")
    assert client.call("getOrder", "GET", ORDER_PATH.format(order["orderId"]))
    sim.fail_next(500, count=3, operation="getOrder")
    with pytest.raises(RetryableError, match="HTTP 500"):
        client.call("getOrder", "GET", ORDER_PATH.format(order["orderId"]))


def test_bad_request_is_a_data_error_with_amazons_words(sim):
    client = client_for(sim)
    with pytest.raises(DataError) as err:
        client.call(
            "searchOrders",
            "GET",
            "/orders/2026-01-01/orders",
            params={"marketplaceIds": ["ATVPDKIKX0DER"]},
        )
    assert "Exactly one of createdAfter and lastUpdatedAfter" in str(err.value)
    assert not isinstance(err.value, RetryableError)


def test_not_found(sim):
    client = client_for(sim)
    with pytest.raises(NotFoundError, match="getOrder"):
        client.call("getOrder", "GET", ORDER_PATH.format("111-0000000-0000000"))


def test_unreachable_host_is_retryable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    lwa = LoginWithAmazon("id", "secret", "Atzr|x", store=MemoryTokenStore())
    lwa.store.put("Atza|cached", 4_000_000_000)
    client = SpApiClient(
        f"http://127.0.0.1:{port}", lwa, RecordingGate(), sleep=lambda s: None
    )
    with pytest.raises(RetryableError, match="Cannot reach Amazon"):
        client.call("getOrder", "GET", ORDER_PATH.format("1"))


def test_no_token_or_secret_in_logs(sim, caplog):
    sim.create_order([("MUG", 1, "9.99")])
    client = client_for(sim)
    with caplog.at_level(logging.DEBUG):
        token = client.lwa.access_token()
        sim.expire_tokens()
        with pytest.raises(NotFoundError):
            client.call("getOrder", "GET", ORDER_PATH.format("111-0000000-0000000"))
    text = caplog.text
    assert token not in text
    assert sim.lwa.client_secret not in text
    assert sim.lwa.refresh_token not in text


def test_regional_endpoints():
    assert endpoint("na") == "https://sellingpartnerapi-na.amazon.com"
    assert endpoint("EU") == "https://sellingpartnerapi-eu.amazon.com"
    assert endpoint("fe") == "https://sellingpartnerapi-fe.amazon.com"
    assert endpoint("na", "http://127.0.0.1:1/") == "http://127.0.0.1:1"
    with pytest.raises(PermanentError, match="region"):
        endpoint("moon")


def test_rate_limit_table():
    assert RATE_LIMITS["searchOrders"] == RateLimit(20, 0.0056)
    assert RATE_LIMITS["getOrder"] == RateLimit(30, 0.5)
    assert RATE_LIMITS["createFeed"] == RateLimit(5, 5 / 300)
    assert RATE_LIMITS["patchListingsItem"] == RateLimit(5, 5.0)
    assert set(RATE_LIMITS) == {
        "searchOrders",
        "getOrder",
        "confirmShipment",
        "patchListingsItem",
        "getListingsItem",
        "searchListingsItems",
        "createFeedDocument",
        "createFeed",
        "getFeed",
        "getFeedDocument",
    }
