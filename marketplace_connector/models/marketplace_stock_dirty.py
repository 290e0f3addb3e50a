# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Products whose available-to-sell may have changed, per backend, waiting
for the next push. ``UNIQUE(backend_id, product_id)`` is the coalescing: a
burst of changes to one SKU leaves one row, hence one push. A push reads
the due rows (``due_at``: a change in Odoo is due at once, a channel's own
report of a quantity a little later, see ``_mark_later``) without locking
them and removes them once pushed; a row changed meanwhile stays for one
more push (``StockPusher.release``)."""

from odoo import api, fields, models

_PRECOMMIT_KEY = "marketplace.stock.changes"
PUSH_PRIORITY_DECREMENT = 5
PUSH_PRIORITY_INCREMENT = 15


class MarketplaceStockDirty(models.Model):
    _name = "marketplace.stock.dirty"
    _description = "Marketplace Stock Change To Push"
    _log_access = False

    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade"
    )
    product_id = fields.Many2one("product.product", required=True, ondelete="cascade")
    due_at = fields.Datetime(required=True)
    decrement = fields.Boolean(help="A decrease: pushed at a higher priority.")

    _sql_constraints = [
        ("backend_product_unique", "UNIQUE(backend_id, product_id)", "Already queued."),
    ]

    @api.model
    def _register_change(self, product_id, decrement):
        """Remember, for the end of the transaction, that a product's stock
        moved; one flush per transaction marks them all at once."""
        data = self.env.cr.precommit.data
        changes = data.get(_PRECOMMIT_KEY)
        if changes is None:
            changes = data[_PRECOMMIT_KEY] = {}
            self.env.cr.precommit.add(self._flush_changes)
        changes[product_id] = changes.get(product_id, False) or decrement

    @api.model
    def _flush_changes(self):
        changes = self.env.cr.precommit.data.pop(_PRECOMMIT_KEY, {})
        for decrement in (True, False):
            ids = [p for p, d in changes.items() if d is decrement]
            if ids:
                self._mark(ids, decrement)
        self.env.flush_all()

    @api.model
    def _mark(self, product_ids, decrement):
        """Queue the products for a push on every backend selling them, and
        a push job for each backend that had nothing queued yet, or only
        pushes due later.

        A row already queued is always updated, never left as it is: a push
        running meanwhile sees that it changed when it removes the rows it
        pushed, and pushes again (``StockPusher.release``)."""
        self.env.cr.execute(
            """
            WITH due_later AS (
                SELECT DISTINCT backend_id FROM marketplace_stock_dirty
                 WHERE product_id = ANY(%(products)s)
                   AND due_at > now() at time zone 'UTC'
            ), marked AS (
                INSERT INTO marketplace_stock_dirty
                       (backend_id, product_id, due_at, decrement)
                SELECT DISTINCT b.backend_id, b.product_id,
                       now() at time zone 'UTC', %(decrement)s
                  FROM marketplace_product_binding b
                  JOIN marketplace_backend mb ON mb.id = b.backend_id
                 WHERE b.product_id = ANY(%(products)s)
                   AND mb.active AND mb.stock_push_enabled
                ON CONFLICT (backend_id, product_id) DO UPDATE
                   SET decrement = marketplace_stock_dirty.decrement
                                   OR EXCLUDED.decrement,
                       due_at = LEAST(marketplace_stock_dirty.due_at, EXCLUDED.due_at)
                RETURNING backend_id, xmax = 0 AS inserted
            )
            SELECT backend_id FROM marked WHERE inserted
             UNION
            SELECT backend_id FROM due_later
            """,
            {"decrement": decrement, "products": list(product_ids)},
        )
        backend_ids = {row[0] for row in self.env.cr.fetchall()}
        for backend in self.env["marketplace.backend"].browse(sorted(backend_ids)):
            backend._enqueue_stock_push(decrement)

    @api.model
    def _mark_later(self, backend, product_ids, delay_seconds):
        """Queue a push of these products on one backend, due in
        ``delay_seconds``; a push already queued covers it."""
        self.env.cr.execute(
            """
            INSERT INTO marketplace_stock_dirty
                   (backend_id, product_id, due_at, decrement)
            SELECT %s, product_id,
                   now() at time zone 'UTC' + make_interval(secs => %s), false
              FROM unnest(%s::int[]) AS product_id
            ON CONFLICT (backend_id, product_id) DO NOTHING
            RETURNING backend_id
            """,
            (backend.id, delay_seconds, list(product_ids)),
        )
        if self.env.cr.fetchall():
            backend._enqueue_stock_push(eta=delay_seconds)
