# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""An administrator connects a Shopify store from scratch in the browser
(static/tests/tours/marketplace_shopify_backend_tour.js), Test connection
answered by the simulator; what the form saved is then read back."""

import json
from urllib.parse import quote

from odoo.tests.common import tagged

from odoo.addons.marketplace_connector.tests.tour_common import TourMixin

from .common import ACCESS_TOKEN, SECRET, SHOP, ShopifyCase


@tagged("post_install", "-at_install")
class TestBackendTour(TourMixin, ShopifyCase):
    def test_admin_configures_a_shopify_backend_from_scratch(self):
        self.warehouse.name = "Acme Warehouse"
        given = {
            "api_url": self.sim.url,
            "access_token": ACCESS_TOKEN,
            "webhook_secret": SECRET,
            "location_id": str(self.sim.location_id),
        }
        self.start_tour(
            "/odoo/action-marketplace_connector.action_marketplace_backend",
            "marketplace_shopify_backend_setup",
            login="admin",
            cookies={"marketplace_tour": quote(json.dumps(given))},
        )

        backend = self.env["marketplace.backend"].search(
            [("name", "=", "Acme Shopify store")]
        )
        self.assertEqual(len(backend), 1)
        self.assertEqual(
            (backend.marketplace_type, backend.shop_domain, backend.api_url),
            ("shopify", SHOP, self.sim.url),
        )
        config = backend._get_backend_config()
        self.assertEqual(config.credential("access_token"), ACCESS_TOKEN)
        self.assertEqual(config.credential("webhook_secret"), SECRET)
        self.assertNotIn(ACCESS_TOKEN, backend.access_token_encrypted)
        self.assertEqual(backend.warehouse_id, self.warehouse)
        self.assertEqual(
            set(backend._get_adapter_settings()["import_financial_states"]),
            {"paid", "partially_paid", "authorized"},
        )
        location = backend.channel_location_ids
        self.assertEqual(
            (location.name, location.external_id, location.location_id),
            ("Shop location", str(self.sim.location_id), self.warehouse.lot_stock_id),
        )
