# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Shared set-up: a real Shopify simulator on loopback, a backend pointed at
it, products, and helpers that deliver signed webhooks over real HTTP to the
Odoo test server and run the queued jobs through queue_job's own runner code.
"""

import json
import os
import sys
from contextlib import closing
from decimal import Decimal

from odoo import sql_db
from odoo.tests.common import tagged

from odoo.addons.marketplace_connector.tests.common import (
    JobRunnerMixin,
    LoopbackHttpCase,
)

_TESTS_DIR = os.path.normpath(
    os.path.join(os.path.dirname(__file__), "..", "..", "tests")
)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from marketplace_sim.shopify import (  # noqa: E402  pylint: disable=wrong-import-position
    ShopifySimulator,
    WebhookSender,
    sign_webhook,
)

SHOP = "acme-test.myshopify.com"
ACCESS_TOKEN = "shpat_test_access_0123456789abcdef"
SECRET = "whsec-current-4f1d2c3b"
PREVIOUS_SECRET = "whsec-previous-9a8b7c6d"
API_VERSION = "2026-10"

__all__ = [
    "PREVIOUS_SECRET",
    "SECRET",
    "SHOP",
    "ShopifyCase",
    "ShopifySimulator",
    "sign_webhook",
    "tagged",
]


class ShopifyCase(JobRunnerMixin, LoopbackHttpCase):
    """An Odoo test case with a Shopify simulator and a configured backend."""

    #: the simulator's catalogue; every test gets a fresh simulator built
    #: the same way (same seed, same order), hence the same ids
    CATALOGUE = (("MUG-BLUE", "19.99"), ("TEE-L", "25.00"), ("CAP-RED", "12.50"))

    @classmethod
    def _new_simulator(cls):
        sim = ShopifySimulator(shop_domain=SHOP, access_token=ACCESS_TOKEN)
        variants = {
            sku: sim.add_product(sku=sku, price=price, title=sku.title(), inventory=100)
            for sku, price in cls.CATALOGUE
        }
        sim.start()
        return sim, variants

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim, cls.sim_variants = cls._new_simulator()
        cls.addClassCleanup(cls.sim.stop)
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.company
        cls.usd = cls.env.ref("base.USD")
        cls.eur = cls.env.ref("base.EUR")
        cls.eur.active = True
        cls.pricelist_usd = cls.env["product.pricelist"].create(
            {"name": "Shopify USD", "currency_id": cls.usd.id}
        )
        cls.pricelist_eur = cls.env["product.pricelist"].create(
            {"name": "Shopify EUR", "currency_id": cls.eur.id}
        )
        cls.warehouse = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.company.id)], limit=1
        )
        cls.backend = cls.env["marketplace.backend"].create(
            {
                "name": "Acme Shopify",
                "marketplace_type": "shopify",
                "api_url": cls.sim.url,
                "shop_domain": SHOP,
                "api_version": API_VERSION,
                "access_token": ACCESS_TOKEN,
                "webhook_secret": SECRET,
                "warehouse_id": cls.warehouse.id,
                "pricelist_id": cls.pricelist_usd.id,
                "request_timeout": 2.0,
                # simulated orders are taxed at any rate: each rate gets a
                # tax copied from the company's sales tax (issue #23)
                "unmapped_tax_policy": "template",
                "tax_template_id": cls.env.company.account_sale_tax_id.id,
            }
        )
        cls.products = {
            sku: cls._create_stocked_product(sku, price, 50)
            for sku, price in cls.CATALOGUE
        }

    def setUp(self):
        super().setUp()
        # a fresh shop per test: orders of one test never show in another
        self.sim, variants = self._new_simulator()
        self.addCleanup(self.sim.stop)
        self.assertEqual(variants, self.sim_variants, "same ids as the class set-up")
        self.backend.api_url = self.sim.url
        # the shared budgets are committed by a connection of their own and
        # outlive a test's transaction: each test starts with full ones (a
        # test must not be throttled by what the one before it spent)
        self.clear_budget()
        self.addCleanup(self.clear_budget)

    def clear_budget(self):
        with closing(sql_db.db_connect(self.env.cr.dbname).cursor()) as cr:
            cr.execute(
                "DELETE FROM marketplace_rate_budget WHERE backend_id = %s",
                (self.backend.id,),
            )
            cr.commit()  # pylint: disable=invalid-commit

    @classmethod
    def _create_stocked_product(cls, sku, price, quantity):
        product = cls.env["product.product"].create(
            {
                "name": sku.replace("-", " ").title(),
                "default_code": sku,
                "list_price": float(price),
                "type": "consu",
                "is_storable": True,
                "taxes_id": [(5, 0, 0)],
            }
        )
        cls.env["stock.quant"]._update_available_quantity(
            product, cls.warehouse.lot_stock_id, quantity
        )
        return product

    # Webhooks

    def webhook_url(self, backend=None):
        backend = backend or self.backend
        return f"{self.base_url()}/marketplace/webhook/{backend.sudo().webhook_token}"

    def sender(self, secret=SECRET, **kwargs):
        sender = WebhookSender(
            self.webhook_url(),
            secret,
            SHOP,
            api_version=API_VERSION,
            time_scale=0.0001,
            **kwargs,
        )
        self.addCleanup(sender.close)
        return sender

    def deliver(self, topic, payload, secret=SECRET, **kwargs):
        """One signed delivery over real HTTP; returns the status code."""
        status, _seconds = self.sender(secret).deliver_once(topic, payload, **kwargs)
        return status

    def post_raw(self, body, headers):
        """A hand-crafted request (bad signatures, missing headers...)."""
        return self.opener.post(
            self.webhook_url(),
            data=body,
            headers=headers,
            timeout=10,
            allow_redirects=False,
        )

    # Assertions and helpers

    def events(self, **domain):
        return self.env["marketplace.event"].search(
            [("backend_id", "=", self.backend.id)]
            + [(key, "=", value) for key, value in domain.items()]
        )

    def sale_orders(self):
        return self.env["sale.order"].search(
            [("marketplace_backend_id", "=", self.backend.id)]
        )

    def binding(self, order_payload):
        return self.env["marketplace.order.binding"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("external_id", "=", str(order_payload["id"])),
            ]
        )

    @staticmethod
    def money(value):
        return Decimal(str(value)).quantize(Decimal("0.01"))

    @staticmethod
    def body(payload):
        return json.dumps(payload).encode()
