# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""What the marketplace import asks of a tax before booking an order
with it."""

from odoo import _, models


class AccountTax(models.Model):
    _inherit = "account.tax"

    def _marketplace_tax_lines(self):
        """The repartition lines that carry the tax amount (invoices and
        refunds)."""
        self.ensure_one()
        lines = self.invoice_repartition_line_ids | self.refund_repartition_line_ids
        return lines.filtered(lambda line: line.repartition_type == "tax")

    def _marketplace_booking_problem(self, clearing_backend=None):
        """Why this tax cannot book a marketplace's orders, ``None`` when it
        can.

        :param clearing_backend: for a tax the marketplace collects, its
            backend: every tax line must post on its clearing account.
        """
        self.ensure_one()
        if not self.active:
            return _("it is archived")
        if self.type_tax_use != "sale":
            return _("it is not a sales tax")
        lines = self._marketplace_tax_lines()
        if not lines or any(not line.account_id for line in lines):
            return _(
                "a line of its distribution has no account (the tax would be "
                "booked as revenue): set the tax account on its invoice and "
                "refund distribution"
            )
        if clearing_backend:
            clearing = clearing_backend.collected_tax_account_id
            if not clearing:
                return _(
                    "the marketplace collects it: set the clearing account for "
                    "marketplace-collected taxes on the backend first"
                )
            if lines.account_id != clearing:
                return _(
                    "the marketplace collects it: its tax lines must post on "
                    "the clearing account %s",
                    clearing.display_name,
                )
        return None
