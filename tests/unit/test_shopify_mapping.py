"""Shopify's REST Order resource to the channel-neutral Order, the order
state digest and the inbox event, on realistic payloads."""

import copy
import datetime
import json
import re
from decimal import Decimal

import pytest

from odoo.addons.marketplace_connector.lib.errors import DataError
from odoo.addons.marketplace_connector.lib.order import Address, Customer, TaxRate
from odoo.addons.marketplace_shopify.lib.mapping import (
    order_digest,
    order_event,
    parse_datetime,
    parse_order,
)

# An order as Shopify serialises it (API 2026-10), trimmed of the money bags
# (``*_set``) we do not read: 20% VAT included, a 10% discount code, a
# shipping line discounted from 10.00 to 5.00, shop time zone UTC-5.
ORDER = {
    "id": 5890155118657,
    "admin_graphql_api_id": "gid://shopify/Order/5890155118657",
    "name": "#1042",
    "order_number": 1042,
    "number": 42,
    "email": "jane.doe@example.com",
    "contact_email": "jane.doe@example.com",
    "phone": None,
    "created_at": "2026-11-23T10:00:00-05:00",
    "updated_at": "2026-11-23T10:05:30-05:00",
    "processed_at": "2026-11-23T10:00:00-05:00",
    "closed_at": None,
    "cancelled_at": None,
    "cancel_reason": None,
    "confirmed": True,
    "test": False,
    "source_name": "web",
    "currency": "EUR",
    "presentment_currency": "EUR",
    "taxes_included": True,
    "total_line_items_price": "89.97",
    "subtotal_price": "80.97",
    "total_discounts": "9.00",
    "total_tax": "14.33",
    "total_price": "85.97",
    "financial_status": "paid",
    "fulfillment_status": None,
    "note": "Leave at the door",
    "tags": "vip",
    "customer": {
        "id": 7201113768001,
        "email": "jane.doe@example.com",
        "first_name": "Jane",
        "last_name": "Doe",
        "phone": "+33612345678",
        "state": "enabled",
    },
    "shipping_address": {
        "first_name": "Jane",
        "last_name": "Doe",
        "company": None,
        "address1": "12 Rue de la Paix",
        "address2": "Bât. B",
        "city": "Paris",
        "province": None,
        "province_code": None,
        "zip": "75002",
        "country": "France",
        "country_code": "FR",
        "phone": "+33612345678",
    },
    "billing_address": {
        "first_name": "Jane",
        "last_name": "Doe",
        "company": "Doe SARL",
        "address1": "1 Avenue Foch",
        "address2": "",
        "city": "Lyon",
        "province": None,
        "province_code": None,
        "zip": "69006",
        "country": "France",
        "country_code": "FR",
        "phone": None,
    },
    "line_items": [
        {
            "id": 13582610718785,
            "admin_graphql_api_id": "gid://shopify/LineItem/13582610718785",
            "variant_id": 44110056177729,
            "product_id": 8157240901697,
            "sku": "MUG-BLUE",
            "title": "Mug Blue",
            "name": "Mug Blue",
            "quantity": 2,
            "price": "19.99",
            "total_discount": "4.00",
            "discount_allocations": [
                {"amount": "4.00", "discount_application_index": 0}
            ],
            "fulfillable_quantity": 2,
            "fulfillment_status": None,
            "requires_shipping": True,
            "taxable": True,
            "tax_lines": [{"title": "TVA", "rate": 0.2, "price": "6.00"}],
        },
        {
            "id": 13582610751553,
            "admin_graphql_api_id": "gid://shopify/LineItem/13582610751553",
            "variant_id": 44110056210497,
            "product_id": 8157240934465,
            "sku": "TEE-L",
            "title": "T-shirt L",
            "name": "T-shirt L",
            "quantity": 1,
            "price": "49.99",
            "total_discount": "5.00",
            "discount_allocations": [
                {"amount": "5.00", "discount_application_index": 0}
            ],
            "fulfillable_quantity": 1,
            "fulfillment_status": None,
            "requires_shipping": True,
            "taxable": True,
            "tax_lines": [{"title": "TVA", "rate": 0.2, "price": "7.50"}],
        },
    ],
    "shipping_lines": [
        {
            "id": 4887113613377,
            "title": "Colissimo",
            "code": "COLISSIMO",
            "source": "shopify",
            "price": "10.00",
            "discounted_price": "5.00",
            "tax_lines": [{"title": "TVA", "rate": 0.2, "price": "0.83"}],
        }
    ],
    "discount_codes": [{"code": "SAVE10", "amount": "9.00", "type": "percentage"}],
}


def order(**overrides):
    payload = copy.deepcopy(ORDER)
    payload.update(overrides)
    return payload


def naive(text):
    return datetime.datetime.fromisoformat(text)


# parse_order


def test_full_order_maps_every_field():
    result = parse_order(order())
    assert result.external_id == "5890155118657"
    assert result.name == "#1042"
    assert result.currency == "EUR"
    assert result.created_at == naive("2026-11-23T15:00:00")
    assert result.updated_at == naive("2026-11-23T15:05:30")
    assert result.created_at.tzinfo is None
    assert result.taxes_included is True
    assert result.financial_status == "paid"
    assert result.fulfillment_status == ""
    assert result.cancelled_at is None
    assert not result.is_cancelled
    assert result.cancel_reason == ""
    assert result.total_price == Decimal("85.97")
    assert result.total_tax == Decimal("14.33")
    assert result.total_discounts == Decimal("9.00")
    assert result.note == "Leave at the door"
    assert result.test is False
    assert result.digest == order_digest(ORDER)
    assert result.customer == Customer(
        external_id="7201113768001",
        email="jane.doe@example.com",
        first_name="Jane",
        last_name="Doe",
        phone="+33612345678",
    )
    assert result.shipping_address == Address(
        first_name="Jane",
        last_name="Doe",
        street="12 Rue de la Paix",
        street2="Bât. B",
        city="Paris",
        zip="75002",
        country_code="FR",
        phone="+33612345678",
    )
    assert result.billing_address.company == "Doe SARL"
    assert result.billing_address.city == "Lyon"


def test_lines_keep_decimal_money_taxes_and_discounts():
    mug, tee = parse_order(order()).lines
    assert mug.external_id == "13582610718785"
    assert mug.sku == "MUG-BLUE"
    assert mug.variant_id == "44110056177729"
    assert mug.title == "Mug Blue"
    assert mug.quantity == Decimal(2)
    assert mug.price_unit == Decimal("19.99")
    assert isinstance(mug.price_unit, Decimal)
    assert mug.discount_amount == Decimal("4.00")
    assert mug.taxes == (TaxRate(title="TVA", rate=Decimal("0.2")),)
    assert mug.requires_shipping is True
    assert tee.discount_amount == Decimal("5.00")


def test_shipping_discount_is_price_minus_discounted_price():
    (shipping,) = parse_order(order()).shipping_lines
    assert shipping.title == "Colissimo"
    assert shipping.code == "COLISSIMO"
    assert shipping.price == Decimal("10.00")
    assert shipping.discount_amount == Decimal("5.00")
    assert shipping.taxes == (TaxRate("TVA", Decimal("0.2")),)


def test_shipping_line_without_discounted_price_has_no_discount():
    payload = order()
    del payload["shipping_lines"][0]["discounted_price"]
    assert parse_order(payload).shipping_lines[0].discount_amount == Decimal(0)


def test_customer_withheld_without_pii_approval_keeps_the_order_email():
    payload = order(customer=None, shipping_address=None, billing_address=None)
    result = parse_order(payload)
    assert result.customer == Customer(email="jane.doe@example.com")
    assert result.shipping_address.is_empty()
    assert result.billing_address.is_empty()


def test_customer_without_email_falls_back_to_the_order_email():
    payload = order()
    payload["customer"]["email"] = None
    assert parse_order(payload).customer.email == "jane.doe@example.com"


def test_cancelled_order_and_fulfillment_status():
    payload = order(
        cancelled_at="2026-11-24T08:00:00-05:00",
        cancel_reason="customer",
        financial_status="VOIDED",
        fulfillment_status="partial",
    )
    result = parse_order(payload)
    assert result.is_cancelled
    assert result.cancelled_at == naive("2026-11-24T13:00:00")
    assert result.cancel_reason == "customer"
    assert result.financial_status == "voided"
    assert result.fulfillment_status == "partial"


def test_discount_only_in_allocations_is_used():
    # Shopify documents discount_allocations as the source of truth; some
    # discounts leave total_discount at 0.00
    payload = order()
    payload["line_items"][0]["total_discount"] = "0.00"
    assert parse_order(payload).lines[0].discount_amount == Decimal("4.00")


def test_line_details():
    payload = order()
    line = payload["line_items"][0]
    line.update(sku=None, variant_id=None, requires_shipping=False, tax_lines=None)
    result = parse_order(payload).lines[0]
    assert (result.sku, result.variant_id, result.taxes) == ("", "", ())
    assert result.requires_shipping is False


def test_name_falls_back_to_order_number():
    payload = order()
    del payload["name"]
    assert parse_order(payload).name == "#1042"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"id": None}, "has no id"),
        ({"id": "abc"}, "invalid id"),
        ({"currency": "euro"}, "ISO 4217"),
        ({"currency": None}, "ISO 4217"),
        ({"total_price": "lots"}, "total_price is not a number"),
        ({"total_price": None}, "total_price is missing"),
        ({"updated_at": "yesterday"}, "updated_at is not an ISO 8601 date"),
        ({"line_items": []}, "no line items"),
        ({"line_items": "MUG-BLUE x2"}, "line_items is not a list"),
        ({"customer": "Jane"}, "customer is not an object"),
    ],
)
def test_invalid_orders_are_data_errors_naming_the_order(change, words):
    with pytest.raises(DataError, match=words) as info:
        parse_order(order(**change))
    if change.get("id", 1) not in (None, "abc"):
        assert "#1042" in str(info.value)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("quantity", "two", "quantity of line 13582610718785 (MUG-BLUE)"),
        ("quantity", -1, "is negative"),
        ("price", None, "price of line 13582610718785 (MUG-BLUE) is missing"),
        ("id", None, "Line item 1 has no id"),
        ("total_discount", "NaN", "discount of line"),
    ],
)
def test_invalid_lines_name_the_line(field, value, words):
    payload = order()
    payload["line_items"][0][field] = value
    with pytest.raises(DataError, match=re.escape(words)) as info:
        parse_order(payload)
    assert "Shopify order #1042 (id 5890155118657)" in str(info.value)


def test_non_numeric_tax_rate_is_a_data_error():
    payload = order()
    payload["line_items"][1]["tax_lines"][0]["rate"] = "twenty"
    with pytest.raises(DataError, match="rate of tax 'TVA'"):
        parse_order(payload)


def test_not_a_dict_is_a_data_error():
    with pytest.raises(DataError):
        parse_order(["not", "an", "order"])


def test_data_error_is_chained():
    with pytest.raises(DataError) as info:
        parse_order(order(total_price="x"))
    assert isinstance(info.value.__cause__, DataError)


# timestamps


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T10:00:00-05:00", "2026-11-23T15:00:00"),
        ("2026-11-23T15:00:00Z", "2026-11-23T15:00:00"),
        ("2026-11-23T15:00:00.877041743Z", "2026-11-23T15:00:00.877041"),
        ("2026-11-24T00:30:00+09:30", "2026-11-23T15:00:00"),
        ("2026-11-23T15:00:00", "2026-11-23T15:00:00"),
    ],
)
def test_timestamps_become_naive_utc(text, expected):
    moment = parse_datetime(text)
    assert moment.tzinfo is None
    assert moment.isoformat() == expected


# order_digest


def shuffled(payload):
    """The same JSON with every object's keys in reverse order."""

    def reverse(value):
        if isinstance(value, dict):
            return {k: reverse(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reverse(v) for v in value]
        return value

    return reverse(payload)


def test_digest_ignores_key_order_extra_fields_and_spelling():
    base = order_digest(ORDER)
    assert order_digest(shuffled(ORDER)) == base
    assert order_digest(json.loads(json.dumps(ORDER))) == base
    # what only some API versions send, and fields the import ignores
    extra = order(
        note="changed note",
        tags="vip, repeat",
        current_total_price="85.97",
        total_price_set={"shop_money": {"amount": "85.97", "currency_code": "EUR"}},
        merchant_business_entity_id="MTIzNDU2",
        updated_at="2026-11-23T10:09:00-05:00",
    )
    extra["line_items"][0]["current_quantity"] = 2
    extra["line_items"][0]["sales_line_item_group_id"] = None
    assert order_digest(extra) == base
    # the same numbers and instants spelled differently
    spelled = order(
        total_price="85.970", cancelled_at=None, financial_status="PAID", currency="eur"
    )
    spelled["line_items"][0]["quantity"] = "2"
    spelled["line_items"][0]["price"] = "19.990"
    spelled["shipping_lines"][0]["price"] = "10"
    assert order_digest(spelled) == base
    # lines in another order
    swapped = order(line_items=list(reversed(ORDER["line_items"])))
    assert order_digest(swapped) == base


def test_cancelled_at_is_compared_as_an_instant():
    a = order_digest(order(cancelled_at="2026-11-24T08:00:00-05:00"))
    b = order_digest(order(cancelled_at="2026-11-24T13:00:00Z"))
    assert a == b


def mutate_line(field, value):
    payload = order()
    payload["line_items"][0][field] = value
    return payload


@pytest.mark.parametrize(
    "changed",
    [
        order(financial_status="refunded"),
        order(fulfillment_status="fulfilled"),
        order(cancelled_at="2026-11-24T08:00:00-05:00"),
        order(total_price="85.98"),
        order(currency="USD"),
        mutate_line("quantity", 3),
        mutate_line("price", "18.99"),
        mutate_line("total_discount", "0.00"),
        mutate_line("fulfillable_quantity", 0),
        mutate_line("sku", "MUG-RED"),
        mutate_line("variant_id", 1),
        mutate_line("id", 1),
        order(shipping_lines=[dict(ORDER["shipping_lines"][0], price="12.00")]),
        order(line_items=ORDER["line_items"][:1]),
    ],
)
def test_digest_changes_with_every_imported_field(changed):
    assert order_digest(changed) != order_digest(ORDER)


def test_digest_never_fails_on_garbage():
    garbage = {"line_items": "nope", "shipping_lines": [None, 3], "total_price": "x"}
    assert len(order_digest(garbage)) == 64
    assert len(order_digest({})) == 64


# order_event


def test_order_event_dedupe_key_names_id_updated_at_and_state():
    event = order_event(ORDER, "orders/updated", "poll")
    assert event.dedupe_key == (
        f"order:5890155118657:2026-11-23T15:05:30:{order_digest(ORDER)[:16]}"
    )
    assert event.topic == "orders/updated"
    assert event.source == "poll"
    assert event.resource_type == "order"
    assert event.external_id == "5890155118657"
    assert event.external_updated_at == naive("2026-11-23T15:05:30")
    assert event.payload is ORDER
    assert event.headers == {}


def test_webhook_and_poll_of_one_state_share_the_key():
    webhook = order_event(
        ORDER, "orders/create", "webhook", {"X-Shopify-Webhook-Id": "abc"}
    )
    polled = shuffled(order(updated_at="2026-11-23T15:05:30Z", tags="extra"))
    assert order_event(polled, "orders/updated", "poll").dedupe_key == (
        webhook.dedupe_key
    )
    assert webhook.headers == {"X-Shopify-Webhook-Id": "abc"}


def test_a_new_state_makes_a_new_key():
    first = order_event(ORDER, "orders/updated", "webhook").dedupe_key
    later = order(updated_at="2026-11-23T10:06:00-05:00")
    assert order_event(later, "orders/updated", "webhook").dedupe_key != first
    paid = order(financial_status="refunded")
    assert order_event(paid, "orders/updated", "webhook").dedupe_key != first


@pytest.mark.parametrize(
    "payload",
    [order(id=None), order(updated_at=None), order(updated_at="soon"), []],
)
def test_order_event_needs_id_and_updated_at(payload):
    with pytest.raises(DataError):
        order_event(payload, "orders/create", "webhook")


def test_order_event_carries_what_the_order_takes_from_stock():
    event = order_event(copy.deepcopy(ORDER), "orders/create", "webhook")
    assert event.demand_json() == [
        {
            "variant": str(item["variant_id"]),
            "sku": item["sku"],
            "quantity": float(item["quantity"]),
        }
        for item in ORDER["line_items"]
    ]


def test_cancelled_order_takes_nothing_from_stock():
    payload = copy.deepcopy(ORDER)
    payload["cancelled_at"] = "2026-11-23T11:00:00-05:00"
    assert order_event(payload, "orders/cancelled", "webhook").demand == ()


def test_demand_leaves_out_lines_it_cannot_read_without_refusing_the_order():
    payload = copy.deepcopy(ORDER)
    first = payload["line_items"][0]
    payload["line_items"] = [
        dict(first, quantity="many"),
        dict(first, quantity=0),
        dict(first, variant_id=None, sku=""),
        "not a line",
        dict(first, quantity=3),
    ]
    demand = order_event(payload, "orders/create", "webhook").demand
    assert [(line.variant_id, line.quantity) for line in demand] == [
        (str(first["variant_id"]), 3.0)
    ]
