# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Retention: done and ignored events past their backend's retention go,
with their finished jobs, in batches; failed, dead and queued events stay."""

import datetime
import uuid

from odoo import fields
from odoo.tests.common import tagged

from .common import ChannelCase


@tagged("post_install", "-at_install")
class TestRetention(ChannelCase):
    def old_event(self, state, days, job_state="done"):
        """An event processed ``days`` ago, with its job."""
        job_uuid = str(uuid.uuid4())
        event = self.env["marketplace.event"].create(
            {
                "backend_id": self.backend.id,
                "company_id": self.backend.company_id.id,
                "topic": "orders/create",
                "dedupe_key": f"order:{job_uuid}",
                "external_id": "1",
                "state": state,
                "payload": {"big": "x" * 100},
                "job_uuid": job_uuid,
            }
        )
        event._insert_job(job_uuid, "test")
        when = fields.Datetime.now() - datetime.timedelta(days=days)
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE marketplace_event SET received_at = %s, "
            "processed_at = CASE WHEN state = 'queued' THEN NULL ELSE %s END "
            "WHERE id = %s",
            (when, when, event.id),
        )
        self.env.cr.execute(
            "UPDATE queue_job SET state = %s WHERE uuid = %s", (job_state, job_uuid)
        )
        return event

    def existing(self, events):
        self.env.invalidate_all()
        return events.exists()

    def jobs(self, events):
        return self.env["queue.job"].search([("uuid", "in", events.mapped("job_uuid"))])

    def test_purge_keeps_what_is_not_handled_and_what_is_recent(self):
        self.backend.event_retention_days = 10
        doomed = (
            self.old_event("done", 15)
            | self.old_event("ignored", 40)
            | self.old_event("done", 11)
        )
        still_running = self.old_event("done", 12, job_state="started")
        kept = (
            self.old_event("done", 5)
            | self.old_event("failed", 40, job_state="failed")
            | self.old_event("dead", 40, job_state="failed")
            | self.old_event("queued", 40, job_state="pending")
        )
        kept_jobs = self.jobs(kept | still_running)
        doomed_jobs = self.jobs(doomed)
        self.assertEqual(len(doomed_jobs), 3)
        events, jobs, _samples = self.env["marketplace.backend"]._cron_purge_events(
            batch=2
        )
        self.assertEqual(events, 4)  # in two batches of 2, then an empty one
        self.assertEqual(jobs, 3)  # the started job stays: queue_job's
        self.assertFalse(self.existing(doomed | still_running))
        self.assertEqual(self.existing(kept), kept)
        self.assertFalse(doomed_jobs.exists())
        self.assertEqual(kept_jobs.exists(), kept_jobs)

    def test_default_retention_is_thirty_days_and_zero_keeps_all(self):
        self.assertEqual(self.backend.event_retention_days, 30)
        recent = self.old_event("done", 29)
        old = self.old_event("done", 31)
        self.env["marketplace.backend"]._cron_purge_events()
        self.assertEqual(self.existing(recent | old), recent)
        self.backend.event_retention_days = 0
        older = self.old_event("done", 400)
        self.env["marketplace.backend"]._cron_purge_events()
        self.assertEqual(self.existing(older), older)

    def test_old_push_lag_samples_go(self):
        product = self.products["WIDGET"]
        samples = self.env["marketplace.stock.push.sample"]
        now = fields.Datetime.now()
        for days in (0, 1, 3, 10):
            when = now - datetime.timedelta(days=days)
            samples.create(
                {
                    "backend_id": self.backend.id,
                    "product_id": product.id,
                    "changed_at": when,
                    "pushed_at": when,
                    "lag_seconds": 1.0,
                }
            )
        _events, _jobs, purged = self.env["marketplace.backend"]._cron_purge_events()
        self.assertEqual(purged, 2)
        self.env.invalidate_all()
        self.assertEqual(
            samples.search_count([("backend_id", "=", self.backend.id)]), 2
        )
