# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""One product written on a channel by a push: when its stock changed in
Odoo and when the push wrote it. The push lag histogram of the metrics and
the push lag graph read them; the retention cron keeps two days.

``changed_at`` is the oldest change the push covered (the time its
transaction began: an import, a delivery, an inventory adjustment, or the
intake storing an order that waits); ``pushed_at`` is when the push job
finished its writes.
"""

from odoo import fields, models

SAMPLE_RETENTION_DAYS = 2


class MarketplaceStockPushSample(models.Model):
    _name = "marketplace.stock.push.sample"
    _description = "Marketplace Stock Push Lag Sample"
    _log_access = False
    _order = "pushed_at desc"
    _rec_name = "product_id"

    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade", readonly=True
    )
    product_id = fields.Many2one(
        "product.product", required=True, ondelete="cascade", readonly=True
    )
    changed_at = fields.Datetime(required=True, readonly=True)
    pushed_at = fields.Datetime(required=True, readonly=True, index=True)
    lag_seconds = fields.Float(string="Push Lag (s)", digits=(12, 3), readonly=True)
