# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Products whose available-to-sell may have changed, per backend, waiting
for the next push.

An append-only queue: a stock change in Odoo inserts rows and never updates
or locks one already there, so it can never wait for, or fail to serialise
with, a push running at the same time (an inventory adjustment of 500
products must not fail because a push removed a row meanwhile). The
coalescing is in the push: it takes every due row of a backend, pushes each
product once, and deletes the rows it saw -- a burst of changes to one SKU
is one push. One push job per backend waits at a time (queue_job's
``identity_key``); rows that arrive while a push runs get the next one.
``due_at``: a change in Odoo is due at once, a channel's own report of a
quantity a little later (``_mark_later``).
"""

from odoo import api, fields, models

_PRECOMMIT_KEY = "marketplace.stock.changes"
PUSH_PRIORITY_DECREMENT = 5
PUSH_PRIORITY_INCREMENT = 15
#: pushes due later are grouped into one job per slot of this many seconds
PUSH_SLOT_SECONDS = 10


class MarketplaceStockDirty(models.Model):
    _name = "marketplace.stock.dirty"
    _description = "Marketplace Stock Change To Push"
    _log_access = False

    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade", index=True
    )
    product_id = fields.Many2one("product.product", required=True, ondelete="cascade")
    due_at = fields.Datetime(required=True)
    decrement = fields.Boolean(help="A decrease: pushed at a higher priority.")
    changed_at = fields.Datetime(
        help="When the stock changed (a held push keeps its first change's "
        "time); empty: the row's due time."
    )

    @api.model
    def _register_change(self, product_id, decrement):
        """Remember, for the end of the transaction, that a product's stock
        moved; one flush per transaction marks them all at once."""
        data = self.env.cr.precommit.data
        changes = data.get(_PRECOMMIT_KEY)
        if changes is None:
            changes = data[_PRECOMMIT_KEY] = {}
            # whoever moved the stock (a warehouse user has no rights on
            # marketplace records), the pushes are the connector's
            self.env.cr.precommit.add(self.sudo()._flush_changes)
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
        make sure a push job waits for each of those backends."""
        self.env.cr.execute(
            """
            INSERT INTO marketplace_stock_dirty
                   (backend_id, product_id, due_at, decrement)
            SELECT DISTINCT b.backend_id, b.product_id,
                   now() at time zone 'UTC', %s
              FROM marketplace_product_binding b
              JOIN marketplace_backend mb ON mb.id = b.backend_id
             WHERE b.product_id = ANY(%s) AND mb.active AND mb.stock_push_enabled
            RETURNING backend_id
            """,
            (decrement, list(product_ids)),
        )
        backend_ids = {row[0] for row in self.env.cr.fetchall()}
        for backend in self.env["marketplace.backend"].browse(sorted(backend_ids)):
            backend._enqueue_stock_push(decrement)

    @api.model
    def _mark_later(self, backend, product_ids, delay_seconds, changed_at=None):
        """Queue a push of these products on one backend, due in
        ``delay_seconds``; ``changed_at``: ``{product id: when its stock
        changed}`` for a push put off (default: now)."""
        product_ids = list(product_ids)
        changed_at = changed_at or {}
        self.env.cr.execute(
            """
            INSERT INTO marketplace_stock_dirty
                   (backend_id, product_id, due_at, decrement, changed_at)
            SELECT %s, p.product_id,
                   now() at time zone 'UTC' + make_interval(secs => %s), false,
                   COALESCE(p.changed_at, now() at time zone 'UTC')
              FROM unnest(%s::int[], %s::timestamp[]) AS p(product_id, changed_at)
            """,
            (
                backend.id,
                delay_seconds,
                product_ids,
                [changed_at.get(product_id) for product_id in product_ids],
            ),
        )
        backend._enqueue_stock_push(eta=delay_seconds)
