# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Imports several new orders of a backend in one job.

Odoo creates and confirms sale orders about twice as fast in batches (one
``sale.order.create``, one ``action_confirm``) as one at a time, and every
order imported by another order's job saves a job run (the runner's request
to a worker, two commits of the job's state). The job of a new order
therefore takes along up to ``size - 1`` other new orders of its backend
that wait in the inbox and whose jobs have not started:

* the job's own order is prepared first (its order and its products'
  stock locked as without batching); then each waiting order in turn is
  claimed (its event row and its products' stock locked ``NOWAIT``, its
  order read) and prepared at once (its customer found or created), each
  step in a savepoint of its own, so that its stock is held no longer than
  its own job would hold it; one that another job holds, that is not a new
  order (an update, a cancellation, an order not paid yet), or that cannot
  be prepared (unknown product, bad data) is left to its own job, which
  reports it as it always does;
* their sale orders are created in one ``create``, their stock taken on the
  ledger one after the other (each sale takes from what the ones before it
  left) and confirmed in one ``action_confirm``;
* when that fails (one order's totals do not add up, say), the whole batch
  is rolled back and the job imports its own order alone, as without
  batching; the others stay with their own jobs;
* when another job holds the job's own order or its stock, the orders it
  took along are imported without it and its event gets a new job a moment
  later: the batch's work is not thrown away for one busy product.

While the batch runs, the jobs of the waiting orders it found are held
back (an ``eta`` set in a transaction of its own): they are the oldest
pending jobs, the first the runner would send, only to find their events
locked. Once the transaction has committed, the jobs of the orders imported
are set done (the caller does that) and those of the orders left may run at
once; if it is rolled back, all may run at once. One the runner sent before
the hold finds its event row locked, then done. Every waiting order found is
held, before any is claimed: holding only those claimed, once claimed, saved
the runner a third of its notifications but let it send 290 of their jobs
(1,200 orders) into the claims, each failing on its locked row and retried,
and cost more CPU per order than it saved (116.7 against 105.6 ms).
"""

import logging

import psycopg2
from psycopg2.errors import LockNotAvailable

from ..lib.database_errors import CONCURRENCY_ERRORS, is_lost_connection
from ..lib.errors import RetryableError
from .event_processor import EventProcessor
from .job_sql import hold_jobs, release_jobs
from .order_importer import OrderImporter

_logger = logging.getLogger(__name__)

#: queued orders read per order wanted: some are updates, or states of an
#: order already imported, or have jobs the runner has just sent
WAITING_ORDERS_READ_FACTOR = 2


class _NotTaken(Exception):
    """A waiting order this batch leaves to its own job."""


class OrderBatch:
    def __init__(self, event, size):
        self.event = event
        self.backend = event.backend_id
        self.env = event.env
        self.size = size
        self.importer = OrderImporter(self.backend)
        #: why the job's own order was left (held by another job), if it was
        self._held = None

    def run(self):
        """Import the event's order, with others waiting if it is new.

        :return: ``[(event, state, message, sale order)]``, this job's event
            first: alone when its order is not a new one, or when the batch
            failed and was rolled back; in state ``queued`` when another job
            held its order and it is left to a new job.
        """
        processor = EventProcessor(self.event)
        order = processor.parse_order()
        if not self.importer.is_new_import(order):
            return [(self.event, *self.importer.apply(order))]
        taken, own = [], None
        candidates = self.event.browse()
        try:
            with self.importer.savepoint():
                candidates = self._waiting_orders(self.size - 1)
                self._hold_jobs(candidates)
                prepared = []
                own = self._prepare_own(order)
                if own:
                    prepared.append(own)
                    taken.append(self.event)
                external_ids = {order.external_id}
                for event in candidates:
                    waiting = self._claim(event, external_ids)
                    if not waiting:
                        continue
                    external_ids.add(waiting.external_id)
                    item = self._prepare(event, waiting)
                    if item:
                        prepared.append(item)
                        taken.append(event)
                if not prepared:
                    raise self._held
                results = self.importer.import_new(prepared)
        except (RetryableError, *CONCURRENCY_ERRORS):
            raise  # the whole job runs again a little later
        except Exception as err:
            if isinstance(err, psycopg2.Error) and is_lost_connection(err):
                raise
            if self._held:
                # the orders taken along are left to their own jobs, which
                # meet the failure again and report it; this one waits
                _logger.info(
                    "Importing the %s orders taken along by event %s failed "
                    "(%s: %s): they are left to their own jobs",
                    len(taken),
                    self.event.id,
                    type(err).__name__,
                    err,
                )
                raise self._held from err
            if len(taken) <= 1:
                raise
            # the importer forgot what the rolled-back batch taught it
            self._log_fallback(taken, err)
            self._release_jobs_after_commit(candidates)
            return [(self.event, *self.importer.apply(order))]
        done = [
            (event, state, message, sale)
            for event, (state, message, sale) in zip(taken, results, strict=True)
        ]
        self._release_jobs_after_commit(
            candidates.filtered(lambda event: event not in taken)
        )
        if own:
            return done
        # the orders it took along are imported; its own waits for its locks
        return [(self.event, "queued", str(self._held), None), *done]

    def _prepare_own(self, order):
        """Prepare the job's own order, first: its stock is locked before
        the orders taken along take theirs. ``None`` when another job holds
        its order or its stock (``self._held`` says why): the orders taken
        along are imported without it and its event gets a new job, instead
        of the whole batch running again; with none taken along, the job
        runs again."""
        try:
            with self.importer.savepoint():
                return self.importer.prepare_new(order)
        except (RetryableError, LockNotAvailable) as err:
            self._held = (
                err
                if isinstance(err, RetryableError)
                else RetryableError(
                    f"Stock of order {order.external_id} held by another import",
                    retry_after=1,
                )
            )
            return None

    def _hold_jobs(self, events):
        """The waiting orders' jobs wait while this job imports them: sent
        by the runner meanwhile (they are the oldest pending jobs, the first
        it sends), each would find its event locked and come back a second
        later, again and again, taking the place of a job with work to do.
        If this transaction is rolled back they may run at once."""
        if not events:
            return
        dbname, uuids = self.env.cr.dbname, events.mapped("job_uuid")
        hold_jobs(dbname, uuids)
        self.env.cr.postrollback.add(lambda: release_jobs(dbname, uuids))

    def _release_jobs_after_commit(self, events):
        """The held jobs of waiting orders this job did not import may run
        once it has committed (those it imported are set done)."""
        if not events:
            return
        dbname, uuids = self.env.cr.dbname, events.mapped("job_uuid")
        self.env.cr.postcommit.add(lambda: release_jobs(dbname, uuids))

    def _claim(self, event, external_ids):
        """Lock a waiting order's event row, read its order and lock the
        stock of its products; ``None`` when another job holds the row or
        the stock, it is not a new order, or another state of the same order
        is in the batch (``external_ids``: each state is applied by its own
        job, after this one). The locks stay until this transaction ends:
        its own job, sent meanwhile, comes back later.

        Only reads and locks, in a savepoint whose rollback keeps what the
        ORM has read: while batches compete for the same products, most of
        the orders a batch looks at are left here, and each rollback of a
        savepoint for writes would make it read everything again."""
        return self._or_leave(event, self._claim_row, event, external_ids, writes=False)

    def _prepare(self, event, order):
        """Take a claimed order's locks and prepare it; ``None`` when its
        order or stock is held by another job, or a product is unknown, or
        its data is bad."""
        return self._or_leave(event, self.importer.prepare_new, order)

    def _claim_row(self, event, external_ids):
        self.env.cr.execute(
            "SELECT id FROM marketplace_event "
            "WHERE id = %s AND state = 'queued' FOR UPDATE NOWAIT",
            (event.id,),
            log_exceptions=False,
        )
        if not self.env.cr.fetchone():
            raise _NotTaken("no longer queued")
        order = EventProcessor(event).parse_order()
        if order.external_id in external_ids:
            raise _NotTaken("another state of this order is in the batch")
        # the stock first: most orders left are left for it, and the
        # rollback releases the locks of an order found not importable
        self.importer.lock_known_stock(order)
        # not bound: the scan saw no binding in this transaction's snapshot,
        # and the other states of orders in this batch are left above;
        # ``prepare_new`` looks again under the order's lock
        if not self.importer.is_importable(order):
            raise _NotTaken("not a new order")
        return order

    def _or_leave(self, event, step, *args, writes=True):
        """``step(*args)`` in a savepoint (``writes``: see the importer's
        ``savepoint``), or ``None`` when it fails: the order is left to its
        own job, which meets the cause again and reports it."""
        try:
            with self.importer.savepoint(writes=writes):
                return step(*args)
        except psycopg2.Error as err:
            if is_lost_connection(err):
                raise  # the whole job runs again
            reason = err
        except Exception as err:
            reason = err
        _logger.debug("Event %s left to its own job: %s", event.id, reason)
        return None

    def _waiting_orders(self, limit):
        """Up to ``limit`` queued order events of the backend, oldest first,
        that no other job holds and whose jobs wait to start (not sent by
        the runner). A job postponed after meeting a held lock counts: left
        to itself, an old order whose products other batches keep busy
        would be retried, and passed over, until the sale ends.

        Orders already bound (imported, or held back as not paid or
        cancelled) are updates, applied by their own jobs: the scan skips
        them. The oldest queued orders are the ones other batches are
        claiming too: the scan skips the rows they hold (``SKIP LOCKED``, in a
        savepoint rolled back at once, so it keeps no lock of its own).
        Without that, a few batches running together all read the same
        oldest orders, found them held, and imported one or two each
        (measured: 1.8 orders per job while imports were slow).

        Two plain lookups rather than one join: during a sale the planner's
        statistics lag the inbox by thousands of rows, and a join of the
        queued events with their jobs was planned as a loop over every
        queued event (measured: 2.9 s at 5,000 queued). The first reads the
        partial index of queued orders (``marketplace_event_queued_order_index``)
        in order; the second finds a few jobs by uuid."""
        if limit <= 0:
            return self.event.browse()
        cr = self.env.cr
        cr.execute("SAVEPOINT waiting_orders")
        cr.execute(
            """
            SELECT id, job_uuid FROM marketplace_event e
             WHERE backend_id = %s AND resource_type = 'order'
               AND state = 'queued' AND id != %s
               AND NOT EXISTS (
                   SELECT 1 FROM marketplace_order_binding b
                    WHERE b.backend_id = e.backend_id
                      AND b.external_id = e.external_id)
             ORDER BY id
             LIMIT %s
               FOR UPDATE SKIP LOCKED
            """,
            (self.backend.id, self.event.id, limit * WAITING_ORDERS_READ_FACTOR),
        )
        candidates = cr.fetchall()
        cr.execute("ROLLBACK TO SAVEPOINT waiting_orders")
        cr.execute("RELEASE SAVEPOINT waiting_orders")
        if not candidates:
            return self.event.browse()
        # the states are compared here, not in SQL: with them in the query
        # the planner intersects the uuids with queue_job's state index,
        # reading every pending job
        cr.execute(
            "SELECT uuid, state = 'pending' FROM queue_job WHERE uuid = ANY(%s)",
            ([job_uuid for _id, job_uuid in candidates],),
        )
        waiting = {job_uuid for job_uuid, ready in cr.fetchall() if ready}
        return self.event.browse(
            [event_id for event_id, job_uuid in candidates if job_uuid in waiting][
                :limit
            ]
        )

    def _log_fallback(self, taken, err):
        _logger.info(
            "Importing %s orders together failed (%s: %s): event %s is imported "
            "alone, events %s by their own jobs",
            len(taken),
            type(err).__name__,
            err,
            self.event.id,
            ", ".join(str(event.id) for event in taken[1:]),
        )
