# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A channel's tax and the Odoo tax that books it, per backend.

Rows are proposed by the import (a company tax of the same rate, country
and inclusion, see :mod:`..lib.tax_matching`), created from the backend's
template tax, or listed by the migration from taxes an earlier version
created on the fly; a person confirms them. The import uses any row whose
tax posts on accounts; a row without such a tax stops the order with a
message naming it."""

from decimal import Decimal

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..lib.tax_matching import ChannelTax


class MarketplaceTaxMapping(models.Model):
    _name = "marketplace.tax.mapping"
    _description = "Marketplace Tax Mapping"
    _order = "backend_id, state desc, name, rate"

    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True, precompute=True
    )
    name = fields.Char(
        "Channel tax", required=True, help="The tax's title on the channel."
    )
    rate = fields.Float(
        digits=(16, 4), help="The channel's rate, as a percentage (20 for 20%)."
    )
    country_id = fields.Many2one(
        "res.country",
        help="Where the tax is due: the channel's country for it, or the "
        "order's delivery country. Empty: any country.",
    )
    region = fields.Char(
        help="State or province code when the channel gives one (QC). Empty: "
        "the whole country."
    )
    price_include = fields.Boolean(
        "Price includes tax", help="The channel's prices include this tax (VAT)."
    )
    collected_by_channel = fields.Boolean(
        "Collected by the marketplace",
        help="The marketplace collects and remits this tax (Amazon's "
        "marketplace-facilitator taxes): it must post on the backend's "
        "clearing account, never on a tax we owe.",
    )
    tax_id = fields.Many2one(
        "account.tax",
        "Odoo tax",
        ondelete="restrict",
        domain="[('type_tax_use', '=', 'sale'), ('company_id', '=', company_id)]",
        help="The tax the orders are booked with.",
    )
    state = fields.Selection(
        [
            ("to_review", "To review"),
            ("proposed", "Proposed"),
            ("confirmed", "Confirmed"),
        ],
        default="to_review",
        required=True,
        help="Proposed: found or created by the connector, used by the "
        "imports, waiting for a person. Confirmed: checked by a person. To "
        "review: needs a person before orders with this tax import (its tax "
        "is missing or has no account), or created from the template.",
    )
    origin = fields.Selection(
        [
            ("matched", "Matched automatically"),
            ("template", "Created from the template tax"),
            ("migrated", "Created by an earlier version"),
            ("manual", "Entered by a person"),
        ],
        default="manual",
        required=True,
    )
    note = fields.Char(readonly=True, help="Why the connector chose this tax.")
    channel_key = fields.Char(
        compute="_compute_channel_key", store=True, index=True, precompute=True
    )

    _sql_constraints = [
        (
            "channel_tax_unique",
            "UNIQUE(backend_id, channel_key)",
            "A channel tax is mapped once per backend.",
        ),
    ]

    @api.depends(
        "name", "rate", "country_id", "region", "price_include", "collected_by_channel"
    )
    def _compute_channel_key(self):
        for mapping in self:
            mapping.channel_key = mapping._channel_tax().key

    def _channel_tax(self):
        self.ensure_one()
        return ChannelTax(
            title=" ".join((self.name or "Tax").split()),
            rate=Decimal(str(self.rate or 0)),
            country=self.country_id.code or "",
            region=(self.region or "").strip(),
            included=self.price_include,
            collected_by_channel=self.collected_by_channel,
        )

    @api.constrains("tax_id", "state", "collected_by_channel")
    def _check_tax_accounts(self):
        """Never a tax without accounts: its collected tax would be booked as
        revenue. Rows listed by the migration keep their old tax until a
        person maps them (the import refuses them meanwhile)."""
        for mapping in self.filtered("tax_id"):
            if mapping.state == "to_review" and mapping.origin == "migrated":
                continue
            problem = mapping.tax_id._marketplace_booking_problem(
                mapping.collected_by_channel and mapping.backend_id
            )
            if problem:
                raise ValidationError(
                    _(
                        "%(tax)s cannot book %(channel)s: %(problem)s",
                        tax=mapping.tax_id.display_name,
                        channel=mapping.name,
                        problem=problem,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("tax_id") and "state" not in vals:
                vals["state"] = "confirmed"  # chosen by a person
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("tax_id") and "state" not in vals:
            # a person chose the tax: confirmed, and the row is theirs
            vals = dict(vals, state="confirmed", origin="manual", note=False)
        return super().write(vals)

    def action_confirm(self):
        for mapping in self:
            if not mapping.tax_id:
                raise ValidationError(
                    _("Choose the Odoo tax of %s first.", mapping.name)
                )
        self.write({"state": "confirmed"})
        self._check_tax_accounts()
