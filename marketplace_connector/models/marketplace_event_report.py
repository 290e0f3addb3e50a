# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Events over time, for the graph and pivot views of the Overview:
volume, latency (received -> processed) and failures. A database view: no
copy of the inbox."""

from odoo import fields, models, tools


class MarketplaceEventReport(models.Model):
    _name = "marketplace.event.report"
    _description = "Marketplace Event Analysis"
    _auto = False
    _order = "received_at desc"
    _rec_name = "topic"

    backend_id = fields.Many2one("marketplace.backend", readonly=True)
    topic = fields.Char(readonly=True)
    source = fields.Selection(
        [("webhook", "Webhook"), ("queue", "Queue"), ("poll", "Poll")], readonly=True
    )
    resource_type = fields.Char(readonly=True)
    state = fields.Selection(
        [
            ("received", "Received"),
            ("queued", "Queued"),
            ("waiting", "Waiting (holds stock)"),
            ("done", "Done"),
            ("ignored", "Ignored"),
            ("failed", "Failed"),
            ("dead", "Dead"),
        ],
        readonly=True,
    )
    received_at = fields.Datetime(readonly=True)
    processed_at = fields.Datetime(readonly=True)
    latency_seconds = fields.Float(
        string="Latency (s)",
        readonly=True,
        aggregator="avg",
        help="From receipt to processing (whole seconds: processing is "
        "recorded to the second).",
    )
    processing_ms = fields.Integer(
        string="Processing Time (ms)", readonly=True, aggregator="avg"
    )
    event_count = fields.Integer(string="Events", readonly=True)
    failed_count = fields.Integer(string="Failed or Dead", readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        # the table name comes from the model, not from a user
        self.env.cr.execute(
            f"""
            CREATE VIEW {self._table} AS (
                SELECT id, backend_id, topic, source, resource_type, state,
                       received_at, processed_at,
                       EXTRACT(EPOCH FROM processed_at - received_at)
                           AS latency_seconds,
                       processing_ms,
                       1 AS event_count,
                       CASE WHEN state IN ('failed', 'dead') THEN 1 ELSE 0 END
                           AS failed_count
                  FROM marketplace_event
            )
            """  # pylint: disable=sql-injection
        )
