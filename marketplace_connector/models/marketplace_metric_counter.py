# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Counters that only a process sees (the intake's answers, calls to a
channel's API, the last successful push), added up across every process.

Each process counts in memory and a background thread adds its counts here
every few seconds, in one UPSERT (``services/metrics.py``): a few dozen rows
in all (name x backend x status or operation), never one per event.
``backend_id`` is a plain integer (0: no backend), like the rate budget's:
the row may be written before or after the backend's own transaction.
"""

from odoo import fields, models
from odoo.tools.sql import create_index


class MarketplaceMetricCounter(models.Model):
    _name = "marketplace.metric.counter"
    _description = "Marketplace Metric Counter"
    _log_access = False
    _order = "name, backend_id, label"

    name = fields.Char(required=True, readonly=True)
    backend_id = fields.Integer(required=True, default=0, readonly=True)
    label = fields.Char(
        required=True, default="", readonly=True, help="Status code or operation."
    )
    value = fields.Float(required=True, default=0.0, readonly=True)

    _sql_constraints = [
        (
            "name_backend_label_unique",
            "UNIQUE(name, backend_id, label)",
            "One row per counter, backend and label.",
        ),
    ]

    def init(self):
        """The open oversold orders of a scrape, without reading every sale
        order: a partial index holds only the flagged ones."""
        create_index(
            self.env.cr,
            "sale_order_marketplace_oversold_index",
            "sale_order",
            ["marketplace_backend_id"],
            where="marketplace_oversold",
        )
