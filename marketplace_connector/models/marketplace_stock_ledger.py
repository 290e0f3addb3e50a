# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The central stock ledger: every stock-affecting marketplace event, once.

``entry_key`` is unique in the database: a replayed event inserts nothing.
Entries are written while the products' lock rows
(``marketplace.stock.lock``) are held in product order, so two channels
selling the last unit serialize: the second sees the first's reservation and
its entry records the shortfall as ``oversold_quantity``.
"""

from odoo import fields, models


class MarketplaceStockLedger(models.Model):
    _name = "marketplace.stock.ledger"
    _description = "Marketplace Stock Ledger Entry"
    _order = "id desc"

    entry_key = fields.Char(required=True, readonly=True)
    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade", index=True
    )
    product_id = fields.Many2one("product.product", required=True, index=True)
    kind = fields.Selection(
        [("sale", "Sale"), ("cancel", "Cancellation"), ("restock", "Restock")],
        required=True,
    )
    quantity = fields.Float(
        required=True, help="Signed: negative for a sale, positive for a return."
    )
    free_before = fields.Float(string="Free Before", readonly=True)
    oversold_quantity = fields.Float(readonly=True)
    sale_order_id = fields.Many2one("sale.order", index="btree_not_null")

    _sql_constraints = [
        (
            "entry_key_unique",
            "UNIQUE(entry_key)",
            "This stock event is already applied.",
        ),
    ]
