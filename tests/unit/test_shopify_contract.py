"""Every GraphQL document the Shopify adapter sends validates against the
Admin API schemas Shopify itself answers with (``../shared/shopify-admin-
schema``, one SDL file per API version), so the adapter cannot drift from
the real API unnoticed. Skipped, saying so, where those files are absent."""

from graphql import parse, validate

from odoo.addons.marketplace_shopify.lib import adapter, inventory, polling


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


def test_adapter_documents_validate_against_shopifys_schema(shopify_schema):
    for name, document in documents().items():
        errors = validate(shopify_schema, parse(document))
        assert not errors, f"{name}: {errors}"
