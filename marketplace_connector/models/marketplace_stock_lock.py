# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""One row per product, locked (in product order) while marketplace orders
take its stock: concurrent jobs on the same SKUs serialize without lost
updates or deadlocks, and without locking the product records themselves."""

from odoo import fields, models


class MarketplaceStockLock(models.Model):
    _name = "marketplace.stock.lock"
    _description = "Marketplace Stock Lock"
    _log_access = False

    product_id = fields.Many2one("product.product", required=True, ondelete="cascade")
    version = fields.Integer(
        default=0,
        help="Bumped by every transaction that takes the lock: a transaction "
        "whose snapshot predates the last holder's commit fails at once with "
        "a serialization error (and is retried) instead of working from a "
        "stale view of the stock.",
    )

    _sql_constraints = [
        ("product_unique", "UNIQUE(product_id)", "One lock row per product."),
    ]
