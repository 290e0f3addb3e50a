# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Alerts without Prometheus: one activity per condition for the backend's
responsible, opened by the health cron when a threshold is crossed, marked
done once the condition clears; and the Overview's figures."""

import datetime
import uuid

from odoo import fields
from odoo.tests.common import tagged

from .common import ChannelCase


def ago(**delta):
    return fields.Datetime.now() - datetime.timedelta(**delta)


@tagged("post_install", "-at_install")
class TestAlerts(ChannelCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend.last_poll_success_at = fields.Datetime.now()

    def event(self, state="queued", **values):
        return self.env["marketplace.event"].create(
            {
                "backend_id": self.backend.id,
                "company_id": self.backend.company_id.id,
                "topic": "orders/create",
                "dedupe_key": f"order:{uuid.uuid4()}",
                "external_id": "1",
                "state": state,
                "payload": {},
                **values,
            }
        )

    def open_activities(self, summary=None):
        self.backend.invalidate_recordset(["activity_ids"])
        activities = self.backend.activity_ids
        if summary:
            activities = activities.filtered(lambda a: a.summary == summary)
        return activities

    def check(self):
        self.env.flush_all()
        self.env["marketplace.backend"]._cron_check_health()
        self.backend.invalidate_recordset()

    def test_healthy_backend_raises_nothing(self):
        self.check()
        self.assertFalse(self.open_activities())
        self.assertEqual(self.backend.health_state, "ok")

    def test_queue_lag_raises_one_activity_and_closes_it_when_cleared(self):
        summary = "Marketplace imports lag behind"
        events = self.event(received_at=ago(minutes=20)) | self.event(
            received_at=ago(minutes=30)
        )
        self.check()
        self.check()  # raised once, however often the cron finds it
        activity = self.open_activities(summary)
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.backend.user_id)
        self.assertEqual(self.backend.health_state, "alert")
        self.assertIn(summary, self.backend.health_alerts)
        self.assertEqual(self.backend.health_queue_depth, 2)
        self.assertAlmostEqual(self.backend.health_queue_lag_minutes, 30, delta=1)
        events.write({"state": "done"})
        self.check()
        self.assertFalse(self.open_activities(summary))
        self.assertFalse(activity.exists())  # done: a message in the chatter

    def test_threshold_zero_switches_an_alert_off(self):
        self.backend.alert_queue_lag_minutes = 0
        self.event(received_at=ago(hours=3))
        self.check()
        self.assertFalse(self.open_activities("Marketplace imports lag behind"))

    def test_failed_events_activity_closes_once_none_is_left(self):
        summary = "Marketplace events failed"
        first, second = self.event(), self.event()
        first._record_result("failed", "Unknown SKU", None, 1)
        second._record_result("failed", "Unknown SKU", None, 1)
        self.assertEqual(len(self.open_activities(summary)), 1)
        self.check()
        self.assertEqual(len(self.open_activities(summary)), 1)
        self.assertEqual(self.backend.health_failed_count, 2)
        first.action_retry()  # one failed event left: still open
        self.assertEqual(len(self.open_activities(summary)), 1)
        second.action_retry()  # none left: done at once
        self.assertFalse(self.open_activities(summary))
        # a new failure opens a new one
        first._record_result("failed", "Unknown SKU", None, 1)
        self.assertEqual(len(self.open_activities(summary)), 1)
        first.write({"state": "ignored"})  # handled otherwise
        self.check()
        self.assertFalse(self.open_activities(summary))

    def test_poll_failing_for_too_long(self):
        summary = "Marketplace polling fails"
        self.backend.write(
            {
                "last_poll_success_at": ago(minutes=45),
                "last_poll_error": "401 Unauthorized",
            }
        )
        self.check()
        activity = self.open_activities(summary)
        self.assertEqual(len(activity), 1)
        self.assertIn("401 Unauthorized", activity.note)
        self.backend.write(
            {
                "last_poll_success_at": fields.Datetime.now(),
                "last_poll_error": False,
            }
        )
        self.check()
        self.assertFalse(self.open_activities(summary))
        # polling off: nothing to fail
        self.backend.write({"poll_enabled": False, "last_poll_success_at": ago(days=2)})
        self.check()
        self.assertFalse(self.open_activities(summary))

    def test_push_failing_when_a_change_waits_too_long(self):
        summary = "Marketplace stock pushes fail"
        product = self.products["WIDGET"]
        self.env.cr.execute(
            "INSERT INTO marketplace_stock_dirty (backend_id, product_id, "
            "due_at, decrement) VALUES (%s, %s, %s, true)",
            (self.backend.id, product.id, ago(minutes=20)),
        )
        self.check()
        self.assertEqual(len(self.open_activities(summary)), 1)
        self.assertAlmostEqual(self.backend.health_push_pending_minutes, 20, delta=1)
        self.env.cr.execute(
            "DELETE FROM marketplace_stock_dirty WHERE backend_id = %s",
            (self.backend.id,),
        )
        self.check()
        self.assertFalse(self.open_activities(summary))

    def test_escalations_of_the_last_reconciliation(self):
        summary = "Stock drift to review"
        runs = self.env["marketplace.stock.reconciliation"]
        runs.create({"backend_id": self.backend.id, "checked": 5, "escalated": 2})
        self.check()
        self.assertEqual(len(self.open_activities(summary)), 1)
        self.assertEqual(self.backend.health_escalated, 2)
        runs.create({"backend_id": self.backend.id, "checked": 5, "escalated": 0})
        self.check()
        self.assertFalse(self.open_activities(summary))

    def test_overview_figures_open_their_records(self):
        self.event(received_at=ago(minutes=2))
        self.event(state="failed")
        self.env.flush_all()
        backend = self.backend
        self.assertEqual(backend.health_queue_depth, 1)
        self.assertEqual(backend.health_failed_count, 1)
        for method, model in (
            ("action_open_queued_events", "marketplace.event"),
            ("action_view_failed_events", "marketplace.event"),
            ("action_open_deliveries", "marketplace.event"),
            ("action_open_polled_events", "marketplace.event"),
            ("action_open_drift_levels", "marketplace.stock.level"),
            ("action_open_pending_levels", "marketplace.stock.level"),
            ("action_open_push_samples", "marketplace.stock.push.sample"),
            ("action_open_reconciliations", "marketplace.stock.reconciliation"),
            ("action_open_oversold_orders", "sale.order"),
            ("action_open_rate_budgets", "marketplace.rate.budget"),
            ("action_open_event_analysis", "marketplace.event.report"),
        ):
            action = getattr(backend, method)()
            self.assertEqual(action["res_model"], model, method)
            records = self.env[model].search(action["domain"])
            if method == "action_open_queued_events":
                self.assertEqual(records.mapped("state"), ["queued"])
        report = self.env["marketplace.event.report"].read_group(
            [("backend_id", "=", backend.id)], ["event_count:sum"], ["state"]
        )
        self.assertEqual(
            {row["state"]: row["event_count"] for row in report},
            {"queued": 1, "failed": 1},
        )
