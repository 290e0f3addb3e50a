# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A bulk write of quantities whose outcome the channel gives later (an
Amazon feed: accepted now, processed in minutes, with a report per SKU).

While a submission is processed, its levels are not raised again (the
pusher holds them); a decrease still goes out at once. When the outcome
arrives, the levels applied are confirmed, the refused ones show the
channel's reason, and every product of the submission is queued for a push:
one whose available-to-sell changed meanwhile (or that a decrease overtook,
to be overwritten by the submission applied after it) is written again,
the others are skipped as already in sync.
"""

import datetime

from odoo import fields, models

from odoo.addons.queue_job.exception import RetryableJobError

from ..services.job_errors import retry_later

#: first look at a submission's outcome this long after it was sent ...
CHECK_DELAY = 30
#: ... then every this many seconds
CHECK_INTERVAL = 30
#: a submission without outcome after this long is given up: its levels are
#: marked in error and pushed again
GIVE_UP_AFTER = datetime.timedelta(hours=6)


class MarketplaceStockSubmission(models.Model):
    _name = "marketplace.stock.submission"
    _description = "Marketplace Stock Submission"
    _order = "id desc"

    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    reference = fields.Char(
        required=True, readonly=True, help="The channel's id of the submission."
    )
    state = fields.Selection(
        [("processing", "Processing"), ("done", "Done"), ("failed", "Failed")],
        default="processing",
        required=True,
        readonly=True,
    )
    writes = fields.Json(
        readonly=True,
        help="The quantities sent: level, channel item, location, quantity.",
    )
    level_ids = fields.One2many("marketplace.stock.level", "submission_id")
    write_count = fields.Integer(readonly=True)
    applied_count = fields.Integer(readonly=True)
    error_count = fields.Integer(readonly=True)
    submitted_at = fields.Datetime(readonly=True)
    finished_at = fields.Datetime(readonly=True)
    message = fields.Text(readonly=True)

    _sql_constraints = [
        (
            "reference_unique",
            "UNIQUE(backend_id, reference)",
            "A channel submission is recorded once.",
        ),
    ]

    def _start(self, backend, reference, levels_by_write, pending):
        """Record a submission of the ``pending`` writes and schedule the
        look at its outcome. ``levels_by_write``: ``{(item, location):
        level}``."""
        levels = self.env["marketplace.stock.level"]
        lines = []
        for write in pending:
            level = levels_by_write[(write.item_ref, write.location_id)]
            levels |= level
            lines.append(
                {
                    "level": level.id,
                    "item": write.item_ref,
                    "location": write.location_id,
                    "quantity": write.quantity,
                }
            )
        submission = self.create(
            {
                "backend_id": backend.id,
                "reference": reference,
                "writes": lines,
                "write_count": len(lines),
                "submitted_at": fields.Datetime.now(),
            }
        )
        levels.write({"submission_id": submission.id, "state": "pending"})
        submission.with_delay(
            eta=CHECK_DELAY,
            priority=20,
            description=f"Outcome of stock submission {reference}",
        )._job_check()
        return submission

    def _pending_writes(self):
        from ..lib.stock import StockWrite

        return [
            StockWrite(line["item"], line["location"], line["quantity"], None)
            for line in self.writes or []
        ]

    def _job_check(self):
        """Ask the channel for the outcome; apply it once it is there."""
        self.ensure_one()
        if self.state != "processing":
            return f"Already {self.state}"
        writes = self._pending_writes()
        with retry_later():
            result = self.backend_id._get_job_adapter().check_submission(
                self.reference, writes
            )
        if result is None:
            if fields.Datetime.now() - self.submitted_at > GIVE_UP_AFTER:
                return self._give_up()
            raise RetryableJobError(
                f"Submission {self.reference} is still processed",
                seconds=CHECK_INTERVAL,
                ignore_retry=True,
            )
        from ..services.stock_push import StockPusher

        by_write = self._levels_by_write()
        StockPusher.record_applied(by_write, result.applied)
        StockPusher.record_errors(by_write, result.errors)
        self._finish("done", len(result.applied), len(result.errors))
        return f"{len(result.applied)} quantities applied, {len(result.errors)} refused"

    def _levels_by_write(self):
        levels = (
            self.env["marketplace.stock.level"]
            .browse([line["level"] for line in self.writes or []])
            .exists()
        )
        return {
            (lvl.binding_id.channel_item_ref, lvl.channel_location_id.external_id): lvl
            for lvl in levels
        }

    def _give_up(self):
        message = (
            f"The channel gave no outcome for submission {self.reference} "
            f"within {GIVE_UP_AFTER}: its quantities are pushed again."
        )
        self.level_ids.write({"state": "error", "last_error": message})
        self._finish("failed", 0, 0, message)
        return message

    def _finish(self, state, applied, errors, message=False):
        products = self.level_ids.product_id
        self.level_ids.write({"submission_id": False})
        self.write(
            {
                "state": state,
                "applied_count": applied,
                "error_count": errors,
                "finished_at": fields.Datetime.now(),
                "message": message,
            }
        )
        # what changed while the submission was processed is pushed now
        if products:
            self.env["marketplace.stock.dirty"]._mark_later(
                self.backend_id, products.ids, 0
            )
