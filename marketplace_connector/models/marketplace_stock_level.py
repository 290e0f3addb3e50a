# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""One product at one channel location: what we may sell, what we pushed,
what the channel last confirmed, and whether the two agree."""

from odoo import fields, models

STOCK_STATES = [
    ("pending", "To push"),
    ("synced", "In sync"),
    ("drift", "Drift corrected"),
    ("escalated", "Drift escalated"),
    ("error", "Error"),
]


class MarketplaceStockLevel(models.Model):
    _name = "marketplace.stock.level"
    _description = "Marketplace Stock Level"
    _order = "backend_id, product_id"

    binding_id = fields.Many2one(
        "marketplace.product.binding", required=True, ondelete="cascade", index=True
    )
    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade", index=True
    )
    product_id = fields.Many2one("product.product", required=True, index=True)
    channel_location_id = fields.Many2one(
        "marketplace.channel.location", required=True, ondelete="cascade"
    )
    ats_quantity = fields.Integer(
        string="Available to Sell", help="As computed at the last push or check."
    )
    last_pushed_quantity = fields.Integer(readonly=True)
    last_confirmed_quantity = fields.Integer(
        readonly=True, help="The channel's quantity as it last told us."
    )
    has_confirmed_quantity = fields.Boolean(readonly=True)
    last_report_at = fields.Datetime(
        readonly=True,
        help="The channel's time of the newest report of this level applied: "
        "an older report processed later (retried, redelivered) is ignored.",
    )
    pushed_at = fields.Datetime(readonly=True)
    recent_pushed_quantities = fields.Char(
        readonly=True,
        help="The quantities we last wrote, newest first: a channel's late "
        "report of one of them is an echo, not drift.",
    )
    state = fields.Selection(STOCK_STATES, default="pending", required=True, index=True)
    last_error = fields.Text(readonly=True)
    submission_id = fields.Many2one(
        "marketplace.stock.submission",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="A bulk submission of this level's quantity whose outcome the "
        "channel has not given yet.",
    )
    drift_count = fields.Integer(readonly=True)
    last_drift_at = fields.Datetime(readonly=True)

    _sql_constraints = [
        (
            "binding_location_unique",
            "UNIQUE(binding_id, channel_location_id)",
            "One level per product binding and channel location.",
        ),
    ]
