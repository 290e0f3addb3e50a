"""The Amazon SP-API simulator over real HTTP (requests + boto3): what it
accepts, what it refuses and how, and its SQS queue."""

import json

import boto3
import botocore.exceptions
import pytest
import requests
from marketplace_sim.amazon import AmazonSimulator, SimClock

SELLER = "A1UNITSELLER"
US = "ATVPDKIKX0DER"
CLIENT_ID, CLIENT_SECRET, REFRESH = "cid", "csecret", "Atzr|refresh"
SEARCH = "/orders/2026-01-01/orders"


@pytest.fixture
def sim():
    simulator = AmazonSimulator(
        seller_id=SELLER,
        marketplace_ids=[US, "A2EUQ1WTGCTBG2"],
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH,
        clock=SimClock(start=1_800_000_000, time_scale=0),
        max_receive_count=3,
    ).start()
    simulator.add_listing("MUG", quantity=10)
    simulator.add_listing("TEE", quantity=5)
    yield simulator
    simulator.stop()
    assert simulator.internal_errors == []


def login(sim, **overrides):
    form = {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **overrides,
    }
    return requests.post(sim.lwa_url, data=form, timeout=5)


@pytest.fixture
def http(sim):
    with requests.Session() as session:
        session.headers["x-amz-access-token"] = login(sim).json()["access_token"]
        yield session


@pytest.fixture
def sqs(sim):
    return boto3.client(
        "sqs",
        endpoint_url=sim.sqs_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="secret",
    )


def search(sim, http, **params):
    params.setdefault("marketplaceIds", US)
    if "lastUpdatedAfter" not in params and "createdAfter" not in params:
        params["createdAfter"] = "2020-01-01T00:00:00Z"
    return http.get(sim.url + SEARCH, params=params, timeout=5)


def confirm(sim, http, order_id, items, reference="1", **detail):
    package = {
        "packageReferenceId": reference,
        "carrierCode": "UPS",
        "trackingNumber": "1Z999",
        "shipDate": "2027-01-15T10:00:00Z",
        "orderItems": items,
        **detail,
    }
    body = {"marketplaceId": US, "packageDetail": package}
    url = f"{sim.url}/orders/v0/orders/{order_id}/shipmentConfirmation"
    return http.post(url, json=body, timeout=5)


def patch(sim, http, sku, quantity, seller=SELLER, channel="DEFAULT", **extra):
    body = {
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": channel, "quantity": quantity}],
            }
        ],
        **extra,
    }
    url = f"{sim.url}/listings/2021-08-01/items/{seller}/{sku}"
    return http.patch(url, params={"marketplaceIds": US}, json=body, timeout=5)


def error_code(response):
    return response.json()["errors"][0]["code"]


# LWA and tokens


def test_lwa_issues_bearer_tokens_and_refuses_bad_clients_and_grants(sim):
    answer = login(sim)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["refresh_token"] == REFRESH
    assert login(sim, client_secret="nope").status_code == 401
    assert login(sim, client_secret="nope").json()["error"] == "invalid_client"
    wrong = login(sim, refresh_token="Atzr|other")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    sim.revoke_refresh_token()
    assert login(sim).json()["error"] == "invalid_grant"


def test_sp_api_needs_a_live_access_token(sim, http):
    bare = requests.get(sim.url + SEARCH, timeout=5)
    assert bare.status_code == 403
    assert bare.json()["errors"][0] == {
        "code": "Unauthorized",
        "message": "Access to requested resource is denied.",
        "details": "",
    }
    assert "x-amzn-RequestId" in bare.headers
    assert search(sim, http).status_code == 200
    sim.clock.advance(3601)
    expired = search(sim, http)
    assert (
        expired.status_code == 403
        and "expired" in expired.json()["errors"][0]["details"]
    )
    token = login(sim).json()["access_token"]
    sim.expire_tokens()
    again = (
        search(sim, http, **{})
        if False
        else requests.get(
            sim.url + SEARCH, headers={"x-amz-access-token": token}, timeout=5
        )
    )
    assert again.status_code == 403


# Orders


def test_search_orders_validation(sim, http):
    assert search(sim, http).status_code == 200
    cases = [
        {
            "lastUpdatedAfter": "2020-01-01T00:00:00Z",
            "createdAfter": "2020-01-01T00:00:00Z",
        },
        {
            "createdAfter": "2020-01-01T00:00:00Z",
            "createdBefore": "2027-01-15T07:59:00Z",
        },
        {
            "createdAfter": "2020-01-01T00:00:00Z",
            "lastUpdatedBefore": "2020-02-01T00:00:00Z",
        },
        {"createdAfter": "2020-01-01"},
        {"createdAfter": "2020-01-01T00:00:00"},
        {"marketplaceIds": ""},
        {"marketplaceIds": ",".join([US] * 51)},
        {"marketplaceIds": "A1PA6795UKMFR9"},
        {"maxResultsPerPage": "101"},
        {"maxResultsPerPage": "0"},
        {"fulfillmentStatuses": "Unshipped"},
        {"fulfilledBy": "MFN"},
        {"includedData": "EVERYTHING"},
        {"paginationToken": "made-up"},
    ]
    now = sim.clock()
    cases[1]["createdBefore"] = _iso(now - 60)
    for params in cases:
        answer = search(sim, http, **params)
        assert answer.status_code == 400, params
        assert error_code(answer) == "InvalidInput"
        assert answer.json()["errors"][0]["details"]
    assert search(sim, http, createdBefore=_iso(now - 121)).status_code == 200


def _iso(epoch):
    from marketplace_sim.amazon.clock import format_ts_seconds

    return format_ts_seconds(epoch)


def test_search_filters_included_data_and_pagination(sim, http):
    mfn = sim.create_order([("MUG", 2, "19.99")], tax_rate="0.10", shipping="4.00")
    afn = sim.create_order([("TEE", 1, "25.00")], fulfillment="AFN")
    pending = sim.create_order([("MUG", 1, "19.99")], status="PENDING")
    sim.clock.advance(10)
    body = search(sim, http, includedData="PROCEEDS,FULFILLMENT,BUYER").json()
    ids = [order["orderId"] for order in body["orders"]]
    assert ids == [mfn["orderId"], afn["orderId"], pending["orderId"]]
    first = body["orders"][0]
    item = first["orderItems"][0]
    assert item["product"]["price"]["unitPrice"] == {
        "amount": "19.99",
        "currencyCode": "USD",
    }
    subtotals = {
        b["type"]: b["subtotal"]["amount"] for b in item["proceeds"]["breakdowns"]
    }
    assert subtotals == {"ITEM": "39.98", "SHIPPING": "4.00", "TAX": "4.40"}
    assert first["proceeds"]["grandTotal"]["amount"] == "48.38"
    assert "buyer" in first and "buyer" not in body["orders"][2]  # pending: no PII
    bare = search(sim, http).json()["orders"][0]
    assert "fulfillment" not in bare and "proceeds" not in bare and "buyer" not in bare
    merchant = search(
        sim, http, fulfilledBy="MERCHANT", fulfillmentStatuses="UNSHIPPED"
    )
    assert [o["orderId"] for o in merchant.json()["orders"]] == [mfn["orderId"]]
    page1 = search(sim, http, maxResultsPerPage="2").json()
    token = page1["pagination"]["nextToken"]
    page2 = search(sim, http, maxResultsPerPage="2", paginationToken=token).json()
    assert [o["orderId"] for o in page2["orders"]] == [pending["orderId"]]
    assert "pagination" not in page2
    other = search(sim, http, paginationToken=token, fulfilledBy="AMAZON")
    assert other.status_code == 400
    sim.clock.advance(24 * 3600 + 1)
    http.headers["x-amz-access-token"] = sim.access_token()
    assert (
        search(sim, http, maxResultsPerPage="2", paginationToken=token).status_code
        == 400
    )


def test_get_order_and_data_lag(sim, http):
    order = sim.create_order([("MUG", 1, "10.00")])
    url = f"{sim.url}/orders/2026-01-01/orders/{order['orderId']}"
    answer = http.get(url, params={"includedData": "RECIPIENT,FULFILLMENT"}, timeout=5)
    assert answer.status_code == 200
    got = answer.json()["order"]
    assert got["recipient"]["deliveryAddress"]["countryCode"] == "US"
    assert got["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    assert http.get(url + "x", timeout=5).status_code == 404
    sim.visibility_lag = 120
    late = sim.create_order([("MUG", 1, "10.00")])
    assert (
        http.get(f"{sim.url}{SEARCH}/{late['orderId']}", timeout=5).status_code == 404
    )
    sim.clock.advance(121)
    assert (
        http.get(f"{sim.url}{SEARCH}/{late['orderId']}", timeout=5).status_code == 200
    )


def test_order_changes_bump_last_updated_and_notify(sim, sqs):
    order = sim.create_order([("MUG", 1, "10.00")], status="PENDING")
    paid = sim.pay_order(order["orderId"])
    assert paid["lastUpdatedTime"] > order["lastUpdatedTime"]
    cancelled = sim.cancel_order(order["orderId"], by="BUYER")
    assert cancelled["fulfillment"]["fulfillmentStatus"] == "CANCELLED"
    with pytest.raises(ValueError):
        sim.pay_order(order["orderId"])
    bodies = [json.loads(m) if isinstance(m, str) else m for m in sim.queue_messages()]
    statuses = [
        b["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"]
        for b in bodies
    ]
    assert statuses == ["Pending", "Unshipped", "Canceled"]
    ids = {b["NotificationMetadata"]["NotificationId"] for b in bodies}
    assert len(ids) == 3
    assert bodies[2]["Payload"]["OrderChangeNotification"]["OrderChangeType"] == (
        "BuyerRequestedChange"
    )


# Shipment confirmation


def test_confirm_shipment_partial_then_full_and_refusals(sim, http):
    order = sim.create_order([("MUG", 3, "10.00"), ("TEE", 1, "20.00")])
    mug, tee = (item["orderItemId"] for item in order["orderItems"])
    assert (
        confirm(
            sim, http, order["orderId"], [{"orderItemId": mug, "quantity": 2}]
        ).status_code
        == 204
    )
    assert (
        sim.get_order(order["orderId"])["fulfillment"]["fulfillmentStatus"]
        == "PARTIALLY_SHIPPED"
    )
    refused = [
        confirm(
            sim, http, order["orderId"], [{"orderItemId": mug, "quantity": 1}]
        ),  # dup ref
        confirm(
            sim, http, order["orderId"], [{"orderItemId": "999", "quantity": 1}], "2"
        ),
        confirm(
            sim, http, order["orderId"], [{"orderItemId": mug, "quantity": 2}], "2"
        ),
        confirm(
            sim,
            http,
            order["orderId"],
            [{"orderItemId": tee, "quantity": 1}],
            "2",
            carrierCode="Other",
        ),
        confirm(
            sim, http, order["orderId"], [{"orderItemId": tee, "quantity": 1}], "abc"
        ),
        confirm(
            sim,
            http,
            order["orderId"],
            [{"orderItemId": tee, "quantity": 1}],
            "2",
            shipDate="01/15/2027",
        ),
    ]
    for answer in refused:
        assert answer.status_code == 400 and error_code(answer) == "InvalidInput"
    done = confirm(
        sim,
        http,
        order["orderId"],
        [{"orderItemId": mug, "quantity": 1}, {"orderItemId": tee, "quantity": 1}],
        "2",
        carrierCode="Other",
        carrierName="La Poste",
    )
    assert done.status_code == 204
    assert (
        sim.get_order(order["orderId"])["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    )
    assert [p["packageReferenceId"] for p in sim.shipments(order["orderId"])] == [
        "1",
        "2",
    ]
    attempts = sim.shipment_attempts(order["orderId"])
    assert sum(1 for a in attempts if not a["accepted"]) == 3  # the rest fail parsing


def test_confirm_shipment_refuses_afn_and_cancelled_orders(sim, http):
    afn = sim.create_order([("MUG", 1, "10.00")], fulfillment="AFN")
    item = {"orderItemId": afn["orderItems"][0]["orderItemId"], "quantity": 1}
    assert confirm(sim, http, afn["orderId"], [item]).status_code == 400
    gone = sim.create_order([("MUG", 1, "10.00")])
    sim.cancel_order(gone["orderId"])
    item = {"orderItemId": gone["orderItems"][0]["orderItemId"], "quantity": 1}
    assert confirm(sim, http, gone["orderId"], [item]).status_code == 400
    assert confirm(sim, http, "111-0000000-0000000", [item]).status_code == 404


# Listings


def test_patch_is_accepted_then_applied_after_the_delay(sim, http):
    sim.listing_delay = 30
    answer = patch(sim, http, "MUG", 7)
    assert answer.status_code == 200
    body = answer.json()
    assert (
        body["status"] == "ACCEPTED" and body["issues"] == [] and body["submissionId"]
    )
    assert sim.listing_quantity("MUG") == 10
    sim.clock.advance(31)
    assert sim.listing_quantity("MUG") == 7
    url = f"{sim.url}/listings/2021-08-01/items/{SELLER}/MUG"
    got = http.get(
        url,
        params={"marketplaceIds": US, "includedData": "fulfillmentAvailability"},
        timeout=5,
    )
    assert got.json()["fulfillmentAvailability"] == [
        {"fulfillmentChannelCode": "DEFAULT", "quantity": 7}
    ]
    missing = http.get(url + "NOPE", params={"marketplaceIds": US}, timeout=5)
    assert missing.status_code == 404


def test_patch_refusals(sim, http):
    for quantity in (-1, 2.5, "3", True):
        sim.clock.advance(1)  # patchListingsItem: 5/s, burst 5
        invalid = patch(sim, http, "MUG", quantity).json()
        assert invalid["status"] == "INVALID" and invalid["issues"], quantity
    sim.clock.advance(1)
    assert patch(sim, http, "MUG", 1, channel="AMAZON_NA").json()["status"] == "INVALID"
    assert patch(sim, http, "GHOST", 1).json()["status"] == "INVALID"
    sim.clock.advance(1)
    assert patch(sim, http, "MUG", 1, seller="A2OTHER").status_code == 403
    assert patch(sim, http, "MUG", 1, productType="").status_code == 400
    url = f"{sim.url}/listings/2021-08-01/items/{SELLER}/MUG"
    assert (
        http.patch(
            url,
            json={"productType": "PRODUCT", "patches": []},
            params={"marketplaceIds": US},
            timeout=5,
        ).status_code
        == 400
    )
    assert (
        http.patch(
            url,
            json={
                "productType": "PRODUCT",
                "patches": [{"op": "replace", "path": "/attributes/x", "value": []}],
            },
            timeout=5,
        ).status_code
        == 400
    )
    assert sim.listing_quantity("MUG") == 10


def test_search_listings_pages_through_quantities(sim, http):
    for index in range(25):
        sim.add_listing(f"SKU-{index:02d}", quantity=index)
    url = f"{sim.url}/listings/2021-08-01/items/{SELLER}"
    params = {
        "marketplaceIds": US,
        "includedData": "fulfillmentAvailability",
        "pageSize": "20",
        "sortBy": "sku",
        "sortOrder": "ASC",
    }
    first = http.get(url, params=params, timeout=5).json()
    assert first["numberOfResults"] == 27 and len(first["items"]) == 20
    second = http.get(
        url, params={**params, "pageToken": first["pagination"]["nextToken"]}, timeout=5
    ).json()
    assert len(second["items"]) == 7
    assert (
        http.get(url, params={**params, "pageSize": "21"}, timeout=5).status_code == 400
    )


# Feeds


def _feed(sim, http, messages, content_type="application/json; charset=UTF-8"):
    created = http.post(
        f"{sim.url}/feeds/2021-06-30/documents",
        json={"contentType": content_type},
        timeout=5,
    )
    assert created.status_code == 201
    document = created.json()
    content = json.dumps(
        {
            "header": {"sellerId": SELLER, "version": "2.0", "issueLocale": "en_US"},
            "messages": messages,
        }
    )
    upload = requests.put(
        document["url"],
        data=content.encode(),
        headers={"Content-Type": content_type},
        timeout=5,
    )
    assert upload.status_code == 200
    return document["feedDocumentId"]


def _message(message_id, sku, quantity):
    return {
        "messageId": message_id,
        "sku": sku,
        "operationType": "PATCH",
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [
                    {"fulfillment_channel_code": "DEFAULT", "quantity": quantity}
                ],
            }
        ],
    }


def test_feed_lifecycle_report_and_race_with_a_patch(sim, http):
    sim.feeds.queue_delay, sim.feeds.processing_delay = 30, 60
    document_id = _feed(
        sim,
        http,
        [_message(1, "MUG", 3), _message(2, "GHOST", 1), _message(3, "TEE", -2)],
    )
    created = http.post(
        f"{sim.url}/feeds/2021-06-30/feeds",
        json={
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": [US],
            "inputFeedDocumentId": document_id,
        },
        timeout=5,
    )
    assert created.status_code == 202
    feed_url = f"{sim.url}/feeds/2021-06-30/feeds/{created.json()['feedId']}"
    assert http.get(feed_url, timeout=5).json()["processingStatus"] == "IN_QUEUE"
    sim.clock.advance(31)
    assert http.get(feed_url, timeout=5).json()["processingStatus"] == "IN_PROGRESS"
    sim.listing_delay = 70  # lands after the feed: last write wins
    patch(sim, http, "MUG", 8)
    sim.clock.advance(60)
    feed = http.get(feed_url, timeout=5).json()
    assert feed["processingStatus"] == "DONE"
    assert sim.listing_quantity("MUG") == 3 and sim.listing_quantity("TEE") == 5
    document = http.get(
        f"{sim.url}/feeds/2021-06-30/documents/{feed['resultFeedDocumentId']}",
        timeout=5,
    ).json()
    report = requests.get(document["url"], timeout=5).json()
    assert (
        report["summary"]["messagesAccepted"] == 1
        and report["summary"]["messagesInvalid"] == 2
    )
    assert {issue["messageId"] for issue in report["issues"]} == {2, 3}
    sim.clock.advance(10)
    assert sim.listing_quantity("MUG") == 8


def test_create_feed_refusals_and_submission_quota(sim, http):
    feeds = f"{sim.url}/feeds/2021-06-30/feeds"
    document_id = _feed(sim, http, [_message(1, "MUG", 3)])
    spec = {
        "feedType": "JSON_LISTINGS_FEED",
        "marketplaceIds": [US],
        "inputFeedDocumentId": document_id,
    }
    for bad in (
        {"feedType": "POST_INVENTORY_AVAILABILITY_DATA"},
        {"feedType": "POST_FLAT_FILE_INVLOADER_DATA"},
        {"inputFeedDocumentId": "nope"},
        {"marketplaceIds": []},
    ):
        assert http.post(feeds, json={**spec, **bad}, timeout=5).status_code == 400
    empty = http.post(
        f"{sim.url}/feeds/2021-06-30/documents",
        json={"contentType": "application/json"},
        timeout=5,
    ).json()
    assert (
        http.post(
            feeds,
            json={**spec, "inputFeedDocumentId": empty["feedDocumentId"]},
            timeout=5,
        ).status_code
        == 400
    )
    assert (
        http.post(
            f"{sim.url}/feeds/2021-06-30/documents",
            json={"contentType": "image/png"},
            timeout=5,
        ).status_code
        == 400
    )
    assert (
        requests.put(
            empty["url"], data=b"{}", headers={"Content-Type": "text/xml"}, timeout=5
        ).status_code
        == 403
    )
    statuses = [http.post(feeds, json=spec, timeout=5).status_code for _ in range(6)]
    assert statuses == [202] * 5 + [429]
    sim.clock.advance(301)
    assert http.post(feeds, json=spec, timeout=5).status_code == 202


def test_unparsable_feed_is_fatal(sim, http):
    created = http.post(
        f"{sim.url}/feeds/2021-06-30/documents",
        json={"contentType": "application/json"},
        timeout=5,
    ).json()
    requests.put(
        created["url"],
        data=b"not json",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    feed = http.post(
        f"{sim.url}/feeds/2021-06-30/feeds",
        json={
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": [US],
            "inputFeedDocumentId": created["feedDocumentId"],
        },
        timeout=5,
    ).json()
    sim.clock.advance(600)
    assert (
        http.get(
            f"{sim.url}/feeds/2021-06-30/feeds/{feed['feedId']}", timeout=5
        ).json()["processingStatus"]
        == "FATAL"
    )


# Rate limits, faults, stats


def test_token_buckets_and_storms(sim, http):
    answers = [search(sim, http) for _ in range(21)]
    assert [a.status_code for a in answers] == [200] * 20 + [429]
    throttled = answers[-1]
    assert throttled.json() == {
        "errors": [
            {
                "code": "QuotaExceeded",
                "message": "You exceeded your quota for the requested resource.",
            }
        ]
    }
    assert throttled.headers["x-amzn-RateLimit-Limit"] == "0.0056"
    sim.clock.advance(180)
    assert search(sim, http).status_code == 200
    sim.throttle(60)
    assert patch(sim, http, "MUG", 1).status_code == 429
    sim.clock.advance(61)
    assert patch(sim, http, "MUG", 1).status_code == 200
    stats = sim.stats["by_operation"]
    assert stats["searchOrders"] == {"calls": 22, "throttled": 1, "errors": 0}
    assert stats["patchListingsItem"]["throttled"] == 1


def test_server_faults(sim, http):
    sim.fail_next(503, count=2, operation="searchOrders")
    sim.fail_next(500)
    assert [search(sim, http).status_code for _ in range(4)] == [503, 503, 500, 200]
    assert sim.stats["faults_injected"] == 3


# SQS


def test_sqs_visibility_redelivery_and_delete(sim, sqs):
    sim.create_order([("MUG", 1, "10.00")])
    got = sqs.receive_message(
        QueueUrl=sim.queue_url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=30,
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
    )
    first = got["Messages"][0]
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    assert "Messages" not in sqs.receive_message(QueueUrl=sim.queue_url)
    sim.clock.advance(31)
    again = sqs.receive_message(QueueUrl=sim.queue_url, AttributeNames=["All"])[
        "Messages"
    ][0]
    assert (
        again["MessageId"] == first["MessageId"]
        and again["ReceiptHandle"] != first["ReceiptHandle"]
    )
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    sqs.delete_message(
        QueueUrl=sim.queue_url, ReceiptHandle=first["ReceiptHandle"]
    )  # stale: no-op
    assert (
        sqs.get_queue_attributes(
            QueueUrl=sim.queue_url,
            AttributeNames=["ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
        == "1"
    )
    sqs.delete_message(QueueUrl=sim.queue_url, ReceiptHandle=again["ReceiptHandle"])
    sim.clock.advance(60)
    assert "Messages" not in sqs.receive_message(QueueUrl=sim.queue_url)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sqs.delete_message(QueueUrl=sim.queue_url, ReceiptHandle="never-issued")
    assert err.value.response["Error"]["Code"] == "ReceiptHandleIsInvalid"


def test_sqs_errors_and_auth(sim, sqs):
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.receive_message(QueueUrl=sim.queue_url + "-nope")
    for params in ({"MaxNumberOfMessages": 11}, {"WaitTimeSeconds": 21}):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            sqs.receive_message(QueueUrl=sim.queue_url, **params)
        assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert (
        sqs.get_queue_url(QueueName="sp-api-notifications")["QueueUrl"] == sim.queue_url
    )
    stranger = boto3.client(
        "sqs",
        endpoint_url=sim.sqs_url,
        region_name="us-east-1",
        aws_access_key_id="AKIDUNKNOWN",
        aws_secret_access_key="x",
    )
    with pytest.raises(botocore.exceptions.ClientError) as err:
        stranger.receive_message(QueueUrl=sim.queue_url)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_sqs_dead_letter_duplicates_malformed_batch_and_purge(sim, sqs):
    sqs.send_message(QueueUrl=sim.queue_url, MessageBody="poison")
    for _ in range(3):
        assert sqs.receive_message(QueueUrl=sim.queue_url, VisibilityTimeout=5)[
            "Messages"
        ]
        sim.clock.advance(6)
    assert "Messages" not in sqs.receive_message(QueueUrl=sim.queue_url)
    assert sim.queue_messages(dead_letter=True) == ["poison"]
    sim.duplicate_next_messages(1)
    sim.inject_malformed_message("{oops")
    one = sqs.receive_message(QueueUrl=sim.queue_url)["Messages"][0]
    twin = sqs.receive_message(QueueUrl=sim.queue_url)["Messages"][0]
    assert (one["MessageId"], one["Body"]) == (twin["MessageId"], "{oops")
    assert one["ReceiptHandle"] != twin["ReceiptHandle"]
    result = sqs.delete_message_batch(
        QueueUrl=sim.queue_url,
        Entries=[
            {"Id": "a", "ReceiptHandle": one["ReceiptHandle"]},
            {"Id": "b", "ReceiptHandle": "bogus"},
        ],
    )
    assert [e["Id"] for e in result["Successful"]] == ["a"] and result["Failed"][0][
        "Code"
    ] == "ReceiptHandleIsInvalid"
    sqs.change_message_visibility(
        QueueUrl=sim.queue_url, ReceiptHandle=twin["ReceiptHandle"], VisibilityTimeout=0
    )
    sqs.purge_queue(QueueUrl=sim.queue_url)
    attributes = sqs.get_queue_attributes(
        QueueUrl=sim.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_control_surface_drives_a_separate_process_style_simulator(sim):
    control = sim.url + "/_sim"
    created = requests.post(
        f"{control}/orders",
        json={"lines": [["MUG", 1, "9.99"]], "status": "PENDING"},
        timeout=5,
    )
    assert created.status_code == 201
    order_id = created.json()["orderId"]
    assert (
        requests.post(f"{control}/orders/{order_id}/pay", timeout=5).json()[
            "fulfillment"
        ]["fulfillmentStatus"]
        == "UNSHIPPED"
    )
    assert (
        requests.post(
            f"{control}/clock/advance", json={"seconds": 5}, timeout=5
        ).status_code
        == 200
    )
    assert requests.post(f"{control}/lwa/expire", timeout=5).status_code == 200
    assert (
        requests.post(f"{control}/faults", json={"status": 418}, timeout=5).status_code
        == 400
    )
    assert requests.get(f"{control}/orders/{order_id}/shipments", timeout=5).json() == {
        "packages": [],
        "attempts": [],
    }
    assert len(requests.get(f"{control}/sqs", timeout=5).json()["messages"]) == 2
    assert requests.get(f"{control}/stats", timeout=5).json()["requests"] == 0


def test_orders_from_listings_take_what_the_listings_show(sim, http):
    control = sim.url + "/_sim"
    sim.listing_delay = 30
    assert patch(sim, http, "TEE", 1).status_code == 200  # lands in 30 s
    order = sim.create_order(
        [("MUG", 4, "10.00"), ("TEE", 2, "5.00")], from_listings=True
    )
    assert sim.listings() == {"MUG": 6, "TEE": 3}
    assert sim.listing_history("MUG")[-1][1:] == (6, f"order:{order['orderId']}")
    refused = requests.post(
        f"{control}/orders",
        json={"lines": [["MUG", 7, "10.00"]], "from_listings": True},
        timeout=5,
    )
    assert refused.status_code == 409 and "MUG shows 6" in refused.json()["error"]
    assert len(sim.orders.all_orders()) == 1 and sim.listings()["MUG"] == 6
    afn = sim.create_order(
        [("MUG", 50, "10.00")], fulfillment="AFN", from_listings=True
    )  # Amazon's own stock: the listing is not ours to lower
    assert afn["orderId"] and sim.listings()["MUG"] == 6
    history = requests.get(f"{control}/listings/history", timeout=5).json()
    assert history["pending"] == 1
    assert [entry[1] for entry in history["history"]["TEE"]] == [3]
    sim.clock.advance(31)  # our PATCH lands last and wins
    history = requests.get(f"{control}/listings/history", timeout=5).json()
    assert history["pending"] == 0
    assert history["history"]["TEE"][-1][1:] == [1, history["history"]["TEE"][-1][2]]
    assert history["history"]["TEE"][-1][2].startswith("patch:")


def test_sqs_failing_deletes_bring_messages_back(sim, sqs):
    sim.create_order([("MUG", 1, "10.00")])
    sim.create_order([("TEE", 1, "10.00")])
    control = sim.url + "/_sim"
    assert (
        requests.post(f"{control}/sqs/fail-deletes", json={"count": 0}, timeout=5)
    ).status_code == 400
    requests.post(f"{control}/sqs/fail-deletes", json={"count": 2}, timeout=5)
    got = sqs.receive_message(QueueUrl=sim.queue_url, MaxNumberOfMessages=10)
    assert len(got["Messages"]) == 2
    answer = sqs.delete_message_batch(
        QueueUrl=sim.queue_url,
        Entries=[
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(got["Messages"])
        ],
    )
    assert answer.get("Successful", []) == []
    assert {failure["Code"] for failure in answer["Failed"]} == {"InternalError"}
    assert not any(failure["SenderFault"] for failure in answer["Failed"])
    sim.clock.advance(31)  # not deleted: they come back
    again = sqs.receive_message(QueueUrl=sim.queue_url, MaxNumberOfMessages=10)
    assert sorted(m["MessageId"] for m in again["Messages"]) == sorted(
        m["MessageId"] for m in got["Messages"]
    )
    sqs.delete_message(
        QueueUrl=sim.queue_url, ReceiptHandle=again["Messages"][0]["ReceiptHandle"]
    )  # the knob is used up: deleted
    assert len(sim.queue_messages()) == 1
