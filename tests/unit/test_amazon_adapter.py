"""The adapter the core asks for, against the simulator: registration, the
poll window and paging, notification -> getOrder -> Order, which orders
import, the connection check and shipment confirmations (including the
retry of a confirmation whose answer was lost)."""

import datetime
from decimal import Decimal

import pytest
from test_amazon_support import (
    MARKETPLACE,
    RecordingGate,
    make_adapter,
    make_config,
    make_sim,
    sim_now,
)

from odoo.addons.marketplace_amazon.lib.adapter import AmazonAdapter
from odoo.addons.marketplace_connector.lib.adapter import get_adapter_class
from odoo.addons.marketplace_connector.lib.errors import (
    AuthenticationError,
    DataError,
    PermanentError,
    RetryableError,
)


@pytest.fixture
def sim():
    simulator = make_sim()
    simulator.add_listing("MUG", quantity=50)
    yield simulator
    simulator.stop()


@pytest.fixture
def gate():
    return RecordingGate()


@pytest.fixture
def adapter(sim, gate):
    return make_adapter(sim, gate)


def test_registered_for_amazon():
    assert get_adapter_class("amazon") is AmazonAdapter


def test_poll_until_keeps_clear_of_amazons_data_lag(adapter):
    now = datetime.datetime(2026, 11, 23, 12, 0, 0)
    assert adapter.poll_until(now) == datetime.datetime(2026, 11, 23, 11, 57, 50)


def test_poll_pages_through_updated_orders(sim, adapter, gate):
    start = sim_now(sim) - datetime.timedelta(seconds=1)
    created = [sim.create_order([("MUG", 1, f"{n + 1}.00")]) for n in range(3)]
    assert list(adapter.iter_updated_orders(start)) == []  # younger than the lag
    sim.clock.advance(200)
    events = list(adapter.iter_updated_orders(start))
    assert [e.external_id for e in events] == [o["orderId"] for o in created]
    assert all(e.source == "poll" and e.topic == "orders/poll" for e in events)
    assert gate.reserved == [("searchOrders", 1)]
    sent = adapter.client.session.sent[-1]
    assert "maxResultsPerPage=100" in sent.url
    parsed = adapter.parse_order(adapter.prepare_event_payload(events[0].payload))
    assert parsed.total_price == Decimal("1.10")
    assert parsed.customer.email  # BUYER asked for


def test_poll_follows_pagination_tokens(sim, adapter, monkeypatch):
    from odoo.addons.marketplace_amazon.lib import orders

    monkeypatch.setattr(orders, "PAGE_SIZE", 2)
    start = sim_now(sim) - datetime.timedelta(seconds=1)
    for n in range(5):
        sim.create_order([("MUG", 1, f"{n + 1}.00")])
    sim.clock.advance(200)
    events = list(adapter.iter_updated_orders(start))
    assert len(events) == 5
    pages = [
        r for r in adapter.client.session.sent if "orders/2026-01-01/orders" in r.url
    ]
    assert len(pages) == 3
    assert "paginationToken=" in pages[-1].url


def test_notification_becomes_the_order_it_announces(sim, adapter, gate):
    order = sim.create_order([("MUG", 2, "19.99")], shipping="4.99")
    [message] = adapter.receive_messages(10, 0)
    event = adapter.parse_message(message)
    payload = adapter.prepare_event_payload(event.payload)
    assert payload["orderId"] == order["orderId"]
    assert gate.reserved[-1] == ("getOrder", 1)
    sent = adapter.client.session.sent[-1]
    assert (
        "includedData=BUYER%2CRECIPIENT%2CPROCEEDS%2CFULFILLMENT%2CCANCELLATION%2CTAX"
        in (sent.url)
    )
    parsed = adapter.parse_order(payload)
    assert parsed.total_price == Decimal(order["proceeds"]["grandTotal"]["amount"])
    assert parsed.marketplace == MARKETPLACE
    assert adapter.importable(parsed)
    assert adapter.prepare_event_payload(payload) is payload


def test_notification_before_the_order_is_readable_is_retried(sim, adapter):
    sim.visibility_lag = 120
    sim.create_order([("MUG", 1, "5.00")])
    [message] = adapter.receive_messages(10, 0)
    event = adapter.parse_message(message)
    with pytest.raises(RetryableError, match="not readable yet"):
        adapter.prepare_event_payload(event.payload)
    sim.clock.advance(121)
    assert adapter.prepare_event_payload(event.payload)["orderId"] == event.external_id


def test_notification_newer_than_the_readable_order_is_retried(sim, adapter):
    order = sim.create_order([("MUG", 1, "5.00")], status="PENDING")
    sim.clock.advance(100)
    sim.visibility_lag = 60
    sim.pay_order(order["orderId"])
    messages = adapter.receive_messages(10, 0)
    paid = adapter.parse_message(messages[-1])
    with pytest.raises(RetryableError, match="older than the notified change"):
        adapter.prepare_event_payload(paid.payload)
    sim.clock.advance(61)
    payload = adapter.prepare_event_payload(paid.payload)
    assert payload["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"


@pytest.mark.parametrize(
    "status, importable",
    [
        ("PENDING", False),
        ("UNSHIPPED", True),
        ("PARTIALLY_SHIPPED", True),
        ("SHIPPED", True),
        ("CANCELLED", False),
    ],
)
def test_importable_statuses(sim, adapter, status, importable):
    order = sim.create_order([("MUG", 2, "5.00")])
    if status == "PENDING":
        order = sim.create_order([("MUG", 1, "5.00")], status="PENDING")
    elif status == "PARTIALLY_SHIPPED":
        item_id = order["orderItems"][0]["orderItemId"]
        confirm(adapter, order, items=[(item_id, 1)])
    elif status != "UNSHIPPED":
        sim.set_order_status(order["orderId"], status)
    sim.clock.advance(5)  # each change is stamped a second after the last
    parsed = adapter.parse_order(adapter.get_order(order["orderId"]))
    assert adapter.importable(parsed) is importable
    assert parsed.is_cancelled is (status == "CANCELLED")


def test_afn_order_maps_as_fulfilled_by_amazon(sim, adapter):
    order = sim.create_order([("MUG", 1, "5.00")], fulfillment="AFN")
    [message] = adapter.receive_messages(10, 0)
    assert adapter.parse_message(message).demand == ()
    parsed = adapter.parse_order(adapter.get_order(order["orderId"]))
    assert parsed.fulfilled_by_channel is True


def test_connection(sim, adapter):
    text = adapter.test_connection()
    assert "A1SIMSELLER0001" in text and "1 listing" in text
    assert "sp-api-notifications" in text


def test_connection_names_what_is_wrong(sim):
    broken = AmazonAdapter(make_config(sim, credentials={"lwa_client_secret": "x"}))
    with pytest.raises(AuthenticationError, match="client secret"):
        broken.test_connection()
    no_seller = AmazonAdapter(make_config(sim, seller_id=""))
    with pytest.raises(PermanentError, match="seller id"):
        no_seller.test_connection()
    no_markets = AmazonAdapter(make_config(sim, marketplace_ids=[]))
    with pytest.raises(PermanentError, match="marketplace id"):
        no_markets.test_connection()


# Shipments


def confirm(adapter, order, reference="1", carrier="UPS", name=None, items=None):
    item_id = order["orderItems"][0]["orderItemId"]
    return adapter.confirm_shipment(
        order["orderId"],
        MARKETPLACE,
        reference,
        carrier,
        name,
        "Ground",
        "1Z999",
        datetime.datetime(2026, 11, 24, 9, 30),
        items or [(item_id, 2)],
    )


def test_confirm_shipment(sim, adapter, gate):
    order = sim.create_order([("MUG", 2, "5.00")])
    assert confirm(adapter, order) is True
    sim.clock.advance(5)
    [package] = sim.shipments(order["orderId"])
    assert package["trackingNumber"] == "1Z999"
    assert package["shippingService"] == "Ground"
    assert gate.reserved[-1] == ("confirmShipment", 1)
    assert sim.get_order(order["orderId"])["fulfillment"]["fulfillmentStatus"] == (
        "SHIPPED"
    )


def test_retry_of_a_confirmation_whose_answer_was_lost_succeeds(sim, adapter):
    order = sim.create_order([("MUG", 2, "5.00")])
    item_id = order["orderItems"][0]["orderItemId"]
    assert confirm(adapter, order, "1", items=[(item_id, 1)])
    sim.clock.advance(5)
    assert confirm(adapter, order, "1", items=[(item_id, 1)])  # the retry
    assert len(sim.shipments(order["orderId"])) == 1
    assert confirm(adapter, order, "2", items=[(item_id, 1)])
    sim.clock.advance(5)
    assert confirm(adapter, order, "2", items=[(item_id, 1)])  # order now SHIPPED
    assert len(sim.shipments(order["orderId"])) == 2


def test_other_carrier_needs_a_name_before_any_call(sim, adapter, gate):
    order = sim.create_order([("MUG", 2, "5.00")])
    with pytest.raises(DataError, match="carrier's name"):
        confirm(adapter, order, carrier="Other")
    assert gate.reserved == []
    assert confirm(adapter, order, carrier="Other", name="Local Courier")
    assert sim.shipments(order["orderId"])[0]["carrier"] == "Local Courier"


def test_refused_confirmation_is_a_data_error_with_amazons_words(sim, adapter):
    order = sim.create_order([("MUG", 2, "5.00")])
    item_id = order["orderItems"][0]["orderItemId"]
    with pytest.raises(DataError, match="exceeds"):
        confirm(adapter, order, items=[(item_id, 5)])
    sim.cancel_order(order["orderId"])
    sim.clock.advance(5)
    with pytest.raises(DataError, match="canceled"):
        confirm(adapter, order, "3")


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("odoo-marketplace-42", "42"),
        ("odoo-db2026-7", "7"),
        ("17", "17"),
    ],
)
def test_package_reference_is_the_deliverys_number(reference, expected):
    from odoo.addons.marketplace_amazon.lib.shipments import package_reference_id

    assert package_reference_id(reference) == expected


def test_package_reference_without_a_number_is_stable_and_positive():
    from odoo.addons.marketplace_amazon.lib.shipments import package_reference_id

    first = package_reference_id("odoo-package-zero-0")
    assert first == package_reference_id("odoo-package-zero-0")
    assert first.isdigit() and int(first) > 0
    assert package_reference_id("") == ""
