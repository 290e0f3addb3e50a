# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Signed deliveries over real HTTP become exactly one correct sale order."""

from unittest.mock import patch

from odoo.addons.marketplace_connector.lib.errors import RetryableError
from odoo.addons.marketplace_connector.services.order_importer import OrderImporter

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

    def test_new_customer_with_the_email_of_a_contact_becomes_that_contact(self):
        contact = self.env["res.partner"].create(
            {"name": "Ada Lovelace", "email": "Ada Lovelace <Ada@Example.com>"}
        )
        payload = self.sim.create_order(
            lines=[("MUG-BLUE", 1)], email="ada@example.com", notify=False
        )
        self.assertEqual(self.deliver("orders/create", payload), 200)
        self.perform_jobs()
        self.assertEqual(self.sale_orders().partner_id, contact)
        binding = self.env["marketplace.partner.binding"].search(
            [("external_id", "=", str(payload["customer"]["id"]))]
        )
        self.assertEqual(binding.partner_id, contact)
        # found through an index, not by reading every partner
        self.env.cr.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'res_partner' "
            "AND indexname = 'res_partner_email_normalized_marketplace_index'"
        )
        self.assertIn("(email_normalized)", self.env.cr.fetchone()[0])

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

    def test_currency_without_pricelist_fails_with_a_reason(self):
        gbp = self.env.ref("base.GBP")
        gbp.active = True
        payload = self.sim.create_order(
            lines=[("CAP-RED", 1)], currency="GBP", notify=False
        )
        self.assertEqual(self.deliver("orders/create", payload), 200)
        self.perform_jobs()
        event = self.events()
        self.assertEqual(event.state, "failed")
        self.assertIn("No pricelist in GBP", event.last_error)
        self.assertFalse(self.sale_orders())

    def test_same_delivery_three_times_and_by_poll_make_one_order(self):
        payload = self.sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)
        webhook_id = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
        for _attempt in range(3):
            status = self.deliver("orders/create", payload, webhook_id=webhook_id)
            self.assertEqual(status, 200)
        # the same order state seen by polling
        self.backend._enqueue_poll()
        self.perform_jobs("_job_poll_orders")
        self.assertEqual(len(self.events()), 1, "one event for one order state")
        self.perform_jobs()
        self.assertEqual(len(self.sale_orders()), 1)
        self.assertEqual(self.events().state, "done")

    def test_update_before_create_and_stale_update_after_newer(self):
        created = self.sim.create_order(
            lines=[("TEE-L", 1)], financial_status="pending", notify=False
        )
        paid = self.sim.mark_paid(created["id"], notify=False)
        noted = self.sim.update_order(created["id"], note="gift wrap", notify=False)
        # newest first, then the older ones
        self.assertEqual(self.deliver("orders/updated", noted), 200)
        self.assertEqual(self.deliver("orders/create", created), 200)
        self.assertEqual(self.deliver("orders/paid", paid), 200)
        self.perform_jobs()
        sale = self.sale_orders()
        self.assertEqual(len(sale), 1)
        self.assertEqual(sale.state, "sale")
        binding = self.binding(created)
        self.assertEqual(binding.financial_status, "paid")
        self.assertEqual(
            binding.external_updated_at.isoformat(),
            self.events()
            .sorted("external_updated_at")[-1]
            .external_updated_at.isoformat(),
        )
        states = sorted(self.events().mapped("state"))
        self.assertEqual(states, ["done", "ignored", "ignored"])

    def test_cancelled_before_create_never_becomes_an_order(self):
        created = self.sim.create_order(lines=[("TEE-L", 1)], notify=False)
        cancelled = self.sim.cancel_order(created["id"], notify=False)
        self.assertEqual(self.deliver("orders/cancelled", cancelled), 200)
        self.assertEqual(self.deliver("orders/create", created), 200)
        self.perform_jobs()
        self.assertFalse(self.sale_orders())
        self.assertEqual(self.binding(created).sync_state, "pending")

    def test_cancellation_cancels_undelivered_order(self):
        created = self.sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)
        self.deliver("orders/create", created)
        self.perform_jobs()
        sale = self.sale_orders()
        self.assertEqual(sale.state, "sale")
        cancelled = self.sim.cancel_order(created["id"], notify=False)
        self.deliver("orders/cancelled", cancelled)
        self.perform_jobs()
        self.assertEqual(sale.state, "cancel")
        self.assertEqual(sale.picking_ids.state, "cancel")

    def test_cancellation_after_delivery_is_flagged(self):
        created = self.sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)
        self.deliver("orders/create", created)
        self.perform_jobs()
        sale = self.sale_orders()
        picking = sale.picking_ids
        picking.move_ids.quantity = 1
        picking.move_ids.picked = True
        picking.button_validate()
        self.assertEqual(picking.state, "done")
        cancelled = self.sim.cancel_order(created["id"], notify=False)
        self.deliver("orders/cancelled", cancelled)
        self.perform_jobs()
        self.assertEqual(sale.state, "sale", "a delivered order is not cancelled")
        self.assertEqual(sale.marketplace_sync_state, "attention")
        self.assertIn("already delivered", sale.marketplace_last_error)
        self.assertTrue(sale.activity_ids, "the responsible gets an activity")

    def test_unknown_sku_fails_then_retry_after_mapping(self):
        self.sim.add_product(sku="LAMP-XL", price="89.00", title="Lamp XL", inventory=5)
        payload = self.sim.create_order(lines=[("LAMP-XL", 1)], notify=False)
        self.assertEqual(self.deliver("orders/create", payload), 200)
        self.perform_jobs()
        event = self.events()
        self.assertEqual(event.state, "failed")
        self.assertIn("LAMP-XL", event.last_error)
        self.assertFalse(self.sale_orders())
        self.assertTrue(self.backend.activity_ids, "the responsible is told")
        self.assertEqual(self.backend.event_failed_count, 1)

        self._create_stocked_product("LAMP-XL", "89.00", 5)
        event.action_retry()
        self.assertEqual(event.state, "queued")
        self.perform_jobs()
        self.assertEqual(event.state, "done")
        self.assertEqual(len(self.sale_orders()), 1)
        self.assertFalse(event.last_error)

    def test_variant_bound_to_another_product_imports_as_that_product(self):
        # the product a variant is bound to is cached in every worker: a
        # change of the binding must reach the next import
        replacement = self._create_stocked_product("MUG-BLUE-V2", "12.00", 5)
        first = self.sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)
        self.deliver("orders/create", first)
        self.perform_jobs()
        mug = self.sale_orders().order_line.filtered("marketplace_line_id").product_id
        self.assertEqual(mug.default_code, "MUG-BLUE")

        binding = self.env["marketplace.product.binding"].search(
            [("backend_id", "=", self.backend.id), ("product_id", "=", mug.id)]
        )
        binding.product_id = replacement
        second = self.sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)
        self.deliver("orders/create", second)
        self.perform_jobs()
        sale = self.sale_orders().filtered(
            lambda so: so.client_order_ref == second["name"]
        )
        self.assertEqual(
            sale.order_line.filtered("marketplace_line_id").product_id, replacement
        )

    def test_exhausted_retries_make_the_event_dead(self):
        payload = self.sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)
        self.deliver("orders/create", payload)
        event = self.events()
        self.pending_jobs("_job_process").max_retries = 2
        with patch.object(
            OrderImporter,
            "import_new",
            side_effect=RetryableError("simulated lock contention", retry_after=1),
        ):
            self.perform_jobs(rounds=3)
        self.assertEqual(event.state, "dead")
        self.assertIn("simulated lock contention", event.last_error)
        self.assertEqual(
            self.env["queue.job"].search([("uuid", "=", event.job_uuid)]).state,
            "failed",
        )
        # after the cause is gone, Retry brings it through
        event.action_retry()
        self.perform_jobs()
        self.assertEqual(event.state, "done")
        self.assertEqual(len(self.sale_orders()), 1)
