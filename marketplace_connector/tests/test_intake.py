# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The webhook intake over real HTTP, whatever the channel: a delivery is
stored with its job before it is acknowledged; what the adapter refuses,
an unknown URL or an oversized body stores nothing; a storage failure is a
503 and the redelivery succeeds; never a 500."""

import hashlib
import hmac
import json
from unittest.mock import patch

import psycopg2

from odoo.tests.common import tagged

from odoo.addons.marketplace_connector import fast_intake
from odoo.addons.marketplace_connector.models.marketplace_event import (
    MarketplaceEvent,
)

from .common import TEST_WEBHOOK_SECRET, ChannelCase


@tagged("post_install", "-at_install")
class TestIntake(ChannelCase):
    def setUp(self):
        super().setUp()
        self.payload = self.order([("WIDGET", 1)])

    def post_raw(self, body, topic="order", secret=TEST_WEBHOOK_SECRET, url=None):
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return self.opener.post(
            url or self.webhook_url(),
            data=body,
            headers={"X-Test-Signature": signature, "X-Test-Topic": topic},
            timeout=10,
            allow_redirects=False,
        )

    def assertNothingStored(self):
        self.assertFalse(self.events(), "no event row")
        self.assertFalse(self.pending_jobs("_job_process"), "no job")

    def test_valid_delivery_is_stored_with_its_job(self):
        response = self.post_raw(json.dumps(self.payload).encode())
        self.assertEqual(response.status_code, 200)
        event = self.events()
        self.assertEqual(len(event), 1)
        self.assertEqual(event.topic, "order")
        self.assertEqual(event.source, "webhook")
        self.assertEqual(event.external_id, self.payload["id"])
        self.assertEqual(event.payload["id"], self.payload["id"])
        job = self.pending_jobs("_job_process")
        self.assertEqual(job.uuid, event.job_uuid)
        self.assertEqual(job.channel, "root.marketplace.inbound")

    def test_delivery_the_adapter_refuses_stores_nothing(self):
        body = json.dumps(self.payload).encode()
        response = self.post_raw(body, secret="not-the-secret")
        self.assertEqual(response.status_code, 401)
        response = self.post_raw(body, topic="carts")
        self.assertEqual(response.status_code, 400)
        self.assertNothingStored()

    def test_oversized_body_is_413(self):
        self.backend.max_body_bytes = 1024
        payload = dict(self.payload, note="x" * 5000)
        response = self.post_raw(json.dumps(payload).encode())
        self.assertEqual(response.status_code, 413)
        self.assertNothingStored()

    def test_unknown_token_is_404(self):
        response = self.post_raw(
            json.dumps(self.payload).encode(),
            url=f"{self.base_url()}/marketplace/webhook/not-a-token",
        )
        self.assertEqual(response.status_code, 404)
        self.assertNothingStored()

    def test_database_error_is_503_and_redelivery_succeeds(self):
        body = json.dumps(self.payload).encode()
        with patch.object(
            MarketplaceEvent,
            "_store_inbound",
            side_effect=psycopg2.OperationalError("server closed the connection"),
        ):
            response = self.post_raw(body)
        self.assertEqual(response.status_code, 503)
        self.assertNothingStored()
        response = self.post_raw(body)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(self.events()), 1)


@tagged("post_install", "-at_install")
class TestIntakeThroughOdooRoute(TestIntake):
    """The same guarantees when the webhook goes through Odoo's dispatcher
    (marketplace_connector not loaded server-wide)."""

    def setUp(self):
        super().setUp()
        patcher = patch.object(fast_intake, "ENABLED", False)
        patcher.start()
        self.addCleanup(patcher.stop)


@tagged("post_install", "-at_install")
class TestFastIntakeIsUsed(ChannelCase):
    def test_webhooks_skip_odoo_dispatch_when_server_wide(self):
        self.assertTrue(fast_intake.ENABLED)
        order = self.order([("WIDGET", 1)])
        with patch("odoo.http.Request._serve_db", side_effect=AssertionError) as served:
            self.assertEqual(self.deliver(order).status_code, 200)
        served.assert_not_called()
        self.assertEqual(len(self.events()), 1)

    def test_database_unreachable_is_503_not_500(self):
        order = self.order([("WIDGET", 1)])
        with patch(
            "odoo.modules.registry.Registry.cursor",
            side_effect=psycopg2.OperationalError("could not connect to server"),
        ):
            self.assertEqual(self.deliver(order).status_code, 503)
        self.assertFalse(self.events())
        self.assertEqual(self.deliver(order).status_code, 200)
        self.assertEqual(len(self.events()), 1)
