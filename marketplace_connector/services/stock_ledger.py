# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Applies a marketplace order to the central stock ledger.

Called by the order importer just before it confirms (reserves) the order,
in the same transaction:

1. the lock rows of the order's products are locked in product order
   (``SELECT ... ORDER BY product_id FOR UPDATE``) and their version bumped:
   a concurrent job taking the same SKUs fails with a serialization error
   once this transaction commits (Odoo's transactions are REPEATABLE READ:
   its snapshot cannot see our reservation) and is retried with a fresh
   snapshot; the fixed order rules out deadlocks. The importer takes these
   locks first, before it builds the sale order, and without waiting
   (``NOWAIT``): a job that would lose the race gives up before doing work
   that it would throw away;
2. one ledger entry per order line is inserted with a unique key
   (``ON CONFLICT DO NOTHING``): a replay applies nothing twice;
3. each line's quantity is compared with the free stock of the backend's
   warehouse *as it is now*, including what a job that committed a moment
   ago reserved: a shortfall is recorded as oversold on the entry and the
   sale order is flagged for a person -- never a silent negative. Several
   orders imported together (``apply_sales``) are taken in turn before any
   is confirmed: each takes from what the ones before it left.
"""

from collections import defaultdict

from odoo.tools import float_compare

_LOCK = (
    "SELECT id FROM marketplace_stock_lock WHERE product_id = ANY(%s) "
    "ORDER BY product_id FOR UPDATE"
)
_LOCK_NOWAIT = _LOCK + " NOWAIT"


def create_lock_rows(cr, product_ids):
    """The products' ``marketplace_stock_lock`` rows, created where missing.
    Best before a product's first sale (its first stock levels create them):
    an INSERT meeting a row that another transaction inserted and has not
    committed waits for it, even for a caller that would rather not wait
    (``NOWAIT``)."""
    cr.execute(
        "INSERT INTO marketplace_stock_lock (product_id) "
        "SELECT unnest(%s::int[]) ON CONFLICT (product_id) DO NOTHING",
        (sorted(product_ids),),
        log_exceptions=False,
    )


class StockLedger:
    def __init__(self, backend):
        self.backend = backend
        self.env = backend.env
        #: products this ledger has locked: their rows stay locked until the
        #: transaction ends (a rollback to a savepoint taken before the lock
        #: would release them; the importer takes none around it), so
        #: locking them again would only repeat queries
        self._locked = set()

    def lock_products(self, product_ids, nowait=False):
        """Lock the products' rows in product order and bump their version,
        once per transaction and ledger. ``nowait``: raise
        ``LockNotAvailable`` at once if another transaction holds one,
        instead of waiting for it."""
        ids = sorted(set(product_ids) - self._locked)
        if not ids:
            return
        cr = self.env.cr
        cr.execute(_LOCK_NOWAIT if nowait else _LOCK, (ids,), log_exceptions=False)
        rows = cr.fetchall()
        if len(rows) < len(ids):
            # a product sold before its first stock levels: its row is
            # created, then locked. Only then: an INSERT meeting a row that
            # another transaction holds waits for it, whatever ``nowait`` says
            create_lock_rows(cr, ids)
            cr.execute(_LOCK, (ids,), log_exceptions=False)
            rows = cr.fetchall()
        lock_ids = [row[0] for row in rows]
        cr.execute(
            "UPDATE marketplace_stock_lock SET version = version + 1 "
            "WHERE id = ANY(%s)",
            (lock_ids,),
        )
        self._locked.update(ids)

    def free_in_warehouse(self, product_ids):
        stock_location = self.backend.warehouse_id.lot_stock_id
        self.env.cr.execute(
            """
            SELECT q.product_id, SUM(q.quantity - q.reserved_quantity)
              FROM stock_quant q
              JOIN stock_location l ON l.id = q.location_id
             WHERE q.product_id = ANY(%s) AND l.parent_path LIKE %s
             GROUP BY q.product_id
            """,
            (list(product_ids), stock_location.parent_path + "%"),
        )
        return defaultdict(float, {p: float(q) for p, q in self.env.cr.fetchall()})

    def apply_sale(self, sale, external_order_id):
        """Record the sale of ``sale``'s storable lines; return a list of
        ``(product, oversold quantity)`` for the lines stock did not cover."""
        return self.apply_sales([(sale, external_order_id)])[sale.id]

    def apply_sales(self, sales):
        """Record the sales of ``sales`` (``(sale order, external order
        id)``) in that order, before any of them is confirmed: the free
        stock is read once and each sale takes from what the ones before it
        left.

        :return: ``{sale order id: [(product, oversold quantity)]}``
        """
        lines_of = {
            sale.id: sale.order_line.filtered(lambda line: line.product_id.is_storable)
            for sale, _external_id in sales
        }
        product_ids = sorted(
            {product.id for lines in lines_of.values() for product in lines.product_id}
        )
        self.lock_products(product_ids)
        free = self.free_in_warehouse(product_ids)
        shortfalls = {}
        for sale, external_order_id in sales:
            shortfalls[sale.id] = self._take(
                sale, external_order_id, lines_of[sale.id], free
            )
        return shortfalls

    def _take(self, sale, external_order_id, lines, free):
        shortfalls = []
        for line in lines:
            key = self._key("sale", external_order_id, line)
            quantity = line.product_uom_qty
            available = max(free[line.product_id.id], 0.0)
            rounding = line.product_id.uom_id.rounding
            oversold = 0.0
            if float_compare(quantity, available, precision_rounding=rounding) > 0:
                oversold = quantity - available
            if not self._insert(
                key,
                line.product_id,
                "sale",
                -quantity,
                free[line.product_id.id],
                oversold,
                sale,
            ):
                continue
            free[line.product_id.id] -= quantity
            if oversold:
                shortfalls.append((line.product_id, oversold))
        return shortfalls

    def apply_cancel(self, sale, external_order_id):
        for line in sale.order_line.filtered(lambda ln: ln.product_id.is_storable):
            key = self._key("cancel", external_order_id, line)
            self._insert(
                key, line.product_id, "cancel", line.product_uom_qty, 0.0, 0.0, sale
            )

    def apply_refund(self, sale, refund_external_id, entries):
        """Book the units a refund puts back into free stock, once per
        refund and order line (a redelivered or re-polled refund books
        nothing), and queue their products for a push on every channel.

        :param entries: ``[(sale order line, kind, quantity)]``: kind
            ``cancel`` for units taken off the order (their reservation is
            released), ``restock`` for units a return receipt brings back.
        :return: the entries booked now, as ``(line, kind, quantity)``.
        """
        entries = [e for e in entries if e[2] and e[0].product_id.is_storable]
        product_ids = sorted({line.product_id.id for line, _k, _q in entries})
        if not product_ids:
            return []
        self.lock_products(product_ids)
        free = self.free_in_warehouse(product_ids)
        booked = []
        dirty = self.env["marketplace.stock.dirty"]
        for line, kind, quantity in entries:
            line_ref = line.marketplace_line_id or f"line{line.id}"
            key = f"refund-{kind}:{self.backend.id}:{refund_external_id}:{line_ref}"
            product = line.product_id
            if self._insert(key, product, kind, quantity, free[product.id], 0.0, sale):
                free[product.id] += quantity
                booked.append((line, kind, quantity))
                # every channel selling it hears of it (Odoo's own stock
                # change queues it too once the units are free or received)
                dirty._register_change(product.id, decrement=False)
        return booked

    def _key(self, kind, external_order_id, line):
        line_ref = line.marketplace_line_id or f"line{line.id}"
        return f"{kind}:{self.backend.id}:{external_order_id}:{line_ref}"

    def _insert(self, key, product, kind, quantity, free_before, oversold, sale):
        self.env.cr.execute(
            """
            INSERT INTO marketplace_stock_ledger
                (entry_key, backend_id, product_id, kind, quantity, free_before,
                 oversold_quantity, sale_order_id, create_uid, write_uid,
                 create_date, write_date)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                    now() at time zone 'UTC', now() at time zone 'UTC')
            ON CONFLICT (entry_key) DO NOTHING
            RETURNING id
            """,
            (
                key,
                self.backend.id,
                product.id,
                kind,
                quantity,
                free_before,
                oversold,
                sale.id,
                self.env.uid,
                self.env.uid,
            ),
        )
        return bool(self.env.cr.fetchone())
