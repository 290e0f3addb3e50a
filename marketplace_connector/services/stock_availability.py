# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Available-to-sell in bulk: a few SQL queries for any number of levels.

Free quantity = on hand - reserved - waiting demand, summed over the quants
of a channel location's Odoo location and its children (``parent_path``
prefix). Waiting demand is what orders received on any channel, and not yet
imported, will take from that location's warehouse. The arithmetic itself is
``lib/allocation.py``.
"""

from collections import defaultdict
from decimal import Decimal

from ..lib.allocation import ChannelPolicy, available_to_sell


def free_quantities(env, product_ids, locations):
    """:return: {(product_id, location_id): free quantity}"""
    if not product_ids or not locations:
        return {}
    paths = {location.id: location.parent_path for location in locations}
    env.cr.execute(
        """
        SELECT q.product_id, root.id, SUM(q.quantity - q.reserved_quantity)
          FROM stock_quant q
          JOIN stock_location l ON l.id = q.location_id
          JOIN stock_location root ON l.parent_path LIKE root.parent_path || '%%'
         WHERE q.product_id = ANY(%s) AND root.id = ANY(%s)
         GROUP BY q.product_id, root.id
        """,
        (list(product_ids), list(paths)),
    )
    return {(product, root): float(qty) for product, root, qty in env.cr.fetchall()}


def waiting_demand(env, product_ids, locations):
    """What orders in the inbox, not yet imported, will take from stock.

    One state per order counts: the newest waiting one (an order updated
    before its import counts as it is now; a cancelled one takes nothing).
    An order already imported counts through its reservation instead: its
    import marks its events done in the transaction that reserves, so a
    snapshot sees the one or the other, never both. The quantity counts at
    each given location holding the backend's warehouse stock.

    :return: {(product_id, location_id): quantity}
    """
    if not product_ids or not locations:
        return {}
    # every step materialised: the planner's estimates of the inbox swing
    # by thousands of rows during a sale, and nested loops over a backlog
    # cost a push hundreds of milliseconds (measured: 7,000 waiting orders,
    # 190 ms as one join, 38 ms this way). The demand lines are expanded in
    # a step of their own: joined in one step with the variants, the
    # planner expanded each order's lines once per variant of its backend
    # (measured with autovacuum's statistics, 1,266 orders waiting: 119 ms,
    # 24 ms this way). Events are stored queued (``received`` is never
    # written), which the partial index of queued orders covers.
    env.cr.execute(
        """
        WITH variants AS MATERIALIZED (
            SELECT b.backend_id, b.external_id AS variant, b.product_id
              FROM marketplace_product_binding b
             WHERE b.product_id = ANY(%(products)s) AND b.external_id IS NOT NULL
        ), places AS MATERIALIZED (
            SELECT mb.id AS backend_id, root.id AS root_id
              FROM marketplace_backend mb
              JOIN stock_warehouse wh ON wh.id = mb.warehouse_id
              JOIN stock_location stock ON stock.id = wh.lot_stock_id
              JOIN stock_location root
                ON stock.parent_path LIKE root.parent_path || '%%'
             WHERE root.id = ANY(%(roots)s)
        ), waiting AS MATERIALIZED (
            SELECT DISTINCT ON (e.backend_id, e.external_id)
                   e.backend_id, e.external_id, e.demand
              FROM marketplace_event e
             WHERE e.resource_type = 'order' AND e.state IN ('queued', 'waiting')
             ORDER BY e.backend_id, e.external_id,
                      e.external_updated_at DESC NULLS LAST, e.id DESC
        ), lines AS MATERIALIZED (
            SELECT w.backend_id, w.external_id, line->>'variant' AS variant,
                   (line->>'quantity')::numeric AS quantity
              FROM waiting w
             CROSS JOIN LATERAL jsonb_array_elements(w.demand) AS line
        ), wanted AS MATERIALIZED (
            SELECT l.backend_id, l.external_id, v.product_id, l.quantity
              FROM lines l
              JOIN variants v
                ON v.backend_id = l.backend_id AND v.variant = l.variant
        )
        SELECT wanted.product_id, places.root_id, SUM(wanted.quantity)
          FROM wanted
          JOIN places ON places.backend_id = wanted.backend_id
         WHERE NOT EXISTS (
                SELECT 1 FROM marketplace_order_binding ob
                 WHERE ob.backend_id = wanted.backend_id
                   AND ob.external_id = wanted.external_id
                   AND ob.order_id IS NOT NULL)
         GROUP BY wanted.product_id, places.root_id
        """,
        {
            "products": list(product_ids),
            "roots": [location.id for location in locations],
        },
    )
    return {(product, root): float(qty) for product, root, qty in env.cr.fetchall()}


def free_to_sell(env, product_ids, locations):
    """Free quantity net of the orders waiting in the inbox: what every
    channel's share is taken from.

    :return: {(product_id, location_id): quantity}
    """
    free = free_quantities(env, product_ids, locations)
    for key, quantity in waiting_demand(env, product_ids, locations).items():
        free[key] = free.get(key, 0.0) - quantity
    return free


def policy_for(binding, backend):
    """The binding's own settings when it overrides them, else the backend's."""
    source = binding if binding.stock_policy_override else backend
    maximum = source.stock_max_quantity or None
    return ChannelPolicy(
        share=Decimal(str(source.stock_share)),
        buffer_units=source.stock_buffer_units,
        buffer_percent=Decimal(str(source.stock_buffer_percent)),
        maximum=maximum,
    )


def share_totals(env, product_ids):
    """Sum of the shares of every active backend selling each product."""
    env.cr.execute(
        """
        SELECT b.product_id,
               SUM(CASE WHEN b.stock_policy_override THEN b.stock_share
                        ELSE mb.stock_share END)
          FROM marketplace_product_binding b
          JOIN marketplace_backend mb ON mb.id = b.backend_id
         WHERE b.product_id = ANY(%s) AND mb.active AND mb.stock_push_enabled
         GROUP BY b.product_id
        """,
        (list(product_ids),),
    )
    return defaultdict(
        lambda: Decimal(1), {p: Decimal(str(s)) for p, s in env.cr.fetchall()}
    )


def compute_levels(env, levels):
    """:return: {level.id: available-to-sell} for the given levels."""
    if not levels:
        return {}
    product_ids = set(levels.mapped("product_id").ids)
    locations = levels.mapped("channel_location_id.location_id")
    free = free_to_sell(env, product_ids, locations)
    totals = share_totals(env, product_ids)
    result = {}
    for level in levels:
        policy = policy_for(level.binding_id, level.backend_id)
        quantity = free.get(
            (level.product_id.id, level.channel_location_id.location_id.id), 0.0
        )
        result[level.id] = available_to_sell(
            quantity, policy, totals[level.product_id.id]
        )
    return result
