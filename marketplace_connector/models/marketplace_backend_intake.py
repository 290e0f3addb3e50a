# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A backend's intake: webhooks pushed to its URL and messages pulled from
its channel's queue, both stored durably in the inbox before the channel is
told they arrived (a 200, or the queue message deleted)."""

import logging
import time

import psycopg2

from odoo import api, models

from ..lib.adapter import PullIntakeMixin, get_adapter_class
from ..lib.database_errors import CONCURRENCY_ERRORS
from ..lib.errors import DataError, MarketplaceError, WebhookRejected
from ..services.job_errors import retry_later

_logger = logging.getLogger(__name__)

#: (dbname, backend id) -> (write_date, adapter): see _get_intake_adapter
_INTAKE_ADAPTERS = {}
INTAKE_ATTEMPTS = 3
#: a pull job receives until the queue is empty or this long has passed,
#: then hands over to a new job (a worker is not held for ever)
PULL_SECONDS = 50
#: a pull job that emptied the queue is followed by the next this much
#: later: consumption goes on without waiting for the cron (a flash sale's
#: orders count against stock within seconds); the cron only restarts it
PULL_IDLE_SECONDS = 3


class MarketplaceBackend(models.Model):
    _inherit = "marketplace.backend"

    @api.model
    def _find_by_webhook_token(self, token):
        """The active backend of a webhook URL, with what the intake reads
        fetched in the same query."""
        if not token:
            return self.browse()
        return self.sudo().search_fetch(
            [("webhook_token", "=", token)],
            ["name", "company_id", "marketplace_type", "max_body_bytes", "write_date"],
            limit=1,
        )

    def _get_intake_adapter(self):
        """The adapter that verifies webhooks, kept per process until the
        backend changes (secrets are decrypted once, not per delivery)."""
        key = (self.env.cr.dbname, self.id)
        cached = _INTAKE_ADAPTERS.get(key)
        if cached and cached[0] == self.write_date:
            return cached[1]
        adapter = self._get_adapter()
        _INTAKE_ADAPTERS[key] = (self.write_date, adapter)
        return adapter

    def _receive_webhook(self, headers, body):
        """Verify a delivery and store it durably before it is acknowledged.

        :return: ``(http_status, short_text)``
        """
        self.ensure_one()
        try:
            inbound = self._get_intake_adapter().verify_webhook(headers, body)
        except WebhookRejected as rejected:
            if rejected.status >= 400:
                _logger.info(
                    "Webhook for %s rejected (%s): %s",
                    self.name,
                    rejected.status,
                    rejected.reason,
                )
            return rejected.status, rejected.reason
        except MarketplaceError as err:
            _logger.error("Webhook for %s cannot be verified: %s", self.name, err)
            return 503, "temporarily unable to verify"
        for attempt in range(1, INTAKE_ATTEMPTS + 1):  # noqa: B007
            try:
                # no savepoint: on any error the whole transaction is rolled
                # back (two round trips fewer per delivery)
                event = self.env["marketplace.event"]._store_inbound(self, inbound)
                # Durable before ack: the event and its job are committed
                # before the 200 leaves; if the commit fails the marketplace
                # gets a 503 and delivers again.
                self.env.cr.commit()  # pylint: disable=invalid-commit
                return 200, "stored" if event else "duplicate"
            except CONCURRENCY_ERRORS as err:
                # a duplicate delivered at the same instant committed first;
                # a new transaction sees it and stores nothing
                self.env.cr.rollback()
                failure = err
            except psycopg2.Error as err:
                self.env.cr.rollback()
                failure = err
                break
        _logger.warning(
            "Webhook for %s not stored after %s attempt(s), answering 503: %s",
            self.name,
            attempt,
            failure.__class__.__name__,
        )
        return 503, "temporarily unable to store the delivery"

    # Pull intake (a channel's queue)

    def _pulls_events(self):
        """Whether this backend's events arrive on a queue we consume."""
        self.ensure_one()
        try:
            return issubclass(get_adapter_class(self.marketplace_type), PullIntakeMixin)
        except LookupError:
            return False

    @api.model
    def _cron_pull_events(self):
        self.search([]).filtered(lambda b: b._pulls_events())._enqueue_pull()

    def _enqueue_pull(self, eta=None):
        self._enqueue_each("_job_pull_events", "Pull events of", 10, eta=eta)

    def _job_pull_events(self):
        """Receive batches from the channel's queue: each batch is stored
        in a transaction of its own, committed, and only then acknowledged
        (a message whose batch could not be stored comes back after its
        visibility timeout). Stops when the queue is empty or after
        ``PULL_SECONDS``, and queues the next pull: at once when the queue
        was not drained, ``PULL_IDLE_SECONDS`` later when it was."""
        self.ensure_one()
        adapter = self._get_job_adapter()
        deadline = time.monotonic() + PULL_SECONDS
        totals = {"stored": 0, "duplicate": 0, "unparseable": 0, "skipped": 0}
        drained = False
        with retry_later():
            while True:
                messages = adapter.receive_messages(
                    adapter.pull_batch_size, adapter.pull_wait_seconds
                )
                if not messages:
                    drained = True
                    break
                counts = self._store_pulled(adapter, messages)
                adapter.acknowledge(messages)
                for key, count in counts.items():
                    totals[key] += count
                if time.monotonic() >= deadline:
                    break
        if self.active:
            self._enqueue_pull(eta=PULL_IDLE_SECONDS if drained else None)
        _logger.info("Pulled events of %s: %s", self.name, totals)
        return ", ".join(f"{count} {key}" for key, count in totals.items())

    def _store_pulled(self, adapter, messages):
        """Store one batch durably, in its own committed transaction."""
        counts = {"stored": 0, "duplicate": 0, "unparseable": 0, "skipped": 0}
        with self.env.registry.cursor() as cr:  # committed when it closes
            backend = self.with_env(self.env(cr=cr))
            inbox = backend.env["marketplace.event"]
            for message in messages:
                try:
                    inbound = adapter.parse_message(message)
                except DataError as err:
                    _logger.warning(
                        "Queue message %s of %s cannot be parsed: %s",
                        message.message_id,
                        self.name,
                        err,
                    )
                    inbox._store_unparseable(
                        backend, message.message_id, message.body, str(err)
                    )
                    counts["unparseable"] += 1
                    continue
                if inbound is None:
                    counts["skipped"] += 1
                elif inbox._store_inbound(backend, inbound):
                    counts["stored"] += 1
                else:
                    counts["duplicate"] += 1
        return counts
