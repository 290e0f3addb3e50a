# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Turns one inbox event into its effect in Odoo."""

from odoo import fields

from ..lib.errors import DataError
from ..lib.stock import is_echo
from .order_importer import OrderImporter
from .refund_processor import RefundProcessor
from .stock_push import DRIFT_CORRECTION_DELAY, refuse_unmapped


class EventProcessor:
    """Dispatches an event by resource type.

    :meth:`run` returns ``(state, message, sale_order_or_None)`` where state
    is ``done`` or ``ignored``; it raises the adapter's ``RetryableError`` or
    ``PermanentError`` for the job layer to classify.
    """

    def __init__(self, event):
        self.event = event
        self.backend = event.backend_id
        self.env = event.env

    def run(self):
        handler = getattr(self, f"_process_{self.event.resource_type}", None)
        if handler is None:
            # a resource only an adapter addon knows (Shopify's catalogue)
            handled = self.backend._process_channel_event(self.event)
            if handled is not None:
                return handled
            raise DataError(
                f"No processor for resource type {self.event.resource_type!r}"
            )
        return handler()

    def _process_order(self):
        return OrderImporter(self.backend).apply(self.parse_order())

    def parse_order(self):
        """The event's order, channel-neutral (the adapter parses it). A
        channel whose events are only triggers re-reads the order first."""
        adapter = self.backend._get_job_adapter()
        return adapter.parse_order(
            adapter.prepare_event_payload(self.event.sudo().payload)
        )

    def _process_refund(self):
        """A refund of an imported order: booked once (stock, money)."""
        refund = self.backend._get_adapter().parse_refund(self.event.sudo().payload)
        return RefundProcessor(self.backend).apply(refund, self.event)

    def _process_inventory_level(self):
        """A channel reports a quantity. Odoo is the master: an echo of our
        own write is ignored; any other value is drift, recorded, and
        corrected by a push a little later -- never copied into Odoo."""
        item, location_id, quantity = self.backend._get_adapter().parse_stock_level(
            self.event.sudo().payload
        )
        channel_location = refuse_unmapped(self.backend, location_id)
        if quantity is None:
            return "ignored", "Untracked item", None
        binding = self.env["marketplace.product.binding"].search(
            [("backend_id", "=", self.backend.id), ("channel_item_ref", "=", item)],
            limit=1,
        )
        if not binding:
            return "ignored", f"Inventory item {item} is not bound to a product", None
        level = self.env["marketplace.stock.level"].search(
            [
                ("binding_id", "=", binding.id),
                ("channel_location_id", "=", channel_location.id),
            ],
            limit=1,
        )
        if not level:
            # never pushed, or the first push is creating the level right
            # now: not ours to create (that insert would wait for the push's
            # call to the channel); a push settles it
            self.env["marketplace.stock.dirty"]._mark_later(
                self.backend, binding.product_id.ids, DRIFT_CORRECTION_DELAY
            )
            return (
                "done",
                f"Channel shows {quantity} before our first push: push queued",
                None,
            )
        # a push holding the level has written to the channel and not yet
        # recorded it: this report may be its echo; judge it once the push
        # has committed (lock contention: the job is retried shortly)
        self.env.cr.execute(
            "SELECT id FROM marketplace_stock_level WHERE id = %s FOR UPDATE NOWAIT",
            (level.id,),
            log_exceptions=False,
        )
        reported_at = self.event.external_updated_at
        if reported_at and level.last_report_at and reported_at < level.last_report_at:
            # taking it would set the channel's quantity back to an older one,
            # which a push may then take for the current one
            return (
                "ignored",
                f"Older than the last report applied ({level.last_report_at} UTC)",
                None,
            )
        if reported_at:
            level.last_report_at = reported_at
        if (
            level.has_confirmed_quantity and quantity == level.last_confirmed_quantity
        ) or is_echo(level.recent_pushed_quantities, quantity):
            return "ignored", f"Echo of our quantity {quantity}", None
        level.write(
            {
                "last_confirmed_quantity": quantity,
                "has_confirmed_quantity": True,
                "state": "drift",
                "drift_count": level.drift_count + 1,
                "last_drift_at": fields.Datetime.now(),
            }
        )
        # a push of this product, due a little later: the order that caused
        # the change is likely on its way and is imported first
        self.env["marketplace.stock.dirty"]._mark_later(
            self.backend, binding.product_id.ids, DRIFT_CORRECTION_DELAY
        )
        return (
            "done",
            f"Drift: channel shows {quantity} where we pushed "
            f"{level.last_pushed_quantity}; correction queued",
            None,
        )
