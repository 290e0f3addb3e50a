"""Quantities on Amazon: the feed document and its processing report (pure),
then PATCHes, feeds, reads and reconciliation against the simulator."""

import json

import pytest
from test_amazon_support import MODELS, SELLER, RecordingGate, make_adapter, make_sim

from odoo.addons.marketplace_amazon.lib import feeds
from odoo.addons.marketplace_amazon.lib.adapter import AmazonAdapter
from odoo.addons.marketplace_connector.lib.stock import StockWrite, StockWriteResult


def writes(count, start=0, location="DEFAULT"):
    return [
        StockWrite(f"SKU-{number:03d}", location, number % 7, None)
        for number in range(start, start + count)
    ]


# The document and the report


def test_feed_document_messages_in_write_order():
    document = feeds.build_feed(SELLER, writes(3))
    assert document["header"] == {
        "sellerId": SELLER,
        "version": "2.0",
        "issueLocale": "en_US",
    }
    assert [m["messageId"] for m in document["messages"]] == [1, 2, 3]
    message = document["messages"][1]
    assert message == {
        "messageId": 2,
        "sku": "SKU-001",
        "operationType": "PATCH",
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 1}],
            }
        ],
    }
    with pytest.raises(ValueError):
        feeds.build_feed(SELLER, [])


def test_feed_document_validates_against_amazons_schema():
    contract = pytest.importorskip("marketplace_sim.amazon.contract")
    if not contract.models_available():
        pytest.skip(f"Amazon's models are not at {MODELS}: schema check skipped")
    contract.Contract.load().validate_feed(feeds.build_feed(SELLER, writes(25)))


def test_report_issues_per_message():
    sent = writes(4)
    report = {
        "header": {"sellerId": SELLER, "version": "2.0", "feedId": "1"},
        "issues": [
            {"messageId": 2, "sku": "SKU-001", "severity": "ERROR", "message": "Bad"},
            {"messageId": 2, "sku": "SKU-001", "severity": "ERROR", "message": "Worse"},
            {"messageId": 3, "sku": "SKU-002", "severity": "WARNING", "message": "Meh"},
        ],
        "summary": {
            "messagesProcessed": 4,
            "messagesAccepted": 3,
            "messagesInvalid": 1,
        },
    }
    result = feeds.parse_report(report, sent)
    assert result.applied == (sent[0], sent[2], sent[3])
    assert result.errors == ((sent[1], "SKU SKU-001: Bad; Worse"),)


def test_report_of_amazons_example():
    path = (
        MODELS / "schemas/feeds/listings-feed-processing-report-schema-v2.example.json"
    )
    if not path.is_file():
        pytest.skip(f"Amazon's example report is not at {path}")
    report = json.loads(path.read_text())
    sent = writes(5)
    result = feeds.parse_report(report, sent)
    assert [w.item_ref for w, _m in result.errors] == ["SKU-003", "SKU-004"]
    assert "batteries_required" in result.errors[0][1]
    assert len(result.applied) == 3


def test_feed_level_error_fails_every_write():
    sent = writes(2)
    report = {
        "issues": [{"code": "1", "severity": "ERROR", "message": "Not a feed"}],
        "summary": {"messagesProcessed": 0, "messagesAccepted": 0},
    }
    result = feeds.parse_report(report, sent)
    assert result.applied == ()
    assert [m for _w, m in result.errors] == [
        "SKU SKU-000: the feed was refused: Not a feed",
        "SKU SKU-001: the feed was refused: Not a feed",
    ]


# Against the simulator


@pytest.fixture
def sim():
    simulator = make_sim()
    for number in range(30):
        simulator.add_listing(f"SKU-{number:03d}", quantity=100)
    yield simulator
    simulator.stop()


@pytest.fixture
def gate():
    return RecordingGate()


@pytest.fixture
def adapter(sim, gate):
    return make_adapter(sim, gate)


def test_abilities():
    abilities = AmazonAdapter.stock_abilities
    assert abilities.compare_and_set is False
    assert abilities.asynchronous is True
    assert abilities.batch_size == 25_000


def test_few_writes_are_patches(sim, adapter, gate):
    sent = [*writes(2), StockWrite("NO-SUCH-SKU", "DEFAULT", 3, None)]
    result = adapter.write_stock(sent, "key-1")
    assert result.applied == tuple(sent[:2])
    assert result.submission is None
    [(write, message)] = result.errors
    assert write.item_ref == "NO-SUCH-SKU"
    assert message.startswith("SKU NO-SUCH-SKU: ") and "no listing" in message
    assert [family for family, _cost in gate.reserved] == ["patchListingsItem"] * 3
    sim.clock.advance(60)
    assert sim.listing_quantity("SKU-001") == 1


def test_writes_amazon_cannot_take_are_refused_locally(adapter, gate):
    bad = [StockWrite("SKU-000", "WAREHOUSE-2", 1, None)]
    bad.append(StockWrite("SKU-001", "DEFAULT", -1, None))
    result = adapter.write_stock(bad, "key")
    assert len(result.errors) == 2 and not result.applied
    assert gate.reserved == []


def test_many_writes_are_one_feed(sim, adapter, gate):
    sent = writes(12)
    result = adapter.write_stock(sent, "key-2")
    assert result.submission and result.pending == tuple(sent)
    assert result.applied == () and result.errors == ()
    assert [f for f, _c in gate.reserved] == ["createFeedDocument", "createFeed"]
    upload = next(r for r in adapter.client.session.sent if r.method == "PUT")
    assert upload.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert "x-amz-access-token" not in upload.headers
    assert json.loads(upload.body)["messages"][11]["sku"] == "SKU-011"

    assert adapter.check_submission(result.submission, sent) is None  # IN_QUEUE
    sim.clock.advance(60)
    assert adapter.check_submission(result.submission, sent) is None  # IN_PROGRESS
    sim.clock.advance(120)
    outcome = adapter.check_submission(result.submission, sent)
    assert isinstance(outcome, StockWriteResult)
    assert outcome.applied == tuple(sent) and outcome.errors == ()
    assert sim.listing_quantity("SKU-010") == 10 % 7


def test_feed_with_an_unknown_sku(sim, adapter):
    sent = [*writes(11), StockWrite("GHOST", "DEFAULT", 5, None)]
    result = adapter.write_stock(sent, "key-3")
    sim.clock.advance(300)
    outcome = adapter.check_submission(result.submission, result.pending)
    assert outcome.applied == tuple(sent[:11])
    [(write, message)] = outcome.errors
    assert write.item_ref == "GHOST" and message.startswith("SKU GHOST: ")


def test_fatal_feed_fails_every_write(sim, adapter):
    feed_document = sim.feeds.new_document("application/json", b"{not json")
    response = adapter.client.call(
        "createFeed",
        "POST",
        "/feeds/2021-06-30/feeds",
        body={
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": ["ATVPDKIKX0DER"],
            "inputFeedDocumentId": feed_document.document_id,
        },
    )
    sim.clock.advance(300)
    sent = writes(2)
    outcome = adapter.check_submission(response["feedId"], sent)
    assert outcome.applied == ()
    assert [w for w, _m in outcome.errors] == sent
    assert "FATAL" in outcome.errors[0][1] and "not valid JSON" in outcome.errors[0][1]


def test_patch_threshold_setting(sim, gate):
    adapter = make_adapter(sim, gate, patch_threshold=0)
    result = adapter.write_stock(writes(1), "key")
    assert result.submission


def test_read_stock_in_batches_of_twenty(sim, adapter, gate):
    pairs = [(f"SKU-{n:03d}", "DEFAULT") for n in range(25)] + [("GHOST", "DEFAULT")]
    quantities = adapter.read_stock(pairs)
    assert len(quantities) == 25
    assert quantities[("SKU-004", "DEFAULT")] == 100
    assert [f for f, _c in gate.reserved] == ["searchListingsItems"] * 2


def test_iter_stock_pages_every_listing(sim, adapter):
    pages = list(adapter.iter_stock("DEFAULT"))
    assert [len(page) for page in pages] == [20, 10]
    merged = {sku: quantity for page in pages for sku, quantity in page.items()}
    assert merged["SKU-029"] == 100 and len(merged) == 30
    assert list(adapter.iter_stock("ELSEWHERE")) == []


def test_rate_limits(adapter):
    limits = adapter.rate_limits()
    assert limits["createFeed"].maximum == 5
    assert limits["createFeed"].restore_rate == pytest.approx(1 / 60)
