# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A US Amazon order whose sales tax Amazon collects and remits itself
(marketplace-facilitator rules, the item's ``tax.taxCollections``): booked
on the clearing account, never on a tax the seller owes, the total to the
cent, invoiced and paid when the backend invoices paid orders."""

from .common import AmazonCase, tagged


@tagged("post_install", "-at_install")
class TestMarketplaceCollectedTax(AmazonCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        accounts = cls.env["account.account"]
        cls.clearing = accounts.create(
            {
                "code": "141990",
                "name": "Taxes collected by Amazon",
                "account_type": "asset_current",
            }
        )
        cls.payable = accounts.create(
            {
                "code": "251990",
                "name": "Sales tax payable",
                "account_type": "liability_current",
            }
        )
        us = cls.env.ref("base.us")
        cls.ours = cls.tax("Sales tax 8.25%", "Sales tax", cls.payable, us)
        cls.collected = cls.tax(
            "Sales tax collected by Amazon 8.25%",
            "Marketplace facilitator",
            cls.clearing,
            us,
        )
        journal = cls.env["account.journal"].create(
            {"name": "Amazon payouts", "type": "bank", "code": "AMZP"}
        )
        cls.backend.write(
            {
                "collected_tax_account_id": cls.clearing.id,
                "unmapped_tax_policy": "stop",
                "invoice_paid_orders": True,
                "payment_journal_id": journal.id,
            }
        )

    @classmethod
    def tax(cls, name, group, account, country):
        tax = cls.env["account.tax"].create(
            {
                "name": name,
                "amount": 8.25,
                "type_tax_use": "sale",
                "price_include_override": "tax_excluded",
                "country_id": country.id,
                "tax_group_id": cls.env["account.tax.group"]
                .create({"name": group, "country_id": country.id})
                .id,
            }
        )
        tax._marketplace_tax_lines().account_id = account
        return tax

    def test_facilitator_tax_is_booked_on_the_clearing_account(self):
        order = self.create_order(
            [("MUG-BLUE", 2), ("TEE-L", 1)],
            shipping="4.99",
            tax_rate="0.0825",
            marketplace_facilitator=True,
        )
        self.assertEqual(
            order["orderItems"][0]["tax"]["taxCollections"][0]["model"],
            "MARKETPLACE_FACILITATOR",
        )
        self.pull()
        self.perform_jobs()
        event = self.events()
        self.assertEqual(event.state, "done", event.last_error)
        sale = self.sale_order(order)
        self.assertEqual(sale.order_line.tax_id, self.collected)
        mapping = self.env["marketplace.tax.mapping"].search(
            [("backend_id", "=", self.backend.id)]
        )
        self.assertEqual(
            (mapping.tax_id, mapping.collected_by_channel, mapping.state),
            (self.collected, True, "proposed"),
        )
        proceeds = {
            entry["type"]: entry["subtotal"]["amount"]
            for entry in order["proceeds"]["breakdowns"]
        }
        self.assertEqual(
            self.money(sale.amount_total),
            self.money(order["proceeds"]["grandTotal"]["amount"]),
        )
        self.assertEqual(self.money(sale.amount_tax), self.money(proceeds["TAX"]))
        binding = self.binding(order)
        self.assertEqual(binding.invoice_state, "done", binding.invoice_error)
        invoice = binding.invoice_id
        tax_lines = invoice.line_ids.filtered("tax_line_id")
        self.assertEqual(tax_lines.account_id, self.clearing)
        self.assertEqual(
            self.money(-sum(tax_lines.mapped("balance"))), self.money(proceeds["TAX"])
        )
        self.assertFalse(
            invoice.line_ids.filtered(lambda line: line.account_id == self.payable)
        )
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    def test_the_sellers_own_tax_is_not_taken_for_a_collected_one(self):
        self.collected.active = False
        order = self.create_order(
            [("MUG-BLUE", 1)], tax_rate="0.0825", marketplace_facilitator=True
        )
        self.pull()
        self.perform_jobs()
        event = self.events()
        self.assertEqual(event.state, "failed")
        self.assertIn("collected by the marketplace", event.last_error)
        self.assertFalse(self.sale_order(order))
