# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A backend's polling: the backstop that catches what pushed or pulled
events missed (no marketplace guarantees delivery). Polled states go through
the same inbox and dedupe as every other event."""

import datetime
import logging
from itertools import islice

import psycopg2

from odoo import _, api, fields, models

from ..lib.errors import AuthenticationError
from ..services.job_errors import retry_later

_logger = logging.getLogger(__name__)

#: polled states looked up in the inbox at once (one page of a channel's)
POLL_CHUNK = 250


class MarketplaceBackend(models.Model):
    _inherit = "marketplace.backend"

    poll_enabled = fields.Boolean(
        default=True,
        help="Poll orders updated since the last poll: catches what webhooks "
        "missed (the marketplaces do not guarantee delivery).",
    )
    poll_cursor = fields.Datetime(
        copy=False,
        help="updated_at of the newest order seen by polling (UTC).",
    )
    poll_overlap_minutes = fields.Integer(
        default=10,
        help="Each poll starts this much before the cursor, against clock "
        "skew and late visibility; overlapping orders are deduplicated.",
    )
    poll_initial_days = fields.Integer(
        default=2, help="How far back the first poll looks."
    )
    last_poll_at = fields.Datetime(readonly=True, copy=False)
    last_poll_error = fields.Text(readonly=True, copy=False)

    def action_poll_now(self):
        self._enqueue_poll()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": _("A poll was queued."), "type": "info"},
        }

    @api.model
    def _cron_poll_orders(self):
        self.search([("poll_enabled", "=", True)])._enqueue_poll()

    def _enqueue_poll(self):
        self._enqueue_each("_job_poll_orders", "Poll orders of", 20)

    def _job_poll_orders(self):
        """Store every order updated since the cursor as an inbox event.

        Events and the new cursor commit in one transaction: if anything
        fails midway the cursor does not move and the next poll fetches the
        same orders again (their events are deduplicated).
        """
        self.ensure_one()
        since = self._poll_since()
        adapter = self._get_job_adapter()
        inbox = self.env["marketplace.event"]
        newest = self.poll_cursor
        seen = created = 0
        try:
            # a 429 storm postpones the poll without spending its retries;
            # timeouts and 5xx spend one
            with retry_later():
                polled = adapter.iter_updated_orders(since)
                for chunk in iter(lambda: list(islice(polled, POLL_CHUNK)), []):
                    known = inbox._known_dedupe_keys(
                        self, [inbound.dedupe_key for inbound in chunk]
                    )
                    for inbound in chunk:
                        seen += 1
                        if inbound.dedupe_key not in known and self._store_polled(
                            inbox, inbound
                        ):
                            created += 1
                        if inbound.external_updated_at and (
                            not newest or inbound.external_updated_at > newest
                        ):
                            newest = inbound.external_updated_at
        except AuthenticationError as err:
            self._record_poll_error(str(err))
            return f"Poll failed: {err}"
        self.write(
            {
                "poll_cursor": newest,
                "last_poll_at": fields.Datetime.now(),
                "last_poll_error": False,
            }
        )
        _logger.info(
            "Polled %s: %d orders seen, %d new events", self.name, seen, created
        )
        return f"{seen} orders seen, {created} new events"

    def _store_polled(self, inbox, inbound):
        """Store a polled order state unless the inbox has it. A poll is a
        long transaction (many pages): a webhook that stored the same state
        after the poll began is invisible to it, and the insert then fails to
        serialise instead of finding the duplicate -- which it is. Without
        this, a poll during a flash sale failed again and again, reading
        every page each time."""
        try:
            with self.env.cr.savepoint(flush=False):
                return inbox._store_inbound(self, inbound)
        except psycopg2.errors.SerializationFailure:
            return inbox.browse()

    def _poll_since(self):
        if self.poll_cursor:
            return self.poll_cursor - datetime.timedelta(
                minutes=self.poll_overlap_minutes
            )
        return fields.Datetime.now() - datetime.timedelta(days=self.poll_initial_days)

    def _record_poll_error(self, message):
        self.write({"last_poll_error": message, "last_poll_at": fields.Datetime.now()})
