# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Shared by the Odoo tests of the core and of every adapter: queued jobs
run through queue_job's own runner code, and a case with the test channel
(``tests/addons/marketplace_test_channel``: a small channel over real HTTP on
loopback, and its adapter) for the core's own tests."""

import hashlib
import hmac
import json
from urllib.parse import urlsplit

from odoo import SUPERUSER_ID, api
from odoo.tests.common import HttpCase, _super_send

from odoo.addons.marketplace_connector import fast_intake
from odoo.addons.queue_job.controllers.main import RunJobController
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job

TEST_API_KEY = "test-key-0123456789"
TEST_WEBHOOK_SECRET = "test-secret-abcdef"
LOCATION = "LOC-1"


class JobRunnerMixin:
    """Run pending jobs as queue_job's runner does."""

    def pending_jobs(self, method=None):
        domain = [("state", "in", ("pending", "enqueued"))]
        if method:
            domain.append(("method_name", "=", method))
        return self.env["queue.job"].search(domain, order="id")

    def perform_jobs(self, method=None, rounds=5):
        """Run pending jobs as queue_job's runner does, each in its own
        (test) transaction, through ``RunJobController._try_perform_job``: a
        retryable error rolls the job's work back and postpones it, keeping
        its retry count; a failure rolls the work back, marks the job failed
        and calls its on_fail method. Postponed jobs run
        again, up to ``rounds`` times. Returns the number of runs."""
        performed = 0
        self.env.flush_all()  # the jobs run in cursors of their own
        for _round in range(rounds):
            uuids = self.pending_jobs(method).mapped("uuid")
            if not uuids:
                break
            for uuid in uuids:
                self._run_one_job(uuid)
                performed += 1
            self.env.invalidate_all()
        return performed

    def _run_one_job(self, uuid):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            job = Job.load(env, uuid)
            job.set_started()
            job.store()
            try:
                with cr.savepoint():
                    RunJobController._try_perform_job(env, job)
            except RetryableJobError as err:
                # what the runner does: postpone, keep the retry count
                env.invalidate_all()
                job.postpone(result=str(err), seconds=err.seconds)
                job.set_pending(reset_retry=False)
                job.store()
            except Exception as err:
                env.invalidate_all()
                vals = {
                    "exc_info": repr(err),
                    "exc_name": type(err).__name__,
                    "exc_message": str(err),
                }
                job.set_failed(**vals)
                job.store()
                job.on_fail(vals)


class LoopbackHttpCase(HttpCase):
    """Odoo's test harness raises every timeout below 10 s to 10 s; our
    loopback channels need the real, short timeouts."""

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        if urlsplit(r.url).hostname in ("127.0.0.1", "localhost"):
            return _super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # In production the server-wide module's post_load installs the fast
        # intake before any registry is loaded; pytest-odoo loads the
        # registry first, so post_load never runs: install it here.
        if not fast_intake.ENABLED:
            fast_intake.install()


class ChannelCase(JobRunnerMixin, LoopbackHttpCase):
    """A test channel on loopback, a backend of it, two stocked products
    bound to its items at one mapped location."""

    CATALOGUE = (("WIDGET", 30), ("GADGET", 10))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from odoo.addons.marketplace_test_channel.lib.server import ChannelServer

        cls.ChannelServer = ChannelServer
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.company
        cls.warehouse = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.company.id)], limit=1
        )
        cls.pricelist = cls.env["product.pricelist"].create(
            {"name": "Test channel USD", "currency_id": cls.env.ref("base.USD").id}
        )
        cls.backend = cls.env["marketplace.backend"].create(
            {
                "name": "Test channel",
                "marketplace_type": "test_channel",
                "api_url": "http://127.0.0.1:9",  # set per test
                "test_api_key": TEST_API_KEY,
                "test_webhook_secret": TEST_WEBHOOK_SECRET,
                "warehouse_id": cls.warehouse.id,
                "pricelist_id": cls.pricelist.id,
                "request_timeout": 2.0,
                "stock_push_delay": 0,
            }
        )
        cls.env["marketplace.channel.location"].create(
            {
                "backend_id": cls.backend.id,
                "name": "Main",
                "external_id": LOCATION,
                "location_id": cls.warehouse.lot_stock_id.id,
            }
        )
        cls.products = {}
        for sku, quantity in cls.CATALOGUE:
            product = cls.env["product.product"].create(
                {
                    "name": sku.title(),
                    "default_code": sku,
                    "type": "consu",
                    "is_storable": True,
                    "list_price": 10.0,
                    "taxes_id": [(5, 0, 0)],
                }
            )
            cls.env["stock.quant"]._update_available_quantity(
                product, cls.warehouse.lot_stock_id, quantity
            )
            cls.env["marketplace.product.binding"].create(
                {
                    "backend_id": cls.backend.id,
                    "product_id": product.id,
                    "external_id": f"item-{sku}",
                    "sku": sku,
                    "channel_item_ref": f"item-{sku}",
                }
            )
            cls.products[sku] = product

    def setUp(self):
        super().setUp()
        self.channel = self.new_channel()
        self.backend.api_url = self.channel.url

    def new_channel(self, **options):
        channel = self.ChannelServer(api_key=TEST_API_KEY, **options).start()
        self.addCleanup(channel.stop)
        for sku, _quantity in self.CATALOGUE:
            channel.set_quantity(f"item-{sku}", LOCATION, 0)
        return channel

    # Orders

    _order_ids = iter(range(1001, 10**6))

    def order(self, lines, status="paid", updated_at="2026-12-01T10:00:00+00:00", **kw):
        """An order payload of the test channel (``lines``: [(sku, qty)])."""
        order_id = kw.pop("order_id", None) or f"T{next(self._order_ids)}"
        return {
            "id": order_id,
            "name": f"#{order_id}",
            "currency": "USD",
            "created_at": "2026-12-01T09:59:00+00:00",
            "updated_at": updated_at,
            "status": status,
            "customer": {"id": "c-1", "email": "ada@example.com", "first_name": "Ada"},
            "address": {"first_name": "Ada", "city": "Paris", "country_code": "FR"},
            "lines": [
                {
                    "id": f"{order_id}-{index}",
                    "item": f"item-{sku}",
                    "sku": sku,
                    "quantity": quantity,
                    "price": "10.00",
                }
                for index, (sku, quantity) in enumerate(lines)
            ],
            **kw,
        }

    # Webhooks

    def webhook_url(self):
        return (
            f"{self.base_url()}/marketplace/webhook/{self.backend.sudo().webhook_token}"
        )

    def deliver(self, payload, secret=TEST_WEBHOOK_SECRET):
        body = json.dumps(payload).encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return self.opener.post(
            self.webhook_url(),
            data=body,
            headers={"X-Test-Signature": signature, "X-Test-Topic": "order"},
            timeout=10,
        )

    # Reading back

    def events(self, **domain):
        return self.env["marketplace.event"].search(
            [("backend_id", "=", self.backend.id)]
            + [(key, "=", value) for key, value in domain.items()]
        )

    def levels(self, sku=None):
        domain = [("backend_id", "=", self.backend.id)]
        if sku:
            domain.append(("product_id", "=", self.products[sku].id))
        return self.env["marketplace.stock.level"].search(domain)

    def queue_push(self, *skus):
        """Queue a push of these products, as a stock change does."""
        skus = skus or tuple(self.products)
        self.env["marketplace.stock.dirty"]._mark(
            [self.products[sku].id for sku in skus], False
        )

    def change_stock(self, sku, delta):
        """An inventory change in Odoo (the ledger's master)."""
        self.env["stock.quant"]._update_available_quantity(
            self.products[sku], self.warehouse.lot_stock_id, delta
        )
        self.env.flush_all()
        self.env.cr.precommit.run()
