# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Tests in real transactions of their own, against the test channel.

These tests commit (they must: a transaction that cannot see the others
proves nothing), so they work on backends of their own and delete what they
created at the end."""

import hashlib
import hmac
import itertools
import json
import threading
import uuid
from contextlib import closing, contextmanager

from odoo import SUPERUSER_ID, Command, api, sql_db
from odoo.tests.common import TransactionCase

from .common import LOCATION, TEST_API_KEY, TEST_WEBHOOK_SECRET

_ORDER_IDS = itertools.count(1)


def order_payload(lines, status="paid", updated_at="2026-12-01T10:00:00+00:00", **kw):
    """An order payload of the test channel (``lines``: [(sku, qty)]), with
    an id and a customer no other run uses (these tests commit)."""
    order_id = f"R{uuid.uuid4().hex[:8]}-{next(_ORDER_IDS)}"
    return {
        "id": order_id,
        "name": f"#{order_id}",
        "currency": "USD",
        "created_at": "2026-12-01T09:59:00+00:00",
        "updated_at": updated_at,
        "status": status,
        # a customer of its own: the partners these tests commit stay, and
        # must not be found by other tests' imports (by id or by email)
        "customer": {
            "id": f"c-{order_id}",
            "email": f"buyer-{order_id}@example.com",
            "first_name": "Buyer",
        },
        "address": {"first_name": "Buyer", "city": "Paris", "country_code": "FR"},
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


def signed_delivery(payload, topic="order"):
    """The body and headers of one test channel delivery of ``payload``."""
    body = json.dumps(payload).encode()
    signature = hmac.new(TEST_WEBHOOK_SECRET.encode(), body, hashlib.sha256)
    return body, {"X-Test-Signature": signature.hexdigest(), "X-Test-Topic": topic}


@contextmanager
def committed_env(dbname):
    """A superuser environment on a transaction of its own, committed on
    success, rolled back on failure."""
    with closing(sql_db.db_connect(dbname).cursor()) as cr:
        try:
            yield api.Environment(cr, SUPERUSER_ID, {})
        except BaseException:
            cr.rollback()
            raise
        # the point of these tests: other connections must see it
        cr.commit()  # pylint: disable=invalid-commit


class RealTransactionCase(TransactionCase):
    """Work in real transactions of their own (committed, visible to the
    other connections), on test channel backends created here and deleted
    at the end."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from odoo.addons.marketplace_test_channel.lib.server import ChannelServer

        cls.dbname = cls.env.cr.dbname
        cls.backend_ids = []
        cls.addClassCleanup(cls._delete_committed_data)
        cls.channel = ChannelServer(api_key=TEST_API_KEY).start()
        cls.addClassCleanup(cls.channel.stop)

    @classmethod
    def real_env(cls):
        """A real transaction of its own, committed on success."""
        return committed_env(cls.dbname)

    @classmethod
    def create_backend(cls, env, name, **values):
        currency = env.ref("base.USD")
        pricelist = env["product.pricelist"].search(
            [("currency_id", "=", currency.id)], limit=1
        ) or env["product.pricelist"].create({"name": name, "currency_id": currency.id})
        warehouse = env["stock.warehouse"].search([], limit=1)
        backend = env["marketplace.backend"].create(
            {
                "name": name,
                "marketplace_type": "test_channel",
                "api_url": cls.channel.url,
                "test_api_key": TEST_API_KEY,
                "test_webhook_secret": TEST_WEBHOOK_SECRET,
                "warehouse_id": warehouse.id,
                "pricelist_id": pricelist.id,
                "request_timeout": 2.0,
                "channel_location_ids": [
                    Command.create(
                        {
                            "name": f"{name} location",
                            "external_id": LOCATION,
                            "location_id": warehouse.lot_stock_id.id,
                        }
                    )
                ],
                **values,
            }
        )
        cls.backend_ids.append(backend.id)
        return backend

    @classmethod
    def create_products(cls, env, backend, skus, quantities=None):
        """Storable products bound to the test channel's items
        ``item-<sku>`` on ``backend``, in stock as ``quantities`` says."""
        stock = env["stock.warehouse"].search([], limit=1).lot_stock_id
        products = env["product.product"].create(
            [
                {
                    "name": sku,
                    "default_code": sku,
                    "type": "consu",
                    "is_storable": True,
                    "taxes_id": [Command.clear()],
                }
                for sku in skus
            ]
        )
        for sku, product in zip(skus, products, strict=True):
            if backend:
                env["marketplace.product.binding"].create(
                    {
                        "backend_id": backend.id,
                        "product_id": product.id,
                        "external_id": f"item-{sku}",
                        "sku": sku,
                        "channel_item_ref": f"item-{sku}",
                    }
                )
            quantity = (quantities or {}).get(sku)
            if quantity:
                env["stock.quant"]._update_available_quantity(product, stock, quantity)
        return products

    def run_while_stock_held(self, product_id, target, timeout=10):
        """Run ``target`` in a thread while another transaction holds the
        product's stock lock row (an import of it in progress), for up to
        ``timeout`` seconds; return whether it was still running then (it
        waited for the lock)."""
        with closing(sql_db.db_connect(self.dbname).cursor()) as holder:
            holder.execute(
                "INSERT INTO marketplace_stock_lock (product_id) VALUES (%s) "
                "ON CONFLICT (product_id) DO NOTHING",
                (product_id,),
            )
            holder.commit()  # pylint: disable=invalid-commit
            holder.execute(
                "SELECT id FROM marketplace_stock_lock WHERE product_id = %s "
                "FOR UPDATE",
                (product_id,),
            )
            thread = threading.Thread(target=target)
            thread.start()
            thread.join(timeout=timeout)
            waited = thread.is_alive()
            holder.rollback()
        thread.join(timeout=30)
        return waited

    @classmethod
    def _delete_backend_jobs(cls):
        """The jobs queued for the class's backend (``cls.backend_id``):
        pushes, reconciliations, polls."""
        with cls.real_env() as env:
            env["queue.job"].search(
                [("func_string", "like", f"marketplace.backend({cls.backend_id},)")]
            ).unlink()

    @classmethod
    def _delete_committed_data(cls):
        with cls.real_env() as env:
            domain = [("backend_id", "in", cls.backend_ids)]
            events = env["marketplace.event"].search(domain)
            # every job of the events: an event left to a new job by a batch
            # keeps the first one pending when a test ran it by hand
            env["queue.job"].search(
                [("model_name", "=", "marketplace.event")]
            ).filtered(lambda job: set(job.records.ids) & set(events.ids)).unlink()
            for backend_id in cls.backend_ids:
                # pushes queued by what the tests imported or left unimported
                env["queue.job"].search(
                    [("func_string", "like", f"marketplace.backend({backend_id},)")]
                ).unlink()
            orders = env["sale.order"].search(
                [("marketplace_backend_id", "in", cls.backend_ids)]
            )
            orders._action_cancel()
            env["marketplace.stock.ledger"].search(domain).unlink()
            env["marketplace.order.binding"].search(domain).unlink()
            env["marketplace.stock.dirty"].search(domain).unlink()
            env["marketplace.stock.level"].search(domain).unlink()
            env["marketplace.product.binding"].search(domain).unlink()
            orders.unlink()
            events.unlink()
            env["marketplace.backend"].browse(cls.backend_ids).unlink()
