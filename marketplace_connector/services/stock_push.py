# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Fan-out: push the available-to-sell of the queued products to a channel.

The quantity is computed when the job runs (never when the change
happened), a level whose channel quantity already equals it is skipped, and
decreases are written before increases. What else happens depends on the
channel's abilities (``StockAbilities``):

* compare-and-set (Shopify): every write names the quantity the channel
  last confirmed, so a sale the channel made in between is never overwritten
  blindly: the write is refused as stale, we re-read, and write again;
* last-write-wins (Amazon): nothing protects a write against a sale made in
  between but the order of our own writes (decreases first, increases held
  while sold orders wait to be imported) and the safety buffer;
* asynchronous bulk submissions (Amazon's feeds): the levels of a
  submission wait for its outcome (``marketplace.stock.submission``), and
  are not written again meanwhile except to lower them.

Writes go in batches of at most the channel's ``batch_size`` and spend the
backend's shared rate budgets first.
"""

import logging
import uuid
from contextlib import closing

import psycopg2

from odoo import fields, sql_db

from ..lib.errors import PermanentError
from ..lib.stock import StockWrite, remember_push
from .stock_availability import compute_levels

_logger = logging.getLogger(__name__)

MAX_STALE_ROUNDS = 3
#: a channel found showing less than we offer (its own report, or the
#: reconciliation's reading) is raised by a push this much later, so the
#: order that explains the drop (arriving on its own webhook) is imported
#: first; that push holds the increase while orders wait (``_hold``)
DRIFT_CORRECTION_DELAY = 30
#: an increase is held while orders received within this window wait to be
#: imported (an event stuck longer holds nothing) ...
BACKLOG_WINDOW_MINUTES = 15
#: ... and tried again this much later
HOLD_RETRY_SECONDS = 10


class StockPusher:
    """A job waits for the rate budget in place up to 2 s before its first
    call (longer: it frees the worker and is re-queued), and up to 30 s in
    all once it has written to the channel: re-queueing rolls back what it
    recorded of its writes, so the next run would find them stale, re-read
    and write again, spending the very budget it waits for (``RateGate``).
    """

    def __init__(self, backend):
        self.backend = backend
        self.env = backend.env
        self.adapter = backend._get_job_adapter()
        self.abilities = self.adapter.stock_abilities
        self.gate = self.adapter.rate_gate
        self.calls = 0
        self.held = backend.env["marketplace.stock.level"]
        self._backlog = None
        #: product id -> time of the oldest change this push covers
        self.changed_at = {}

    def due_rows(self):
        """The queued rows of this backend that are due, as ``{row id:
        product id}``, read without locking them: a stock change queueing
        more meanwhile must not wait for this push's calls to the channel."""
        self.env.cr.execute(
            "SELECT id, product_id, COALESCE(changed_at, due_at) "
            "FROM marketplace_stock_dirty WHERE backend_id = %s "
            "AND due_at <= clock_timestamp() at time zone 'UTC'",
            (self.backend.id,),
        )
        rows = {}
        self.changed_at = {}
        for row_id, product_id, changed_at in self.env.cr.fetchall():
            rows[row_id] = product_id
            known = self.changed_at.get(product_id)
            self.changed_at[product_id] = min(known or changed_at, changed_at)
        return rows

    def release(self, row_ids):
        """Delete the rows pushed, then make sure a push follows for due
        rows committed after this job took its snapshot (it cannot see them:
        it asks on a connection of its own; rows due later have their own
        job)."""
        if row_ids:
            # the levels written by this push first, outside the savepoint: a
            # conflict on them is the job's (it is retried), not the queue's
            self.env.flush_all()
            try:
                with self.env.cr.savepoint(flush=False):
                    self.env.cr.execute(
                        "DELETE FROM marketplace_stock_dirty WHERE id = ANY(%s)",
                        (list(row_ids),),
                        log_exceptions=False,
                    )
            except psycopg2.errors.SerializationFailure:
                # another push took the same rows at the same time: it
                # deletes them
                _logger.info("Stock of %s pushed twice at once", self.backend.name)
        with closing(sql_db.db_connect(self.env.cr.dbname).cursor()) as cr:
            cr.execute(
                "SELECT bool_or(decrement) FROM marketplace_stock_dirty "
                "WHERE backend_id = %s "
                "AND due_at <= clock_timestamp() at time zone 'UTC' "
                "AND NOT id = ANY(%s)",
                (self.backend.id, list(row_ids)),
            )
            decrement = cr.fetchone()[0]  # None: no such row
        if decrement is not None:
            # a push that has yet to start will see them: one is queued
            # unless another transaction queued it already -- a decrease's
            # push at a decrease's priority
            self.backend._enqueue_stock_push(decrement=decrement)

    def run(self):
        """Push the due products; return a summary line."""
        rows = self.due_rows()
        summary = self._run(sorted(set(rows.values())))
        self.release(rows)
        return summary

    def _run(self, product_ids):
        levels = self.backend._ensure_stock_levels(product_ids)
        if not levels:
            return "nothing to push"
        quantities = compute_levels(self.env, levels)
        todo = self.env["marketplace.stock.level"]
        for level in levels:
            quantity = quantities[level.id]
            if (
                level.has_confirmed_quantity
                and level.last_confirmed_quantity == quantity
                # a held level is written in any case: the channel sold
                # meanwhile, what we last knew of it may be out of date
                and level.state != "pending"
            ):
                level.write(
                    {"ats_quantity": quantity, "state": "synced", "last_error": False}
                )
                continue
            level.ats_quantity = quantity
            if not self._hold(level):
                todo |= level
        # decreases first: on a channel without compare-and-set the order of
        # our writes is all that keeps a raise from overtaking a drop
        todo = todo.sorted(lambda lvl: not self._is_decrease(lvl))
        batch_size = self.abilities.batch_size
        for start in range(0, len(todo), batch_size):
            self._push(todo[start : start + batch_size])
        if self.held:
            # held, not forgotten: the change they carry keeps its time
            # (the push lag counts from the change, not from the hold)
            self.env["marketplace.stock.dirty"]._mark_later(
                self.backend,
                self.held.product_id.ids,
                HOLD_RETRY_SECONDS,
                changed_at=self.changed_at,
            )
        return (
            f"{len(levels)} levels checked, {len(todo)} pushed in {self.calls} calls"
            + (
                f", {len(self.held)} increases held while orders wait"
                if self.held
                else ""
            )
        )

    @staticmethod
    def _is_decrease(level):
        return (
            level.has_confirmed_quantity
            and level.ats_quantity < level.last_confirmed_quantity
        )

    def _hold(self, level):
        """Whether to hold the push of ``level``: a level whose submission
        is still processed waits for it unless it must go down (the check
        of the submission pushes again what changed meanwhile). Raising a channel above
        what it last showed us while sold orders wait to be imported could
        offer again units already sold; it is tried again a little later.
        Decreases are never held. Orders in the inbox already count
        (``waiting_demand``), but a backlog is also when the sales whose
        webhooks are still on their way, or were dropped and wait for a
        poll, are most numerous: those nobody here knows of yet."""
        if level.submission_id and not self._is_decrease(level):
            self.held |= level
            return True
        if (
            not level.has_confirmed_quantity
            or level.ats_quantity <= level.last_confirmed_quantity
        ):
            return False
        if self._backlog is None:
            self._backlog = self._orders_waiting()
        if self._backlog:
            self.held |= level
            level.state = "pending"
        return self._backlog

    def _orders_waiting(self):
        """Whether orders received lately still wait to be imported."""
        self.env.cr.execute(
            """
            SELECT EXISTS (
                SELECT 1 FROM marketplace_event
                 WHERE state = 'queued' AND resource_type = 'order'
                   AND received_at > (now() at time zone 'UTC')
                                     - make_interval(mins => %s))
            """,
            (BACKLOG_WINDOW_MINUTES,),
        )
        return self.env.cr.fetchone()[0]

    def _lock(self, levels):
        """Lock the levels about to be written, before the call: the
        channel reports our write back at once (``inventory_levels/update``),
        and the job judging that report must wait until this one has
        recorded the write, or it takes our own write for drift. A level
        changed since this job's snapshot fails here, before any call."""
        levels.flush_recordset()
        self.env.cr.execute(
            "SELECT id FROM marketplace_stock_level WHERE id = ANY(%s) "
            "ORDER BY id FOR UPDATE",
            (levels.ids,),
        )

    def _push(self, levels):
        self._lock(levels)
        compare = self.abilities.compare_and_set
        for _round in range(MAX_STALE_ROUNDS):
            writes = {
                (
                    level.binding_id.channel_item_ref,
                    level.channel_location_id.external_id,
                ): level
                for level in levels
            }
            result = self._call(
                self.adapter.write_stock,
                [
                    StockWrite(
                        item_ref=item,
                        location_id=location,
                        quantity=level.ats_quantity,
                        change_from=level.last_confirmed_quantity
                        if compare and level.has_confirmed_quantity
                        else None,
                    )
                    for (item, location), level in writes.items()
                ],
                idempotency_key=str(uuid.uuid4()),
                costs=self.adapter.stock_write_cost(len(writes)),
            )
            self.record_applied(writes, result.applied)
            self.record_errors(writes, result.errors)
            if result.submission:
                self.env["marketplace.stock.submission"]._start(
                    self.backend, result.submission, writes, result.pending
                )
            if not result.stale:
                return
            levels = self._reread_stale(writes, result.stale)
            if not levels:
                return
        for level in levels:
            level.write(
                {"state": "error", "last_error": "The channel's quantity kept changing"}
            )

    @staticmethod
    def record_applied(writes, applied):
        """Levels the channel took our quantity for (``writes``: ``{(item,
        location): level}``)."""
        now = fields.Datetime.now()
        for write in applied:
            level = writes[(write.item_ref, write.location_id)]
            level.write(
                {
                    "recent_pushed_quantities": remember_push(
                        level.recent_pushed_quantities, write.quantity
                    ),
                    "last_pushed_quantity": write.quantity,
                    "last_confirmed_quantity": write.quantity,
                    "has_confirmed_quantity": True,
                    "pushed_at": now,
                    "state": "synced",
                    "last_error": False,
                }
            )

    @staticmethod
    def record_errors(writes, errors):
        """Writes the channel refused for good: the reason on the level."""
        for write, message in errors:
            writes[(write.item_ref, write.location_id)].write(
                {"state": "error", "last_error": message}
            )

    def _reread_stale(self, writes, stale):
        """Read back what the channel has for writes refused as stale; the
        levels to write again."""
        stale_pairs = [(w.item_ref, w.location_id) for w in stale]
        current = self._call(
            self.adapter.read_stock,
            stale_pairs,
            costs=self.adapter.stock_read_cost(len(stale_pairs)),
        )
        levels = self.env["marketplace.stock.level"]
        for pair in stale_pairs:
            level = writes[pair]
            level.write(
                {
                    "last_confirmed_quantity": current.get(pair, 0),
                    "has_confirmed_quantity": pair in current,
                }
            )
            # the channel sold meanwhile: our figure may now be a raise
            if not self._hold(level):
                levels |= level
        return levels

    def _call(self, method, *args, costs, **kwargs):
        for family, cost in (costs or {}).items():
            self.gate.reserve(family, cost)
        before = self.adapter.throttle_status()
        try:
            result = method(*args, **kwargs)
        finally:
            self.calls += 1
            status = self.adapter.throttle_status()
            if status and status != before:  # a fresh report, not the last one
                for family, reported in status.items():
                    if not before or before.get(family) != reported:
                        self.gate.observe(family, *reported)
        return result


def refuse_unmapped(backend, location_external_id):
    """Writes and levels for a channel location we did not map are refused."""
    mapped = backend.channel_location_ids.filtered(
        lambda loc: loc.external_id == str(location_external_id)
    )
    if not mapped:
        raise PermanentError(
            f"Channel location {location_external_id} is not mapped on {backend.name}: "
            f"map it to an Odoo location under Stock, then Retry."
        )
    return mapped
