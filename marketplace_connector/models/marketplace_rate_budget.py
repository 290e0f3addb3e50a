# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""One leaky bucket per backend and operation family, shared by every
worker and process (Shopify has one GraphQL bucket; Amazon one per
operation, e.g. ``searchOrders`` at one call every ~3 minutes).

Updated through a connection of its own, committed at once, so a reservation
is seen by the other workers immediately and survives the rollback of the
job that made it (the channel counted the call either way). ``backend_id``
is a plain integer on purpose: that connection may run before the backend's
own transaction commits.
"""

from odoo import fields, models


class MarketplaceRateBudget(models.Model):
    _name = "marketplace.rate.budget"
    _description = "Marketplace API Rate Budget"
    _log_access = False

    backend_id = fields.Integer(required=True)
    family = fields.Char(required=True, default="default")
    available = fields.Float(required=True)
    maximum = fields.Float(required=True)
    restore_rate = fields.Float(required=True)
    updated_at = fields.Datetime(required=True)
    throttled_count = fields.Integer(help="Calls the channel throttled anyway.")

    _sql_constraints = [
        (
            "backend_family_unique",
            "UNIQUE(backend_id, family)",
            "One budget per backend and operation family.",
        ),
    ]
