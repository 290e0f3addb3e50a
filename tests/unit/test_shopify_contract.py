"""Every GraphQL document the Shopify adapter sends validates against the
Admin API schemas Shopify itself answers with (``../shared/shopify-admin-
schema``, one SDL file per API version), so the adapter cannot drift from
the real API unnoticed. Skipped, saying so, where those files are absent."""

import pathlib

import pytest
from graphql import build_schema, parse, validate

from odoo.addons.marketplace_shopify.lib import adapter, inventory, polling

SCHEMAS = (
    pathlib.Path(__file__).resolve().parents[3] / "shared" / "shopify-admin-schema"
)
VERSIONS = ("2026-04", "2026-07")


class RecordingClient:
    """Keeps the documents ``read_stock`` builds (it answers nothing)."""

    def __init__(self):
        self.documents = []

    def graphql(self, query, variables=None):
        self.documents.append(query)
        return {}


def documents():
    client = RecordingClient()
    inventory.read_stock(client, [("4711", "88"), ("4712", "88")])
    return {
        "ShopName": adapter.SHOP_QUERY,
        "SetAvailable": inventory.SET_QUANTITIES,
        "ItemsAtLocation": inventory.ITEMS_AT_LOCATION,
        "ReadLevels": client.documents[0],
        "PollOrderStates": polling.LIST_ORDERS,
        "PollOrder": polling.FULL_ORDER,
        "OrderLines": polling.ORDER_LINES,
    }


@pytest.mark.parametrize("version", VERSIONS)
def test_adapter_documents_validate_against_shopifys_schema(version):
    path = SCHEMAS / f"{version}.graphql"
    if not path.exists():
        pytest.skip(f"Shopify's Admin schema is not at {path}: contract test skipped")
    schema = build_schema(path.read_text(encoding="utf-8"))
    for name, document in documents().items():
        errors = validate(schema, parse(document))
        assert not errors, f"{name} against {version}: {errors}"
