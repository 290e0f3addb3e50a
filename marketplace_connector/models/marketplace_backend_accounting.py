# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A backend's taxes and accounting: how channel taxes map to Odoo taxes
(``marketplace.tax.mapping``), what happens to a tax with no mapping, where
marketplace-collected taxes go, and whether paid orders are invoiced and
their payments registered."""

from odoo import _, api, fields, models

POLICY_STOP = "stop"
POLICY_TEMPLATE = "template"


class MarketplaceBackend(models.Model):
    _inherit = "marketplace.backend"

    tax_mapping_ids = fields.One2many("marketplace.tax.mapping", "backend_id")
    tax_mapping_count = fields.Integer(compute="_compute_tax_mapping_count")
    tax_review_count = fields.Integer(compute="_compute_tax_mapping_count")
    unmapped_tax_policy = fields.Selection(
        [
            (POLICY_STOP, "Stop the order until the tax is mapped"),
            (POLICY_TEMPLATE, "Create the tax from the template tax"),
        ],
        default=POLICY_STOP,
        required=True,
        help="A channel tax with no mapping and no single matching tax of the "
        "company: stop its order (its event fails naming the tax; map it, "
        "then Retry), or create the tax from the template tax (its accounts, "
        "tax group and country), mapped for review.",
    )
    tax_template_id = fields.Many2one(
        "account.tax",
        "Template tax",
        check_company=True,
        domain="[('type_tax_use', '=', 'sale'), ('amount_type', '=', 'percent')]",
        help="Copied for a channel tax without a mapping when the policy says "
        "so: its distribution (accounts), tax group and country.",
    )
    collected_tax_account_id = fields.Many2one(
        "account.account",
        "Clearing account for marketplace-collected taxes",
        check_company=True,
        help="Taxes the marketplace collects and remits itself post here, "
        "not on a tax we owe; the marketplace's payout, net of them, "
        "clears it.",
    )
    invoice_paid_orders = fields.Boolean(
        help="Post the invoice of each paid order and register its payment.",
    )
    invoice_journal_id = fields.Many2one(
        "account.journal",
        "Invoice journal",
        check_company=True,
        domain="[('type', '=', 'sale')]",
        help="Empty: the company's default sales journal.",
    )
    payment_journal_id = fields.Many2one(
        "account.journal",
        "Payment journal",
        check_company=True,
        domain="[('type', 'in', ('bank', 'cash'))]",
        help="Where payments of paid orders are registered, unless their "
        "payment gateway has a journal of its own.",
    )
    payment_journal_ids = fields.One2many(
        "marketplace.payment.journal", "backend_id", "Journals per gateway"
    )

    @api.depends("tax_mapping_ids.state")
    def _compute_tax_mapping_count(self):
        for backend in self:
            backend.tax_mapping_count = len(backend.tax_mapping_ids)
            backend.tax_review_count = len(
                backend.tax_mapping_ids.filtered(lambda m: m.state != "confirmed")
            )

    def _payment_journal(self, gateway):
        """The journal of a payment through ``gateway`` (may be empty)."""
        self.ensure_one()
        by_gateway = self.payment_journal_ids.filtered(
            lambda row: row.gateway == (gateway or "")
        )
        return by_gateway.journal_id[:1] or self.payment_journal_id

    def action_view_tax_mappings(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "marketplace_connector.action_marketplace_tax_mapping"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        action["context"] = {"default_backend_id": self.id}
        action["name"] = _("Tax mappings of %s", self.name)
        return action
