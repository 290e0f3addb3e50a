# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Product <-> what a channel sells (its item id, SKU, stock reference)."""

from odoo import api, fields, models, tools


class MarketplaceProductBinding(models.Model):
    _name = "marketplace.product.binding"
    _description = "Marketplace Product Binding"
    _order = "backend_id, sku"
    _rec_name = "sku"

    # indexed by UNIQUE(backend_id, external_id)
    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    product_id = fields.Many2one(
        "product.product", required=True, ondelete="cascade", index=True
    )
    external_id = fields.Char(
        string="Channel Item ID",
        required=True,
        help="The channel's id of what is sold (a Shopify variant id, an "
        "Amazon seller SKU); order lines name it.",
    )
    sku = fields.Char(string="SKU")
    channel_item_ref = fields.Char(
        string="Channel Stock Reference",
        index=True,
        help="What the channel's stock is kept under (a Shopify inventory "
        "item id, an Amazon seller SKU): quantities are pushed and read for "
        "it. Without it the product's stock is not synchronised.",
    )

    active = fields.Boolean(
        default=True,
        help="Cleared when the channel deletes the variant: orders naming it "
        "still find the product, its stock is no longer synchronised.",
    )

    stock_policy_override = fields.Boolean(
        string="Own Stock Settings",
        help="Use the settings below instead of the backend's for this product.",
    )
    stock_share = fields.Float(string="Allocation Share", default=1.0, digits=(3, 2))
    stock_buffer_units = fields.Integer(string="Safety Buffer (units)")
    stock_buffer_percent = fields.Float(string="Safety Buffer (%)", digits=(5, 2))
    stock_max_quantity = fields.Integer(string="Maximum Shown", help="0 = no maximum")
    stock_level_ids = fields.One2many("marketplace.stock.level", "binding_id")

    _sql_constraints = [
        (
            "external_id_unique",
            "UNIQUE(backend_id, external_id)",
            "This channel variant is already bound.",
        ),
    ]

    @api.model
    @tools.ormcache("backend_id", "variant_id")
    def _product_id_of_variant(self, backend_id, variant_id):
        """The product bound to a channel variant (``False``: none), cached
        in every worker: each order line is looked up, and during a sale
        the same few hundred variants are sold again and again. Creating,
        changing or deleting a binding, or deleting a product (Odoo clears
        the caches then), clears it in every worker."""
        # an archived binding too: an order of a variant since deleted on
        # the channel is still ours, and the variant stays bound
        binding = (
            self.sudo()
            .with_context(active_test=False)
            .search(
                [("backend_id", "=", backend_id), ("external_id", "=", variant_id)],
                limit=1,
            )
        )
        return binding.product_id.id

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()
        return super().create(vals_list)

    def write(self, vals):
        if {"backend_id", "external_id", "product_id"} & set(vals):
            self.env.registry.clear_cache()
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()
