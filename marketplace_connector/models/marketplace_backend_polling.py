# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A backend's polling: the backstop that catches what pushed or pulled
events missed (no marketplace guarantees delivery). Polled states go through
the same inbox and dedupe as every other event."""

import datetime
import json
import logging

import psycopg2

from odoo import _, api, fields, models

from ..lib.errors import AuthenticationError, RateLimitedError
from ..services.job_errors import retry_later, retry_seconds

_logger = logging.getLogger(__name__)

#: the resource type of order events (``InboundEvent.resource_type``)
RESOURCE_ORDER = "order"
#: polled states looked up in the inbox at once (one page of a channel's)
POLL_CHUNK = 250
#: an interrupted poll older than this starts again from the cursor (the
#: channel's page tokens expire: Amazon's after 24 h)
RESUME_HOURS = 12


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
    poll_resume = fields.Text(
        readonly=True,
        copy=False,
        help="Where an interrupted poll goes on (the channel's page token, "
        "the window it belongs to and the newest order seen so far): a "
        "poll that spent its rate budget midway keeps what it read.",
    )
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
        same orders again (their events are deduplicated). A channel whose
        search allows a call every few minutes (Amazon's) could then never
        get through a long backlog: when its rate budget runs out after some
        pages, the poll keeps what it read, notes where it stopped
        (``poll_resume``, the adapter's page token) and goes on from there
        once the budget has refilled. An adapter that lists order states
        before it reads orders asks the inbox which states it holds
        (``poll_known``) and reads only the others.
        """
        self.ensure_one()
        since = self._poll_since()
        resume = self._poll_resume_state()
        adapter = self._get_job_adapter()
        inbox = self.env["marketplace.event"]
        progress = {"newest": self.poll_cursor, "seen": 0, "created": 0}
        adapter.poll_known = lambda states: self._known_polled(inbox, states, progress)
        if resume and resume.get("newest"):
            progress["newest"] = max(
                filter(None, [progress["newest"], _parse_datetime(resume["newest"])])
            )
        try:
            # a 429 storm postpones the poll without spending its retries;
            # timeouts and 5xx spend one
            with retry_later():
                if resume:
                    polled = adapter.iter_updated_orders(since, resume=resume["resume"])
                else:
                    polled = adapter.iter_updated_orders(since)
                try:
                    self._store_polled_events(inbox, polled, progress)
                except RateLimitedError as err:
                    if adapter.poll_resume is None:
                        raise
                    return self._pause_poll(adapter.poll_resume, progress, err)
        except AuthenticationError as err:
            self._record_poll_error(str(err))
            return f"Poll failed: {err}"
        self.write(
            {
                "poll_cursor": progress["newest"],
                "poll_resume": False,
                "last_poll_at": fields.Datetime.now(),
                "last_poll_error": False,
            }
        )
        _logger.info(
            "Polled %s: %d orders seen, %d new events",
            self.name,
            progress["seen"],
            progress["created"],
        )
        return f"{progress['seen']} orders seen, {progress['created']} new events"

    def _store_polled_events(self, inbox, polled, progress):
        """Store the polled states in chunks; what was read before the
        channel stopped answering is stored too (the adapter's resume point
        lies after it)."""
        chunk = []
        try:
            for inbound in polled:
                chunk.append(inbound)
                if len(chunk) >= POLL_CHUNK:
                    self._store_polled_chunk(inbox, chunk, progress)
                    chunk = []
        except RateLimitedError:
            self._store_polled_chunk(inbox, chunk, progress)
            raise
        self._store_polled_chunk(inbox, chunk, progress)

    def _store_polled_chunk(self, inbox, chunk, progress):
        if not chunk:
            return
        known = inbox._known_dedupe_keys(
            self, [inbound.dedupe_key for inbound in chunk]
        )
        for inbound in chunk:
            progress["seen"] += 1
            if inbound.dedupe_key not in known and self._store_polled(inbox, inbound):
                progress["created"] += 1
            updated_at = inbound.external_updated_at
            if updated_at and (
                not progress["newest"] or updated_at > progress["newest"]
            ):
                progress["newest"] = updated_at

    def _known_polled(self, inbox, states, progress):
        """The listed ``(external id, updated_at)`` order states the inbox
        holds: the adapter does not read them again (a full order can cost
        a channel's budget far more than listing it). They count as seen
        and move the cursor as stored ones do."""
        known = inbox._known_states(self, RESOURCE_ORDER, states)
        for _external_id, updated_at in known:
            progress["seen"] += 1
            if updated_at and (
                not progress["newest"] or updated_at > progress["newest"]
            ):
                progress["newest"] = updated_at
        return known

    def _pause_poll(self, resume_point, progress, err):
        """Commit what this poll read and go on from ``resume_point`` once
        the budget has refilled. The cursor stays: it moves when the whole
        window was read."""
        newest = progress["newest"]
        self.write(
            {
                "poll_resume": json.dumps(
                    {
                        "resume": resume_point,
                        "newest": newest and fields.Datetime.to_string(newest),
                        "saved_at": fields.Datetime.to_string(fields.Datetime.now()),
                    }
                ),
                "last_poll_at": fields.Datetime.now(),
            }
        )
        self._enqueue_each(
            "_job_poll_orders",
            "Poll orders of",
            20,
            eta=retry_seconds(err.retry_after) or 60,
        )
        _logger.info(
            "Poll of %s paused (%s): %d orders seen, %d new events so far",
            self.name,
            err,
            progress["seen"],
            progress["created"],
        )
        return (
            f"{progress['seen']} orders seen, {progress['created']} new events; "
            f"paused until the rate budget refills"
        )

    def _poll_resume_state(self):
        """The interrupted poll to go on with, unless it is too old."""
        if not self.poll_resume:
            return None
        try:
            state = json.loads(self.poll_resume)
            saved_at = _parse_datetime(state["saved_at"])
        except (ValueError, KeyError, TypeError):
            return None
        if fields.Datetime.now() - saved_at > datetime.timedelta(hours=RESUME_HOURS):
            return None
        return state

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


def _parse_datetime(value):
    return fields.Datetime.to_datetime(value) if value else None
