# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Shared set-up: a strict Amazon simulator on loopback (SP-API, Login with
Amazon and the SQS queue, spoken to over real HTTP and with boto3), a
backend pointed at it, stocked products bound to its listings, and helpers
that pull the queue, poll and run the queued jobs through queue_job's own
runner code.

Time: the simulator's clock is frozen (``time_scale=0``) and moves only
when a test advances it; the adapter's "now" (what a poll may ask for) reads
the same clock, as Amazon's and our clocks agree in production. Real time
still runs for what Odoo dates itself (received_at, job etas), which the
tests never depend on.
"""

import datetime
import os
import sys
from contextlib import closing
from decimal import Decimal
from unittest.mock import patch

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

from marketplace_sim.amazon import (  # noqa: E402  pylint: disable=wrong-import-position
    AmazonSimulator,
    SimClock,
)

SELLER_ID = "A2TESTSELLER01"
MARKETPLACE_ID = "ATVPDKIKX0DER"
CLIENT_ID = "amzn1.application-oa2-client.odoo-tests"
CLIENT_SECRET = "lwa-secret-0123456789"
REFRESH_TOKEN = "Atzr|odoo-tests-refresh-token"
AWS_KEY_ID = "AKIDSIMULATOR"
AWS_SECRET = "aws-secret-for-the-simulator"
LOCATION = "DEFAULT"
NOW_PATH = "odoo.addons.marketplace_amazon.lib.adapter._utcnow"

__all__ = ["AmazonCase", "tagged"]


class AmazonCase(JobRunnerMixin, LoopbackHttpCase):
    """An Odoo test case with a fresh Amazon simulator per test and a
    backend configured for it."""

    #: (SKU, units on hand in Odoo, price on Amazon)
    CATALOGUE = (
        ("MUG-BLUE", 50, "19.99"),
        ("TEE-L", 20, "25.00"),
        ("CAP-RED", 10, "12.50"),
    )
    #: what the simulator lists before our first push
    LISTED_QUANTITY = 999

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.company
        cls.usd = cls.env.ref("base.USD")
        cls.pricelist = cls.env["product.pricelist"].create(
            {"name": "Amazon US (tests)", "currency_id": cls.usd.id}
        )
        cls.warehouse = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.company.id)], limit=1
        )
        cls.stock_location = cls.warehouse.lot_stock_id
        cls.backend = cls.env["marketplace.backend"].create(
            {
                "name": "Amazon US",
                "marketplace_type": "amazon",
                "api_url": "http://127.0.0.1:9",  # the simulator's, per test
                "amazon_region": "na",
                "amazon_seller_id": SELLER_ID,
                "amazon_marketplace_ids": MARKETPLACE_ID,
                "amazon_sqs_region": "us-east-1",
                "lwa_client_id": CLIENT_ID,
                "lwa_client_secret": CLIENT_SECRET,
                "lwa_refresh_token": REFRESH_TOKEN,
                "aws_access_key_id": AWS_KEY_ID,
                "aws_secret_access_key": AWS_SECRET,
                "warehouse_id": cls.warehouse.id,
                "pricelist_id": cls.pricelist.id,
                "request_timeout": 5.0,
                "stock_push_delay": 0,
                "poll_overlap_minutes": 0,
                # simulated orders are taxed at any rate: each rate gets a
                # tax copied from the company's sales tax (issue #23)
                "unmapped_tax_policy": "template",
                "tax_template_id": cls.env.company.account_sale_tax_id.id,
            }
        )
        cls.env["marketplace.channel.location"].create(
            {
                "backend_id": cls.backend.id,
                "name": "Merchant fulfilled",
                "external_id": LOCATION,
                "location_id": cls.stock_location.id,
            }
        )
        cls.products = {}
        for sku, on_hand, price in cls.CATALOGUE:
            cls.products[sku] = cls._create_bound_product(sku, on_hand, price)
        # the stock put in above queued pushes: a test starts with none
        cls.env.flush_all()
        cls.env.cr.precommit.run()
        cls.env["marketplace.stock.dirty"].search([]).unlink()
        cls.env["queue.job"].search([]).unlink()

    @classmethod
    def _create_bound_product(cls, sku, on_hand, price):
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
        if on_hand:
            cls.env["stock.quant"]._update_available_quantity(
                product, cls.stock_location, on_hand
            )
        cls.env["marketplace.product.binding"].create(
            {
                "backend_id": cls.backend.id,
                "product_id": product.id,
                "external_id": sku,
                "sku": sku,
                "channel_item_ref": sku,
            }
        )
        return product

    def setUp(self):
        super().setUp()
        self.sim = self.new_simulator()
        self.backend.write(
            {
                "api_url": self.sim.url,
                "amazon_lwa_url": self.sim.lwa_url,
                "amazon_sqs_endpoint_url": self.sim.sqs_url,
                "amazon_sqs_queue_url": self.sim.queue_url,
            }
        )
        # the adapter's now is Amazon's: a poll asks up to 2 min 10 s before it
        sim_now = patch(NOW_PATH, self.sim_now)
        sim_now.start()
        self.addCleanup(sim_now.stop)
        # the access token and the rate budgets are committed on connections
        # of their own (shared by every worker): each test starts without
        self._forget_shared_state()
        self.addCleanup(self._forget_shared_state)

    def new_simulator(self):
        sim = AmazonSimulator(
            seller_id=SELLER_ID,
            marketplace_ids=[MARKETPLACE_ID],
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            refresh_token=REFRESH_TOKEN,
            clock=SimClock(time_scale=0),
            aws_access_keys=(AWS_KEY_ID,),
        ).start()
        self.addCleanup(sim.stop)
        for sku, _on_hand, _price in self.CATALOGUE:
            sim.add_listing(sku, quantity=self.LISTED_QUANTITY)
        return sim

    def _forget_shared_state(self):
        with closing(sql_db.db_connect(self.env.cr.dbname).cursor()) as cr:
            cr.execute(
                "DELETE FROM marketplace_access_token WHERE backend_id = %s",
                (self.backend.id,),
            )
            cr.execute(
                "DELETE FROM marketplace_rate_budget WHERE backend_id = %s",
                (self.backend.id,),
            )
            cr.commit()  # pylint: disable=invalid-commit

    def sim_now(self):
        """The simulator's now as the adapter reads it (naive UTC)."""
        return datetime.datetime.fromtimestamp(
            self.sim.clock(), tz=datetime.timezone.utc
        ).replace(tzinfo=None)

    # Orders on Amazon

    def price(self, sku):
        return next(price for code, _qty, price in self.CATALOGUE if code == sku)

    def create_order(self, lines, **options):
        """An order on Amazon (``lines``: ``[(sku, quantity)]``); its
        ORDER_CHANGE notification is queued."""
        return self.sim.create_order(
            [(sku, quantity, self.price(sku)) for sku, quantity in lines], **options
        )

    def lose_notifications(self):
        """Every message on the queue is lost (as when a subscription was
        broken): only a poll can find those orders."""
        with self.sim.sqs.lock:
            self.sim.sqs.queues[self.sim.queue_name].copies.clear()

    # Intake

    def pull(self):
        """The queue consumed as the cron's job does."""
        self.backend._enqueue_pull()
        self.perform_jobs("_job_pull_events", rounds=1)

    def poll(self):
        self.backend._enqueue_poll()
        self.perform_jobs("_job_poll_orders", rounds=1)

    def import_orders(self):
        """Pull the queue, then run the event jobs."""
        self.pull()
        self.perform_jobs("_job_process")

    # Reading back

    def events(self, **domain):
        return self.env["marketplace.event"].search(
            [("backend_id", "=", self.backend.id)]
            + [(key, "=", value) for key, value in domain.items()],
            order="id",
        )

    def sale_orders(self):
        return self.env["sale.order"].search(
            [("marketplace_backend_id", "=", self.backend.id)]
        )

    def sale_order(self, order):
        return self.binding(order).order_id

    def binding(self, order):
        return self.env["marketplace.order.binding"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("external_id", "=", order["orderId"]),
            ]
        )

    def level(self, sku):
        return self.env["marketplace.stock.level"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("product_id", "=", self.products[sku].id),
            ]
        )

    def calls(self, operation):
        """How many times the simulator answered ``operation``."""
        return self.sim.request_stats.operation(operation)["calls"]

    def job(self, method, **domain):
        """The newest job of ``method`` (the one a test just queued)."""
        return self.env["queue.job"].search(
            [("method_name", "=", method)]
            + [(key, "=", value) for key, value in domain.items()],
            order="id desc",
            limit=1,
        )

    @staticmethod
    def money(value):
        return Decimal(str(value)).quantize(Decimal("0.01"))

    # Stock

    def change_stock(self, sku, delta):
        """An inventory change in Odoo, committed as a transaction would be
        (its precommit hook queues the push)."""
        self.env["stock.quant"]._update_available_quantity(
            self.products[sku], self.stock_location, delta
        )
        self.env.flush_all()
        self.env.cr.precommit.run()

    def queue_push(self, *skus):
        """Queue a push of these products, as a stock change does."""
        self.env["marketplace.stock.dirty"]._mark(
            [self.products[sku].id for sku in skus or dict(self.products)], False
        )
