# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The screens, tried in headless Chromium as the people who use them would:
a warehouse user finds the orders that need attention and reads why, a
marketplace manager retries a failed event, a stock manager reads Channel
Stock and the Stock Ledger for one product. The tours
(static/tests/tours/) assert what each must see; the data comes through the
real intake (signed webhooks over HTTP, jobs performed by queue_job's code).
"""

from odoo.tests.common import new_test_user, tagged

from .common import ChannelCase
from .tour_common import TourMixin


@tagged("post_install", "-at_install")
class TestTours(TourMixin, ChannelCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.warehouse_user = new_test_user(
            cls.env,
            login="mkt-tour-warehouse",
            name="Wendy Warehouse",
            groups="stock.group_stock_user,sales_team.group_sale_salesman_all_leads",
        )
        cls.stock_manager = new_test_user(
            cls.env,
            login="mkt-tour-stock",
            name="Sam Stock",
            groups="stock.group_stock_manager,"
            "marketplace_connector.group_marketplace_user",
        )
        cls.marketplace_manager = new_test_user(
            cls.env,
            login="mkt-tour-manager",
            name="Max Marketplace",
            groups="sales_team.group_sale_salesman_all_leads,"
            "marketplace_connector.group_marketplace_manager",
        )

    def import_orders(self, *payloads):
        for payload in payloads:
            self.assertEqual(self.deliver(payload).status_code, 200)
        self.perform_jobs()

    def binding(self, external_id):
        return self.env["marketplace.order.binding"].search(
            [("backend_id", "=", self.backend.id), ("external_id", "=", external_id)]
        )

    def test_warehouse_user_finds_orders_needing_attention_and_manager_retries(self):
        self.import_orders(
            self.order([("GADGET", 1)], order_id="TOUR-SYNCED"),
            self.order([("WIDGET", 40)], order_id="TOUR-OVERSOLD"),
            self.order([("LAMP-XL", 1)], order_id="TOUR-UNKNOWN"),
        )
        self.assertEqual(self.binding("TOUR-SYNCED").sync_state, "synced")
        self.assertEqual(self.binding("TOUR-OVERSOLD").sync_state, "attention")
        failed = self.events(external_id="TOUR-UNKNOWN")
        self.assertEqual(failed.state, "failed")

        self.start_tour(
            "/odoo/action-sale.action_orders",
            "marketplace_order_attention",
            login=self.warehouse_user.login,
        )

        # the cause fixed (the product now exists), the manager retries
        lamp = self.env["product.product"].create(
            {"name": "Lamp XL", "default_code": "LAMP-XL", "type": "consu"}
        )
        self.start_tour(
            "/odoo/action-marketplace_connector.action_marketplace_event",
            "marketplace_event_retry",
            login=self.marketplace_manager.login,
        )
        failed.invalidate_recordset()
        self.assertEqual(failed.state, "queued")
        self.perform_jobs()
        self.assertEqual(failed.state, "done")
        self.assertEqual(failed.sale_order_id.order_line.product_id, lamp)

    def test_stock_manager_reads_channel_stock_and_ledger(self):
        self.import_orders(self.order([("WIDGET", 4)], order_id="TOUR-LEDGER"))
        self.queue_push()
        self.perform_jobs()
        level = self.levels("WIDGET")
        self.assertEqual(
            (level.ats_quantity, level.last_pushed_quantity, level.state),
            (26, 26, "synced"),
            "what the tour reads",
        )

        self.start_tour(
            "/odoo", "marketplace_channel_stock", login=self.stock_manager.login
        )

    def test_manager_reads_a_new_backends_overview(self):
        self.start_tour(
            "/odoo/action-marketplace_connector.action_marketplace_overview",
            "marketplace_overview",
            login=self.marketplace_manager.login,
        )
