# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Shopify's webhooks over real HTTP: HMAC (and the previous secret during a
rotation), Shopify's headers and shop domain, topics, bodies: every bad
input gets its documented status, nothing half-stored, never a 500; no
secret reaches a log or a stored row. The core's intake (413, 404, 503 when
the store fails, the fast intake) is tested against the test channel
(marketplace_connector/tests/test_intake.py)."""

import json
import logging
from unittest.mock import patch

from marketplace_sim.shopify import webhook_headers  # pylint: disable=import-error

from odoo.addons.marketplace_connector import fast_intake

from .common import ACCESS_TOKEN, PREVIOUS_SECRET, SECRET, SHOP, ShopifyCase, tagged


@tagged("post_install", "-at_install")
class TestWebhookIntake(ShopifyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.order = cls.sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)

    def headers(self, body, secret=SECRET, **overrides):
        return webhook_headers(body, secret, SHOP, **overrides)

    def assertNothingStored(self):
        self.assertFalse(self.events(), "no event row")
        self.assertFalse(self.pending_jobs("_job_process"), "no job")

    def test_valid_delivery_is_stored_with_its_job(self):
        body = self.body(self.order)
        response = self.post_raw(body, self.headers(body))
        self.assertEqual(response.status_code, 200)
        event = self.events()
        self.assertEqual(len(event), 1)
        self.assertEqual(event.topic, "orders/create")
        self.assertEqual(event.source, "webhook")
        self.assertEqual(event.external_id, str(self.order["id"]))
        self.assertEqual(event.payload["id"], self.order["id"])
        job = self.pending_jobs("_job_process")
        self.assertEqual(job.uuid, event.job_uuid)
        self.assertEqual(job.channel, "root.marketplace.inbound")

    def test_bad_signature_is_401_and_stores_nothing(self):
        body = self.body(self.order)
        response = self.post_raw(body, self.headers(body, secret="not-the-secret"))
        self.assertEqual(response.status_code, 401)
        self.assertNothingStored()

    def test_missing_signature_is_401(self):
        body = self.body(self.order)
        response = self.post_raw(body, self.headers(body, Hmac_Sha256=None))
        self.assertEqual(response.status_code, 401)
        self.assertNothingStored()

    def test_previous_secret_is_accepted_during_rotation(self):
        self.backend.write(
            {"webhook_secret": "whsec-new-1234", "webhook_secret_previous": SECRET}
        )
        body = self.body(self.order)
        response = self.post_raw(body, self.headers(body, secret=SECRET))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(self.events()), 1)
        # a secret that is neither is still refused
        response = self.post_raw(body, self.headers(body, secret=PREVIOUS_SECRET))
        self.assertEqual(response.status_code, 401)

    def test_wrong_shop_domain_is_403(self):
        body = self.body(self.order)
        response = self.post_raw(
            body, self.headers(body, Shop_Domain="intruder.myshopify.com")
        )
        self.assertEqual(response.status_code, 403)
        self.assertNothingStored()

    def test_missing_headers_are_400(self):
        body = self.body(self.order)
        for header in ("Topic", "Webhook_Id", "Shop_Domain"):
            response = self.post_raw(body, self.headers(body, **{header: None}))
            self.assertEqual(response.status_code, 400, header)
        self.assertNothingStored()

    def test_malformed_json_is_400(self):
        for body in (b'{"id": 1,', b"[1, 2, 3]", b"\xff\xfe not utf-8", b""):
            response = self.post_raw(body, self.headers(body))
            self.assertEqual(response.status_code, 400, body)
        self.assertNothingStored()

    def test_order_without_id_is_400(self):
        body = json.dumps(
            {"name": "#1", "updated_at": self.order["updated_at"]}
        ).encode()
        response = self.post_raw(body, self.headers(body))
        self.assertEqual(response.status_code, 400)
        self.assertNothingStored()

    def test_unknown_topic_is_acknowledged_and_not_stored(self):
        body = self.body(self.order)
        response = self.post_raw(body, self.headers(body, Topic="carts/update"))
        self.assertEqual(response.status_code, 200)
        self.assertNothingStored()

    def test_no_secret_in_logs_or_stored_headers(self):
        secrets = (SECRET, PREVIOUS_SECRET, ACCESS_TOKEN)
        self.backend.webhook_secret_previous = PREVIOUS_SECRET
        with self.assertLogs(level=logging.DEBUG) as captured:
            logging.getLogger("odoo.addons.marketplace_connector").info("capture on")
            body = self.body(self.order)
            self.post_raw(body, self.headers(body, secret="wrong"))
            self.post_raw(body, self.headers(body))
            self.perform_jobs()
            self.sim.faults.fail_next(status=401, count=10)
            self.backend._enqueue_poll()
            self.perform_jobs("_job_poll_orders")
        log_text = "\n".join(captured.output)
        for secret in secrets:
            self.assertNotIn(secret, log_text)
        for event in self.events():
            stored = json.dumps(event.headers) + json.dumps(event.payload)
            for secret in secrets:
                self.assertNotIn(secret, stored)
            self.assertNotIn("X-Shopify-Hmac-Sha256", event.headers)
        self.assertIn("access token", self.backend.last_poll_error)
        # stored encrypted, not in clear
        raw = self.backend.sudo().read(
            ["access_token_encrypted", "webhook_secret_encrypted"]
        )[0]
        for value in (raw["access_token_encrypted"], raw["webhook_secret_encrypted"]):
            self.assertTrue(value)
            for secret in secrets:
                self.assertNotIn(secret, value)


@tagged("post_install", "-at_install")
class TestWebhookIntakeThroughOdooRoute(TestWebhookIntake):
    """The same guarantees when the webhook goes through Odoo's dispatcher
    (marketplace_connector not loaded server-wide)."""

    def setUp(self):
        super().setUp()
        patcher = patch.object(fast_intake, "ENABLED", False)
        patcher.start()
        self.addCleanup(patcher.stop)
