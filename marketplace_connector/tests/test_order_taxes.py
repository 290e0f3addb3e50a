# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Orders that book right (issue #23), delivered over HTTP by the test
channel: channel taxes land on the Odoo taxes mapped to them (proposed from
the company's taxes by rate, country, inclusion and a real tax group), a
tax the marketplace collects posts on the clearing account, yen and dinars
import at their own precision, paid orders are invoiced and paid once, an
unmapped tax stops its order until it is mapped and the event retried."""

from odoo.exceptions import AccessError
from odoo.tests.common import new_test_user, tagged

from odoo.addons.marketplace_connector.services.tax_migration import (
    list_legacy_taxes,
)

from .common import ChannelCase
from .test_migrations import load_migration


@tagged("post_install", "-at_install")
class TestOrderTaxes(ChannelCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = {}
        for code, name, kind in (
            ("251100", "TVA collectée FR", "liability_current"),
            ("251200", "USt DE", "liability_current"),
            ("251300", "GST payable", "liability_current"),
            ("251400", "QST payable", "liability_current"),
            ("251500", "NY sales tax payable", "liability_current"),
            ("251600", "JCT payable", "liability_current"),
            ("251700", "KW excise payable", "liability_current"),
            ("251800", "Decoy tax payable", "liability_current"),
            ("141900", "Marketplace-collected taxes", "asset_current"),
        ):
            cls.accounts[code] = cls.env["account.account"].create(
                {"code": code, "name": name, "account_type": kind}
            )
        cls.clearing = cls.accounts["141900"]
        cls.backend.collected_tax_account_id = cls.clearing
        for code in ("EUR", "CAD", "JPY", "KWD"):
            currency = cls.env.ref(f"base.{code}")
            currency.active = True
            cls.env["product.pricelist"].create(
                {"name": f"Test channel {code}", "currency_id": currency.id}
            )
        cls.payment_journal = cls.env["account.journal"].create(
            {"name": "Marketplace payouts", "type": "bank", "code": "MKTP"}
        )
        cls.gateway_journal = cls.env["account.journal"].create(
            {"name": "Gateway payouts", "type": "bank", "code": "MKTG"}
        )
        # the company's tax IDs abroad, under which foreign taxes are posted
        for code in ("FR", "DE", "CA", "JP", "KW"):
            country = cls.env["res.country"].search([("code", "=", code)])
            cls.env["account.fiscal.position"].create(
                {
                    "name": f"Registered in {code}",
                    "country_id": country.id,
                    "foreign_vat": f"{code}123456789",
                }
            )
        tax = cls.make_tax
        cls.tva_fr = tax("TVA 20% FR", 20, "FR", True, "TVA 20%", "251100")
        cls.ust_de = tax("USt 19% DE", 19, "DE", True, "USt 19%", "251200")
        cls.gst = tax("GST 5%", 5, "CA", False, "GST", "251300")
        cls.qst = tax("QST 9.975%", 9.975, "CA", False, "QST", "251400")
        cls.ny_tax = tax("NY sales tax 8.875%", 8.875, "US", False, "NY", "251500")
        cls.collected = tax(
            "Sales tax collected by Amazon 8.875%",
            8.875,
            "US",
            False,
            "Marketplace facilitator",
            "141900",
        )
        cls.jct = tax("JCT 10%", 10, "JP", False, "JCT", "251600")
        cls.kw_excise = tax("Excise 5%", 5, "KW", False, "Excise", "251700")
        # decoys: what a rate-only match would have taken
        tax("Decoy 20% FR", 20, "FR", True, "Tax 20%", "251800")  # generic group
        tax("US sales tax 5%", 5, "US", False, "US sales tax", "251800")  # country
        tax("Untaxed account 19% DE", 19, "DE", True, "USt DE", None)  # no account

    @classmethod
    def make_tax(cls, name, amount, country, included, group, account_code):
        country = cls.env["res.country"].search([("code", "=", country)])
        group = cls.env["account.tax.group"].create(
            {"name": group, "country_id": country.id}
        )
        tax = cls.env["account.tax"].create(
            {
                "name": name,
                "amount": amount,
                "amount_type": "percent",
                "type_tax_use": "sale",
                "price_include_override": "tax_included"
                if included
                else "tax_excluded",
                "country_id": country.id,
                "tax_group_id": group.id,
            }
        )
        tax._marketplace_tax_lines().account_id = (
            cls.accounts[account_code] if account_code else False
        )
        return tax

    # Helpers

    def taxed_order(self, lines, currency, country, included=False, **kw):
        """``lines``: ``[(sku, quantity, price, [(title, rate, options)])]``."""
        payload = self.order([(sku, quantity) for sku, quantity, *_rest in lines])
        for line, (_sku, _qty, price, taxes) in zip(
            payload["lines"], lines, strict=True
        ):
            line["price"] = price
            line["taxes"] = [
                {"title": title, "rate": rate, **options}
                for title, rate, options in taxes
            ]
        payload.update(
            currency=currency,
            taxes_included=included,
            address={"first_name": "Ada", "city": "X", "country_code": country},
            **kw,
        )
        return payload

    def import_order(self, payload):
        self.assertEqual(self.deliver(payload).status_code, 200)
        self.perform_jobs()
        event = self.events(external_id=payload["id"])
        return event, event.sale_order_id

    def mapping(self, tax):
        return self.env["marketplace.tax.mapping"].search(
            [("backend_id", "=", self.backend.id), ("tax_id", "=", tax.id)]
        )

    def assert_tax_booked(self, invoice, tax, account, amount):
        """The tax amount sits on the tax's account, not on revenue."""
        lines = invoice.line_ids.filtered(lambda line: line.tax_line_id == tax)
        self.assertEqual(lines.account_id, account)
        self.assertAlmostEqual(
            -sum(lines.mapped("amount_currency")),
            amount,
            places=invoice.currency_id.decimal_places,
        )

    def enable_invoicing(self):
        self.backend.write(
            {"invoice_paid_orders": True, "payment_journal_id": self.payment_journal.id}
        )

    # EU VAT, prices including it, two countries

    def test_eu_vat_included_in_two_countries_is_mapped_invoiced_and_paid(self):
        self.enable_invoicing()
        self.env["marketplace.payment.journal"].create(
            {
                "backend_id": self.backend.id,
                "gateway": "card_gateway",
                "journal_id": self.gateway_journal.id,
            }
        )
        fr = self.taxed_order(
            [("WIDGET", 2, "12.00", [("FR TVA", "0.2", {})])],
            "EUR",
            "FR",
            included=True,
            total="24.00",
            total_tax="4.00",
            payment_gateway="card_gateway",
        )
        de = self.taxed_order(
            [("GADGET", 1, "11.90", [("DE MwSt", "0.19", {})])],
            "EUR",
            "DE",
            included=True,
            total="11.90",
            total_tax="1.90",
        )
        event, sale = self.import_order(fr)
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(sale.order_line.tax_id, self.tva_fr)
        self.assertEqual((sale.amount_total, sale.amount_tax), (24.0, 4.0))
        event, sale_de = self.import_order(de)
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(sale_de.order_line.tax_id, self.ust_de)
        self.assertEqual((sale_de.amount_total, sale_de.amount_tax), (11.9, 1.9))
        for tax in (self.tva_fr, self.ust_de):
            mapping = self.mapping(tax)
            self.assertEqual((mapping.state, mapping.origin), ("proposed", "matched"))
        self.assertEqual(self.mapping(self.tva_fr).country_id.code, "FR")
        # the paid orders were invoiced and paid, on the gateway's journal
        for sale_order, tax, account, amount, journal in (
            (sale, self.tva_fr, "251100", 4.0, self.gateway_journal),
            (sale_de, self.ust_de, "251200", 1.9, self.payment_journal),
        ):
            binding = sale_order.marketplace_binding_ids
            self.assertEqual(binding.invoice_state, "done", binding.invoice_error)
            invoice = binding.invoice_id
            self.assertEqual(invoice.state, "posted")
            self.assertEqual(invoice.fiscal_position_id.country_id, tax.country_id)
            self.assertEqual(invoice, sale_order.invoice_ids)
            self.assertEqual(invoice.amount_total, sale_order.amount_total)
            self.assert_tax_booked(invoice, tax, self.accounts[account], amount)
            self.assertIn(invoice.payment_state, ("paid", "in_payment"))
            self.assertEqual(binding.payment_id.journal_id, journal)
        # a second job, a Retry: never a second invoice or payment
        binding = sale.marketplace_binding_ids
        binding.invoice_state = "failed"
        binding.action_retry_invoicing()
        self.perform_jobs()
        self.assertEqual(len(sale.invoice_ids), 1)
        self.assertEqual(
            self.env["account.payment"].search_count(
                [("memo", "=", binding.external_name)]
            ),
            1,
        )
        self.assertEqual(binding.invoice_state, "done")

    # Canada: GST and QST on top of the price

    def test_canada_gst_and_qst_excluded_map_to_their_own_taxes(self):
        self.enable_invoicing()
        payload = self.taxed_order(
            [
                (
                    "WIDGET",
                    1,
                    "200.00",
                    [("GST", "0.05", {}), ("QST", "0.09975", {"region": "QC"})],
                )
            ],
            "CAD",
            "CA",
            total="229.95",
            total_tax="29.95",
        )
        event, sale = self.import_order(payload)
        self.assertEqual(event.state, "done", event.last_error)
        # not the company's US 5% sales tax: Canada's GST
        self.assertEqual(sale.order_line.tax_id, self.gst | self.qst)
        self.assertEqual((sale.amount_total, sale.amount_tax), (229.95, 29.95))
        self.assertEqual(self.mapping(self.qst).region, "QC")
        invoice = sale.marketplace_binding_ids.invoice_id
        self.assert_tax_booked(invoice, self.gst, self.accounts["251300"], 10.0)
        self.assert_tax_booked(invoice, self.qst, self.accounts["251400"], 19.95)
        income = invoice.invoice_line_ids.account_id
        self.assertAlmostEqual(
            sum(
                invoice.line_ids.filtered(
                    lambda line: line.account_id == income
                ).mapped("balance")
            ),
            -200.0,
            places=2,
        )

    # A tax the marketplace collects and remits

    def test_marketplace_collected_tax_posts_on_the_clearing_account(self):
        self.enable_invoicing()
        payload = self.taxed_order(
            [
                (
                    "WIDGET",
                    1,
                    "50.00",
                    [("Tax", "0.08875", {"collected_by_channel": True})],
                )
            ],
            "USD",
            "US",
            total="54.44",
            total_tax="4.44",
        )
        event, sale = self.import_order(payload)
        self.assertEqual(event.state, "done", event.last_error)
        # not our own NY sales tax of the same rate: the clearing one
        self.assertEqual(sale.order_line.tax_id, self.collected)
        self.assertTrue(self.mapping(self.collected).collected_by_channel)
        self.assertEqual(sale.amount_total, 54.44)
        invoice = sale.marketplace_binding_ids.invoice_id
        self.assert_tax_booked(invoice, self.collected, self.clearing, 4.44)
        self.assertFalse(
            invoice.line_ids.filtered(
                lambda line: line.account_id == self.accounts["251500"]
            )
        )
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    # Currencies at their own precision

    def test_yen_and_dinars_import_to_their_unit(self):
        self.enable_invoicing()
        yen = self.taxed_order(
            [
                ("WIDGET", 1, "333", [("JCT", "0.1", {})]),
                ("GADGET", 2, "333", [("JCT", "0.1", {})]),
            ],
            "JPY",
            "JP",
            total="1099",
            total_tax="100",
        )
        event, sale = self.import_order(yen)
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(sale.currency_id.name, "JPY")
        # 33 + 67 yen of tax, each line rounded to the yen as the channel
        # did (at two decimals: 99.90): no rounding line either
        self.assertEqual((sale.amount_total, sale.amount_tax), (1099.0, 100.0))
        self.assertEqual(len(sale.order_line), 2)
        self.assert_tax_booked(
            sale.marketplace_binding_ids.invoice_id,
            self.jct,
            self.accounts["251600"],
            100,
        )
        # dinars need prices with three decimals
        event, _sale = self.import_order(self.dinar_order())
        self.assertEqual(event.state, "failed")
        self.assertIn("'Product Price' to 3", event.last_error)
        self.env.ref("product.decimal_price").digits = 3
        event.action_retry()
        self.perform_jobs()
        self.assertEqual(event.state, "done", event.last_error)
        sale = event.sale_order_id
        self.assertEqual(sale.currency_id.decimal_places, 3)
        self.assertEqual(len(sale.order_line), 1)  # no rounding line
        self.assertAlmostEqual(sale.amount_total, 25.925, places=3)
        self.assertAlmostEqual(sale.amount_tax, 1.235, places=3)
        invoice = sale.marketplace_binding_ids.invoice_id
        self.assert_tax_booked(invoice, self.kw_excise, self.accounts["251700"], 1.235)

    def dinar_order(self):
        return self.taxed_order(
            [("WIDGET", 2, "12.345", [("Excise", "0.05", {})])],
            "KWD",
            "KW",
            total="25.925",
            total_tax="1.235",
        )

    # An unmapped tax stops its order; mapped, Retry imports it

    def test_unmapped_tax_stops_the_order_until_mapped_then_retry_imports_it(self):
        payload = self.taxed_order(
            [("WIDGET", 1, "10.00", [("Mystery levy", "0.07", {})])],
            "USD",
            "US",
            total="10.70",
            total_tax="0.70",
        )
        event, sale = self.import_order(payload)
        self.assertEqual(event.state, "failed")
        self.assertFalse(sale)
        self.assertIn("Mystery levy 7% (US, excluded)", event.last_error)
        self.assertIn("Tax mappings", event.last_error)
        levy = self.make_tax("Levy 7%", 7, "US", False, "Levy", "251500")
        mapping = self.env["marketplace.tax.mapping"].create(
            {
                "backend_id": self.backend.id,
                "name": "Mystery levy",
                "rate": 7,
                "country_id": self.env.ref("base.us").id,
                "tax_id": levy.id,
            }
        )
        self.assertEqual(mapping.state, "confirmed")
        event.action_retry()
        self.perform_jobs()
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(event.sale_order_id.order_line.tax_id, levy)
        self.assertEqual(event.sale_order_id.amount_total, 10.7)

    def test_template_policy_creates_the_tax_with_the_templates_accounts(self):
        self.backend.write(
            {"unmapped_tax_policy": "template", "tax_template_id": self.ny_tax.id}
        )
        payload = self.taxed_order(
            [("WIDGET", 1, "10.00", [("County tax", "0.045", {})])],
            "USD",
            "US",
            total="10.45",
            total_tax="0.45",
        )
        event, sale = self.import_order(payload)
        self.assertEqual(event.state, "done", event.last_error)
        tax = sale.order_line.tax_id
        self.assertNotEqual(tax, self.ny_tax)
        self.assertEqual(tax.amount, 4.5)
        self.assertEqual(tax.tax_group_id, self.ny_tax.tax_group_id)
        self.assertEqual(tax.country_id, self.ny_tax.country_id)
        self.assertEqual(
            tax._marketplace_tax_lines().account_id, self.accounts["251500"]
        )
        mapping = self.mapping(tax)
        self.assertEqual((mapping.state, mapping.origin), ("to_review", "template"))
        self.assertEqual(sale.amount_total, 10.45)

    # Taxes created on the fly by earlier versions

    def test_taxes_created_on_the_fly_are_listed_for_review(self):
        legacy = self.env["account.tax"].create(
            {
                "name": "FR TVA 20% incl. (test_channel)",
                "amount": 20,
                "amount_type": "percent",
                "type_tax_use": "sale",
                "price_include_override": "tax_included",
            }
        )
        load_migration("18.0.3.0.0", "post-tax-mappings").migrate(
            self.env.cr, "18.0.2.0.0"
        )
        mapping = self.env["marketplace.tax.mapping"].search(
            [("backend_id", "=", self.backend.id), ("origin", "=", "migrated")]
        )
        self.assertEqual(mapping.tax_id, legacy)
        self.assertEqual(
            (mapping.name, mapping.rate, mapping.price_include, mapping.state),
            ("FR TVA", 20.0, True, "to_review"),
        )
        self.assertFalse(list_legacy_taxes(self.env))  # listed once
        # its orders wait for a real tax: the old one has no account
        payload = self.taxed_order(
            [("WIDGET", 1, "12.00", [("FR TVA", "0.2", {})])],
            "EUR",
            "FR",
            included=True,
            total="12.00",
        )
        event, _sale = self.import_order(payload)
        self.assertEqual(event.state, "failed")
        self.assertIn("has no account", event.last_error)
        mapping.tax_id = self.tva_fr
        event.action_retry()
        self.perform_jobs()
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(event.sale_order_id.order_line.tax_id, self.tva_fr)

    # Who sees and changes mappings

    def test_mappings_are_read_by_users_changed_by_managers_per_company(self):
        mine = self.env["marketplace.tax.mapping"].create(
            {"backend_id": self.backend.id, "name": "GST", "rate": 5}
        )
        company_b = self.env["res.company"].create({"name": "Other Co"})
        backend_b = self.env["marketplace.backend"].create(
            {
                "name": "Other channel",
                "marketplace_type": "test_channel",
                "company_id": company_b.id,
                "warehouse_id": self.env["stock.warehouse"]
                .search([("company_id", "=", company_b.id)], limit=1)
                .id,
            }
        )
        self.env["marketplace.tax.mapping"].create(
            {"backend_id": backend_b.id, "name": "GST", "rate": 5}
        )
        user = new_test_user(
            self.env,
            "tax_user",
            groups="marketplace_connector.group_marketplace_user",
            company_id=self.company.id,
            company_ids=[(6, 0, self.company.ids)],
        )
        manager = new_test_user(
            self.env,
            "tax_manager",
            groups="marketplace_connector.group_marketplace_manager",
            company_id=self.company.id,
            company_ids=[(6, 0, self.company.ids)],
        )
        seen = self.env["marketplace.tax.mapping"].with_user(user).search([])
        self.assertEqual(seen, mine)
        with self.assertRaises(AccessError):
            mine.with_user(user).write({"tax_id": self.gst.id})
        mine.with_user(manager).write({"country_id": self.env.ref("base.ca").id})
        mine.with_user(manager).write({"tax_id": self.gst.id})
        self.assertEqual((mine.state, mine.origin), ("confirmed", "manual"))
