# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
{
    "name": "Marketplace Connector",
    "summary": "Channel-neutral core: backends, signed webhook inbox, "
    "queue_job processing, polling fallback and order import",
    "version": "18.0.3.0.0",
    "category": "Sales/Sales",
    "website": "https://github.com/marketplace-connector/marketplace-connector",
    "author": "Marketplace Connector contributors",
    "license": "AGPL-3",
    "application": True,
    "installable": True,
    "depends": ["sale_stock", "stock_delivery", "queue_job"],
    # as a server-wide module, webhooks skip Odoo's request dispatch and the
    # job runner wakes up every few seconds
    "post_load": "post_load",
    "external_dependencies": {
        "python": ["cryptography", "requests", "prometheus_client"]
    },
    "data": [
        "security/marketplace_security.xml",
        "security/ir.model.access.csv",
        "security/marketplace_refund_security.xml",
        "security/marketplace_accounting_security.xml",
        "data/queue_job_data.xml",
        "data/ir_cron_data.xml",
        "data/monitoring_data.xml",
        "data/product_data.xml",
        "data/accounting_data.xml",
        "views/marketplace_event_views.xml",
        "views/marketplace_binding_views.xml",
        "views/marketplace_stock_views.xml",
        "views/marketplace_backend_views.xml",
        "views/sale_order_views.xml",
        "views/marketplace_menus.xml",
        "views/marketplace_shipment_views.xml",
        "views/marketplace_refund_views.xml",
        "views/marketplace_reconciliation_views.xml",
        "views/marketplace_overview_views.xml",
        "views/marketplace_tax_mapping_views.xml",
    ],
    "assets": {
        # browser tours (tests/test_tours.py)
        "web.assets_tests": ["marketplace_connector/static/tests/tours/*.js"],
    },
}
