# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A paid Shopify order, its backend invoicing paid orders (issue #23): the
import's job posts the invoice with the mapped tax on its tax account and
registers the payment; a later refund's credit note reverses that invoice
with the same tax, on the same account."""

from marketplace_sim.shopify import refunds

from .common import ShopifyCase, tagged


@tagged("post_install", "-at_install")
class TestInvoicedOrders(ShopifyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        us = cls.env.ref("base.us")
        cls.tax_account = cls.env["account.account"].create(
            {
                "code": "251950",
                "name": "Sales tax payable (Shopify)",
                "account_type": "liability_current",
            }
        )
        cls.tax = cls.env["account.tax"].create(
            {
                "name": "State sales tax 20%",
                "amount": 20.0,
                "type_tax_use": "sale",
                "price_include_override": "tax_excluded",
                "country_id": us.id,
                "tax_group_id": cls.env["account.tax.group"]
                .create({"name": "State sales tax", "country_id": us.id})
                .id,
            }
        )
        cls.tax._marketplace_tax_lines().account_id = cls.tax_account
        cls.env["marketplace.tax.mapping"].create(
            {
                "backend_id": cls.backend.id,
                "name": "Tax",
                "rate": 20.0,
                "country_id": us.id,
                "tax_id": cls.tax.id,
            }
        )
        cls.journal = cls.env["account.journal"].create(
            {"name": "Shopify payouts", "type": "bank", "code": "SHPP"}
        )
        cls.backend.write(
            {"invoice_paid_orders": True, "payment_journal_id": cls.journal.id}
        )

    def tax_lines(self, move):
        return move.line_ids.filtered(lambda line: line.tax_line_id == self.tax)

    def test_paid_order_is_invoiced_paid_and_its_refund_reverses_the_invoice(self):
        payload = self.sim.create_order(
            lines=[("MUG-BLUE", 2), ("CAP-RED", 1)], tax_rate="0.20", notify=False
        )
        self.assertEqual(self.deliver("orders/create", payload), 200)
        self.perform_jobs()
        sale = self.sale_orders()
        self.assertEqual(sale.state, "sale", self.events().mapped("last_error"))
        self.assertEqual(sale.order_line.tax_id, self.tax)
        binding = sale.marketplace_binding_ids
        self.assertEqual(binding.invoice_state, "done", binding.invoice_error)
        invoice = binding.invoice_id
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(
            self.money(invoice.amount_total), self.money(payload["total_price"])
        )
        self.assertEqual(self.tax_lines(invoice).account_id, self.tax_account)
        self.assertEqual(
            self.money(-sum(self.tax_lines(invoice).mapped("balance"))),
            self.money(payload["total_tax"]),
        )
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(binding.payment_id.journal_id, self.journal)

        # an update of the paid order queues no second invoicing
        updated = self.sim.get_order(payload["id"])
        self.assertEqual(self.deliver("orders/updated", updated), 200)
        self.perform_jobs()
        self.assertEqual(sale.invoice_ids, invoice)

        mug = next(li for li in payload["line_items"] if li["sku"] == "MUG-BLUE")
        refund = refunds.refund_order(
            self.sim,
            payload["id"],
            lines=[
                {"line_item_id": mug["id"], "quantity": 1, "restock_type": "cancel"}
            ],
            notify=False,
        )
        status = self.deliver(
            "refunds/create", refund, webhook_id=f"refund-{refund['id']}"
        )
        self.assertEqual(status, 200)
        self.perform_jobs()
        row = self.env["marketplace.refund"].search([("sale_order_id", "=", sale.id)])
        self.assertEqual(row.state, "done", row.last_error)
        credit = row.credit_note_id
        self.assertEqual(credit.reversed_entry_id, invoice)
        self.assertEqual(credit.invoice_line_ids.tax_ids, self.tax)
        self.assertEqual(self.tax_lines(credit).account_id, self.tax_account)
        self.assertEqual(
            self.money(credit.amount_total),
            self.money(refund["transactions"][0]["amount"]),
        )
