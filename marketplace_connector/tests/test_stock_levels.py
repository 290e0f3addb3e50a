# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A channel reports the quantity it shows (``inventory`` webhooks of the
test channel): an echo of our write is ignored, an older report too; any
other value is drift, recorded and corrected by a later push, never copied
into Odoo."""

import datetime
import hashlib
import hmac
import json

from odoo import fields
from odoo.tests.common import tagged

from .common import LOCATION, TEST_WEBHOOK_SECRET
from .stock_common import StockCase


@tagged("post_install", "-at_install")
class TestInboundLevels(StockCase):
    def deliver_level(self, sku, available, updated_at="2026-11-23T10:00:00-05:00"):
        payload = {
            "item": f"item-{sku}",
            "location": LOCATION,
            "quantity": available,
            "updated_at": updated_at,
        }
        body = json.dumps(payload).encode()
        signature = hmac.new(TEST_WEBHOOK_SECRET.encode(), body, hashlib.sha256)
        response = self.opener.post(
            self.webhook_url(),
            data=body,
            headers={
                "X-Test-Signature": signature.hexdigest(),
                "X-Test-Topic": "inventory",
            },
            timeout=10,
        )
        self.assertEqual(response.status_code, 200)
        self.perform_jobs("_job_process")
        return self.events(topic="inventory")[:1]

    def test_echo_of_our_write_is_ignored(self):
        self.change_stock("TEE", -2)
        self.perform_jobs("_job_push_stock")
        event = self.deliver_level("TEE", 48)
        self.assertEqual(event.state, "ignored")
        self.assertEqual(self.level("TEE").state, "synced")

    def test_late_echo_of_an_older_write_is_ignored(self):
        self.change_stock("TEE", -2)
        self.perform_jobs("_job_push_stock")  # writes 48
        self.change_stock("TEE", -2)
        self.perform_jobs("_job_push_stock")  # writes 46
        self.assertEqual(self.channel_quantity("TEE"), 46)
        # the report of the first write arrives after the second write
        event = self.deliver_level("TEE", 48)
        self.assertEqual(event.state, "ignored")
        self.assertEqual(self.level("TEE").state, "synced")
        self.assertFalse(self.queued_rows())

    def test_drift_is_recorded_and_corrected_never_copied(self):
        self.change_stock("TEE", -2)
        self.perform_jobs("_job_push_stock")
        self.set_inventory("TEE", 44)
        event = self.deliver_level("TEE", 44)
        self.assertEqual(event.state, "done")
        level = self.level("TEE")
        self.assertEqual(level.state, "drift")
        self.assertEqual(level.drift_count, 1)
        self.assertEqual(self.products["TEE"].qty_available, 48, "Odoo untouched")
        queued = self.queued_rows()
        self.assertEqual(queued.product_id, self.products["TEE"])
        self.assertGreater(queued.due_at, fields.Datetime.now(), "due later")
        self.perform_jobs("_job_push_stock")
        self.assertEqual(
            self.channel_quantity("TEE"), 44, "not pushed before it is due"
        )
        # the order that explains a channel's change gets time to arrive;
        # then the push corrects what no order explained
        self.push_queued_now()
        self.assertEqual(self.channel_quantity("TEE"), 48, "corrected")
        self.assertEqual(self.level("TEE").state, "synced")

    def test_older_report_processed_late_is_ignored(self):
        # the channel sold twice: reports of 45 then 44; the first one's job
        # was retried (its level was locked by a push) and runs last
        self.change_stock("TEE", -2)
        self.perform_jobs("_job_push_stock")  # writes 48
        self.set_inventory("TEE", 44)
        self.deliver_level("TEE", 44, "2026-11-23T10:00:05-05:00")
        event = self.deliver_level("TEE", 45, "2026-11-23T10:00:01-05:00")
        self.assertEqual(event.state, "ignored")
        self.assertIn("Older than the last report", event.result)
        level = self.level("TEE")
        self.assertEqual(level.last_confirmed_quantity, 44, "not set back")
        self.assertEqual(level.drift_count, 1)

    def test_many_reports_of_one_item_queue_one_push(self):
        self.change_stock("TEE", -2)
        self.perform_jobs("_job_push_stock")
        jobs_before = len(self.pending_jobs("_job_push_stock"))
        for quantity in (47, 46, 45):
            self.set_inventory("TEE", quantity)
            self.deliver_level("TEE", quantity)
        queued = self.queued_rows()
        self.assertEqual(queued.product_id, self.products["TEE"])
        # one job per 10-second slot: one, or two if the reports straddled
        # a slot's end -- never one per report
        self.assertLessEqual(len(self.pending_jobs("_job_push_stock")), jobs_before + 2)
        queued.due_at = fields.Datetime.now() - datetime.timedelta(seconds=1)
        self.channel.writes.clear()
        self.perform_jobs("_job_push_stock")
        self.assertEqual(len(self.set_calls()), 1, "one push for three reports")
        self.assertEqual(self.channel_quantity("TEE"), 48)
