"""The Amazon simulator's answers (and sample requests) against Amazon's own
models and JSON schemas, read from ``<repo>/../shared/amazon-sp-api-models``.

Skipped, with the reason, where those files are absent."""

import json

import pytest
import requests
from marketplace_sim.amazon import AmazonSimulator, SimClock
from marketplace_sim.amazon.contract import (
    Contract,
    ContractError,
    models_available,
    models_dir,
)

pytestmark = pytest.mark.skipif(
    not models_available(),
    reason=f"Amazon's SP-API models are not at {models_dir()} (see shared/README)",
)
SELLER, US = "A1CONTRACT", "ATVPDKIKX0DER"


@pytest.fixture(scope="module")
def contract():
    return Contract.load()


@pytest.fixture
def sim():
    simulator = AmazonSimulator(
        seller_id=SELLER, marketplace_ids=[US], clock=SimClock(time_scale=0)
    ).start()
    simulator.add_listing("MUG", quantity=4)
    yield simulator
    simulator.stop()
    assert simulator.internal_errors == []


@pytest.fixture
def http(sim):
    with requests.Session() as session:
        session.headers["x-amz-access-token"] = sim.access_token()
        yield session


ALL_DATA = "BUYER,RECIPIENT,PROCEEDS,PROMOTION,CANCELLATION,FULFILLMENT,PACKAGES"


def _orders(sim):
    shipped = sim.create_order(
        [
            {
                "sku": "MUG",
                "quantity": 2,
                "unit_price": "9.50",
                "promotion_id": "P1",
                "promotion_discount": "1.00",
            },
            ("TEE", 1, "20.00"),
        ],
        shipping="3.00",
    )
    sim.create_order([("MUG", 1, "9.50")], status="PENDING")
    cancelled = sim.create_order([("MUG", 1, "9.50")], fulfillment="AFN")
    sim.cancel_order(cancelled["orderId"], by="BUYER")
    return shipped


def test_search_and_get_order_bodies_match_the_v2026_model(sim, http, contract):
    shipped = _orders(sim)
    item = shipped["orderItems"][0]["orderItemId"]
    body = {
        "marketplaceId": US,
        "packageDetail": {
            "packageReferenceId": "1",
            "carrierCode": "UPS",
            "trackingNumber": "1Z",
            "shipDate": "2027-01-01T00:00:00Z",
            "orderItems": [{"orderItemId": item, "quantity": 1}],
        },
    }
    path = f"/orders/v0/orders/{shipped['orderId']}/shipmentConfirmation"
    contract.validate_request("confirmShipment", "POST", path, {}, body)
    assert http.post(sim.url + path, json=body, timeout=5).status_code == 204
    sim.clock.advance(300)
    params = {
        "createdAfter": "2020-01-01T00:00:00Z",
        "marketplaceIds": US,
        "includedData": ALL_DATA,
        "maxResultsPerPage": "2",
    }
    contract.validate_request(
        "searchOrders", "GET", "/orders/2026-01-01/orders", params
    )
    page = http.get(sim.url + "/orders/2026-01-01/orders", params=params, timeout=5)
    contract.validate_response("searchOrders", 200, page.json())
    assert page.json()["pagination"]["nextToken"]
    for order_id in (shipped["orderId"],):
        path = f"/orders/2026-01-01/orders/{order_id}"
        answer = http.get(sim.url + path, params={"includedData": ALL_DATA}, timeout=5)
        contract.validate_response("getOrder", 200, answer.json())
        assert answer.json()["order"]["packages"][0]["packageReferenceId"] == "1"
    for status, answer in (
        (400, http.get(sim.url + "/orders/2026-01-01/orders", timeout=5)),
        (404, http.get(sim.url + "/orders/2026-01-01/orders/nope", timeout=5)),
        (403, requests.get(sim.url + "/orders/2026-01-01/orders", timeout=5)),
    ):
        assert answer.status_code == status
        contract.validate_response(
            "searchOrders" if status != 404 else "getOrder", status, answer.json()
        )
    refused = http.post(
        sim.url + path.replace("2026-01-01", "v0") + "/shipmentConfirmation",
        json={},
        timeout=5,
    )
    contract.validate_response("confirmShipment", refused.status_code, refused.json())


def test_listings_bodies_match_the_listings_model(sim, http, contract):
    path = f"/listings/2021-08-01/items/{SELLER}/MUG"
    body = {
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}],
            }
        ],
    }
    contract.validate_request(
        "patchListingsItem", "PATCH", path, {"marketplaceIds": US}, body
    )
    for sku in ("MUG", "GHOST"):
        answer = http.patch(
            sim.url + path.replace("MUG", sku),
            params={"marketplaceIds": US},
            json=body,
            timeout=5,
        )
        contract.validate_response("patchListingsItem", 200, answer.json())
    params = {
        "marketplaceIds": US,
        "includedData": "summaries,attributes,issues,fulfillmentAvailability",
    }
    contract.validate_request("getListingsItem", "GET", path, params)
    contract.validate_response(
        "getListingsItem",
        200,
        http.get(sim.url + path, params=params, timeout=5).json(),
    )
    search = http.get(
        sim.url + f"/listings/2021-08-01/items/{SELLER}",
        params={**params, "pageSize": "1"},
        timeout=5,
    )
    contract.validate_response("searchListingsItems", 200, search.json())
    missing = http.get(sim.url + path + "X", params=params, timeout=5)
    contract.validate_response("getListingsItem", 404, missing.json())
    bad = http.patch(sim.url + path, json=body, timeout=5)
    contract.validate_response("patchListingsItem", 400, bad.json())


def test_feed_bodies_documents_and_report_match_their_schemas(sim, http, contract):
    feed = {
        "header": {"sellerId": SELLER, "version": "2.0", "issueLocale": "en_US"},
        "messages": [
            {
                "messageId": 1,
                "sku": "MUG",
                "operationType": "PATCH",
                "productType": "PRODUCT",
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [
                            {"fulfillment_channel_code": "DEFAULT", "quantity": 9}
                        ],
                    }
                ],
            },
            {
                "messageId": 2,
                "sku": "GHOST",
                "operationType": "PATCH",
                "productType": "PRODUCT",
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [
                            {"fulfillment_channel_code": "DEFAULT", "quantity": 1}
                        ],
                    }
                ],
            },
        ],
    }
    contract.validate_feed(feed)
    spec = {"contentType": "application/json; charset=UTF-8"}
    contract.validate_request(
        "createFeedDocument", "POST", "/feeds/2021-06-30/documents", {}, spec
    )
    created = http.post(sim.url + "/feeds/2021-06-30/documents", json=spec, timeout=5)
    contract.validate_response("createFeedDocument", 201, created.json())
    requests.put(
        created.json()["url"],
        data=json.dumps(feed),
        headers={"Content-Type": spec["contentType"]},
        timeout=5,
    )
    create = {
        "feedType": "JSON_LISTINGS_FEED",
        "marketplaceIds": [US],
        "inputFeedDocumentId": created.json()["feedDocumentId"],
    }
    contract.validate_request(
        "createFeed", "POST", "/feeds/2021-06-30/feeds", {}, create
    )
    answer = http.post(sim.url + "/feeds/2021-06-30/feeds", json=create, timeout=5)
    contract.validate_response("createFeed", 202, answer.json())
    feed_path = f"/feeds/2021-06-30/feeds/{answer.json()['feedId']}"
    contract.validate_response(
        "getFeed", 200, http.get(sim.url + feed_path, timeout=5).json()
    )
    sim.clock.advance(600)
    done = http.get(sim.url + feed_path, timeout=5).json()
    contract.validate_response("getFeed", 200, done)
    document = http.get(
        sim.url + f"/feeds/2021-06-30/documents/{done['resultFeedDocumentId']}",
        timeout=5,
    )
    contract.validate_response("getFeedDocument", 200, document.json())
    contract.validate_feed_report(
        requests.get(document.json()["url"], timeout=5).json()
    )
    refused = http.post(
        sim.url + "/feeds/2021-06-30/feeds",
        json={**create, "feedType": "POST_PRODUCT_DATA"},
        timeout=5,
    )
    contract.validate_response("createFeed", 400, refused.json())


def test_order_change_notifications_match_their_schema(sim, contract):
    _orders(sim)
    for message in sim.queue_messages():
        contract.validate_order_change(message)


def test_throttled_answers_match_the_models(sim, http, contract):
    sim.throttle(60)
    answer = http.get(sim.url + "/orders/2026-01-01/orders/x", timeout=5)
    assert answer.status_code == 429
    contract.validate_response("getOrder", 429, answer.json())


def test_the_helper_catches_requests_amazon_would_refuse(contract):
    with pytest.raises(ContractError, match="fulfillmentStatuses"):
        contract.validate_request(
            "searchOrders",
            "GET",
            "/orders/2026-01-01/orders",
            {"createdAfter": "2020-01-01T00:00:00Z", "fulfillmentStatuses": "Shipped"},
        )
    with pytest.raises(ContractError, match="packageDetail"):
        contract.validate_request(
            "confirmShipment",
            "POST",
            "/orders/v0/orders/1/shipmentConfirmation",
            {},
            {"marketplaceId": US},
        )
    with pytest.raises(ContractError, match="marketplaceIds"):
        contract.validate_request(
            "patchListingsItem",
            "PATCH",
            "/listings/2021-08-01/items/S/K",
            {},
            {"productType": "P", "patches": []},
        )
    with pytest.raises(ContractError):
        contract.validate_response("getOrder", 200, {"order": {"orderId": "1"}})
    with pytest.raises(ContractError):
        contract.validate_feed(
            {
                "header": {"sellerId": SELLER, "version": "2.0"},
                "messages": [{"messageId": 1, "sku": "A", "operationType": "PATCH"}],
            }
        )
