# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Shopify's orders end to end: a signed delivery over real HTTP becomes one
correct sale order (Shopify's addresses, taxes, discounts, shipping, money
to the cent, currencies). The core's import rules (duplicates, ordering,
cancellations, failures and retries) are tested against the test channel
(marketplace_connector/tests/test_order_import.py)."""

from .common import ShopifyCase, tagged


@tagged("post_install", "-at_install")
class TestOrderImport(ShopifyCase):
    def test_signed_create_becomes_one_confirmed_order(self):
        payload = self.sim.create_order(
            lines=[("MUG-BLUE", 2), ("TEE-L", 1)],
            email="ada@example.com",
            tax_rate="0.20",
            shipping="5.00",
            discount_pct="10",
            notify=False,
        )
        self.assertEqual(self.deliver("orders/create", payload), 200)
        event = self.events()
        self.assertEqual(len(event), 1)
        self.assertEqual(event.state, "queued")
        self.assertTrue(self.pending_jobs("_job_process"), "the event has its job")

        self.perform_jobs()

        self.assertEqual(event.state, "done")
        sale = self.sale_orders()
        self.assertEqual(len(sale), 1)
        self.assertEqual(sale.state, "sale", "confirmed by backend policy")
        self.assertEqual(sale.partner_id.email, "ada@example.com")
        shipping = payload["shipping_address"]
        self.assertEqual(sale.partner_shipping_id.street, shipping["address1"])
        self.assertEqual(sale.partner_shipping_id.city, shipping["city"])
        self.assertEqual(sale.partner_shipping_id.country_id.code, "US")
        self.assertEqual(
            sale.partner_shipping_id.state_id.code, shipping["province_code"]
        )
        billing = payload["billing_address"]
        self.assertEqual(sale.partner_id.state_id.code, billing["province_code"])
        self.assertEqual(sale.currency_id, self.usd)
        self.assertEqual(sale.client_order_ref, payload["name"])
        self.assertEqual(sale.marketplace_external_name, payload["name"])
        self.assertEqual(sale.marketplace_sync_state, "synced")
        product_lines = sale.order_line.filtered(
            lambda line: (
                line.product_id in self.products["MUG-BLUE"] | self.products["TEE-L"]
            )
        )
        by_sku = {line.product_id.default_code: line for line in product_lines}
        self.assertEqual(by_sku["MUG-BLUE"].product_uom_qty, 2)
        self.assertEqual(by_sku["MUG-BLUE"].price_unit, 19.99)
        self.assertEqual(by_sku["TEE-L"].price_unit, 25.0)
        # 10 % of 2 x 19.99 is 4.00 on Shopify: 10.01 % is the line discount
        # that lands exactly on 35.98
        self.assertEqual(
            self.money(by_sku["MUG-BLUE"].price_subtotal), self.money("35.98")
        )
        for line in product_lines:
            self.assertEqual(line.tax_id.mapped("amount"), [20.0])
            self.assertFalse(line.tax_id.price_include)
        shipping_line = sale.order_line.filtered(
            lambda line: (
                line.product_id
                == self.env.ref("marketplace_connector.product_marketplace_shipping")
            )
        )
        self.assertEqual(shipping_line.price_unit, 5.0)
        self.assertEqual(
            self.money(sale.amount_total), self.money(payload["total_price"])
        )
        self.assertEqual(self.money(sale.amount_tax), self.money(payload["total_tax"]))
        # Odoo's normal flow: a delivery, with the stock reserved
        picking = sale.picking_ids
        self.assertEqual(len(picking), 1)
        self.assertEqual(picking.state, "assigned")

    def test_taxes_included_and_order_currency(self):
        payload = self.sim.create_order(
            lines=[("CAP-RED", 3)],
            currency="EUR",
            taxes_included=True,
            tax_rate="0.21",
            shipping="4.95",
            notify=False,
        )
        self.assertEqual(self.deliver("orders/create", payload), 200)
        self.perform_jobs()
        sale = self.sale_orders()
        self.assertEqual(sale.currency_id, self.eur)
        self.assertEqual(sale.pricelist_id, self.pricelist_eur)
        self.assertTrue(all(sale.order_line.tax_id.mapped("price_include")))
        self.assertEqual(
            self.money(sale.amount_total), self.money(payload["total_price"])
        )
