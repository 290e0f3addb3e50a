# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The inbound event inbox: one row per distinct delivery or polled state.

Deliveries are deduplicated by the database, not by a lookup:
``UNIQUE(backend_id, dedupe_key)`` and ``INSERT ... ON CONFLICT DO NOTHING``
make a retried, duplicated or concurrently polled delivery store nothing new,
whatever the interleaving. A new row and its queue job are created in the same
transaction, so an acknowledged delivery always has a job.

States: received -> queued -> done | ignored | failed | dead.
``failed`` means "fix something, then Retry"; ``dead`` means the job gave up
(retries exhausted or an unexpected error) and is Retry-able too.
"""

import datetime
import json
import logging
import time
import uuid

from psycopg2.extras import Json

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools.sql import create_index

from odoo.addons.queue_job.exception import RetryableJobError

from ..lib.adapter import get_adapter_class
from ..lib.database_errors import CONCURRENCY_ERRORS
from ..lib.errors import PermanentError, RateLimitedError, RetryableError
from ..services.event_processor import EventProcessor
from ..services.job_errors import retry_seconds, retry_when_database_returns
from ..services.job_sql import delay_now, finish_jobs
from ..services.order_batch import OrderBatch

_logger = logging.getLogger(__name__)

MANAGER_GROUP = "marketplace_connector.group_marketplace_manager"

EVENT_JOB_MAX_RETRIES = 12
EVENT_JOB_PRIORITY = 10
#: a new order's job imports up to this many new orders in all, taking along
#: others of its backend waiting in the inbox (system parameter
#: ``marketplace_connector.import_batch_size``; 1: one order per job)
IMPORT_BATCH_SIZE = 20
IMPORT_BATCH_PARAMETER = "marketplace_connector.import_batch_size"
#: a job that imported the orders it took along, but not its own (another
#: job held its order or stock), leaves it to a new job this much later
HELD_ORDER_RETRY_SECONDS = 1

#: One statement stores the event and, for a new order, queues a push of the
#: products it takes on every backend selling them: the order counts against
#: available-to-sell from now on (``waiting_demand``), long before a backlog
#: of imports reaches it. The next push takes the rows (one follows every
#: import; the push cron is the safety net): the intake queues no push job.
#: A line counts once its variant is bound to a product on this backend.
_INSERT_EVENT = """
    WITH new_event AS (
    INSERT INTO marketplace_event (
        backend_id, company_id, source, topic, dedupe_key, resource_type,
        external_id, external_updated_at, payload, headers, demand, state,
        job_uuid, attempts, received_at, create_uid, write_uid, create_date,
        write_date
    ) VALUES (
        %(backend_id)s, %(company_id)s, %(source)s, %(topic)s, %(dedupe_key)s,
        %(resource_type)s, %(external_id)s, %(external_updated_at)s,
        %(payload)s, %(headers)s, %(demand)s, 'queued', %(job_uuid)s, 0,
        now() at time zone 'UTC', %(uid)s, %(uid)s,
        now() at time zone 'UTC', now() at time zone 'UTC'
    )
    ON CONFLICT (backend_id, dedupe_key) DO NOTHING
    RETURNING id, demand
    ), demanded AS (
    INSERT INTO marketplace_stock_dirty (backend_id, product_id, due_at, decrement)
    SELECT DISTINCT selling.backend_id, selling.product_id,
           now() at time zone 'UTC', true
      FROM new_event
     CROSS JOIN LATERAL jsonb_array_elements(new_event.demand) AS line
      JOIN marketplace_product_binding sold
        ON sold.backend_id = %(backend_id)s AND sold.external_id = line->>'variant'
      JOIN marketplace_product_binding selling
        ON selling.product_id = sold.product_id
      JOIN marketplace_backend mb ON mb.id = selling.backend_id
     WHERE mb.active AND mb.stock_push_enabled
    )
    SELECT id FROM new_event
"""


class MarketplaceEvent(models.Model):
    _name = "marketplace.event"
    _description = "Marketplace Inbound Event"
    _order = "id desc"
    _rec_name = "dedupe_key"

    # every index is one more write for each webhook stored and for each
    # change of state: the backend is indexed by UNIQUE(backend_id,
    # dedupe_key), the company (one per backend) by none
    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade"
    )
    company_id = fields.Many2one("res.company", required=True)
    source = fields.Selection(
        [("webhook", "Webhook"), ("queue", "Queue"), ("poll", "Poll")],
        required=True,
        default="webhook",
    )
    topic = fields.Char(required=True)
    dedupe_key = fields.Char(required=True)
    resource_type = fields.Char(required=True, default="order")
    external_id = fields.Char(index=True)
    external_updated_at = fields.Datetime(
        string="Resource Updated At", help="The resource's updated_at (UTC)."
    )
    received_at = fields.Datetime(required=True, default=fields.Datetime.now)
    # raw payloads carry customers' names, addresses and emails: managers only
    payload = fields.Json(groups=MANAGER_GROUP)
    headers = fields.Json(
        groups=MANAGER_GROUP,
        help="Delivery headers worth keeping; never a signature.",
    )
    payload_text = fields.Text(
        string="Payload (JSON)", compute="_compute_raw_text", groups=MANAGER_GROUP
    )
    headers_text = fields.Text(
        string="Headers (JSON)", compute="_compute_raw_text", groups=MANAGER_GROUP
    )
    demand = fields.Json(
        readonly=True,
        help="For an order: what it takes from stock (variant, SKU, quantity). "
        "While the order waits to be imported, it counts against the "
        "quantity offered on every channel.",
    )
    state = fields.Selection(
        [
            ("received", "Received"),
            ("queued", "Queued"),
            ("waiting", "Waiting (holds stock)"),
            ("done", "Done"),
            ("ignored", "Ignored"),
            ("failed", "Failed"),
            ("dead", "Dead"),
        ],
        required=True,
        default="received",
        index=True,
    )
    attempts = fields.Integer(readonly=True)
    last_error = fields.Text(readonly=True)
    result = fields.Char(readonly=True, help="What processing did.")
    processed_at = fields.Datetime(readonly=True)
    processing_ms = fields.Integer(
        string="Processing Time (ms)",
        readonly=True,
        help="For orders imported together by one job, the batch's time "
        "divided among them.",
    )
    job_uuid = fields.Char(readonly=True, index=True, copy=False)
    sale_order_id = fields.Many2one("sale.order", readonly=True, index="btree_not_null")

    _sql_constraints = [
        (
            "dedupe_key_unique",
            "UNIQUE(backend_id, dedupe_key)",
            "This delivery is already in the inbox.",
        ),
    ]

    @api.depends("payload", "headers")
    def _compute_raw_text(self):
        """Readable JSON for the form (Odoo's form has no widget for a Json
        field). Headers never hold a signature: the intake leaves it out."""
        for event in self:
            event.payload_text = json.dumps(event.payload, indent=2, sort_keys=True)
            event.headers_text = json.dumps(event.headers, indent=2, sort_keys=True)

    def init(self):
        """The queued orders of a backend in order: a new order's job looks
        them up to import some with its own. Partial, so it holds only the
        backlog, whatever the size of the inbox."""
        create_index(
            self.env.cr,
            "marketplace_event_queued_order_index",
            self._table,
            ["backend_id", "id"],
            where="state = 'queued' AND resource_type = 'order'",
        )
        # orders not imported whose channel holds their units: few, read by
        # every computation of available-to-sell
        create_index(
            self.env.cr,
            "marketplace_event_waiting_order_index",
            self._table,
            ["backend_id", "external_id"],
            where="state = 'waiting' AND resource_type = 'order'",
        )

    # Intake

    @api.model
    def _store_inbound(self, backend, inbound):
        """Insert the event and its job unless it is already in the inbox.

        One INSERT for the event, one for its job (no ORM on this path: the
        webhook intake runs it for every delivery).

        :param backend: the ``marketplace.backend`` record.
        :param inbound: a :class:`~..lib.inbound.InboundEvent`.
        :return: the new event, or an empty recordset for a duplicate.
        """
        job_uuid = str(uuid.uuid4())
        demand = inbound.demand_json()
        self.env.cr.execute(
            _INSERT_EVENT,
            {
                "backend_id": backend.id,
                "company_id": backend.company_id.id,
                "source": inbound.source,
                "topic": inbound.topic,
                "dedupe_key": inbound.dedupe_key,
                "resource_type": inbound.resource_type,
                "external_id": inbound.external_id,
                "external_updated_at": inbound.external_updated_at,
                "payload": Json(inbound.payload),
                "headers": Json(inbound.headers),
                "demand": None if demand is None else Json(demand),
                "uid": self.env.uid,
                "job_uuid": job_uuid,
            },
        )
        row = self.env.cr.fetchone()
        if not row:
            return self.browse()
        # the job's company is the backend's: no lookup of the user's
        event = self.browse(row[0]).with_company(backend.company_id)
        event._insert_job(
            job_uuid, f"{backend.name}: {inbound.topic} {inbound.external_id}"
        )
        return event

    @api.model
    def _store_unparseable(self, backend, message_id, body, reason):
        """Keep a queue message that can never be parsed, as a failed event
        with its raw body (once per message id, however often the queue
        delivers it): never lost silently, never retried forever."""
        self.env.cr.execute(
            """
            INSERT INTO marketplace_event
                (backend_id, company_id, source, topic, dedupe_key,
                 resource_type, received_at, payload, headers, state,
                 last_error, attempts, create_uid, write_uid, create_date,
                 write_date)
            VALUES (%(backend)s, %(company)s, 'queue', 'unparseable', %(key)s,
                    'message', now() at time zone 'UTC', %(payload)s, '{}',
                    'failed', %(reason)s, 0, %(uid)s, %(uid)s,
                    now() at time zone 'UTC', now() at time zone 'UTC')
            ON CONFLICT (backend_id, dedupe_key) DO NOTHING
            RETURNING id
            """,
            {
                "backend": backend.id,
                "company": backend.company_id.id,
                "key": f"unparseable:{message_id}",
                "payload": Json({"raw": body}),
                "reason": f"This queue message cannot be read: {reason}",
                "uid": self.env.uid,
            },
        )
        row = self.env.cr.fetchone()
        return self.browse(row[0]) if row else self.browse()

    @api.model
    def _known_dedupe_keys(self, backend, dedupe_keys):
        """The keys among ``dedupe_keys`` already in the inbox (as this
        transaction sees it), in one query: a poll re-reads every order of
        its overlap window and mostly finds states the inbox has."""
        self.env.cr.execute(
            "SELECT dedupe_key FROM marketplace_event "
            "WHERE backend_id = %s AND dedupe_key = ANY(%s)",
            (backend.id, list(dedupe_keys)),
        )
        return {row[0] for row in self.env.cr.fetchall()}

    def _known_states(self, backend, resource_type, states):
        """The ``(external id, updated_at)`` states among ``states`` the
        inbox holds an event of ``resource_type`` for (as this transaction
        sees it), in one query on the indexed external id: a poll that lists
        states before it reads resources reads only the others."""
        wanted = {(str(ext), _naive_second(moment)) for ext, moment in states}
        if not wanted:
            return set()
        self.env.cr.execute(
            "SELECT external_id, external_updated_at FROM marketplace_event "
            "WHERE backend_id = %s AND resource_type = %s AND external_id = ANY(%s)",
            (backend.id, resource_type, list({ext for ext, _moment in wanted})),
        )
        held = {(ext, _naive_second(moment)) for ext, moment in self.env.cr.fetchall()}
        return {
            (ext, moment)
            for ext, moment in states
            if (str(ext), _naive_second(moment)) in held
        }

    def _insert_job(self, job_uuid, description, **properties):
        delay_now(
            self._job_process,
            job_uuid=job_uuid,
            priority=EVENT_JOB_PRIORITY,
            max_retries=EVENT_JOB_MAX_RETRIES,
            description=description,
            **properties,
        )

    def _enqueue(self, **properties):
        """Queue a new job for each event (the operator's Retry)."""
        for event in self:
            job_uuid = str(uuid.uuid4())
            event.write({"state": "queued", "job_uuid": job_uuid})
            event._insert_job(
                job_uuid,
                f"{event.backend_id.name}: {event.topic} {event.external_id or ''}",
                **properties,
            )

    # Processing

    def _job_process(self):
        """Job entry point: hand over to the processor, classify errors."""
        self.ensure_one()
        with retry_when_database_returns():
            return self._process_and_record()

    def _process_and_record(self):
        if self.state in ("done", "ignored", "waiting"):
            return f"Already {self.state}"
        started = time.monotonic()
        try:
            with self.env.cr.savepoint():
                # a job that took this event along holds its row: this one
                # comes back (and finds it done) rather than import it twice
                self.env.cr.execute(
                    "SELECT id FROM marketplace_event WHERE id = %s FOR UPDATE NOWAIT",
                    (self.id,),
                    log_exceptions=False,
                )
                results = self._run_processor()
        except RateLimitedError as err:
            # flow control, not a failure: back when the channel said,
            # without spending one of the event's retries
            raise RetryableJobError(
                str(err), seconds=retry_seconds(err.retry_after), ignore_retry=True
            ) from err
        except RetryableError as err:
            raise RetryableJobError(str(err), seconds=err.retry_after) from err
        except CONCURRENCY_ERRORS as err:
            # another job holds or just changed the same rows: a new
            # transaction (new snapshot) a moment later will go through
            raise RetryableJobError(
                f"Concurrent update ({type(err).__name__}), retrying",
                seconds=1,
                ignore_retry=True,
            ) from err
        except PermanentError as err:
            self.env.invalidate_all()
            results = [(self, "failed", str(err), None)]
            _logger.info("Event %s failed: %s", self.id, err)
        # each event of a batch is charged its share of the batch's time
        processing_ms = int((time.monotonic() - started) * 1000 / len(results))
        events = self.browse()
        for event, state, message, order in results:
            if state == "queued":
                # its job imported the orders it took along and left its
                # own, held by another job, to a new job
                event.result = message
                event._enqueue(eta=HELD_ORDER_RETRY_SECONDS)
                continue
            event._record_result(state, message, order, processing_ms)
            events |= event
        # a waiting order keeps its units until a newer state of it is
        # processed; older states of an order are settled by a newer one
        superseded = events._supersede_waiting()
        (events.filtered(lambda e: e.state != "waiting") | superseded)._release_demand()
        _event, state, message, _order = results[0]
        taken = events - self
        if not taken:
            return f"{state}: {message}"
        self._retire_jobs_after_commit(taken)
        return (
            f"{state}: {message}; imported {len(taken)} more "
            f"order{'s' if len(taken) > 1 else ''} with it "
            f"(events {', '.join(str(event.id) for event in taken)})"
        )

    def _run_processor(self):
        """``[(event, state, message, sale order)]``: a new order's job
        imports other new orders waiting in the inbox with its own
        (:class:`~..services.order_batch.OrderBatch`)."""
        if self.resource_type == "order":
            size = int(
                self.env["ir.config_parameter"]
                .sudo()
                .get_param(IMPORT_BATCH_PARAMETER, IMPORT_BATCH_SIZE)
            )
            if (
                size > 1
                and get_adapter_class(self.backend_id.marketplace_type).batch_imports
            ):
                return OrderBatch(self, size).run()
        return [(self, *EventProcessor(self).run())]

    def _record_result(self, state, message, order, processing_ms):
        vals = {
            "state": state,
            "attempts": self.attempts + 1,
            "processed_at": fields.Datetime.now(),
            "processing_ms": processing_ms,
            "result": message if state != "failed" else False,
            "last_error": message if state == "failed" else False,
        }
        if order:
            vals["sale_order_id"] = order.id
        self.write(vals)
        if state == "failed":
            self.backend_id._notify_failure(self, message)

    def _retire_jobs_after_commit(self, events):
        """Once this transaction has committed, set done the jobs of
        ``events`` (imported by this job) that have not started; a job the
        runner sent meanwhile runs and finds its event done."""
        dbname = self.env.cr.dbname
        job_uuids = events.mapped("job_uuid")
        note = f"Imported by the job of event {self.id}"
        self.env.cr.postcommit.add(lambda: finish_jobs(dbname, job_uuids, note))

    def _on_job_failed(self, exc_info=None, exc_name=None, exc_message=None):
        """queue_job calls this when the job fails for good (retries
        exhausted or an unexpected error): the event is ``dead``."""
        self._release_demand()
        for event in self:
            event.write(
                {
                    "state": "dead",
                    "attempts": event.attempts + 1,
                    "last_error": f"{exc_name or 'Error'}: {exc_message or ''}",
                }
            )

    def _supersede_waiting(self):
        """Older events of the same orders that were left waiting (an
        unpaid order whose channel holds its units) are settled by these:
        their demand stops counting. Returns them."""
        orders = [(e.backend_id.id, e.external_id) for e in self if e.external_id]
        if not orders:
            return self.browse()
        self.env.flush_all()
        self.env.cr.execute(
            """
            UPDATE marketplace_event old
               SET state = 'ignored',
                   result = 'Superseded by a newer state of the order'
              FROM unnest(%s::int[], %s::varchar[], %s::int[]) AS new(b, o, id)
             WHERE old.state = 'waiting' AND old.resource_type = 'order'
               AND old.backend_id = new.b AND old.external_id = new.o
               AND old.id != new.id
            RETURNING old.id
            """,
            (
                [b for b, _o in orders],
                [o for _b, o in orders],
                [e.id for e in self if e.external_id],
            ),
        )
        superseded = self.browse([row[0] for row in self.env.cr.fetchall()])
        superseded.invalidate_recordset(["state", "result"])
        return superseded

    def _release_demand(self):
        """These events no longer wait: what they take from stock stops
        counting (``waiting_demand``). An import reserves instead, and that
        reservation queues its own push; an order ignored, cancelled or
        failed leaves the units free again: its products are pushed anew."""
        variants = {
            (event.backend_id.id, line["variant"])
            for event in self
            for line in event.demand or ()
            if line.get("variant")
        }
        if not variants:
            return
        bindings = self.env["marketplace.product.binding"].search(
            [
                ("backend_id", "in", list({backend for backend, _v in variants})),
                ("external_id", "in", list({variant for _b, variant in variants})),
            ]
        )
        dirty = self.env["marketplace.stock.dirty"]
        for binding in bindings:
            if (binding.backend_id.id, binding.external_id) in variants:
                dirty._register_change(binding.product_id.id, decrement=False)

    # Operator actions

    def action_retry(self):
        """Re-queue failed or dead events, after the operator fixed the cause."""
        retryable = self.filtered(lambda e: e.state in ("failed", "dead"))
        if not retryable:
            raise UserError(_("Only failed or dead events can be retried."))
        retryable.write({"last_error": False})
        retryable._enqueue()
        return True


def _naive_second(moment):
    """A datetime as the inbox stores ``external_updated_at``: naive UTC,
    to the second."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0)
