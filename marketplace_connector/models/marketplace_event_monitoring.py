# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The inbox as monitoring reads it: the import latency histogram and the
retention purge both look events up by ``processed_at``."""

from odoo import models
from odoo.tools.sql import create_index


class MarketplaceEvent(models.Model):
    _inherit = "marketplace.event"

    def init(self):
        result = super().init()
        # one more index entry per event processed; without it, a scrape's
        # latency histogram and the daily purge would read the whole inbox
        create_index(
            self.env.cr,
            "marketplace_event_processed_at_index",
            self._table,
            ["processed_at"],
        )
        return result

    def action_retry(self):
        """A retry re-queues the failed events: once none is left, the
        backend's "events failed" activity is done."""
        backends = self.backend_id
        result = super().action_retry()
        backends._close_failed_events_activity()
        return result
