# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
{
    "name": "Marketplace Connector: Amazon",
    "summary": "Amazon adapter: SP-API orders (v2026-01-01) from SQS "
    "notifications and polling, listings quantities by patch and feed, "
    "shipment confirmations",
    "version": "18.0.1.0.0",
    "category": "Sales/Sales",
    "website": "https://github.com/marketplace-connector/marketplace-connector",
    "author": "Marketplace Connector contributors",
    "license": "AGPL-3",
    "installable": True,
    "depends": ["marketplace_connector"],
    "external_dependencies": {"python": ["requests", "boto3"]},
    "data": ["views/marketplace_backend_views.xml"],
}
