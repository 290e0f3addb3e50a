# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Pull intake: a channel's queue consumed by a job, stored durably in the
inbox, acknowledged only once committed.

The job stores each batch in a transaction of its own and commits it, as
the webhook controller does, so these tests clean up what it committed."""

import json
from unittest.mock import patch

import psycopg2

from odoo.tests.common import tagged

from .common import ChannelCase


@tagged("post_install", "-at_install")
class TestPullIntake(ChannelCase):
    def setUp(self):
        super().setUp()
        self.addCleanup(self._delete_committed)

    def _delete_committed(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "DELETE FROM queue_job WHERE uuid IN (SELECT job_uuid FROM "
                "marketplace_event WHERE backend_id = %s)",
                (self.backend.id,),
            )
            cr.execute(
                "DELETE FROM marketplace_event WHERE backend_id = %s",
                (self.backend.id,),
            )

    def notify(self, order, message_id=None):
        self.channel.add_order(order)
        return self.channel.push_message(
            json.dumps({"type": "order", "order": order}), message_id=message_id
        )

    def pull(self):
        self.backend._enqueue_pull()
        self.perform_jobs("_job_pull_events", rounds=1)

    def test_messages_stored_then_acknowledged_then_imported(self):
        order = self.order([("WIDGET", 2)])
        self.notify(order)
        self.pull()
        event = self.events(external_id=order["id"])
        self.assertEqual(len(event), 1)
        self.assertEqual(event.source, "queue")
        self.assertEqual(event.state, "queued")
        self.assertEqual(
            event.demand, [{"variant": "item-WIDGET", "sku": "WIDGET", "quantity": 2}]
        )
        self.assertFalse(self.channel.queue, "nothing left to receive")
        self.assertFalse(self.channel.in_flight, "acknowledged")
        # the notification is a trigger: the job re-reads the order
        self.perform_jobs("_job_process")
        event.invalidate_recordset()
        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(event.sale_order_id.order_line.product_uom_qty, 2)
        self.assertIn(("GET", f"/orders/{order['id']}"), self.channel.calls)

    def test_duplicates_and_redeliveries_make_one_event(self):
        order = self.order([("GADGET", 1)])
        first = self.notify(order)
        # the queue delivers the same message twice (at least once)
        self.channel.push_message(first["body"], message_id=first["id"])
        self.pull()
        self.assertEqual(len(self.events(external_id=order["id"])), 1)
        self.assertFalse(self.channel.in_flight)

    def test_a_batch_that_cannot_be_stored_is_not_acknowledged(self):
        order = self.order([("WIDGET", 1)])
        self.notify(order)
        inbox = type(self.env["marketplace.event"])
        with patch.object(
            inbox,
            "_store_inbound",
            side_effect=psycopg2.errors.DiskFull("could not extend file"),
        ):
            self.pull()
        self.assertFalse(self.events(external_id=order["id"]))
        self.assertEqual(len(self.channel.in_flight), 1, "left on the queue")
        job = self.env["queue.job"].search(
            [("method_name", "=", "_job_pull_events")], order="id desc", limit=1
        )
        self.assertEqual(job.state, "failed")
        # the queue hands it out again after its visibility timeout
        self.channel.redeliver_unacknowledged()
        job.requeue()
        self.perform_jobs("_job_pull_events", rounds=1)
        self.assertEqual(len(self.events(external_id=order["id"])), 1)
        self.assertFalse(self.channel.in_flight)

    def test_an_unparseable_message_is_kept_as_failed_and_acknowledged(self):
        self.channel.push_message("{not json", message_id="m-broken")
        self.channel.push_message(json.dumps({"type": "ping"}))
        self.pull()
        event = self.events(source="queue")
        self.assertEqual(len(event), 1, "the ping is acknowledged, not stored")
        self.assertEqual(event.state, "failed")
        self.assertEqual(event.payload, {"raw": "{not json"})
        self.assertIn("cannot be read", event.last_error)
        self.assertFalse(self.channel.queue or self.channel.in_flight)
        # delivered again (its deletion was lost): still one event
        self.channel.push_message("{not json", message_id="m-broken")
        self.pull()
        self.assertEqual(len(self.events(source="queue")), 1)

    def test_a_queue_not_drained_in_time_gets_a_new_job(self):
        for _index in range(3):
            self.notify(self.order([("WIDGET", 1)]))
        with patch(
            "odoo.addons.marketplace_connector.models."
            "marketplace_backend_intake.PULL_SECONDS",
            0.0,
        ):
            self.backend._enqueue_pull()
            self.perform_jobs("_job_pull_events", rounds=1)
        self.assertEqual(len(self.events(source="queue")), 3, "one batch taken")
        self.assertEqual(len(self.pending_jobs("_job_pull_events")), 1)

    def test_cron_pulls_only_for_channels_with_a_queue(self):
        self.env["marketplace.backend"]._cron_pull_events()
        jobs = self.pending_jobs("_job_pull_events")
        self.assertIn(self.backend, jobs.mapped("records"))
