# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Orders in from Amazon: ORDER_CHANGE notifications pulled from SQS (with
boto3) and polled ``searchOrders``, each order state stored once, each order
imported once, to the cent; Amazon-fulfilled orders booked without touching
our stock; unpaid orders held back while their units count."""

import json

from .common import AmazonCase, tagged


@tagged("post_install", "-at_install")
class TestNotificationIntake(AmazonCase):
    def test_notification_becomes_one_confirmed_order_to_the_cent(self):
        order = self.create_order(
            [("MUG-BLUE", 2), ("TEE-L", 1)], shipping="4.99", tax_rate="0.0825"
        )
        self.pull()
        event = self.events()
        self.assertEqual(len(event), 1)
        self.assertEqual((event.source, event.state), ("queue", "queued"))
        self.assertEqual(event.external_id, order["orderId"])
        self.assertEqual(
            sorted((line["sku"], line["quantity"]) for line in event.demand),
            [("MUG-BLUE", 2), ("TEE-L", 1)],
        )
        self.assertEqual(self.sim.queue_messages(), [], "deleted once stored")
        self.assertEqual(self.calls("getOrder"), 0, "the intake reads no order")

        self.perform_jobs("_job_process")

        self.assertEqual(event.state, "done", event.last_error)
        self.assertEqual(self.calls("getOrder"), 1, "the trigger re-reads the order")
        sale = self.sale_order(order)
        self.assertEqual(event.sale_order_id, sale)
        self.assertEqual(sale.state, "sale")
        self.assertEqual(sale.client_order_ref, order["orderId"])
        self.assertEqual(sale.currency_id, self.usd)
        self.assertEqual(sale.pricelist_id, self.pricelist)
        self.assertEqual(sale.marketplace_sync_state, "synced")
        self.assertEqual(sale.partner_id.name, order["buyer"]["buyerName"])
        address = order["recipient"]["deliveryAddress"]
        self.assertEqual(sale.partner_shipping_id.city, address["city"])
        self.assertEqual(sale.partner_shipping_id.zip, address["postalCode"])
        self.assertEqual(self.binding(order).marketplace, "ATVPDKIKX0DER")
        by_sku = {
            line.product_id.default_code: line
            for line in sale.order_line.filtered("marketplace_line_id")
        }
        self.assertEqual(by_sku["MUG-BLUE"].product_uom_qty, 2)
        self.assertEqual(by_sku["MUG-BLUE"].price_unit, 19.99)
        self.assertEqual(by_sku["TEE-L"].product_uom_qty, 1)
        proceeds = {
            entry["type"]: entry["subtotal"]["amount"]
            for entry in order["proceeds"]["breakdowns"]
        }
        self.assertEqual(
            self.money(sale.amount_total),
            self.money(order["proceeds"]["grandTotal"]["amount"]),
        )
        self.assertEqual(self.money(sale.amount_tax), self.money(proceeds["TAX"]))
        # merchant fulfilled: Odoo's delivery, reserved, and the ledger
        self.assertEqual(sale.picking_ids.state, "assigned")
        ledger = self.env["marketplace.stock.ledger"].search(
            [("sale_order_id", "=", sale.id)]
        )
        self.assertEqual(sorted(ledger.mapped("quantity")), [-2.0, -1.0])

    def test_discounts_shipping_and_tax_add_up_to_amazons_total(self):
        order = self.sim.create_order(
            [
                {
                    "sku": "MUG-BLUE",
                    "quantity": 3,
                    "unit_price": "19.99",
                    "promotion_discount": "5.00",
                    "promotion_id": "PROMO-5OFF",
                },
                {"sku": "CAP-RED", "quantity": 1, "unit_price": "12.50"},
            ],
            shipping="6.49",
            tax_rate="0.0725",
        )
        self.import_orders()
        sale = self.sale_order(order)
        self.assertEqual(sale.state, "sale", self.events().last_error)
        self.assertEqual(
            self.money(sale.amount_total),
            self.money(order["proceeds"]["grandTotal"]["amount"]),
        )

    def test_duplicated_and_reordered_messages_make_one_event_per_state(self):
        pending = self.create_order([("CAP-RED", 1)], status="PENDING")
        self.sim.pay_order(pending["orderId"])
        other = self.create_order([("TEE-L", 2)])
        self.sim.clock.advance(2)  # Amazon's data shows the payment
        # SQS delivers at least once and in no order
        self.sim.duplicate_next_messages(3)
        self.sim.reorder_messages(True)
        self.pull()
        self.assertEqual(
            self.job("_job_pull_events", state="done").result,
            "3 stored, 3 duplicate, 0 unparseable, 0 skipped",
        )
        self.assertEqual(self.sim.queue_messages(), [], "every copy deleted")
        self.assertEqual(
            sorted(self.events().mapped("external_id")),
            sorted([pending["orderId"], pending["orderId"], other["orderId"]]),
            "one event per order state",
        )

        self.perform_jobs("_job_process")

        self.assertEqual(len(self.sale_orders()), 2)
        sale = self.sale_order(pending)
        self.assertEqual(sale.state, "sale")
        self.assertEqual(
            sale.order_line.filtered("marketplace_line_id").product_uom_qty, 1
        )
        self.assertEqual(self.sale_order(other).state, "sale")
        # both states of the first order read the order as it is now: the
        # second one applied finds it applied already
        self.assertEqual(
            sorted(self.events().mapped("state")), ["done", "done", "ignored"]
        )

    def test_each_order_is_imported_by_its_own_job(self):
        """Amazon's orders are re-read one by one (getOrder, 0.5/s): a job
        never takes other orders along, which would make those calls with
        the stock locks of its batch held."""
        first = self.create_order([("CAP-RED", 1)])
        second = self.create_order([("TEE-L", 1)])
        self.pull()
        jobs = self.pending_jobs("_job_process")
        self.assertEqual(len(jobs), 2)
        self._run_one_job(jobs[0].uuid)
        self.env.invalidate_all()
        self.assertEqual(len(self.sale_orders()), 1, "its own order only")
        self.assertNotIn("more order", jobs[0].result or "")
        self.perform_jobs("_job_process")
        self.assertTrue(self.sale_order(first) and self.sale_order(second))

    def test_message_that_cannot_be_parsed_is_kept_failed_and_deleted(self):
        self.sim.inject_malformed_message("{not json")
        self.sim.send_raw_message(
            json.dumps({"NotificationType": "ANY_OFFER_CHANGED", "Payload": {}})
        )
        order = self.create_order([("TEE-L", 1)])
        self.pull()
        broken = self.events(state="failed")
        self.assertEqual(len(broken), 1)
        self.assertEqual(broken.payload, {"raw": "{not json"})
        self.assertIn("cannot be read", broken.last_error)
        self.assertIn("not JSON", broken.last_error)
        self.assertEqual(len(self.events()), 2, "another type is not stored")
        self.assertEqual(self.sim.queue_messages(), [], "all three deleted")
        self.perform_jobs("_job_process")
        self.assertEqual(self.sale_order(order).state, "sale")
        self.assertEqual(broken.state, "failed")

    def test_amazon_fulfilled_order_is_booked_without_touching_our_stock(self):
        afn = self.create_order([("MUG-BLUE", 3)], fulfillment="AFN")
        mfn = self.create_order([("TEE-L", 2)])
        self.pull()
        afn_event = self.events(external_id=afn["orderId"])
        mfn_event = self.events(external_id=mfn["orderId"])
        self.assertEqual(afn_event.demand, [], "Amazon ships it from its stock")
        self.assertEqual(
            [(line["sku"], line["quantity"]) for line in mfn_event.demand],
            [("TEE-L", 2)],
        )
        self.perform_jobs("_job_process")

        afn_sale, mfn_sale = self.sale_order(afn), self.sale_order(mfn)
        self.assertEqual(afn_sale.state, "sale")
        self.assertTrue(afn_sale.marketplace_fulfilled_by_channel)
        self.assertFalse(afn_sale.picking_ids, "no delivery of ours")
        self.assertEqual(
            self.money(afn_sale.amount_total),
            self.money(afn["proceeds"]["grandTotal"]["amount"]),
        )
        ledger = self.env["marketplace.stock.ledger"]
        self.assertFalse(ledger.search([("sale_order_id", "=", afn_sale.id)]))
        self.assertEqual(self.products["MUG-BLUE"].free_qty, 50, "nothing reserved")

        self.assertFalse(mfn_sale.marketplace_fulfilled_by_channel)
        self.assertEqual(mfn_sale.picking_ids.state, "assigned")
        self.assertEqual(
            ledger.search([("sale_order_id", "=", mfn_sale.id)]).quantity, -2
        )
        self.assertEqual(self.products["TEE-L"].free_qty, 18)


@tagged("post_install", "-at_install")
class TestPendingOrders(AmazonCase):
    def setUp(self):
        super().setUp()
        self.queue_push("CAP-RED")
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.sim.listing_quantity("CAP-RED"), 10)

    def push(self):
        self.queue_push("CAP-RED")
        self.perform_jobs("_job_push_stock")

    def test_pending_order_counts_against_stock_and_imports_once_paid(self):
        order = self.create_order([("CAP-RED", 4)], status="PENDING")
        self.pull()
        event = self.events()
        self.assertEqual(
            [(line["sku"], line["quantity"]) for line in event.demand],
            [("CAP-RED", 4)],
        )
        self.push()
        self.assertEqual(self.level("CAP-RED").ats_quantity, 6)
        self.assertEqual(self.sim.listing_quantity("CAP-RED"), 6)

        self.perform_jobs("_job_process")
        self.assertEqual(event.state, "waiting", "not imported while unpaid")
        self.assertFalse(self.sale_orders())
        self.assertEqual(self.binding(order).sync_state, "pending")

        self.sim.pay_order(order["orderId"])
        self.pull()
        self.perform_jobs("_job_process", rounds=1)
        # the payment is stamped a second after the order: until Amazon's data
        # shows it, the notification is early and its job waits
        job = self.job("_job_process")
        self.assertEqual((job.state, job.retry), ("pending", 1))
        self.assertIn("still reads PENDING", job.result)
        self.assertFalse(self.sale_orders())
        self.sim.clock.advance(2)
        self.perform_jobs("_job_process")
        sale = self.sale_order(order)
        self.assertEqual(len(self.sale_orders()), 1)
        self.assertEqual(sale.state, "sale")
        paid = self.sim.get_order(order["orderId"])
        self.assertEqual(
            self.money(sale.amount_total),
            self.money(paid["proceeds"]["grandTotal"]["amount"]),
        )
        self.push()
        self.assertEqual(self.sim.listing_quantity("CAP-RED"), 6, "now reserved")

    def test_pending_order_keeps_counting_after_its_event_is_processed(self):
        order = self.create_order([("CAP-RED", 4)], status="PENDING")
        self.pull()
        self.push()
        self.assertEqual(self.sim.listing_quantity("CAP-RED"), 6)
        self.perform_jobs("_job_process")
        self.assertFalse(self.sale_order(order), "not imported while unpaid")
        # the push its processing queued
        self.perform_jobs("_job_push_stock")
        self.assertEqual(
            self.sim.listing_quantity("CAP-RED"),
            6,
            "Amazon still holds 4 units for the pending order",
        )


@tagged("post_install", "-at_install")
class TestPolling(AmazonCase):
    def test_poll_stays_two_minutes_behind_then_imports(self):
        # the notification is lost: only the poll can find the order
        order = self.create_order([("TEE-L", 1)], shipping="3.99")
        self.lose_notifications()
        self.poll()
        self.assertEqual(self.calls("searchOrders"), 1)
        self.assertEqual(self.sim.stats["errors"], 0, "the two-minute rule is kept")
        self.assertFalse(self.events(), "too recent for Amazon's data")

        self.sim.clock.advance(180)
        self.poll()
        event = self.events()
        self.assertEqual(len(event), 1)
        self.assertEqual(event.source, "poll")
        self.assertEqual(self.sim.stats["errors"], 0)
        self.assertEqual(self.backend.poll_cursor, event.external_updated_at)
        self.perform_jobs("_job_process")
        self.assertEqual(self.calls("getOrder"), 0, "imported from the poll's payload")
        sale = self.sale_order(order)
        self.assertEqual(sale.state, "sale", event.last_error)
        self.assertEqual(
            self.money(sale.amount_total),
            self.money(order["proceeds"]["grandTotal"]["amount"]),
        )

    def test_notification_and_poll_of_one_order_make_one_sale_order(self):
        order = self.create_order([("MUG-BLUE", 1)])
        self.pull()
        self.sim.clock.advance(180)
        self.poll()
        self.poll()  # the next poll sees it again: nothing new
        self.assertEqual(sorted(self.events().mapped("source")), ["poll", "queue"])
        self.perform_jobs("_job_process")
        self.assertEqual(len(self.sale_orders()), 1)
        self.assertEqual(self.sale_order(order).state, "sale")
        self.assertEqual(sorted(self.events().mapped("state")), ["done", "ignored"])

    def test_poll_sees_a_cancellation_the_queue_lost(self):
        order = self.create_order([("CAP-RED", 2)])
        self.import_orders()
        sale = self.sale_order(order)
        self.assertEqual(sale.state, "sale")
        self.sim.clock.advance(60)
        self.sim.cancel_order(order["orderId"], by="BUYER")
        self.lose_notifications()
        self.sim.clock.advance(180)
        self.poll()
        self.perform_jobs("_job_process")
        self.assertEqual(sale.state, "cancel")
