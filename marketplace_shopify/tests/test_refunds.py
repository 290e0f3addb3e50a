# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Shopify's refunds end to end: the simulated shop refunds (strictly, as
Shopify does), its signed ``refunds/create`` reaches the inbox over real
HTTP, and the refund is booked once: units not shipped taken off the order,
returns received, a credit note or the order's total lowered to the cent,
the stock ledger and every channel told."""

from decimal import Decimal

from marketplace_sim.shopify import refunds

from .common import ShopifyCase, tagged


@tagged("post_install", "-at_install")
class TestRefunds(ShopifyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the company's sale tax at the shop's 20 %, which imports map to
        taxes = cls.env["account.tax"].search(
            [
                ("company_id", "=", cls.company.id),
                ("type_tax_use", "=", "sale"),
                ("amount_type", "=", "percent"),
                ("amount", "=", 20.0),
                ("price_include", "=", False),
            ]
        )
        if not taxes:
            template = cls.env["account.tax"].search(
                [("company_id", "=", cls.company.id), ("type_tax_use", "=", "sale")],
                limit=1,
            )
            group = cls.env["account.tax.group"].create(
                {"name": "US Sales Tax", "country_id": cls.env.ref("base.us").id}
            )
            template.copy(
                {
                    "name": "Sales tax 20%",
                    "tax_group_id": group.id,
                    "amount": 20.0,
                    "price_include_override": "tax_excluded",
                    "country_id": cls.env.ref("base.us").id,
                }
            )

    def _import(self, lines, **kwargs):
        payload = self.sim.create_order(lines=lines, notify=False, **kwargs)
        self.assertEqual(self.deliver("orders/create", payload), 200)
        self.perform_jobs("_job_process")
        sale = self.sale_orders().filtered(
            lambda s: s.client_order_ref == payload["name"]
        )
        self.assertEqual(sale.state, "sale", self.events().mapped("last_error"))
        return payload, sale

    def _line(self, sale, sku):
        return sale.order_line.filtered(
            lambda line: line.product_id.default_code == sku
        )

    def _item(self, payload, sku):
        return next(li for li in payload["line_items"] if li["sku"] == sku)

    def _refund(self, payload, lines, shipping=None, deliveries=1):
        """Refund on the shop, deliver its webhook (``deliveries`` times,
        as Shopify redelivers), run the event jobs."""
        refund = refunds.refund_order(
            self.sim, payload["id"], lines=lines, shipping=shipping, notify=False
        )
        webhook_id = f"refund-{refund['id']}"
        for _attempt in range(deliveries):
            self.assertEqual(
                self.deliver("refunds/create", refund, webhook_id=webhook_id), 200
            )
        self.perform_jobs("_job_process")
        return refund

    def _ship(self, sale):
        """Odoo ships the whole order; the shop hears of it (by the
        connector's fulfilment, or the merchant fulfils by hand)."""
        picking = sale.picking_ids.filtered(
            lambda p: p.picking_type_code == "outgoing" and p.state == "assigned"
        )
        for move in picking.move_ids:
            move.quantity = move.product_uom_qty
        picking.move_ids.picked = True
        self.assertIs(picking.button_validate(), True)
        self.perform_jobs()
        order = self.sim.get_order(sale.marketplace_binding_ids.external_id)
        if any(li["fulfillable_quantity"] for li in order["line_items"]):
            refunds.mark_fulfilled(self.sim, order["id"], notify=False)
        return picking

    def _refund_rows(self, sale):
        return self.env["marketplace.refund"].search([("sale_order_id", "=", sale.id)])

    def _ledger(self, sale, kind):
        return self.env["marketplace.stock.ledger"].search(
            [("sale_order_id", "=", sale.id), ("kind", "=", kind)]
        )

    def _dirty(self, product):
        return self.env["marketplace.stock.dirty"].search(
            [("backend_id", "=", self.backend.id), ("product_id", "=", product.id)]
        )

    def test_before_invoicing_cuts_the_order_and_lowers_its_total(self):
        payload, sale = self._import([("MUG-BLUE", 3), ("TEE-L", 1)])
        total_before = self.money(sale.amount_total)
        mug = self._line(sale, "MUG-BLUE")
        delivery = sale.picking_ids
        self._dirty(mug.product_id).unlink()

        refund = self._refund(
            payload,
            [
                {
                    "line_item_id": self._item(payload, "MUG-BLUE")["id"],
                    "quantity": 2,
                    "restock_type": "cancel",
                }
            ],
            shipping=True,
        )

        row = self._refund_rows(sale)
        self.assertEqual(row.state, "done", row.last_error)
        self.assertEqual(mug.product_uom_qty, 1, "two units taken off the order")
        move = delivery.move_ids.filtered(lambda m: m.product_id == mug.product_id)
        self.assertEqual(sum(move.mapped("product_uom_qty")), 1, "delivery shrinks")
        self.assertEqual(move.quantity, 1, "reservation released")
        paid_back = self.money(refund["transactions"][0]["amount"])
        self.assertEqual(paid_back, self.money("53.97"))  # 2 x 19.99 + 20%, 6.00
        self.assertEqual(self.money(sale.amount_total), total_before - paid_back)
        self.assertEqual(self.money(row.amount_total), paid_back)
        self.assertFalse(row.credit_note_id)
        self.assertFalse(row.return_picking_ids)
        entry = self._ledger(sale, "cancel")
        self.assertEqual(entry.mapped("quantity"), [2.0])
        self.assertTrue(self._dirty(mug.product_id), "every channel gets a push")
        self.assertEqual(sale.marketplace_refund_count, 1)
        self.assertEqual(
            sale.action_view_marketplace_refunds()["domain"],
            [("sale_order_id", "=", sale.id)],
        )
        self.assertEqual(self.backend.refund_count, 1)
        self.assertEqual(
            self.env["marketplace.refund"].search(
                self.backend.action_view_refunds()["domain"]
            ),
            row,
        )
        event = self.events(resource_type="refund")
        self.assertEqual(event.state, "done")
        self.assertEqual(event.sale_order_id, sale)
        # the order's own update that follows (partially refunded) is no edit
        updated = self.sim.get_order(payload["id"])
        self.assertEqual(updated["financial_status"], "partially_refunded")
        self.assertEqual(self.deliver("orders/updated", updated), 200)
        self.perform_jobs("_job_process")
        self.assertEqual(sale.marketplace_sync_state, "synced")
        self.assertEqual(mug.product_uom_qty, 1)

    def test_after_invoicing_a_credit_note_to_the_cent(self):
        payload, sale = self._import(
            [("MUG-BLUE", 2), ("CAP-RED", 1)], discount_pct="10"
        )
        invoice = sale._create_invoices()
        invoice.action_post()
        self.assertEqual(
            self.money(invoice.amount_total), self.money(payload["total_price"])
        )
        self._ship(sale)

        refund = self._refund(
            payload,
            [
                {
                    "line_item_id": self._item(payload, "MUG-BLUE")["id"],
                    "quantity": 1,
                    "restock_type": "no_restock",
                }
            ],
            shipping="5.00",
        )

        row = self._refund_rows(sale)
        self.assertEqual(row.state, "done", row.last_error)
        credit = row.credit_note_id
        self.assertEqual(credit.move_type, "out_refund")
        self.assertEqual(credit.state, "posted")
        self.assertEqual(credit.reversed_entry_id, invoice)
        paid_back = self.money(refund["transactions"][0]["amount"])
        # 19.99 less 10 % (2.00) = 17.99 + 20 % tax 3.60, shipping 5.00 + 1.00
        self.assertEqual(paid_back, self.money("27.59"))
        self.assertEqual(self.money(credit.amount_total), paid_back)
        lines = credit.invoice_line_ids
        mug_line = lines.filtered(lambda ml: ml.product_id.default_code == "MUG-BLUE")
        self.assertEqual(mug_line.quantity, 1)
        self.assertEqual(mug_line.tax_ids, self._line(sale, "MUG-BLUE").tax_id)
        self.assertFalse(
            lines.filtered(lambda ml: ml.product_id.default_code == "CAP-RED")
        )
        self.assertEqual(self._line(sale, "MUG-BLUE").qty_invoiced, 1)
        self.assertFalse(self._ledger(sale, "restock"), "no restock: no stock move")
        self.assertFalse(row.return_picking_ids)

    def test_return_is_received_and_booked_once(self):
        payload, sale = self._import([("TEE-L", 2), ("CAP-RED", 1)])
        tee = self._line(sale, "TEE-L")
        delivery = self._ship(sale)
        stock = self.warehouse.lot_stock_id
        on_hand = tee.product_id.with_context(location=stock.id).qty_available
        self._dirty(tee.product_id).unlink()
        lines = [
            {
                "line_item_id": self._item(payload, "TEE-L")["id"],
                "quantity": 1,
                "restock_type": "return",
            }
        ]

        refund = self._refund(payload, lines, deliveries=2)

        self.assertEqual(len(self.events(resource_type="refund")), 1, "one event")
        row = self._refund_rows(sale)
        self.assertEqual(row.state, "done", row.last_error)
        receipt = row.return_picking_ids
        self.assertEqual(len(receipt), 1)
        self.assertEqual(receipt.state, "done")
        self.assertEqual(receipt.picking_type_code, "incoming")
        self.assertEqual(receipt.return_id, delivery, "made from the delivery")
        self.assertEqual(receipt.move_ids.quantity, 1)
        self.assertEqual(
            tee.product_id.with_context(location=stock.id).qty_available, on_hand + 1
        )
        self.assertEqual(self._ledger(sale, "restock").mapped("quantity"), [1.0])
        self.assertTrue(self._dirty(tee.product_id), "every channel gets a push")
        self.assertEqual(tee.product_uom_qty, 2, "a shipped unit stays ordered")

        # the inbox forgot the first delivery (retention): the refund's own
        # row still books it once
        self.events(resource_type="refund").unlink()
        self.assertEqual(self.deliver("refunds/create", refund), 200)
        self.perform_jobs("_job_process")
        event = self.events(resource_type="refund")
        self.assertEqual(event.state, "ignored")
        self.assertIn("booked already", event.result)
        self.assertEqual(len(self._ledger(sale, "restock")), 1)
        self.assertEqual(len(self._refund_rows(sale).return_picking_ids), 1)
        self.assertEqual(
            tee.product_id.with_context(location=stock.id).qty_available, on_hand + 1
        )

    def test_return_left_for_the_warehouse_at_the_backend_location(self):
        shelf = self.env["stock.location"].create(
            {
                "name": "Returns shelf",
                "usage": "internal",
                "location_id": self.warehouse.view_location_id.id,
            }
        )
        self.backend.write(
            {"return_location_id": shelf.id, "return_auto_validate": False}
        )
        payload, sale = self._import([("CAP-RED", 2)])
        self._ship(sale)

        self._refund(
            payload,
            [
                {
                    "line_item_id": self._item(payload, "CAP-RED")["id"],
                    "quantity": 2,
                    "restock_type": "return",
                }
            ],
        )

        receipt = self._refund_rows(sale).return_picking_ids
        self.assertEqual(receipt.location_dest_id, shelf)
        self.assertEqual(receipt.state, "assigned", "waits for the warehouse")
        self.assertEqual(self._ledger(sale, "restock").mapped("quantity"), [2.0])

    def test_no_restock_moves_no_stock(self):
        payload, sale = self._import([("MUG-BLUE", 1)])
        self._ship(sale)
        total_before = self.money(sale.amount_total)
        moves_before = self.env["stock.move"].search_count([])

        refund = self._refund(
            payload,
            [
                {
                    "line_item_id": self._item(payload, "MUG-BLUE")["id"],
                    "quantity": 1,
                    "restock_type": "no_restock",
                }
            ],
        )

        row = self._refund_rows(sale)
        self.assertEqual(row.state, "done", row.last_error)
        self.assertEqual(self.env["stock.move"].search_count([]), moves_before)
        self.assertFalse(self._ledger(sale, "restock") | self._ledger(sale, "cancel"))
        paid_back = self.money(refund["transactions"][0]["amount"])
        self.assertEqual(self.money(sale.amount_total), total_before - paid_back)

    def test_a_refund_that_does_not_add_up_fails_visibly(self):
        payload, sale = self._import([("MUG-BLUE", 2)])
        refund = refunds.refund_order(
            self.sim,
            payload["id"],
            lines=[
                {
                    "line_item_id": self._item(payload, "MUG-BLUE")["id"],
                    "quantity": 1,
                    "restock_type": "cancel",
                }
            ],
            notify=False,
        )
        # a refund whose money says 50 cents more than its lines: more than
        # rounding explains
        transaction = refund["transactions"][0]
        transaction["amount"] = str(Decimal(transaction["amount"]) + Decimal("0.50"))
        self.assertEqual(self.deliver("refunds/create", refund), 200)
        self.perform_jobs("_job_process")

        event = self.events(resource_type="refund")
        self.assertEqual(event.state, "failed")
        self.assertIn("difference -0.50", event.last_error)
        row = self._refund_rows(sale)
        self.assertEqual(row.state, "failed")
        self.assertEqual(sale.marketplace_sync_state, "attention")
        self.assertIn("difference -0.50", sale.marketplace_last_error)
        self.assertEqual(self._line(sale, "MUG-BLUE").product_uom_qty, 2, "rolled back")
        self.assertFalse(self._ledger(sale, "cancel"))

        row.action_retry()
        self.assertEqual(event.state, "queued", "Retry queues the event again")

    def test_the_shop_refuses_more_than_remains_refundable(self):
        payload = self.sim.create_order(lines=[("MUG-BLUE", 1)], notify=False)
        line = {"line_item_id": self._item(payload, "MUG-BLUE")["id"], "quantity": 2}
        with self.assertRaisesRegex(ValueError, "1 left to refund"):
            refunds.refund_order(self.sim, payload["id"], lines=[line], notify=False)
        line.update(quantity=1, restock_type="return")
        with self.assertRaisesRegex(ValueError, "0 fulfilled"):
            refunds.refund_order(self.sim, payload["id"], lines=[line], notify=False)

    def test_a_refund_before_its_order_is_imported_waits_for_it(self):
        payload = self.sim.create_order(lines=[("CAP-RED", 2)], notify=False)
        refund = refunds.refund_order(
            self.sim,
            payload["id"],
            lines=[
                {
                    "line_item_id": self._item(payload, "CAP-RED")["id"],
                    "quantity": 1,
                    "restock_type": "cancel",
                }
            ],
            notify=False,
        )
        # the refund's webhook overtakes the order's
        self.assertEqual(self.deliver("refunds/create", refund), 200)
        self.assertEqual(self.deliver("orders/create", payload), 200)

        self.perform_jobs("_job_process")

        sale = self.sale_orders().filtered(
            lambda s: s.client_order_ref == payload["name"]
        )
        self.assertEqual(self._refund_rows(sale).state, "done")
        self.assertEqual(self._line(sale, "CAP-RED").product_uom_qty, 1)
        self.assertEqual(self.events(resource_type="refund").state, "done")

    def test_a_refund_of_an_order_never_imported_fails_with_the_reason(self):
        payload = self.sim.create_order(
            lines=[("CAP-RED", 1)], financial_status="pending", notify=False
        )
        self.assertEqual(self.deliver("orders/create", payload), 200)
        self.perform_jobs("_job_process")
        self.assertFalse(self.binding(payload).order_id, "pending: not imported")
        refund = {
            "id": 9_800_000_000_999,
            "order_id": payload["id"],
            "created_at": payload["created_at"],
            "refund_line_items": [],
            "order_adjustments": [],
            "transactions": [],
        }
        self.assertEqual(self.deliver("refunds/create", refund), 200)
        self.perform_jobs("_job_process")
        event = self.events(resource_type="refund")
        self.assertEqual(event.state, "failed")
        self.assertIn("not in Odoo", event.last_error)
        self.assertIn("then Retry", event.last_error)

    def test_a_cancelled_orders_refund_books_no_stock_twice(self):
        payload, sale = self._import([("MUG-BLUE", 2)])
        cancelled = self.sim.cancel_order(payload["id"], notify=False)
        self.assertEqual(self.deliver("orders/cancelled", cancelled), 200)
        self.perform_jobs("_job_process")
        self.assertEqual(sale.state, "cancel")
        self.assertEqual(self._ledger(sale, "cancel").mapped("quantity"), [2.0])

        self._refund(
            payload,
            [
                {
                    "line_item_id": self._item(payload, "MUG-BLUE")["id"],
                    "quantity": 2,
                    "restock_type": "no_restock",
                }
            ],
            shipping=True,
        )

        row = self._refund_rows(sale)
        self.assertEqual(row.state, "done", row.last_error)
        self.assertIn("nothing is left to invoice", row.summary)
        self.assertEqual(
            self._ledger(sale, "cancel").mapped("quantity"),
            [2.0],
            "the cancellation released the units once",
        )
        self.assertEqual(self._line(sale, "MUG-BLUE").product_uom_qty, 2)

    def test_a_cent_of_rounding_goes_on_a_visible_line(self):
        # 3 x 19.99 less 10 %: the shop shares the line's discount and tax
        # out per unit (17.99 + 3.60 back for one), Odoo recomputes the two
        # left (35.98 + 7.20): a cent apart
        payload, sale = self._import([("MUG-BLUE", 3)], discount_pct="10")
        total_before = self.money(sale.amount_total)

        refund = self._refund(
            payload,
            [
                {
                    "line_item_id": self._item(payload, "MUG-BLUE")["id"],
                    "quantity": 1,
                    "restock_type": "cancel",
                }
            ],
        )

        self.assertEqual(self._refund_rows(sale).state, "done")
        paid_back = self.money(refund["transactions"][0]["amount"])
        self.assertEqual(paid_back, self.money("21.59"))
        self.assertEqual(self.money(sale.amount_total), total_before - paid_back)
        rounding = sale.order_line.filtered(
            lambda line: (
                line.product_id
                == self.env.ref("marketplace_connector.product_marketplace_rounding")
            )
        )
        self.assertEqual(rounding.mapped("price_unit"), [-0.01])
