# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A channel's stock location and the Odoo location whose stock it sells.

Quantities are only ever written to mapped channel locations: a push or an
inbound level for a location that is not mapped here is refused.
"""

from odoo import fields, models


class MarketplaceChannelLocation(models.Model):
    _name = "marketplace.channel.location"
    _description = "Marketplace Channel Location"
    _order = "backend_id, sequence, id"

    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    name = fields.Char(required=True)
    external_id = fields.Char(
        string="Channel Location ID", required=True, help="e.g. Shopify's location id."
    )
    location_id = fields.Many2one(
        "stock.location",
        string="Odoo Location",
        required=True,
        domain=[("usage", "=", "internal")],
        help="The free stock of this location and its children is what the "
        "channel location may sell.",
    )
    active = fields.Boolean(default=True)

    _sql_constraints = [
        (
            "external_id_unique",
            "UNIQUE(backend_id, external_id)",
            "This channel location is already mapped.",
        ),
    ]
