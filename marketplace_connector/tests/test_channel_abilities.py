# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The core follows what the adapter says its channel can do: declared
credentials, which orders import, compare-and-set or last-write-wins,
asynchronous submissions, one rate budget per operation family."""

import json
import os
from contextlib import closing
from unittest.mock import patch

from odoo import sql_db, tools
from odoo.exceptions import AccessError, UserError
from odoo.tests.common import new_test_user, tagged

from odoo.addons.marketplace_connector.lib.secrets_box import (
    CONFIG_OPTION,
    ENV_VARIABLE,
)

from .common import LOCATION, TEST_API_KEY, ChannelCase


@tagged("post_install", "-at_install")
class TestCredentials(ChannelCase):
    def test_declared_credentials_are_encrypted_and_for_managers_only(self):
        raw = self.backend.sudo().read(["test_api_key_encrypted"])[0]
        self.assertTrue(raw["test_api_key_encrypted"])
        self.assertNotIn(TEST_API_KEY, raw["test_api_key_encrypted"])
        config = self.backend._get_backend_config()
        self.assertEqual(config.credential("test_api_key"), TEST_API_KEY)
        self.assertNotIn(TEST_API_KEY, repr(config))
        self.assertEqual(config.setting("compare_and_set"), True)
        user = new_test_user(
            self.env,
            "channel_user",
            groups="marketplace_connector.group_marketplace_user",
        )
        with self.assertRaises(AccessError):
            self.backend.with_user(user).read(["test_api_key"])
        # changing one credential leaves the others as they were
        self.backend.test_webhook_secret = "rotated"
        config = self.backend._get_backend_config()
        self.assertEqual(config.credential("test_webhook_secret"), "rotated")
        self.assertEqual(config.credential("test_api_key"), TEST_API_KEY)

    def test_a_missing_encryption_key_is_a_message_with_the_fix(self):
        self.backend.invalidate_recordset()
        with (
            patch.dict(tools.config.options, {CONFIG_OPTION: ""}),
            patch.dict(os.environ, {ENV_VARIABLE: ""}),
            self.assertRaisesRegex(UserError, CONFIG_OPTION),
        ):
            self.backend.read(["test_api_key"])

    def test_stat_buttons_open_this_backends_records_only(self):
        for method, field in (
            ("action_view_oversold_orders", "marketplace_backend_id"),
            ("action_view_stock_levels", "backend_id"),
            ("action_view_order_bindings", "backend_id"),
        ):
            action = getattr(self.backend, method)()
            self.assertIn((field, "=", self.backend.id), action["domain"], method)

    def test_the_core_form_holds_no_channel_credential(self):
        arch = self.env.ref("marketplace_connector.marketplace_backend_view_form")
        for field in self.backend._credential_fields():
            self.assertNotIn(f'name="{field}"', arch.arch_db)


@tagged("post_install", "-at_install")
class TestWhichOrdersImport(ChannelCase):
    def test_an_order_waiting_for_payment_counts_but_is_not_imported(self):
        pending = self.order([("GADGET", 3)], status="pending")
        self.assertEqual(self.deliver(pending).status_code, 200)
        event = self.events(external_id=pending["id"])
        self.assertEqual(event.demand[0]["quantity"], 3, "counts against stock")
        self.perform_jobs("_job_process")
        event.invalidate_recordset()
        self.assertEqual(event.state, "ignored")
        self.assertIn("'pending'", event.result)
        self.assertFalse(event.sale_order_id)
        paid = dict(pending, status="paid", updated_at="2026-12-01T10:05:00+00:00")
        self.deliver(paid)
        self.perform_jobs("_job_process")
        order = self.events(external_id=pending["id"]).sale_order_id
        self.assertEqual(order.state, "sale")

    def test_an_unpaid_order_the_channel_holds_keeps_its_units(self):
        self.backend.test_hold_unpaid = True
        self.queue_push("GADGET")
        self.perform_jobs("_job_push_stock")
        pending = self.order([("GADGET", 3)], status="pending")
        self.deliver(pending)
        self.perform_jobs("_job_process")
        event = self.events(external_id=pending["id"])
        self.assertEqual(event.state, "waiting")
        self.queue_push("GADGET")
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel.quantity("item-GADGET", LOCATION), 7)
        # cancelled on the channel: the units are free again
        cancelled = dict(
            pending, status="cancelled", updated_at="2026-12-01T10:07:00+00:00"
        )
        self.deliver(cancelled)
        self.perform_jobs("_job_process")
        event.invalidate_recordset()
        self.assertEqual(event.state, "ignored")
        self.assertIn("Superseded", event.result)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.channel.quantity("item-GADGET", LOCATION), 10)

    def test_a_throttled_import_spends_no_retry(self):
        order = self.channel.add_order(self.order([("WIDGET", 1)]))
        self.channel.push_message(json.dumps({"type": "order", "order": order}))
        self.backend._enqueue_pull()
        self.perform_jobs("_job_pull_events", rounds=1)
        self.channel.fail_next(429, count=2)
        self.perform_jobs("_job_process", rounds=2)
        job = self.pending_jobs("_job_process")
        self.assertEqual(job.retry, 0, "postponed without spending a retry")
        self.perform_jobs("_job_process")
        self.assertEqual(self.events(external_id=order["id"]).state, "done")

    def test_an_order_fulfilled_by_the_channel_moves_none_of_our_stock(self):
        payload = self.order([("WIDGET", 4)], fulfilled_by_channel=True)
        self.deliver(payload)
        event = self.events(external_id=payload["id"])
        self.assertEqual(event.demand, [], "never counts against our stock")
        self.perform_jobs("_job_process")
        order = self.events(external_id=payload["id"]).sale_order_id
        self.assertEqual(order.state, "sale")
        self.assertTrue(order.marketplace_fulfilled_by_channel)
        self.assertFalse(order.picking_ids, "no delivery of ours")
        ledger = self.env["marketplace.stock.ledger"].search(
            [("product_id", "=", self.products["WIDGET"].id)]
        )
        self.assertFalse(ledger, "no ledger entry")
        own = self.order([("WIDGET", 1)])
        self.deliver(own)
        self.perform_jobs("_job_process")
        self.assertTrue(self.events(external_id=own["id"]).sale_order_id.picking_ids)


@tagged("post_install", "-at_install")
class TestStockAbilities(ChannelCase):
    def push(self):
        self.perform_jobs("_job_push_stock")

    def test_compare_and_set_rereads_a_stale_quantity(self):
        self.queue_push()  # first push: levels created
        self.push()
        self.assertEqual(self.channel.quantity("item-WIDGET", LOCATION), 30)
        self.channel.set_quantity("item-WIDGET", LOCATION, 28)  # a sale there
        self.change_stock("WIDGET", -5)
        self.push()
        self.assertEqual(self.channel.quantity("item-WIDGET", LOCATION), 25)
        sent = [w for call in self.channel.writes for w in call]
        self.assertEqual(sent[-1]["change_from"], 28, "re-read, then written")

    def test_last_write_wins_sends_no_precondition_and_lowers_first(self):
        self.backend.test_compare_and_set = False
        self.channel.compare_and_set = False
        self.queue_push()
        self.push()
        self.assertEqual(self.channel.quantity("item-WIDGET", LOCATION), 30)
        self.assertEqual(self.channel.quantity("item-GADGET", LOCATION), 10)
        # one product down, the other up, in one push: the decrease first
        self.change_stock("GADGET", 5)
        self.change_stock("WIDGET", -3)
        self.channel.writes.clear()
        self.push()
        sent = [w for call in self.channel.writes for w in call]
        self.assertTrue(all(w["change_from"] is None for w in sent))
        self.assertEqual(sent[0]["item"], "item-WIDGET")
        self.assertEqual(self.channel.quantity("item-WIDGET", LOCATION), 27)
        self.assertEqual(self.channel.quantity("item-GADGET", LOCATION), 15)

    def test_asynchronous_submission_waits_for_its_outcome(self):
        self.backend.test_asynchronous = True
        self.backend.test_compare_and_set = False
        self.channel.asynchronous = True
        self.channel.compare_and_set = False
        self.queue_push()
        self.push()
        submission = self.env["marketplace.stock.submission"].search(
            [("backend_id", "=", self.backend.id)]
        )
        self.assertEqual(len(submission), 1)
        self.assertEqual(submission.state, "processing")
        self.assertEqual(set(submission.level_ids.mapped("state")), {"pending"})
        # still processed: the check comes back later without a retry spent
        self.perform_jobs("_job_check", rounds=1)
        self.assertEqual(submission.state, "processing")
        self.assertEqual(self.pending_jobs("_job_check").retry, 0)
        # a raise meanwhile waits for the outcome; a decrease would not
        self.change_stock("GADGET", 4)
        self.push()
        self.assertEqual(len(self.channel.submissions), 1, "raise held")
        self.channel.finish_submissions(errors={"item-GADGET": "listing closed"})
        self.perform_jobs("_job_check")
        self.assertEqual(submission.state, "done")
        widget, gadget = self.levels("WIDGET"), self.levels("GADGET")
        self.assertEqual(widget.state, "synced")
        self.assertEqual(widget.last_confirmed_quantity, 30)
        self.assertEqual(gadget.state, "error")
        self.assertEqual(gadget.last_error, "listing closed")
        self.assertFalse(widget.submission_id)
        # what changed while it was processed is pushed again
        self.assertTrue(
            self.env["marketplace.stock.dirty"].search(
                [("backend_id", "=", self.backend.id)]
            )
        )

    def test_each_operation_family_spends_its_own_budget(self):
        self.queue_push()
        self.push()
        # the budgets live in rows of their own, committed by every worker
        with closing(sql_db.db_connect(self.env.cr.dbname).cursor()) as cr:
            cr.execute(
                "SELECT family, maximum FROM marketplace_rate_budget "
                "WHERE backend_id = %s ORDER BY family",
                (self.backend.id,),
            )
            self.assertEqual(cr.fetchall(), [("stock", 10.0)])
