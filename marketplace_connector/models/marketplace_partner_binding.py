# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Customer <-> external customer."""

from odoo import fields, models


class MarketplacePartnerBinding(models.Model):
    _name = "marketplace.partner.binding"
    _description = "Marketplace Customer Binding"
    _order = "id desc"
    _rec_name = "external_id"

    # indexed by UNIQUE(backend_id, external_id)
    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade"
    )
    partner_id = fields.Many2one(
        "res.partner", required=True, ondelete="cascade", index=True
    )
    external_id = fields.Char(string="External Customer ID", required=True)

    _sql_constraints = [
        (
            "external_id_unique",
            "UNIQUE(backend_id, external_id)",
            "This external customer is already bound.",
        ),
    ]
