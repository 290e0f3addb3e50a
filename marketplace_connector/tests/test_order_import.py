# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Deliveries become exactly one correct sale order, whatever their order of
arrival: duplicates, stale states, cancellations, unknown products fixed
then retried, retries exhausted."""

import datetime
from unittest.mock import patch

from odoo.tests.common import tagged

from odoo.addons.marketplace_connector.lib.errors import RetryableError
from odoo.addons.marketplace_connector.services.order_importer import OrderImporter

from .common import ChannelCase


@tagged("post_install", "-at_install")
class TestOrderImport(ChannelCase):
    def sale_orders(self):
        return self.env["sale.order"].search(
            [("marketplace_backend_id", "=", self.backend.id)]
        )

    def binding(self, payload):
        return self.env["marketplace.order.binding"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("external_id", "=", str(payload["id"])),
            ]
        )

    def stocked_product(self, sku, quantity):
        product = self.env["product.product"].create(
            {
                "name": sku,
                "default_code": sku,
                "type": "consu",
                "is_storable": True,
                "list_price": 10.0,
                "taxes_id": [(5, 0, 0)],
            }
        )
        self.env["stock.quant"]._update_available_quantity(
            product, self.warehouse.lot_stock_id, quantity
        )
        return product

    @staticmethod
    def later(payload, minutes, **changes):
        """A later state of the order (an edit on the channel)."""
        updated = datetime.datetime.fromisoformat(payload["updated_at"])
        stamp = (updated + datetime.timedelta(minutes=minutes)).isoformat()
        return dict(payload, updated_at=stamp, **changes)

    def test_new_customer_with_the_email_of_a_contact_becomes_that_contact(self):
        contact = self.env["res.partner"].create(
            {"name": "Ada Lovelace", "email": "Ada Lovelace <Ada@Example.com>"}
        )
        payload = self.order([("WIDGET", 1)])
        self.assertEqual(payload["customer"]["email"], "ada@example.com")
        self.assertEqual(self.deliver(payload).status_code, 200)
        self.perform_jobs()
        self.assertEqual(self.sale_orders().partner_id, contact)
        binding = self.env["marketplace.partner.binding"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("external_id", "=", payload["customer"]["id"]),
            ]
        )
        self.assertEqual(binding.partner_id, contact)
        # found through an index, not by reading every partner
        self.env.cr.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'res_partner' "
            "AND indexname = 'res_partner_email_normalized_marketplace_index'"
        )
        self.assertIn("(email_normalized)", self.env.cr.fetchone()[0])

    def test_currency_without_pricelist_fails_with_a_reason(self):
        gbp = self.env.ref("base.GBP")
        gbp.active = True
        payload = self.order([("GADGET", 1)], currency="GBP")
        self.assertEqual(self.deliver(payload).status_code, 200)
        self.perform_jobs()
        event = self.events()
        self.assertEqual(event.state, "failed")
        self.assertIn("No pricelist in GBP", event.last_error)
        self.assertFalse(self.sale_orders())

    def test_same_delivery_three_times_and_by_poll_make_one_order(self):
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        payload = self.channel.add_order(
            self.order([("WIDGET", 1)], updated_at=now.isoformat())
        )
        for _attempt in range(3):
            self.assertEqual(self.deliver(payload).status_code, 200)
        # the same order state seen by polling
        self.backend._enqueue_poll()
        self.perform_jobs("_job_poll_orders")
        self.assertIn(("GET", "/orders"), self.channel.calls, "it was polled")
        self.assertEqual(len(self.events()), 1, "one event for one order state")
        self.perform_jobs()
        self.assertEqual(len(self.sale_orders()), 1)
        self.assertEqual(self.events().state, "done")

    def test_update_before_create_and_stale_update_after_newer(self):
        created = self.order([("GADGET", 1)], status="pending")
        paid = self.later(created, 1, status="paid")
        noted = self.later(created, 2, status="paid", note="gift wrap")
        # newest first, then the older ones
        self.assertEqual(self.deliver(noted).status_code, 200)
        self.assertEqual(self.deliver(created).status_code, 200)
        self.assertEqual(self.deliver(paid).status_code, 200)
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
        created = self.order([("GADGET", 1)])
        cancelled = self.later(created, 1, status="cancelled")
        self.assertEqual(self.deliver(cancelled).status_code, 200)
        self.assertEqual(self.deliver(created).status_code, 200)
        self.perform_jobs()
        self.assertFalse(self.sale_orders())
        self.assertEqual(self.binding(created).sync_state, "pending")

    def test_cancellation_cancels_undelivered_order(self):
        created = self.order([("WIDGET", 1)])
        self.deliver(created)
        self.perform_jobs()
        sale = self.sale_orders()
        self.assertEqual(sale.state, "sale")
        self.deliver(self.later(created, 1, status="cancelled"))
        self.perform_jobs()
        self.assertEqual(sale.state, "cancel")
        self.assertEqual(sale.picking_ids.state, "cancel")

    def test_cancellation_after_delivery_is_flagged(self):
        created = self.order([("WIDGET", 1)])
        self.deliver(created)
        self.perform_jobs()
        sale = self.sale_orders()
        picking = sale.picking_ids
        picking.move_ids.quantity = 1
        picking.move_ids.picked = True
        picking.button_validate()
        self.assertEqual(picking.state, "done")
        self.deliver(self.later(created, 1, status="cancelled"))
        self.perform_jobs()
        self.assertEqual(sale.state, "sale", "a delivered order is not cancelled")
        self.assertEqual(sale.marketplace_sync_state, "attention")
        self.assertIn("already delivered", sale.marketplace_last_error)
        self.assertTrue(sale.activity_ids, "the responsible gets an activity")

    def test_unknown_sku_fails_then_retry_after_mapping(self):
        payload = self.order([("LAMP-XL", 1)])
        self.assertEqual(self.deliver(payload).status_code, 200)
        self.perform_jobs()
        event = self.events()
        self.assertEqual(event.state, "failed")
        self.assertIn("LAMP-XL", event.last_error)
        self.assertFalse(self.sale_orders())
        self.assertTrue(self.backend.activity_ids, "the responsible is told")
        self.assertEqual(self.backend.event_failed_count, 1)

        self.stocked_product("LAMP-XL", 5)
        event.action_retry()
        self.assertEqual(event.state, "queued")
        self.perform_jobs()
        self.assertEqual(event.state, "done")
        self.assertEqual(len(self.sale_orders()), 1)
        self.assertFalse(event.last_error)

    def test_variant_bound_to_another_product_imports_as_that_product(self):
        # the product a variant is bound to is cached in every worker: a
        # change of the binding must reach the next import
        replacement = self.stocked_product("WIDGET-V2", 5)
        first = self.order([("WIDGET", 1)])
        self.deliver(first)
        self.perform_jobs()
        widget = self.sale_orders().order_line.filtered("marketplace_line_id")
        self.assertEqual(widget.product_id.default_code, "WIDGET")

        binding = self.env["marketplace.product.binding"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("product_id", "=", widget.product_id.id),
            ]
        )
        binding.product_id = replacement
        second = self.order([("WIDGET", 1)])
        self.deliver(second)
        self.perform_jobs()
        sale = self.sale_orders().filtered(
            lambda so: so.client_order_ref == second["name"]
        )
        self.assertEqual(
            sale.order_line.filtered("marketplace_line_id").product_id, replacement
        )

    def test_exhausted_retries_make_the_event_dead(self):
        payload = self.order([("WIDGET", 1)])
        self.deliver(payload)
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
