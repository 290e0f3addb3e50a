# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Books a channel's :class:`~..lib.refund.Refund` on its sale order, once.

Once per refund: the refund's row (``marketplace.refund``, unique per
backend and refund id) is claimed and locked first; a refund booked already
books nothing. Everything else happens in one savepoint: a refund is booked
whole or not at all.

1. **Stock.** Each refunded line is split (:func:`~..lib.refund.plan_line`)
   between units Odoo has not shipped -- taken off the order: the ordered
   quantity is lowered and the delivery's pending move shrinks, releasing
   the reservation -- and units Odoo shipped: with restock type *return*
   they come back on a return receipt made by Odoo's return wizard from the
   delivery, to the backend's return location, validated at once or left
   for the warehouse as the backend says; otherwise they stay with the
   customer (no stock move). The products' stock locks are taken first
   (without waiting: another import holding them makes the job retry), and
   the units put back are booked on the stock ledger once per refund and
   line, which queues a push of them to every channel.
2. **Money**, checked to the cent against what the channel paid back.
   Before the order is invoiced, the order itself carries the refund: the
   units taken off lower its total, and refunded units that were shipped,
   shipping and adjustments become negative lines, so the invoice to come
   is right. Once invoiced, a credit note is made by Odoo's reversal of the
   order's last invoice (lines, prices and taxes carried over), cut down to
   exactly the refunded lines and quantities, shipping and adjustments, and
   posted.

A refund that cannot be booked as it is (an order line unknown, totals that
do not match) is rolled back and shown as failed on its row, its event and
the order, with the reason and *Retry*.
"""

import dataclasses
from decimal import Decimal

from odoo import Command, fields

from ..lib.errors import DataError, PermanentError, RetryableError
from ..lib.pricing import rounding_tolerance
from ..lib.refund import RESTOCK_CANCEL, money_difference, plan_line
from ..models.stock_return_picking import RETURN_LOCATION_KEY
from .stock_ledger import StockLedger

#: a refund whose order's import is still queued is tried again this much later
ORDER_PENDING_RETRY_SECONDS = 30


def _float(value):
    return float(value)


class RefundProcessor:
    def __init__(self, backend):
        self.backend = backend
        self.env = backend.with_company(backend.company_id).env
        self.ledger = StockLedger(backend)

    # Entry point

    def apply(self, refund, event=None):
        """:return: ``(state, message, sale_order)`` for the event."""
        binding = self.env["marketplace.order.binding"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("external_id", "=", refund.order_external_id),
            ],
            limit=1,
        )
        sale = binding.order_id
        if not sale:
            self._order_missing(refund, binding)
        self._lock_order(refund)
        row = self.env["marketplace.refund"]._claim(
            self.backend, refund.external_id, sale
        )
        if row is None:
            raise RetryableError(
                f"Refund {refund.external_id} is being booked by another job",
                retry_after=1,
            )
        if row.state in ("done", "attention"):
            return (
                "ignored",
                f"Refund {refund.external_id} is booked already",
                sale,
            )
        row.write(
            {
                "event_id": event.id if event else row.event_id.id,
                "refunded_at": refund.created_at,
            }
        )
        try:
            with self.env.cr.savepoint():
                state, summary = self._book(refund, sale, row)
        except PermanentError as err:
            message = (
                f"Refund {refund.external_id} of {sale.name} could not be booked: {err}"
            )
            row.write({"state": "failed", "last_error": message})
            # "needs attention" stays on the order until a person acts (an
            # update of the order from the channel leaves it)
            binding.write({"sync_state": "attention", "sync_message": message})
            return "failed", message, sale
        row.write({"state": state, "summary": summary, "last_error": False})
        if state == "attention":
            binding.write({"sync_state": "attention", "sync_message": summary})
        return "done", summary, sale

    def _lock_order(self, refund):
        """The order's own lock, as its import takes it: a refund and an
        update or cancellation of the same order are applied one at a time
        (the other job retries shortly)."""
        self.env.cr.execute(
            "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))",
            (self.backend.id, f"order:{refund.order_external_id}"),
        )
        if not self.env.cr.fetchone()[0]:
            raise RetryableError(
                f"Another job is applying order {refund.order_external_id}",
                retry_after=2,
            )

    def _order_missing(self, refund, binding):
        waiting = self.env["marketplace.event"].search_count(
            [
                ("backend_id", "=", self.backend.id),
                ("resource_type", "=", "order"),
                ("external_id", "=", refund.order_external_id),
                ("state", "in", ("received", "queued")),
            ]
        )
        if waiting:
            raise RetryableError(
                f"Order {refund.order_external_id} of refund "
                f"{refund.external_id} is not imported yet",
                retry_after=ORDER_PENDING_RETRY_SECONDS,
            )
        reason = binding.sync_message or "it never reached us"
        raise DataError(
            f"Refund {refund.external_id} is for order "
            f"{binding.external_name or refund.order_external_id}, which is not "
            f"in Odoo ({reason}). Import the order (Poll orders now, or Retry "
            f"its event), then Retry this one."
        )

    # Booking

    def _book(self, refund, sale, row):
        taxes_included = any(sale.order_line.tax_id.mapped("price_include"))
        refund = dataclasses.replace(refund, taxes_included=taxes_included)
        if refund.currency and refund.currency != sale.currency_id.name:
            raise DataError(
                f"the refund is in {refund.currency}, the order in "
                f"{sale.currency_id.name}."
            )
        plans = self._plan(refund, sale)
        storable = [
            line.product_id.id for _r, line, _p in plans if line.product_id.is_storable
        ]
        # before any change of reservation: another import holding these
        # products makes this job retry (LockNotAvailable) at once
        self.ledger.lock_products(storable, nowait=True)
        invoices = sale.invoice_ids.filtered(
            lambda m: m.state == "posted" and m.move_type == "out_invoice"
        )
        total_before = sale.amount_total
        notes = []
        cut = [(line, plan.cut) for _r, line, plan in plans if plan.cut]
        self._cut(cut)
        returns = self._returns(
            sale, [(line, plan.returned) for _r, line, plan in plans if plan.returned]
        )
        booked = self.ledger.apply_refund(
            sale,
            refund.external_id,
            [(line, "cancel", _float(plan.cut)) for _r, line, plan in plans]
            + [(line, "restock", _float(plan.returned)) for _r, line, plan in plans],
        )
        if invoices:
            credit_note = self._credit_note(refund, sale, invoices, plans)
            row.credit_note_id = credit_note
            notes.append(
                f"credit note {credit_note.name} "
                f"({credit_note.amount_total:.{refund.decimals}f} "
                f"{credit_note.currency_id.name})"
            )
        elif sale.state == "cancel":
            notes.append("the order is cancelled: nothing is left to invoice")
        else:
            self._reduce_order(refund, sale, plans)
            decimals = refund.decimals
            difference = money_difference(
                total_before - sale.amount_total, refund.expected_total, decimals
            )
            if difference and self._rounding_only(refund, sale, difference):
                sale.order_line = [
                    self._rounding_command(difference, "product_uom_qty")
                ]
                difference = money_difference(
                    total_before - sale.amount_total, refund.expected_total, decimals
                )
            if difference:
                raise DataError(
                    f"the order's total would fall by "
                    f"{total_before - sale.amount_total:.{decimals}f}, the marketplace "
                    f"refunded {refund.expected_total} (difference {difference}): "
                    f"check the order's lines and taxes against the refund, then Retry."
                )
            notes.append(f"order total lowered by {refund.expected_total}")
        row.write(
            {
                "amount_total": _float(refund.expected_total),
                "return_picking_ids": [Command.set(returns.ids)],
                "lines": [
                    {
                        "line_id": refund_line.line_id,
                        "product": line.product_id.display_name,
                        "quantity": _float(refund_line.quantity),
                        "restock_type": refund_line.restock_type,
                        "cut": _float(plan.cut),
                        "returned": _float(plan.returned),
                        "kept": _float(plan.kept),
                    }
                    for refund_line, line, plan in plans
                ],
            }
        )
        summary = self._summary(refund, cut, returns, booked, notes)
        state = "done"
        mismatched = [
            (refund_line, line, plan)
            for refund_line, line, plan in plans
            if refund_line.restock_type == RESTOCK_CANCEL and plan.kept
        ]
        if mismatched:
            state = "attention"
            summary += " " + "; ".join(
                f"the marketplace restocked {plan.kept:g} x "
                f"{line.product_id.display_name} as never shipped, but Odoo "
                f"shipped them: receive them back if they return, or correct "
                f"the marketplace's stock"
                for _r, line, plan in mismatched
            )
        return state, summary

    def _plan(self, refund, sale):
        lines = {
            line.marketplace_line_id: line
            for line in sale.order_line
            if line.marketplace_line_id
        }
        plans = []
        for refund_line in refund.lines:
            line = lines.get(refund_line.line_id)
            if not line:
                raise DataError(
                    f"it refunds order line {refund_line.line_id}, which is not "
                    f"on {sale.name}: compare the order with the marketplace."
                )
            if not refund_line.quantity:
                continue
            plan = plan_line(
                refund_line,
                Decimal(str(line.product_uom_qty)),
                Decimal(str(line.qty_delivered)),
            )
            if sale.state == "cancel":
                # its cancellation released the unshipped units already
                plan = dataclasses.replace(plan, cut=Decimal(0))
            plans.append((refund_line, line, plan))
        return plans

    def _cut(self, cuts):
        """Lower the ordered quantities: Odoo shrinks the delivery's pending
        moves and releases their reservation."""
        for line, quantity in cuts:
            line.product_uom_qty = line.product_uom_qty - _float(quantity)

    def _returns(self, sale, returned):
        """Return receipts of ``[(order line, quantity)]`` from the
        deliveries that shipped them, one per delivery, made by Odoo's
        return wizard."""
        pickings = self.env["stock.picking"]
        per_picking = {}
        for line, quantity in returned:
            left = _float(quantity)
            moves = line.move_ids.filtered(
                lambda m: (
                    m.state == "done"
                    and m.picking_code == "outgoing"
                    and not m.origin_returned_move_id
                )
            )
            for move in moves.sorted("id"):
                already = sum(
                    m.quantity for m in move.returned_move_ids if m.state != "cancel"
                )
                take = min(left, move.quantity - already)
                if take > 0:
                    per_picking.setdefault(move.picking_id, {})[move] = take
                    left -= take
            if left > 1e-9:
                raise DataError(
                    f"{left:g} x {line.product_id.display_name} should come back, "
                    f"but no delivery of {sale.name} has them left to return."
                )
        location = self.backend.return_location_id
        for picking, quantities in per_picking.items():
            context = {"active_id": picking.id, "active_model": "stock.picking"}
            if location:
                context[RETURN_LOCATION_KEY] = location.id
            wizard = (
                self.env["stock.return.picking"]
                .with_context(**context)
                .create({"picking_id": picking.id})
            )
            for return_line in wizard.product_return_moves:
                return_line.quantity = quantities.get(return_line.move_id, 0.0)
                if "to_refund" in return_line._fields:
                    # the refund books the money (credit note or order lines)
                    return_line.to_refund = False
            receipt = wizard._create_return()
            if self.backend.return_auto_validate:
                result = receipt.with_context(
                    skip_backorder=True, skip_sms=True
                ).button_validate()
                if result is not True or receipt.state != "done":
                    raise DataError(
                        f"the return receipt {receipt.name} could not be "
                        f"validated: validate it by hand, then Retry."
                    )
            pickings |= receipt
        return pickings

    def _reduce_order(self, refund, sale, plans):
        """Before invoicing: refunded units that were shipped, shipping and
        adjustments become negative lines of the order (the units taken off
        already lowered it)."""
        commands = []
        discount = self.env.ref("marketplace_connector.product_marketplace_discount")
        for refund_line, line, plan in plans:
            if not plan.shipped:
                continue
            share = refund_line.subtotal * plan.shipped / refund_line.quantity
            commands.append(
                Command.create(
                    {
                        "product_id": discount.id,
                        "name": f"Refund {refund.external_id}: {plan.shipped:g} x "
                        f"{line.name}",
                        "product_uom_qty": 1.0,
                        "price_unit": -_float(share),
                        "tax_id": [Command.set(line.tax_id.ids)],
                    }
                )
            )
        shipping_taxes = self._shipping_taxes(sale)
        shipping = self.env.ref("marketplace_connector.product_marketplace_shipping")
        for amount in refund.amounts:
            is_shipping = amount.kind == "shipping"
            commands.append(
                Command.create(
                    {
                        "product_id": (shipping if is_shipping else discount).id,
                        "name": f"Refund {refund.external_id}: "
                        f"{amount.reason or amount.kind}",
                        "product_uom_qty": 1.0,
                        "price_unit": -_float(amount.amount),
                        "tax_id": [
                            Command.set(
                                shipping_taxes.ids if is_shipping and amount.tax else []
                            )
                        ],
                    }
                )
            )
        if commands:
            sale.order_line = commands

    def _shipping_taxes(self, sale):
        shipping = self.env.ref("marketplace_connector.product_marketplace_shipping")
        lines = sale.order_line.filtered(lambda line: line.product_id == shipping)
        return lines[:1].tax_id

    def _credit_note(self, refund, sale, invoices, plans):
        """Odoo's reversal of the order's last invoice, cut down to exactly
        what was refunded, checked to the cent, posted."""
        invoice = invoices.sorted("id")[-1]
        credit = invoice._reverse_moves(
            [
                {
                    "ref": f"{self.backend.name} refund {refund.external_id}",
                    "invoice_date": fields.Date.context_today(invoice),
                }
            ],
            cancel=False,
        )
        refunded = {line.id: plan for _r, line, plan in plans}
        subtotals = {line.id: refund_line for refund_line, line, _p in plans}
        shipping_product = self.env.ref(
            "marketplace_connector.product_marketplace_shipping"
        )
        shipping_total = sum(
            (a.amount for a in refund.amounts if a.kind == "shipping"), Decimal(0)
        )
        commands = []
        seen = set()
        for move_line in credit.invoice_line_ids.filtered(
            lambda ml: ml.display_type == "product"
        ):
            sale_line = move_line.sale_line_ids[:1]
            if sale_line.id in refunded and sale_line.id not in seen:
                seen.add(sale_line.id)
                commands.append(
                    Command.update(
                        move_line.id,
                        {"quantity": _float(subtotals[sale_line.id].quantity)},
                    )
                )
            elif sale_line.product_id == shipping_product and shipping_total:
                commands.append(
                    Command.update(
                        move_line.id,
                        {"quantity": 1.0, "price_unit": _float(shipping_total)},
                    )
                )
                shipping_total = Decimal(0)
            else:
                commands.append(Command.unlink(move_line.id))
        missing = set(refunded) - seen
        if missing:
            names = ", ".join(
                self.env["sale.order.line"].browse(sorted(missing)).mapped("name")
            )
            raise DataError(
                f"the refunded line(s) {names} are not on invoice {invoice.name}: "
                f"make the credit note by hand, or invoice them, then Retry."
            )
        discount = self.env.ref("marketplace_connector.product_marketplace_discount")
        extra = [a for a in refund.amounts if a.kind != "shipping"]
        if shipping_total:
            extra.append(
                dataclasses.replace(
                    refund.shipping[0], amount=shipping_total, kind="shipping"
                )
            )
        for amount in extra:
            commands.append(
                Command.create(
                    {
                        "product_id": (
                            shipping_product if amount.kind == "shipping" else discount
                        ).id,
                        "name": f"{amount.reason or amount.kind}",
                        "quantity": 1.0,
                        "price_unit": _float(amount.amount),
                        "tax_ids": [Command.clear()],
                    }
                )
            )
        credit.write({"invoice_line_ids": commands})
        difference = money_difference(
            credit.amount_total, refund.expected_total, refund.decimals
        )
        if difference and self._rounding_only(refund, sale, difference):
            credit.write(
                {"invoice_line_ids": [self._rounding_command(-difference, "quantity")]}
            )
            difference = money_difference(
                credit.amount_total, refund.expected_total, refund.decimals
            )
        if difference:
            raise DataError(
                f"the credit note would come to "
                f"{credit.amount_total:.{refund.decimals}f}, the "
                f"marketplace refunded {refund.expected_total} (difference "
                f"{difference}): check the invoice's lines and taxes against "
                f"the refund, then Retry."
            )
        credit.action_post()
        return credit

    @staticmethod
    def _rounding_only(refund, sale, difference):
        """Whether ``difference`` is what rounding alone explains: the
        channel shares a line's tax and discount out per refund and rounds
        each share, Odoo rounds per line; half a cent per part at most (as
        the import allows, :func:`~..lib.pricing.rounding_tolerance`)."""
        tolerance = rounding_tolerance(
            len(refund.lines) + len(refund.amounts),
            Decimal(str(sale.currency_id.rounding)),
        )
        return abs(difference) <= tolerance

    def _rounding_command(self, amount, quantity_field):
        """A visible line of ``amount`` (no tax) that books a rounding
        difference, as the import books one on the order."""
        product = self.env.ref("marketplace_connector.product_marketplace_rounding")
        vals = {
            "product_id": product.id,
            "name": "Rounding difference with the marketplace's refund",
            quantity_field: 1.0,
            "price_unit": _float(amount),
        }
        vals["tax_id" if quantity_field == "product_uom_qty" else "tax_ids"] = [
            Command.clear()
        ]
        return Command.create(vals)

    @staticmethod
    def _summary(refund, cut, returns, booked, notes):
        parts = []
        if cut:
            parts.append(
                "taken off the order: "
                + ", ".join(
                    f"{quantity:g} x {line.product_id.display_name}"
                    for line, quantity in cut
                )
            )
        for receipt in returns:
            parts.append(
                f"return receipt {receipt.name} "
                f"({'received' if receipt.state == 'done' else 'to receive'})"
            )
        if booked:
            parts.append(
                f"{len(booked)} stock ledger entr{'y' if len(booked) == 1 else 'ies'}"
            )
        parts += notes
        return f"Refund {refund.external_id}: " + "; ".join(parts) + "."
