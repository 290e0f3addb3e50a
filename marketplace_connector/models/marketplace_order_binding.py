# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Sale order <-> external order, and the state of that order we applied.

The binding exists from the first event of an order on, even before (or
without) a sale order: it remembers the newest ``updated_at`` applied, so an
older delivery arriving late never overwrites a newer state, and an order
cancelled before import is not created by a late ``orders/create``.
"""

from odoo import fields, models

SYNC_STATES = [
    ("pending", "Not imported"),
    ("synced", "Synced"),
    ("attention", "Needs attention"),
    ("error", "Error"),
]


class MarketplaceOrderBinding(models.Model):
    _name = "marketplace.order.binding"
    _description = "Marketplace Order Binding"
    _order = "id desc"
    _rec_name = "external_name"

    # no index of its own: UNIQUE(backend_id, external_id) leads with it. A
    # second one misled the planner during a sale (statistics lagging the
    # table): pushes looked orders up through it, reading every binding of
    # the backend for each order waiting in the inbox
    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="restrict"
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    order_id = fields.Many2one(
        "sale.order", string="Sale Order", ondelete="set null", index="btree_not_null"
    )
    external_id = fields.Char(required=True)
    external_name = fields.Char()
    external_updated_at = fields.Datetime(
        string="Applied Updated At", help="updated_at of the newest state applied."
    )
    state_digest = fields.Char(help="Digest of the newest state applied.")
    lines_signature = fields.Char()
    financial_status = fields.Char()
    marketplace = fields.Char(
        help="The channel's marketplace of the order, within one account "
        "(e.g. an Amazon marketplace id)."
    )
    sync_state = fields.Selection(SYNC_STATES, default="pending", required=True)
    sync_message = fields.Text(help="What the last import did, or why it stopped.")

    _sql_constraints = [
        (
            "external_id_unique",
            "UNIQUE(backend_id, external_id)",
            "This external order is already bound.",
        ),
    ]
