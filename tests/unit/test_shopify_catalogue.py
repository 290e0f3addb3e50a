"""The catalogue and webhook-subscription documents of the Shopify adapter
(``lib/catalogue.py``) validate against Shopify's own Admin schemas (skipped,
saying so, where ``../shared/shopify-admin-schema`` is absent) and against
the simulator's; and the plain helpers that read their answers."""

import pytest
from graphql import parse, validate

from odoo.addons.marketplace_connector.lib.errors import DataError
from odoo.addons.marketplace_shopify.lib import catalogue


class RecordingClient:
    def __init__(self, answers=()):
        self.calls = []
        self.answers = list(answers)

    def graphql(self, query, variables=None):
        self.calls.append((query, variables))
        return self.answers.pop(0) if self.answers else {}


def documents():
    client = RecordingClient()
    catalogue.lookup_variants(client, ["4711", "4712"])
    return {
        "CatalogueLocations": catalogue.LOCATIONS,
        "CatalogueVariants": catalogue.VARIANTS,
        "WebhookSubscriptions": catalogue.SUBSCRIPTIONS,
        "Subscribe": catalogue.SUBSCRIBE,
        "LookupVariants": client.calls[0][0],
    }


def test_catalogue_documents_validate_against_shopifys_schema(shopify_schema):
    for name, document in documents().items():
        errors = validate(shopify_schema, parse(document))
        assert not errors, f"{name}: {errors}"


def test_catalogue_documents_validate_against_the_simulator():
    from marketplace_sim.shopify import graphql_api

    schema = graphql_api.schema_for("2026-10")
    for name, document in documents().items():
        errors = validate(schema, parse(document))
        assert not errors, f"{name} against the simulator: {errors}"


def test_topic_names_round_trip():
    for topic in ("orders/create", "inventory_levels/update", "products/delete"):
        assert catalogue.topic_name(catalogue.topic_enum(topic)) == topic
    assert catalogue.topic_enum("inventory_items/update") == "INVENTORY_ITEMS_UPDATE"


def test_subscription_report_names_missing_and_foreign():
    ours = "https://odoo.example.com/marketplace/webhook/abc"
    report = catalogue.compare_subscriptions(
        [
            ("gid://1", "orders/create", ours),
            ("gid://2", "orders/paid", "https://old.example.com/hook"),
        ],
        ("orders/create", "orders/paid"),
        ours,
    )
    assert report.missing == ("orders/paid",)
    assert report.foreign == (("orders/paid", "https://old.example.com/hook"),)
    assert "orders/paid" in report.describe()
    assert "old.example.com" in report.describe()
    full = catalogue.compare_subscriptions(
        [("gid://1", "orders/create", ours)], ("orders/create",), ours
    )
    assert full.describe().startswith("All 1 webhook topics")


def test_variant_page_and_lookup_parsing():
    client = RecordingClient(
        [
            {
                "productVariants": {
                    "nodes": [
                        {
                            "id": "gid://shopify/ProductVariant/11",
                            "legacyResourceId": "11",
                            "sku": " MUG ",
                            "displayName": "Mug - Default Title",
                            "inventoryItem": {"legacyResourceId": "21"},
                        }
                    ],
                    "pageInfo": {"hasNextPage": True, "endCursor": "c1"},
                }
            },
            {"v0": None, "v1": {"legacyResourceId": "12", "sku": "", "id": "x"}},
        ]
    )
    variants, cursor = catalogue.read_variant_page(client)
    assert cursor == "c1"
    assert variants == [catalogue.ShopVariant("11", "MUG", "Mug - Default Title", "21")]
    found = catalogue.lookup_variants(client, ["11", "12"])
    assert found["11"] is None
    assert found["12"].variant_id == "12" and found["12"].inventory_item_id == ""
    with pytest.raises(ValueError):
        catalogue.lookup_variants(client, [str(n) for n in range(101)])


def test_subscribe_raises_shopifys_user_errors():
    client = RecordingClient(
        [
            {
                "webhookSubscriptionCreate": {
                    "webhookSubscription": None,
                    "userErrors": [
                        {"field": ["webhookSubscription"], "message": "bad"}
                    ],
                }
            }
        ]
    )
    with pytest.raises(DataError, match="orders/create: bad"):
        catalogue.subscribe(client, "orders/create", "https://x.example.com")
    assert client.calls[0][1] == {
        "topic": "ORDERS_CREATE",
        "uri": "https://x.example.com",
    }


def test_product_payload_variants():
    variants = catalogue.product_variants(
        {
            "id": 1,
            "title": "Tee",
            "variants": [
                {"id": 2, "sku": "TEE-S", "title": "S", "inventory_item_id": 3},
                {"id": 4, "sku": None, "title": "Default Title"},
            ],
        }
    )
    assert variants[0] == catalogue.ShopVariant("2", "TEE-S", "Tee - S", "3")
    assert variants[1] == catalogue.ShopVariant("4", "", "Tee", "")
    with pytest.raises(DataError):
        catalogue.product_variants({"title": "no id"})
