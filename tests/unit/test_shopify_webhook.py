"""Shopify webhook intake without Odoo: the HMAC check on raw bytes and the
adapter's checks, in the order that never trusts an unsigned body."""

import base64
import copy
import hashlib
import hmac
import json

import pytest
from marketplace_sim.shopify import webhook_headers
from requests.structures import CaseInsensitiveDict

from odoo.addons.marketplace_connector.lib.adapter import (
    BackendConfig,
    get_adapter_class,
)
from odoo.addons.marketplace_connector.lib.errors import WebhookRejected
from odoo.addons.marketplace_shopify.lib.adapter import ShopifyAdapter
from odoo.addons.marketplace_shopify.lib.webhook import compute_hmac, verify_hmac

SHOP = "acme-test.myshopify.com"
SECRET = "whsec-current-4f1d2c3b"
PREVIOUS = "whsec-previous-9a8b7c6d"
ACCESS_TOKEN = "shpat_test_access_0123456789abcdef"

ORDER = {
    "id": 5890155118657,
    "admin_graphql_api_id": "gid://shopify/Order/5890155118657",
    "name": "#1001",
    "order_number": 1001,
    "email": "jane@example.com",
    "created_at": "2026-11-23T10:00:00-05:00",
    "updated_at": "2026-11-23T10:00:05-05:00",
    "currency": "USD",
    "total_price": "21.99",
    "subtotal_price": "19.99",
    "total_tax": "0.00",
    "total_discounts": "0.00",
    "taxes_included": False,
    "financial_status": "paid",
    "fulfillment_status": None,
    "cancelled_at": None,
    "customer": None,
    "shipping_address": None,
    "billing_address": None,
    "line_items": [
        {
            "id": 13582610718785,
            "variant_id": 44110056177729,
            "product_id": 8157240901697,
            "sku": "MUG-BLUE",
            "title": "Mug Blue",
            "quantity": 1,
            "price": "19.99",
            "total_discount": "0.00",
            "fulfillable_quantity": 1,
            "requires_shipping": True,
            "tax_lines": [],
        }
    ],
    "shipping_lines": [
        {"title": "Standard", "code": "Standard", "price": "2.00", "tax_lines": []}
    ],
}


def body_of(payload):
    return json.dumps(payload).encode()


def headers_for(body, secret=SECRET, **overrides):
    return webhook_headers(
        body, secret, SHOP, triggered_at="2026-11-23T15:00:05.877041743Z", **overrides
    )


@pytest.fixture
def adapter():
    config = BackendConfig(
        backend_id=1,
        name="Acme",
        api_url="https://acme-test.myshopify.com",
        settings={"shop_domain": SHOP, "api_version": "2026-10"},
        credentials={
            "access_token": ACCESS_TOKEN,
            "webhook_secret": SECRET,
            "webhook_secret_previous": PREVIOUS,
        },
    )
    return ShopifyAdapter(config)


def rejected(adapter, headers, body):
    with pytest.raises(WebhookRejected) as info:
        adapter.verify_webhook(headers, body)
    return info.value


# verify_hmac


def test_signature_is_base64_hmac_sha256_of_the_raw_body():
    # computed independently: printf '{"id":1}' | openssl dgst -sha256 -hmac ...
    assert compute_hmac(b'{"id":1}', SECRET) == (
        "ABMMbExkF5vt8KMHsioCnD6xSr0COcGe5qrqF1nbuYg="
    )
    assert verify_hmac(
        b'{"id":1}', "ABMMbExkF5vt8KMHsioCnD6xSr0COcGe5qrqF1nbuYg=", [SECRET]
    )


def test_current_and_previous_secrets_are_accepted_in_either_order():
    body = body_of(ORDER)
    for secret in (SECRET, PREVIOUS):
        assert verify_hmac(body, compute_hmac(body, secret), [SECRET, PREVIOUS])
    assert not verify_hmac(body, compute_hmac(body, "whsec-other"), [SECRET, PREVIOUS])


def test_any_change_to_the_bytes_breaks_the_signature():
    body = body_of(ORDER)
    signature = compute_hmac(body, SECRET)
    reserialised = json.dumps(json.loads(body), indent=1).encode()
    assert not verify_hmac(reserialised, signature, [SECRET])
    tampered = body.replace(b"21.99", b"01.99")
    assert not verify_hmac(tampered, signature, [SECRET])


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "not base64 at all!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(b"x" * 32).decode(),  # right length, wrong value
        b"\xff\xfe",
        12345,
    ],
)
def test_missing_or_garbled_header_is_false_not_an_exception(header):
    assert verify_hmac(b"{}", header, [SECRET]) is False


def test_no_usable_secret_verifies_nothing():
    body = b"{}"
    empty_key_signature = base64.b64encode(
        hmac.new(b"", body, hashlib.sha256).digest()
    ).decode()
    assert not verify_hmac(body, empty_key_signature, [])
    assert not verify_hmac(body, empty_key_signature, ["", None])


def test_header_as_bytes_and_with_whitespace_is_accepted():
    body = b"{}"
    signature = compute_hmac(body, SECRET)
    assert verify_hmac(body, signature.encode(), [SECRET])
    assert verify_hmac(body, f" {signature}\n", [SECRET])


# ShopifyAdapter.verify_webhook


def test_adapter_is_registered_for_shopify():
    assert get_adapter_class("shopify") is ShopifyAdapter


def test_valid_delivery_describes_the_order_state(adapter):
    body = body_of(ORDER)
    event = adapter.verify_webhook(headers_for(body), body)
    assert event.topic == "orders/create"
    assert event.source == "webhook"
    assert event.resource_type == "order"
    assert event.external_id == "5890155118657"
    assert event.payload == ORDER
    assert event.external_updated_at.isoformat() == "2026-11-23T15:00:05"
    assert event.dedupe_key.startswith("order:5890155118657:2026-11-23T15:00:05:")
    assert event.headers == {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Webhook-Id": "3f2b9a5e-4c1d-4e8f-9a7b-0c1d2e3f4a5b",
        "X-Shopify-Event-Id": "98a2c3f5-1b4d-4e6f-8a9b-1c2d3e4f5a6b",
        "X-Shopify-Triggered-At": "2026-11-23T15:00:05.877041743Z",
    }


def test_header_names_are_case_insensitive(adapter):
    body = body_of(ORDER)
    lowered = {name.lower(): value for name, value in headers_for(body).items()}
    event = adapter.verify_webhook(lowered, body)  # HTTP/2 lowercases names
    assert event.external_id == "5890155118657"
    assert "X-Shopify-Hmac-Sha256" not in event.headers
    mapping = CaseInsensitiveDict(headers_for(body))
    assert adapter.verify_webhook(mapping, body).dedupe_key == event.dedupe_key


def test_previous_secret_is_accepted_during_rotation(adapter):
    body = body_of(ORDER)
    event = adapter.verify_webhook(headers_for(body, secret=PREVIOUS), body)
    assert event.external_id == "5890155118657"


def test_missing_signature_is_401_before_anything_else(adapter):
    body = b"not even json"
    headers = headers_for(body, Hmac_Sha256=None, Topic=None, Shop_Domain="x.com")
    error = rejected(adapter, headers, body)
    assert error.status == 401
    assert "X-Shopify-Hmac-Sha256" in error.reason


def test_bad_signature_is_401_before_header_and_shop_checks(adapter):
    body = body_of(ORDER)
    headers = headers_for(body, secret="not-the-secret", Topic=None)
    headers["X-Shopify-Shop-Domain"] = "intruder.myshopify.com"
    assert rejected(adapter, headers, body).status == 401


def test_signature_is_checked_on_the_bytes_received(adapter):
    body = body_of(ORDER)
    headers = headers_for(body)
    assert rejected(adapter, headers, body + b" ").status == 401


def test_no_configured_secret_refuses_every_delivery(adapter):
    config = adapter.config
    bare = ShopifyAdapter(
        BackendConfig(
            backend_id=1,
            name="Acme",
            api_url=config.api_url,
            settings={"shop_domain": SHOP},
        )
    )
    body = body_of(ORDER)
    error = rejected(bare, headers_for(body), body)
    assert error.status == 401
    assert "secret" in error.reason


@pytest.mark.parametrize("header", ["Topic", "Shop_Domain", "Webhook_Id"])
def test_missing_required_header_is_400(adapter, header):
    body = body_of(ORDER)
    error = rejected(adapter, headers_for(body, **{header: None}), body)
    assert error.status == 400
    assert header.replace("_", "-") in error.reason


def test_other_shop_is_403_and_domain_case_does_not_matter(adapter):
    body = body_of(ORDER)
    error = rejected(
        adapter, headers_for(body, Shop_Domain="other.myshopify.com"), body
    )
    assert error.status == 403
    event = adapter.verify_webhook(
        headers_for(body, Shop_Domain="ACME-Test.MyShopify.com"), body
    )
    assert event.external_id == "5890155118657"


def test_wrong_shop_is_403_before_the_body_is_read(adapter):
    body = b"{not json"
    assert (
        rejected(adapter, headers_for(body, Shop_Domain="x.myshopify.com"), body).status
        == 403
    )


@pytest.mark.parametrize(
    "body", [b'{"id": 1,', b"[1, 2, 3]", b'"text"', b"\xff\xfe not utf-8", b""]
)
def test_body_that_is_not_a_json_object_is_400(adapter, body):
    assert rejected(adapter, headers_for(body), body).status == 400


def test_body_is_checked_before_the_topic(adapter):
    body = b"[]"
    assert (
        rejected(adapter, headers_for(body, Topic="carts/update"), body).status == 400
    )


def test_unknown_topic_is_acknowledged_with_200(adapter):
    body = body_of({"id": 1, "token": "cart-token"})
    error = rejected(adapter, headers_for(body, Topic="carts/update"), body)
    assert error.status == 200
    assert "ignored topic carts/update" in error.reason


@pytest.mark.parametrize("topic", ShopifyAdapter.TOPICS)
def test_every_order_topic_is_accepted(adapter, topic):
    body = body_of(ORDER)
    assert adapter.verify_webhook(headers_for(body, Topic=topic), body).topic == topic


@pytest.mark.parametrize("missing", ["id", "updated_at"])
def test_order_without_id_or_updated_at_is_400(adapter, missing):
    payload = copy.deepcopy(ORDER)
    del payload[missing]
    body = body_of(payload)
    error = rejected(adapter, headers_for(body), body)
    assert error.status == 400
    assert missing.replace("_", "") in error.reason.replace("_", "")


def test_same_state_through_two_topics_makes_one_dedupe_key(adapter):
    # orders/create and orders/paid of one state: one event in the inbox
    body = body_of(ORDER)
    created = adapter.verify_webhook(headers_for(body), body)
    paid = adapter.verify_webhook(
        headers_for(body, Topic="orders/paid", Webhook_Id="another-delivery"), body
    )
    assert created.dedupe_key == paid.dedupe_key


def test_inventory_level_delivery_becomes_a_level_event(adapter):
    payload = {
        "inventory_item_id": 46208408633409,
        "location_id": 71305429057,
        "available": 48,
        "updated_at": "2026-11-23T10:00:00-05:00",
        "admin_graphql_api_id": "gid://shopify/InventoryLevel/1",
    }
    body = body_of(payload)
    event = adapter.verify_webhook(
        headers_for(body, Topic="inventory_levels/update"), body
    )
    assert event.resource_type == "inventory_level"
    assert event.external_id == "46208408633409:71305429057"
    assert event.dedupe_key == (
        "inventory_level:46208408633409:71305429057:2026-11-23T15:00:00:48"
    )
    del payload["location_id"]
    body = body_of(payload)
    headers = headers_for(body, Topic="inventory_levels/update")
    assert rejected(adapter, headers, body).status == 400
