# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A validated delivery of a marketplace order, to be told to its channel
exactly once.

One row per delivery (``UNIQUE(picking_id)``), created when the picking is
validated, in the same transaction: a re-validation, a second worker or a
retried job finds the row and sends nothing new. The job sends the row's
reference with it, so a retry after a lost answer is recognised by the
channel (or by the adapter, which asks the channel) as the same package. A
refusal stays visible on the row, the picking and the sale order, with
*Retry* once the cause is fixed.
"""

import logging

from psycopg2.errors import LockNotAvailable

from odoo import _, fields, models
from odoo.exceptions import UserError

from odoo.addons.queue_job.exception import RetryableJobError

from ..lib.errors import PermanentError
from ..lib.shipment import Shipment, ShipmentLine
from ..services.job_errors import retry_later

_logger = logging.getLogger(__name__)

STATES = [
    ("pending", "To send"),
    ("sent", "Sent"),
    ("failed", "Refused"),
]


class MarketplaceShipment(models.Model):
    _name = "marketplace.shipment"
    _description = "Marketplace Shipment Confirmation"
    _order = "id desc"

    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    picking_id = fields.Many2one(
        "stock.picking", required=True, ondelete="cascade", readonly=True
    )
    sale_order_id = fields.Many2one(
        "sale.order", required=True, ondelete="cascade", readonly=True, index=True
    )
    reference = fields.Char(required=True, readonly=True)
    order_external_id = fields.Char(required=True, readonly=True)
    carrier_code = fields.Char(readonly=True)
    carrier_name = fields.Char(readonly=True)
    tracking_number = fields.Char(readonly=True)
    lines = fields.Json(readonly=True, help="Channel order line id and quantity.")
    state = fields.Selection(STATES, default="pending", required=True, index=True)
    attempts = fields.Integer(readonly=True)
    last_error = fields.Text(readonly=True)
    sent_at = fields.Datetime(readonly=True)

    _sql_constraints = [
        ("picking_unique", "UNIQUE(picking_id)", "A delivery is told once."),
    ]

    def _shipment(self):
        self.ensure_one()
        binding = self.sale_order_id.marketplace_binding_ids[:1]
        return Shipment(
            reference=self.reference,
            order_id=self.order_external_id,
            marketplace=binding.marketplace or "",
            carrier_code=self.carrier_code or "",
            carrier_name=self.carrier_name or "",
            service=self.picking_id.carrier_id.name or "",
            tracking_number=self.tracking_number or "",
            shipped_at=self.picking_id.date_done or fields.Datetime.now(),
            lines=tuple(
                ShipmentLine(line["line_id"], int(line["quantity"]))
                for line in self.lines or []
            ),
            attempt=max(1, self.attempts),
            locations=self._channel_locations(),
        )

    def _channel_locations(self):
        """The channel's ids of the backend's locations that hold the
        delivery's source location (the closest first)."""
        source = self.picking_id.location_id
        holding = self.backend_id.channel_location_ids.filtered(
            lambda place: (source.parent_path or "").startswith(
                place.location_id.parent_path or "-"
            )
        )
        return tuple(
            place.external_id
            for place in holding.sorted(
                lambda place: -len(place.location_id.parent_path or "")
            )
        )

    def _job_send(self):
        """Send once; a refusal is recorded (the job is done, the row
        shows why), anything transient retries.

        The row is locked while it is sent (``NOWAIT``): two jobs of one
        delivery (a Retry pressed while the first still runs) never send it
        together; the second is retried shortly and finds it sent."""
        self.ensure_one()
        reference = self.reference  # read before a failed lock aborts the transaction
        try:
            self.env.cr.execute(
                "SELECT state FROM marketplace_shipment WHERE id = %s "
                "FOR NO KEY UPDATE NOWAIT",
                (self.id,),
                log_exceptions=False,
            )
        except LockNotAvailable as err:
            raise RetryableJobError(
                f"{reference} is being sent by another job", seconds=5
            ) from err
        self.invalidate_recordset(["state", "attempts"])
        if self.state == "sent":
            return "Already sent"
        adapter = self.backend_id._get_job_adapter()
        self.attempts += 1
        try:
            with retry_later():
                adapter.send_shipment(self._shipment())
        except PermanentError as err:
            self._refused(str(err))
            return f"Refused: {err}"
        self.write(
            {"state": "sent", "sent_at": fields.Datetime.now(), "last_error": False}
        )
        self._clear_refusal()
        return f"Sent {self.reference}"

    def _refused(self, message):
        self.write({"state": "failed", "last_error": message})
        binding = self.sale_order_id.marketplace_binding_ids[:1]
        text = _(
            "The marketplace refused the shipment of %(picking)s: %(error)s "
            "Fix the delivery (carrier, tracking number) and press Retry on "
            "the shipment.",
            picking=self.picking_id.name,
            error=message,
        )
        binding.write({"sync_state": "error", "sync_message": text})
        self.picking_id.message_post(body=text)

    def _clear_refusal(self):
        """Sent after a refusal: the order no longer shows this delivery's
        error (another error it shows stays)."""
        binding = self.sale_order_id.marketplace_binding_ids[:1]
        if binding.sync_state == "error" and self.picking_id.name in (
            binding.sync_message or ""
        ):
            binding.write({"sync_state": "synced", "sync_message": False})

    def action_retry(self):
        for shipment in self:
            if shipment.state == "sent":
                raise UserError(_("%s was sent already.", shipment.reference))
            shipment.write({"state": "pending", "last_error": False})
            shipment._enqueue_send()

    def _enqueue_send(self):
        for shipment in self:
            shipment.with_delay(
                priority=15,
                description=f"Confirm shipment {shipment.reference}",
                identity_key=f"marketplace-shipment-{shipment.id}",
            )._job_send()

    def _create_for_pickings(self, pickings):
        """The shipments of these validated deliveries of marketplace
        orders whose channel wants them; created once per picking."""
        for picking in pickings:
            sale = picking.sale_id
            binding = sale.marketplace_binding_ids[:1]
            backend = binding.backend_id
            if (
                not backend
                or picking.picking_type_code != "outgoing"
                or sale.marketplace_fulfilled_by_channel
                or not backend._wants_shipments()
            ):
                continue
            lines = self._lines_of(picking)
            if not lines:
                continue
            self.env.cr.execute(
                "SELECT 1 FROM marketplace_shipment WHERE picking_id = %s",
                (picking.id,),
            )
            if self.env.cr.fetchone():
                continue
            code, name = backend._carrier_of(picking)
            shipment = self.create(
                {
                    "backend_id": backend.id,
                    "picking_id": picking.id,
                    "sale_order_id": sale.id,
                    "reference": f"odoo-{self.env.cr.dbname}-{picking.id}",
                    "order_external_id": binding.external_id,
                    "carrier_code": code,
                    "carrier_name": name,
                    "tracking_number": picking.carrier_tracking_ref or "",
                    "lines": lines,
                }
            )
            shipment._enqueue_send()

    @staticmethod
    def _lines_of(picking):
        quantities = {}
        for move in picking.move_ids.filtered(lambda m: m.state == "done"):
            line_id = move.sale_line_id.marketplace_line_id
            if line_id and move.quantity:
                quantities[line_id] = quantities.get(line_id, 0) + move.quantity
        return [
            {"line_id": line_id, "quantity": int(quantity)}
            for line_id, quantity in quantities.items()
        ]
