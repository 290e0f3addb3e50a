# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A refund the channel made on an imported order, booked in Odoo once.

``UNIQUE(backend_id, external_id)``: however a refund reaches us (a
webhook, its redelivery, a poll after the inbox forgot the first event), the
processor claims this one row first and books nothing when it is booked
already (:mod:`..services.refund_processor`). What the booking did -- units
taken off the order, return receipts, the credit note -- stays on the row,
shown on the sale order; a refund that could not be booked shows why, with
*Retry*.
"""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

STATES = [
    ("pending", "To book"),
    ("done", "Booked"),
    ("attention", "Booked, needs attention"),
    ("failed", "Failed"),
]


class MarketplaceRefund(models.Model):
    _name = "marketplace.refund"
    _description = "Marketplace Refund"
    _order = "id desc"
    _rec_name = "external_id"

    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    external_id = fields.Char(string="Refund ID", required=True, readonly=True)
    sale_order_id = fields.Many2one(
        "sale.order", required=True, ondelete="cascade", readonly=True, index=True
    )
    event_id = fields.Many2one(
        "marketplace.event", string="Event", ondelete="set null", readonly=True
    )
    state = fields.Selection(STATES, default="pending", required=True, index=True)
    refunded_at = fields.Datetime(readonly=True, help="When the channel refunded.")
    currency_id = fields.Many2one(related="sale_order_id.currency_id")
    amount_total = fields.Monetary(
        string="Refunded", readonly=True, help="The money the channel paid back."
    )
    credit_note_id = fields.Many2one("account.move", readonly=True, copy=False)
    return_picking_ids = fields.Many2many(
        "stock.picking",
        "marketplace_refund_return_picking_rel",
        "refund_id",
        "picking_id",
        string="Return Receipts",
        readonly=True,
    )
    lines = fields.Json(
        readonly=True,
        help="Per refunded line: quantity, restock type, and the units taken "
        "off the order, returned or kept.",
    )
    summary = fields.Text(readonly=True, help="What the booking did.")
    last_error = fields.Text(readonly=True)

    _sql_constraints = [
        (
            "external_id_unique",
            "UNIQUE(backend_id, external_id)",
            "This refund is already booked.",
        ),
    ]

    @api.model
    def _claim(self, backend, external_id, sale):
        """This refund's row, locked for this transaction (created when
        missing). Another job booking the same refund right now makes this
        one wait for nothing: ``LockNotAvailable`` (retried shortly); one
        that booked it since this transaction began is not visible yet:
        ``None`` (retried too, then it finds the row booked)."""
        cr = self.env.cr
        cr.execute(
            """
            INSERT INTO marketplace_refund
                (backend_id, company_id, external_id, sale_order_id, state,
                 create_uid, write_uid, create_date, write_date)
            VALUES (%(backend)s, %(company)s, %(external)s, %(sale)s, 'pending',
                    %(uid)s, %(uid)s, now() at time zone 'UTC',
                    now() at time zone 'UTC')
            ON CONFLICT (backend_id, external_id) DO NOTHING
            """,
            {
                "backend": backend.id,
                "company": backend.company_id.id,
                "external": external_id,
                "sale": sale.id,
                "uid": self.env.uid,
            },
        )
        cr.execute(
            "SELECT id FROM marketplace_refund "
            "WHERE backend_id = %s AND external_id = %s FOR UPDATE NOWAIT",
            (backend.id, external_id),
            log_exceptions=False,
        )
        row = cr.fetchone()
        return self.browse(row[0]) if row else None

    def action_retry(self):
        """Book a failed refund again once its cause is fixed: its event is
        processed anew."""
        for refund in self:
            if refund.state != "failed":
                raise UserError(_("Refund %s is booked already.", refund.external_id))
            event = refund.event_id
            if not event:
                raise UserError(
                    _(
                        "The event of refund %s is gone: poll the order again.",
                        refund.external_id,
                    )
                )
            if event.state in ("failed", "dead"):
                event.action_retry()
        return True

    def action_open_credit_note(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "res_id": self.credit_note_id.id,
            "view_mode": "form",
        }
