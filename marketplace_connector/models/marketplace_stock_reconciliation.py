# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""One reconciliation run: what was checked and what came of it."""

from odoo import fields, models


class MarketplaceStockReconciliation(models.Model):
    _name = "marketplace.stock.reconciliation"
    _description = "Marketplace Stock Reconciliation Run"
    _order = "id desc"

    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade", index=True
    )
    checked = fields.Integer()
    in_sync = fields.Integer(string="In Sync")
    corrected = fields.Integer()
    escalated = fields.Integer()
    missing_on_channel = fields.Integer()
    duration = fields.Float(string="Duration (s)", digits=(12, 2))
    odoo_seconds = fields.Float(string="Odoo Time (s)", digits=(12, 2))
    channel_seconds = fields.Float(string="Channel Time (s)", digits=(12, 2))
    escalation_examples = fields.Text()
