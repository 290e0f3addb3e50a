# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Two companies, two backends: a user of one sees nothing of the other;
raw payloads (customers' personal data) are for marketplace managers."""

from odoo.exceptions import AccessError
from odoo.tests.common import new_test_user, tagged

from .common import ChannelCase

MODELS = (
    "marketplace.backend",
    "marketplace.event",
    "marketplace.order.binding",
    "marketplace.product.binding",
    "marketplace.channel.location",
    "marketplace.stock.level",
    "marketplace.stock.ledger",
    "marketplace.stock.reconciliation",
)


@tagged("post_install", "-at_install")
class TestCompanyRules(ChannelCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "Other Co"})
        warehouse_b = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.company_b.id)], limit=1
        )
        cls.backend_b = cls.env["marketplace.backend"].create(
            {
                "name": "Other channel",
                "marketplace_type": "test_channel",
                "company_id": cls.company_b.id,
                "warehouse_id": warehouse_b.id,
            }
        )
        location_b = cls.env["marketplace.channel.location"].create(
            {
                "backend_id": cls.backend_b.id,
                "name": "B",
                "external_id": "LOC-B",
                "location_id": warehouse_b.lot_stock_id.id,
            }
        )
        product = cls.env["product.product"].create({"name": "B widget"})
        binding_b = cls.env["marketplace.product.binding"].create(
            {
                "backend_id": cls.backend_b.id,
                "product_id": product.id,
                "external_id": "b-1",
                "channel_item_ref": "b-1",
            }
        )
        cls.env["marketplace.stock.level"].create(
            {
                "binding_id": binding_b.id,
                "backend_id": cls.backend_b.id,
                "product_id": product.id,
                "channel_location_id": location_b.id,
            }
        )
        cls.env["marketplace.order.binding"].create(
            {"backend_id": cls.backend_b.id, "external_id": "B-1"}
        )
        cls.env["marketplace.stock.ledger"].create(
            {
                "entry_key": "b-sale-1",
                "backend_id": cls.backend_b.id,
                "product_id": product.id,
                "kind": "sale",
                "quantity": -1,
            }
        )
        cls.env["marketplace.stock.reconciliation"].create(
            {"backend_id": cls.backend_b.id}
        )
        cls.env["marketplace.event"].create(
            {
                "backend_id": cls.backend_b.id,
                "company_id": cls.company_b.id,
                "topic": "order",
                "dedupe_key": "b-event",
                "payload": {"customer": {"email": "b@example.com"}},
            }
        )

    def test_a_user_of_one_company_sees_nothing_of_the_other(self):
        # company A has records of every model too (the class set-up's)
        self.deliver(self.order([("WIDGET", 1)]))
        self.perform_jobs("_job_process")
        self.queue_push()
        self.perform_jobs("_job_push_stock")
        self.env["marketplace.stock.reconciliation"].create(
            {"backend_id": self.backend.id}
        )
        user = new_test_user(
            self.env,
            "manager_a",
            groups="marketplace_connector.group_marketplace_manager,"
            "sales_team.group_sale_salesman_all_leads",
            company_id=self.company.id,
            company_ids=[(6, 0, self.company.ids)],
        )
        for model in MODELS:
            seen = self.env[model].with_user(user).search([])
            backends = (
                seen.mapped("backend_id") if model != "marketplace.backend" else seen
            )
            self.assertTrue(seen, f"{model}: sees its own company's")
            self.assertNotIn(self.backend_b, backends, f"{model}: sees the other's")
        orders = (
            self.env["sale.order"]
            .with_user(user)
            .search([("marketplace_backend_id", "!=", False)])
        )
        self.assertTrue(orders)
        self.assertEqual(orders.company_id, self.company)

    def test_a_salesman_reads_sync_status_but_no_payload(self):
        payload = self.order([("GADGET", 1)])
        self.deliver(payload)
        event = self.events(external_id=payload["id"])
        salesman = new_test_user(
            self.env, "salesman_a", groups="sales_team.group_sale_salesman"
        )
        as_salesman = event.with_user(salesman)
        self.assertEqual(as_salesman.state, "queued")
        with self.assertRaises(AccessError):
            as_salesman.read(["payload"])
        with self.assertRaises(AccessError):
            as_salesman.read(["headers_text"])
        manager = new_test_user(
            self.env,
            "manager_p",
            groups="marketplace_connector.group_marketplace_manager",
        )
        text = event.with_user(manager).payload_text
        self.assertIn('"ada@example.com"', text)
        self.assertIn("\n  ", text, "indented JSON")
