# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Two transactions validating one delivery at the same time, and two jobs
sending it at the same time, make one Shopify fulfillment.

These tests commit (a transaction that cannot see the other proves
nothing): they work on a backend, products and an order of their own and
delete what they can at the end."""

import threading
import uuid
from contextlib import closing

from odoo import Command, sql_db
from odoo.tests.common import TransactionCase, tagged

from odoo.addons.marketplace_connector.tests.real_transactions import committed_env
from odoo.addons.queue_job.exception import RetryableJobError

from .common import ShopifySimulator

SHOP = "concurrent.myshopify.com"
TOKEN = "shpat_concurrent_fulfilment"


@tagged("post_install", "-at_install")
class TestFulfilmentConcurrency(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dbname = cls.env.cr.dbname
        cls.sim = ShopifySimulator(shop_domain=SHOP, access_token=TOKEN)
        cls.skus = [f"CONC-{uuid.uuid4().hex[:8]}-{n}" for n in (1, 2)]
        for sku in cls.skus:
            cls.sim.add_product(sku=sku, price="10.00", inventory=20)
        cls.sim.start()
        cls.addClassCleanup(cls.sim.stop)
        cls.created = {}
        cls.addClassCleanup(cls._delete_committed_data)
        with cls.real_env() as env:
            warehouse = env["stock.warehouse"].search([], limit=1)
            backend = env["marketplace.backend"].create(
                {
                    "name": "Concurrent fulfilment",
                    "marketplace_type": "shopify",
                    "api_url": cls.sim.url,
                    "shop_domain": SHOP,
                    "api_version": "2026-10",
                    "access_token": TOKEN,
                    "warehouse_id": warehouse.id,
                    "request_timeout": 5.0,
                }
            )
            products = env["product.product"].create(
                [
                    {
                        "name": sku,
                        "default_code": sku,
                        "type": "consu",
                        "is_storable": True,
                        "taxes_id": [Command.clear()],
                    }
                    for sku in cls.skus
                ]
            )
            for product in products:
                env["stock.quant"]._update_available_quantity(
                    product, warehouse.lot_stock_id, 10
                )
            cls.created.update(backend=backend.id, products=products.ids)

    @classmethod
    def real_env(cls):
        """A real transaction of its own, committed on success."""
        return committed_env(cls.dbname)

    @classmethod
    def _delete_committed_data(cls):
        with cls.real_env() as env:
            backend = env["marketplace.backend"].browse(cls.created.get("backend"))
            bindings = env["marketplace.order.binding"].search(
                [("backend_id", "=", backend.id)]
            )
            shipments = env["marketplace.shipment"].search(
                [("backend_id", "=", backend.id)]
            )
            env["queue.job"].search(
                [("model_name", "=", "marketplace.shipment")]
            ).filtered(lambda job: set(job.records.ids) & set(shipments.ids)).unlink()
            shipments.unlink()
            # the orders and their done deliveries stay (stock history);
            # without their binding they leave every marketplace list
            bindings.unlink()
            backend.unlink()

    def place_order(self):
        """An order on the shop and its confirmed sale order in Odoo (as an
        import makes it), committed; returns (shop order, picking id)."""
        payload = self.sim.create_order(
            lines=[(self.skus[0], 2), (self.skus[1], 1)], tax_rate="0", notify=False
        )
        line_ids = {line["sku"]: str(line["id"]) for line in payload["line_items"]}
        with self.real_env() as env:
            products = env["product.product"].browse(self.created["products"])
            partner = env["res.partner"].create({"name": f"Buyer {payload['id']}"})
            sale = env["sale.order"].create(
                {
                    "partner_id": partner.id,
                    "warehouse_id": env["marketplace.backend"]
                    .browse(self.created["backend"])
                    .warehouse_id.id,
                    "order_line": [
                        Command.create(
                            {
                                "product_id": product.id,
                                "product_uom_qty": 2 if n == 0 else 1,
                                "marketplace_line_id": line_ids[product.default_code],
                            }
                        )
                        for n, product in enumerate(products)
                    ],
                }
            )
            env["marketplace.order.binding"].create(
                {
                    "backend_id": self.created["backend"],
                    "external_id": str(payload["id"]),
                    "external_name": payload["name"],
                    "order_id": sale.id,
                    "sync_state": "synced",
                }
            )
            sale.action_confirm()
            picking = sale.picking_ids
            picking.carrier_tracking_ref = "1Z999CC10000000001"
            for move in picking.move_ids:
                move.quantity = move.product_uom_qty
                move.picked = True
            return payload, picking.id

    def validate_concurrently(self, picking_id):
        """Validate the delivery in two transactions at once: both read it
        before either commits. Returns what each thread ended with."""
        barrier = threading.Barrier(2, timeout=30)
        outcomes = []

        def validate():
            try:
                with self.real_env() as env:
                    picking = env["stock.picking"].browse(picking_id)
                    picking.move_ids.mapped("state")  # the snapshot is taken
                    barrier.wait()
                    picking.with_context(cancel_backorder=False)._action_done()
                    env.flush_all()
                outcomes.append("validated")
            except Exception as err:  # the loser's error is the result
                outcomes.append(type(err).__name__)

        threads = [threading.Thread(target=validate) for _n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        return outcomes

    def test_two_validations_and_two_jobs_make_one_fulfillment(self):
        payload, picking_id = self.place_order()
        outcomes = self.validate_concurrently(picking_id)
        # the second fails as a whole (the UNIQUE(picking_id) of its
        # shipment row, or a serialization failure on the moves)
        self.assertEqual(len(outcomes), 2, outcomes)
        self.assertEqual(outcomes.count("validated"), 1, outcomes)
        with self.real_env() as env:
            shipments = env["marketplace.shipment"].search(
                [("picking_id", "=", picking_id)]
            )
            self.assertEqual(len(shipments), 1, "one row for the delivery")
            shipment_id = shipments.id
            self.assertEqual(shipments.picking_id.state, "done")

        # a worker is sending it (its row is locked) when a second job of
        # the same delivery starts: the second waits for a later try
        with closing(sql_db.db_connect(self.dbname).cursor()) as holder:
            holder.execute(
                "SELECT id FROM marketplace_shipment WHERE id = %s FOR UPDATE",
                (shipment_id,),
            )
            with (
                self.assertRaises(RetryableJobError),
                self.real_env() as env,
            ):
                env["marketplace.shipment"].browse(shipment_id)._job_send()
            holder.rollback()
        self.assertEqual(self.sim.fulfillment.fulfillment_dicts(payload["id"]), [])

        # then both jobs run, one after the other
        results = []
        for _job in range(2):
            with self.real_env() as env:
                results.append(
                    env["marketplace.shipment"].browse(shipment_id)._job_send()
                )
        self.assertTrue(results[0].startswith("Sent"), results)
        self.assertEqual(results[1], "Already sent")
        fulfillments = self.sim.fulfillment.fulfillment_dicts(payload["id"])
        self.assertEqual(len(fulfillments), 1)
        self.assertEqual(
            sorted(
                (line["sku"], line["quantity"])
                for line in fulfillments[0]["line_items"]
            ),
            sorted([(self.skus[0], 2), (self.skus[1], 1)]),
        )
        self.assertEqual(fulfillments[0]["tracking_number"], "1Z999CC10000000001")
