# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The invoice and payment of a paid marketplace order, when its backend
invoices paid orders: made by a job after the import
(:mod:`..services.order_invoicing`), linked here once, so that a second job
or a Retry never makes a second invoice or payment."""

from odoo import _, fields, models
from odoo.exceptions import UserError

from ..services.job_errors import retry_later
from ..services.order_invoicing import OrderInvoicer, enqueue_job


class MarketplaceOrderBinding(models.Model):
    _inherit = "marketplace.order.binding"

    payment_gateway = fields.Char(help="Who took the payment, as the channel says.")
    invoice_id = fields.Many2one(
        "account.move", "Invoice", ondelete="set null", copy=False, readonly=True
    )
    payment_id = fields.Many2one(
        "account.payment", "Payment", ondelete="set null", copy=False, readonly=True
    )
    invoice_state = fields.Selection(
        [
            ("queued", "Queued"),
            ("done", "Invoiced and paid"),
            ("failed", "Failed"),
        ],
        "Invoicing",
        copy=False,
        readonly=True,
    )
    invoice_error = fields.Text(readonly=True, copy=False)

    _sql_constraints = [
        (
            "invoice_unique",
            "UNIQUE(invoice_id)",
            "An invoice belongs to one marketplace order.",
        ),
        (
            "payment_unique",
            "UNIQUE(payment_id)",
            "A payment belongs to one marketplace order.",
        ),
    ]

    def _job_invoice(self):
        """Job entry point: invoice and pay this paid order, once."""
        self.ensure_one()
        with retry_later():
            return OrderInvoicer(self).run()

    def action_retry_invoicing(self):
        for binding in self:
            if binding.invoice_state == "done":
                raise UserError(
                    _("%s is invoiced and paid already.", binding.external_name)
                )
            if not binding.order_id:
                raise UserError(_("%s is not imported.", binding.external_name))
            enqueue_job(binding)

    def _on_invoice_job_failed(self, exc_info=None, exc_name=None, exc_message=None):
        """queue_job calls this when the invoicing job fails for good: the
        binding shows it, and its Retry queues a new job."""
        self.write(
            {"invoice_state": "failed", "invoice_error": exc_message or exc_name}
        )
