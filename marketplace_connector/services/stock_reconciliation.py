# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Stock reconciliation: Odoo is the master, the channel is checked.

For each channel location: read every tracked quantity from the channel in
bulk pages, compute every binding's available-to-sell in bulk (SQL, no record
loaded one by one) exactly as a push does -- orders waiting in the inbox
count against it -- and compare. A difference up to the backend's threshold
is corrected: a channel showing more than we can sell is lowered at once
(compare-and-set against the quantity just read); one showing less is raised
by a push a little later, which holds the increase while sold orders wait to
be imported, as every increase is (the drop may be a sale whose order has
not reached us yet). A larger difference is escalated to a person (the
level is flagged, one activity on the backend) and left as it is: a large
gap usually means a mapping or a count is wrong, and pushing over it would
hide that.
"""

import time
from collections import defaultdict
from decimal import Decimal

from psycopg2.extras import execute_values

from odoo import fields

from ..lib.allocation import ChannelPolicy, available_to_sell
from ..lib.stock import StockWrite
from .stock_availability import free_to_sell, share_totals
from .stock_push import DRIFT_CORRECTION_DELAY, StockPusher


class StockReconciler:
    def __init__(self, backend):
        self.backend = backend
        self.env = backend.env
        self.pusher = StockPusher(backend)
        self.channel_seconds = 0.0

    def run(self):
        started = time.monotonic()
        counts = defaultdict(int)
        escalated_examples = []
        for location in self.backend.channel_location_ids:
            self._reconcile_location(location, counts, escalated_examples)
        duration = time.monotonic() - started
        record = self.env["marketplace.stock.reconciliation"].create(
            {
                "backend_id": self.backend.id,
                "checked": counts["checked"],
                "in_sync": counts["in_sync"],
                "corrected": counts["corrected"],
                "escalated": counts["escalated"],
                "missing_on_channel": counts["missing"],
                "duration": duration,
                "channel_seconds": self.channel_seconds,
                "odoo_seconds": duration - self.channel_seconds,
                "escalation_examples": "\n".join(escalated_examples[:20]),
            }
        )
        if counts["escalated"]:
            self.backend._escalate_drift(record)
        return record

    # Reading

    def _read_channel(self, location):
        """Every tracked quantity at the location; the adapter pages through
        the channel and waits out its throttle itself, we keep the shared
        budget informed after each page."""
        quantities = {}
        adapter = self.pusher.adapter
        started = time.monotonic()
        for page in adapter.iter_stock(location.external_id):
            quantities.update(page)
            for family, reported in (adapter.throttle_status() or {}).items():
                self.pusher.gate.observe(family, *reported)
        self.channel_seconds += time.monotonic() - started
        return quantities

    def _ensure_levels(self, location):
        self.env.cr.execute(
            """
            INSERT INTO marketplace_stock_level
                   (binding_id, backend_id, product_id, channel_location_id, state,
                    ats_quantity, last_pushed_quantity, last_confirmed_quantity,
                    has_confirmed_quantity, drift_count)
            SELECT b.id, b.backend_id, b.product_id, %s, 'pending', 0, 0, 0, false, 0
              FROM marketplace_product_binding b
             WHERE b.backend_id = %s AND b.channel_item_ref IS NOT NULL
            ON CONFLICT (binding_id, channel_location_id) DO NOTHING
            """,
            (location.id, self.backend.id),
        )

    def _levels(self, location):
        self.env.cr.execute(
            """
            SELECT lvl.id, b.product_id, b.channel_item_ref,
                   b.stock_policy_override, b.stock_share, b.stock_buffer_units,
                   b.stock_buffer_percent, b.stock_max_quantity
              FROM marketplace_stock_level lvl
              JOIN marketplace_product_binding b ON b.id = lvl.binding_id
             WHERE lvl.backend_id = %s AND lvl.channel_location_id = %s
            """,
            (self.backend.id, location.id),
        )
        return self.env.cr.fetchall()

    def _free_by_product(self, location, product_ids):
        """Free to sell at the location, as a push counts it."""
        free = free_to_sell(self.env, product_ids, location.location_id)
        return {product: quantity for (product, _root), quantity in free.items()}

    # Comparing

    def _reconcile_location(self, location, counts, examples):
        channel = self._read_channel(location)
        self._ensure_levels(location)
        levels = self._levels(location)
        product_ids = {row[1] for row in levels}
        free = self._free_by_product(location, product_ids)
        totals = share_totals(self.env, product_ids)
        backend = self.backend
        default_policy = ChannelPolicy(
            share=Decimal(str(backend.stock_share)),
            buffer_units=backend.stock_buffer_units,
            buffer_percent=Decimal(str(backend.stock_buffer_percent)),
            maximum=backend.stock_max_quantity or None,
        )
        threshold = backend.stock_drift_threshold
        updates, corrections, raises = [], [], set()
        for row in levels:
            level_id, product_id, item, override, share, units, percent, maximum = row
            policy = default_policy
            if override:
                policy = ChannelPolicy(
                    share=Decimal(str(share)),
                    buffer_units=units,
                    buffer_percent=Decimal(str(percent)),
                    maximum=maximum or None,
                )
            ats = available_to_sell(free.get(product_id, 0), policy, totals[product_id])
            counts["checked"] += 1
            if item not in channel:
                counts["missing"] += 1
                updates.append(
                    (level_id, ats, 0, False, "error", "Not tracked on the channel")
                )
                continue
            quantity = channel[item]
            difference = quantity - ats
            if difference == 0:
                counts["in_sync"] += 1
                updates.append((level_id, ats, quantity, True, "synced", None))
            elif abs(difference) <= threshold:
                counts["corrected"] += 1
                if difference > 0:
                    corrections.append(
                        StockWrite(
                            item,
                            location.external_id,
                            ats,
                            change_from=quantity
                            if self.pusher.abilities.compare_and_set
                            else None,
                        )
                    )
                else:
                    raises.add(product_id)
                updates.append((level_id, ats, quantity, True, "drift", None))
            else:
                counts["escalated"] += 1
                examples.append(f"item {item}: channel {quantity}, available {ats}")
                updates.append(
                    (
                        level_id,
                        ats,
                        quantity,
                        True,
                        "escalated",
                        f"Channel shows {quantity}, available to sell is {ats}",
                    )
                )
        self._write_levels(updates)
        self._correct(corrections, location.id)
        if raises:
            self.env["marketplace.stock.dirty"]._mark_later(
                backend, sorted(raises), DRIFT_CORRECTION_DELAY
            )

    def _write_levels(self, updates):
        if not updates:
            return
        execute_values(
            self.env.cr._obj,
            """
            UPDATE marketplace_stock_level lvl
               SET ats_quantity = v.ats, last_confirmed_quantity = v.confirmed,
                   has_confirmed_quantity = v.has_confirmed, state = v.state,
                   last_error = v.error,
                   drift_count = COALESCE(lvl.drift_count, 0)
                       + CASE WHEN v.state IN ('drift', 'escalated') THEN 1 ELSE 0 END,
                   last_drift_at = CASE WHEN v.state IN ('drift', 'escalated')
                                        THEN now() at time zone 'UTC'
                                        ELSE lvl.last_drift_at END
              FROM (VALUES %s) AS v(id, ats, confirmed, has_confirmed, state, error)
             WHERE lvl.id = v.id
            """,
            updates,
            template="(%s, %s, %s, %s, %s::varchar, %s::text)",
            page_size=5000,
        )
        self.env["marketplace.stock.level"].invalidate_model()

    def _correct(self, corrections, location_id):
        adapter = self.pusher.adapter
        batch_size = self.pusher.abilities.batch_size
        for start in range(0, len(corrections), batch_size):
            batch = corrections[start : start + batch_size]
            started = time.monotonic()
            result = self.pusher._call(
                adapter.write_stock,
                batch,
                idempotency_key=f"reconcile-{self.backend.id}-{fields.Datetime.now()}-{start}",
                costs=adapter.stock_write_cost(len(batch)),
            )
            self.channel_seconds += time.monotonic() - started
            if result.errors or result.submission:
                writes = self._levels_of(batch, location_id)
                StockPusher.record_errors(writes, result.errors)
                if result.submission:
                    self.env["marketplace.stock.submission"]._start(
                        self.backend, result.submission, writes, result.pending
                    )
            if result.applied:
                execute_values(
                    self.env.cr._obj,
                    """
                    UPDATE marketplace_stock_level lvl
                       SET recent_pushed_quantities = array_to_string(
                               (string_to_array(v.qty::text || COALESCE(
                                   ',' || lvl.recent_pushed_quantities, ''), ','))
                               [1:10], ','),  -- lib.stock.RECENT_PUSHES
                           last_pushed_quantity = v.qty,
                           last_confirmed_quantity = v.qty,
                           pushed_at = now() at time zone 'UTC'
                      FROM (VALUES %s) AS v(item, qty, backend, location),
                           marketplace_product_binding b
                     WHERE b.id = lvl.binding_id AND b.channel_item_ref = v.item
                       AND lvl.backend_id = v.backend
                       AND lvl.channel_location_id = v.location
                    """,
                    [
                        (w.item_ref, w.quantity, self.backend.id, location_id)
                        for w in result.applied
                    ],
                )

    def _levels_of(self, writes, location_id):
        """``{(item, location external id): level}`` of these writes."""
        levels = self.env["marketplace.stock.level"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("channel_location_id", "=", location_id),
                ("binding_id.channel_item_ref", "in", [w.item_ref for w in writes]),
            ]
        )
        return {
            (lvl.binding_id.channel_item_ref, lvl.channel_location_id.external_id): lvl
            for lvl in levels
        }
