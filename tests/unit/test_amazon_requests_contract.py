"""Every request the adapter sends -- path, query and body -- validated
against Amazon's own OpenAPI models, and every feed document it uploads
against the listings feed schema, so the adapter cannot drift from the
SP-API unnoticed. Needs ``../shared/amazon-sp-api-models`` (as in CI);
skipped elsewhere with that reason."""

import datetime
import json
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from test_amazon_support import MODELS, RecordingGate, make_adapter, make_sim, sim_now

from odoo.addons.marketplace_connector.lib.stock import StockWrite

contract_module = pytest.importorskip(
    "marketplace_sim.amazon.contract",
    reason="the simulator's contract helper is absent",
)
if not contract_module.models_available():
    pytest.skip(
        f"Amazon's API models are not at {MODELS}: request contract tests skipped",
        allow_module_level=True,
    )


def operation_of(contract, method, path):
    for key, operation in contract.operations.items():
        if operation.method == method and operation.path_pattern.fullmatch(path):
            return key
    raise AssertionError(f"{method} {path} is no operation of Amazon's models")


def sp_api_requests(session, sim):
    for request in session.sent:
        split = urlsplit(request.url)
        if split.path.startswith(("/auth/", "/_documents/", "/_sim")):
            continue
        yield request, split


def validate_all(adapter, sim):
    contract = contract_module.Contract.load()
    checked = set()
    for request, split in sp_api_requests(adapter.client.session, sim):
        path = unquote(split.path)
        operation = operation_of(contract, request.method, path)
        params = {
            name: values if len(values) > 1 else values[0]
            for name, values in parse_qs(split.query, keep_blank_values=True).items()
        }
        body = json.loads(request.body) if request.body else None
        contract.validate_request(operation, request.method, path, params, body)
        checked.add(operation.split("@")[0])
    for request in adapter.client.session.sent:
        if request.method == "PUT" and "/_documents/" in request.url:
            contract.validate_feed(json.loads(request.body))
            checked.add("feed document")
    return checked


@pytest.fixture
def sim():
    simulator = make_sim()
    for number in range(15):
        simulator.add_listing(f"SKU-{number}", quantity=10)
    yield simulator
    simulator.stop()


def test_every_request_matches_amazons_models(sim):
    adapter = make_adapter(sim, RecordingGate())
    start = sim_now(sim) - datetime.timedelta(seconds=1)
    order = sim.create_order([("SKU-1", 2, "19.99")], shipping="3.99")
    [message] = adapter.receive_messages(10, 0)
    payload = adapter.prepare_event_payload(adapter.parse_message(message).payload)
    adapter.parse_order(payload)
    sim.clock.advance(200)
    assert len(list(adapter.iter_updated_orders(start))) == 1
    item_id = order["orderItems"][0]["orderItemId"]
    adapter.confirm_shipment(
        order["orderId"],
        "ATVPDKIKX0DER",
        "1",
        "Other",
        "Local Courier",
        "Next day",
        "LC-123",
        datetime.datetime(2026, 11, 24, 9, 0),
        [(item_id, 1)],
    )
    sim.clock.advance(5)
    adapter.confirm_shipment(  # the retry, answered 400, read back via PACKAGES
        order["orderId"],
        "ATVPDKIKX0DER",
        "1",
        "Other",
        "Local Courier",
        "Next day",
        "LC-123",
        datetime.datetime(2026, 11, 24, 9, 0),
        [(item_id, 1)],
    )
    few = [StockWrite("SKU-1", "DEFAULT", 4, None)]
    many = [StockWrite(f"SKU-{n}", "DEFAULT", n, None) for n in range(12)]
    adapter.write_stock(few, "k1")
    submitted = adapter.write_stock(many, "k2")
    sim.clock.advance(300)
    assert adapter.check_submission(submitted.submission, submitted.pending).applied
    adapter.read_stock([("SKU-1", "DEFAULT"), ("SKU-2", "DEFAULT")])
    list(adapter.iter_stock("DEFAULT"))
    adapter.test_connection()

    checked = validate_all(adapter, sim)
    assert checked == {
        "searchOrders",
        "getOrder",
        "confirmShipment",
        "patchListingsItem",
        "searchListingsItems",
        "createFeedDocument",
        "createFeed",
        "getFeed",
        "getFeedDocument",
        "feed document",
    }
