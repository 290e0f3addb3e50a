# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
{
    "name": "Marketplace Connector: Shopify",
    "summary": "Shopify adapter: signed webhooks, Admin API client, order mapping",
    "version": "18.0.3.0.0",
    "category": "Sales/Sales",
    "website": "https://github.com/marketplace-connector/marketplace-connector",
    "author": "Marketplace Connector contributors",
    "license": "AGPL-3",
    "installable": True,
    "depends": ["marketplace_connector"],
    "external_dependencies": {"python": ["requests"]},
    "data": [
        "security/shopify_financial_state_security.xml",
        "data/shopify_financial_state_data.xml",
        "security/ir.model.access.csv",
        "views/marketplace_backend_views.xml",
        "views/marketplace_catalogue_views.xml",
    ],
    "assets": {
        # browser tours (tests/test_tours.py)
        "web.assets_tests": ["marketplace_shopify/static/tests/tours/*.js"],
    },
}
