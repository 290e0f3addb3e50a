"""ORDER_CHANGE notifications: parsing into inbox events (dedupe keys,
demand, malformed bodies, other types) and the SQS queue through boto3
against the simulator (long polling, duplicates, deletion, refusals)."""

import copy
import json
import logging

import boto3
import pytest
from test_amazon_support import make_config, make_sim

from odoo.addons.marketplace_amazon.lib.adapter import AmazonAdapter
from odoo.addons.marketplace_amazon.lib.notifications import (
    SOURCE_QUEUE,
    NotificationQueue,
    parse_notification,
)
from odoo.addons.marketplace_connector.lib.adapter import PulledMessage
from odoo.addons.marketplace_connector.lib.errors import (
    AuthenticationError,
    DataError,
    PermanentError,
)


def notification(
    order_id="903-8868176-2219830",
    status="Unshipped",
    change_type="OrderStatusChange",
    changed="2026-11-23T19:42:04.284Z",
    fulfillment="MFN",
    notification_id="d0e9e693-c3ad-4373-979f-ed4ec98dd746",
):
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": "2026-11-23T19:42:05.109Z",
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": "A3TH9S8BH6GOGM",
                "AmazonOrderId": order_id,
                "OrderChangeType": change_type,
                "OrderChangeTrigger": {
                    "TimeOfOrderChange": changed,
                    "ChangeReason": "NewOrder",
                },
                "Summary": {
                    "MarketplaceId": "ATVPDKIKX0DER",
                    "OrderStatus": status,
                    "PurchaseDate": "2026-11-23T19:40:00.000Z",
                    "DestinationPostalCode": "48110",
                    "FulfillmentType": fulfillment,
                    "OrderType": "StandardOrder",
                    "OrderItems": [
                        {
                            "OrderItemId": "OIID1",
                            "SellerSKU": "MUG-BLUE",
                            "SupplySourceId": None,
                            "Quantity": 2,
                        },
                        {
                            "OrderItemId": "OIID2",
                            "SellerSKU": "MUG-RED",
                            "SupplySourceId": None,
                            "Quantity": 1,
                        },
                    ],
                },
            }
        },
        "NotificationMetadata": {
            "ApplicationId": "amzn1.sp.solution.app",
            "SubscriptionId": "subscription-1",
            "PublishTime": "2026-11-23T19:42:05.200Z",
            "NotificationId": notification_id,
        },
    }


# Parsing


def test_order_change_event():
    event = parse_notification(json.dumps(notification()))
    assert event.topic == "ORDER_CHANGE"
    assert event.source == SOURCE_QUEUE == "queue"
    assert event.resource_type == "order"
    assert event.external_id == "903-8868176-2219830"
    assert event.external_updated_at.isoformat() == "2026-11-23T19:42:04.284000"
    assert event.dedupe_key == (
        "order:903-8868176-2219830:UNSHIPPED:OrderStatusChange:2026-11-23T19:42:04.284000"
    )
    assert event.headers == {"NotificationId": "d0e9e693-c3ad-4373-979f-ed4ec98dd746"}
    assert event.payload["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
    assert [(d.variant_id, d.sku, d.quantity) for d in event.demand] == [
        ("MUG-BLUE", "MUG-BLUE", 2.0),
        ("MUG-RED", "MUG-RED", 1.0),
    ]


def test_duplicates_and_same_state_dedupe_new_states_do_not():
    first = parse_notification(json.dumps(notification()))
    redelivered = parse_notification(json.dumps(notification()).encode())
    second_of_same_change = parse_notification(
        json.dumps(notification(notification_id="another-notification"))
    )
    assert (
        first.dedupe_key == redelivered.dedupe_key == second_of_same_change.dedupe_key
    )
    shipped = parse_notification(
        json.dumps(notification(status="Shipped", changed="2026-11-24T10:00:00Z"))
    )
    buyer_change = parse_notification(
        json.dumps(notification(change_type="BuyerRequestedChange"))
    )
    assert len({first.dedupe_key, shipped.dedupe_key, buyer_change.dedupe_key}) == 3


def test_null_change_time_falls_back_on_the_event_time():
    body = notification(changed=None)
    event = parse_notification(json.dumps(body))
    assert event.external_updated_at.isoformat() == "2026-11-23T19:42:05.109000"


@pytest.mark.parametrize(
    "fulfillment, status", [("AFN", "Unshipped"), ("MFN", "Canceled")]
)
def test_no_demand_for_afn_or_cancelled(fulfillment, status):
    event = parse_notification(
        json.dumps(notification(fulfillment=fulfillment, status=status))
    )
    assert event.demand == ()


def test_other_notification_types_are_skipped():
    body = notification()
    body["NotificationType"] = "ANY_OFFER_CHANGED"
    assert parse_notification(json.dumps(body)) is None


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        b"\xff\xfe",
        "[1, 2]",
        json.dumps({"hello": "world"}),
        json.dumps({"NotificationType": "ORDER_CHANGE", "Payload": {}}),
    ],
)
def test_malformed_bodies_are_data_errors(body):
    with pytest.raises(DataError):
        parse_notification(body)


def test_missing_order_id_is_a_data_error():
    body = notification()
    del body["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
    with pytest.raises(DataError, match="AmazonOrderId"):
        parse_notification(json.dumps(body))


# The queue over SQS (boto3 against the simulator)


@pytest.fixture
def sim():
    simulator = make_sim()
    yield simulator
    simulator.stop()


@pytest.fixture
def adapter(sim):
    return AmazonAdapter(make_config(sim))


def test_receive_parse_and_acknowledge(sim, adapter):
    order = sim.create_order([("MUG-BLUE", 2, "19.99")])
    messages = adapter.receive_messages(10, 1)
    assert len(messages) == 1
    message = messages[0]
    assert isinstance(message, PulledMessage)
    assert message.receipt and message.message_id
    assert message.attributes["ApproximateReceiveCount"] == "1"
    event = adapter.parse_message(message)
    assert event.external_id == order["orderId"]
    assert event.source == "queue"
    assert [(d.sku, d.quantity) for d in event.demand] == [("MUG-BLUE", 2.0)]
    adapter.acknowledge(messages)
    assert sim.queue_messages() == []


def test_duplicate_delivery_gives_the_same_event(sim, adapter):
    sim.create_order([("MUG-BLUE", 1, "5.00")])
    sim.duplicate_next_messages(1)
    first = adapter.receive_messages(10, 0)
    adapter.acknowledge(first)
    again = adapter.receive_messages(10, 0)
    assert [m.message_id for m in again] == [m.message_id for m in first]
    assert adapter.parse_message(again[0]).dedupe_key == (
        adapter.parse_message(first[0]).dedupe_key
    )


def test_malformed_message_is_a_data_error_and_acknowledged(sim, adapter):
    sim.inject_malformed_message("{not json")
    [message] = adapter.receive_messages(10, 0)
    with pytest.raises(DataError):
        adapter.parse_message(message)
    adapter.acknowledge([message])
    assert sim.queue_messages() == []


def test_batches_of_ten_and_failed_entries_are_logged(sim, adapter, caplog):
    for number in range(12):
        sim.create_order([(f"SKU-{number}", 1, "1.00")])
    messages = adapter.receive_messages(10, 0) + adapter.receive_messages(10, 0)
    assert len(messages) == 12
    bogus = PulledMessage(message_id="bogus", receipt="never-issued", body="{}")
    with caplog.at_level(logging.WARNING):
        deleted = adapter.queue.delete([*messages, bogus])
    assert deleted == 12
    assert "bogus" in caplog.text and "ReceiptHandleIsInvalid" in caplog.text
    assert sim.queue_messages() == []


def test_limits_are_clamped(sim, adapter):
    sim.create_order([("MUG-BLUE", 1, "5.00")])
    assert len(adapter.receive_messages(50, 60)) == 1


def test_wrong_aws_key_is_an_authentication_error(sim):
    config = make_config(sim, credentials={"aws_access_key_id": "AKIDUNKNOWN"})
    with pytest.raises(AuthenticationError, match="AWS access key"):
        AmazonAdapter(config).receive_messages(1, 0)


def test_unknown_queue_is_named(sim):
    config = make_config(sim, sqs_queue_url=sim.queue_url + "-missing")
    with pytest.raises(PermanentError, match="does not exist"):
        AmazonAdapter(config).receive_messages(1, 0)


def test_queue_needs_an_url_and_a_region(sim):
    with pytest.raises(PermanentError, match="queue URL"):
        NotificationQueue(object(), "")
    config = make_config(sim, sqs_region="")
    with pytest.raises(PermanentError, match="SQS region"):
        AmazonAdapter(config).receive_messages(1, 0)


def test_injected_sqs_client_is_used(sim):
    sqs = boto3.client(
        "sqs",
        endpoint_url=sim.sqs_url,
        region_name="us-east-1",
        aws_access_key_id="AKIDSIMULATOR",
        aws_secret_access_key="x",
    )
    adapter = AmazonAdapter(
        make_config(sim, credentials={"aws_access_key_id": "nope"}), sqs_client=sqs
    )
    sim.send_raw_message(json.dumps(copy.deepcopy(notification())))
    [message] = adapter.receive_messages(1, 0)
    assert adapter.parse_message(message).external_id == "903-8868176-2219830"
