# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Invoice a paid marketplace order and register its payment.

Off by default (``marketplace.backend.invoice_paid_orders``). After the
import of a paid, confirmed order, a job (:func:`enqueue_invoicing`):

1. takes the order binding's row lock (a second job for the same order
   waits for the first and then finds its work done);
2. posts the order's invoice -- the one already linked, or one a person made
   from the sale order, or a new one from Odoo's ``_create_invoices`` (the
   lines carry the mapped taxes, so the tax lands on the taxes' accounts);
3. registers the payment of what is due on the journal of the order's
   payment gateway (``marketplace.payment.journal``), else the backend's.

The invoice and the payment are linked on the binding (each ``UNIQUE``), so
that neither is ever made twice. A step that fails (no payment journal, an
invoicing policy on delivered quantities...) is rolled back, recorded on
the binding (``invoice_state`` failed, with the reason) and retried from the
order bindings' list once fixed; what was done before it stays done.
"""

import logging

import psycopg2

from odoo import fields

from ..lib.errors import DataError, RetryableError

_logger = logging.getLogger(__name__)

INVOICE_PRIORITY = 30


def enqueue_invoicing(binding, order):
    """Queue the invoicing of ``order`` (just applied to ``binding``) when
    its backend invoices paid orders and it is paid and confirmed."""
    backend = binding.backend_id
    sale = binding.order_id
    if (
        not backend.invoice_paid_orders
        or order.financial_status != "paid"
        or not sale
        or sale.state != "sale"
        or binding.invoice_state in ("queued", "done")
    ):
        return
    enqueue_job(binding)


def enqueue_job(binding):
    binding.write({"invoice_state": "queued", "invoice_error": False})
    binding.with_delay(
        priority=INVOICE_PRIORITY,
        description=f"Invoice {binding.external_name}",
        identity_key=f"marketplace-invoice-{binding.id}",
    )._job_invoice()


class OrderInvoicer:
    def __init__(self, binding):
        self.binding = binding
        self.backend = binding.backend_id
        self.env = binding.env(context=dict(binding.env.context, tracking_disable=True))
        self.sale = binding.order_id.with_env(self.env).with_company(
            self.backend.company_id
        )

    def run(self):
        self._lock()
        binding = self.binding
        if binding.invoice_state == "done":
            return f"Already invoiced: {binding.invoice_id.name}"
        try:
            with self.env.cr.savepoint():
                invoice = self._posted_invoice()
            with self.env.cr.savepoint():
                payment = self._payment(invoice)
        except (DataError, ValueError) as err:
            return self._failed(str(err))
        except Exception as err:
            # an accounting refusal (UserError, ValidationError): shown on the
            # order binding, retried from there once fixed
            if type(err).__module__.startswith("odoo.exceptions"):
                return self._failed(str(err))
            raise
        binding.write(
            {
                "invoice_state": "done",
                "invoice_error": False,
                "payment_id": payment.id or binding.payment_id.id,
            }
        )
        return f"Invoiced {invoice.name}" + (
            f", paid by {payment.name}" if payment else ", already paid"
        )

    def _lock(self):
        try:
            self.env.cr.execute(
                "SELECT id FROM marketplace_order_binding WHERE id = %s "
                "FOR UPDATE NOWAIT",
                (self.binding.id,),
                log_exceptions=False,
            )
        except psycopg2.errors.LockNotAvailable as err:
            raise RetryableError(
                f"Order {self.binding.external_name} is being imported or "
                f"invoiced by another job",
                retry_after=5,
            ) from err

    def _posted_invoice(self):
        invoice = self.binding.invoice_id
        if not invoice:
            invoice = self.sale.invoice_ids.filtered(
                lambda move: move.move_type == "out_invoice" and move.state != "cancel"
            )[:1]
        if not invoice:
            if self.sale.state != "sale":
                raise DataError(f"{self.sale.name} is not a confirmed sale order.")
            if self.sale.invoice_status != "to invoice":
                raise DataError(
                    f"{self.sale.name} has nothing to invoice (its products "
                    f"are invoiced on delivered quantities?): invoice it by "
                    f"hand, then Retry."
                )
            self._set_foreign_vat(self.sale, self.sale.order_line.tax_id)
            invoice = self.sale._create_invoices()
            journal = self.backend.invoice_journal_id
            if journal:
                invoice.journal_id = journal
        self.binding.invoice_id = invoice
        if invoice.state == "draft":
            self._set_foreign_vat(invoice, invoice.invoice_line_ids.tax_ids)
            invoice.action_post()
        return invoice

    def _set_foreign_vat(self, record, taxes):
        """Taxes of another country than the company's fiscal one (EU VAT
        of a US company) are reported under the company's VAT number in
        that country: Odoo books them only with the fiscal position that
        holds it (a *Foreign Tax ID*), set here on the sale order (before
        its invoice is made) or on a draft invoice. Setting it does not
        remap the taxes already on the lines."""
        company = self.sale.company_id
        foreign = taxes.country_id - company.account_fiscal_country_id
        if not foreign or record.fiscal_position_id.country_id == foreign:
            return
        if len(foreign) > 1:
            raise DataError(
                f"{self.sale.name} has taxes of several "
                f"countries ({', '.join(foreign.mapped('name'))}): check the "
                f"tax mappings of {self.backend.name}."
            )
        position = self.env["account.fiscal.position"].search(
            [
                ("company_id", "=", company.id),
                ("foreign_vat", "!=", False),
                ("country_id", "=", foreign.id),
            ],
            limit=1,
        )
        if not position:
            raise DataError(
                f"{self.sale.name} is taxed in {foreign.name}: add the "
                f"company's tax ID there (Accounting > Configuration > Fiscal "
                f"Positions, with a Foreign Tax ID for {foreign.name}), then "
                f"Retry invoicing."
            )
        record.fiscal_position_id = position

    def _payment(self, invoice):
        """The payment registered for ``invoice``; an empty one when
        nothing is due (paid by a person meanwhile)."""
        payment = self.env["account.payment"]
        if self.binding.payment_id or invoice.payment_state in (
            "paid",
            "in_payment",
        ):
            return payment
        journal = self.backend._payment_journal(self.binding.payment_gateway)
        if not journal:
            raise DataError(
                f"No payment journal for {self.backend.name}"
                + (
                    f" (gateway {self.binding.payment_gateway})"
                    if self.binding.payment_gateway
                    else ""
                )
                + ": set one on its Taxes and accounting tab, then Retry."
            )
        register = (
            self.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create(
                {
                    "journal_id": journal.id,
                    "payment_date": fields.Date.context_today(self.binding),
                    "communication": self.binding.external_name or invoice.name,
                }
            )
        )
        payment = register._create_payments()
        self.binding.payment_id = payment
        return payment

    def _failed(self, message):
        self.env.invalidate_all()
        self.binding.write({"invoice_state": "failed", "invoice_error": message})
        _logger.info("Invoicing %s failed: %s", self.binding.external_name, message)
        return f"Failed: {message}"
