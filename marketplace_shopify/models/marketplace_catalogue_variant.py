# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""A variant of the shop as the last catalogue read (or product webhook)
saw it, and what became of it: bound to a product, or a mismatch waiting
for a person (no SKU, a SKU Odoo does not know, a SKU on several variants
of the shop or on several products) -- the reviewable list of *Import
catalogue*, with *Create product* and *Link product*."""

from odoo import _, api, fields, models
from odoo.exceptions import UserError

MISMATCH_STATES = ("no_sku", "unknown_sku", "duplicate_sku", "ambiguous_sku")


class MarketplaceCatalogueVariant(models.Model):
    _name = "marketplace.catalogue.variant"
    _description = "Marketplace Catalogue Variant"
    _order = "backend_id, state, sku, id"
    _rec_name = "title"

    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    variant_ref = fields.Char(string="Channel Variant ID", required=True)
    sku = fields.Char(string="SKU")
    title = fields.Char()
    inventory_item_ref = fields.Char(string="Inventory Item ID")
    state = fields.Selection(
        [
            ("bound", "Bound"),
            ("no_sku", "No SKU"),
            ("unknown_sku", "SKU unknown in Odoo"),
            ("duplicate_sku", "SKU on several variants"),
            ("ambiguous_sku", "SKU on several products"),
            ("deleted", "Deleted on the shop"),
        ],
        required=True,
        default="unknown_sku",
        index=True,
    )
    product_id = fields.Many2one(
        "product.product",
        help="The bound product; on a mismatch, the product to link with Link product.",
    )
    binding_id = fields.Many2one("marketplace.product.binding", ondelete="set null")
    seen_at = fields.Datetime(
        help="When the shop last showed this variant (catalogue read or "
        "product webhook)."
    )
    seen_run = fields.Integer(
        help="The catalogue import that last saw it (the backend counts "
        "its runs): a variant an import did not see is gone from the shop."
    )

    _sql_constraints = [
        (
            "variant_unique",
            "UNIQUE(backend_id, variant_ref)",
            "This shop variant is already listed.",
        ),
    ]

    # Actions

    def action_link_product(self):
        """Bind each variant to the product chosen on its line."""
        for row in self:
            if not row.product_id:
                raise UserError(
                    _(
                        "Choose the product to link to %(title)s first.",
                        title=row.title or row.variant_ref,
                    )
                )
        self._bind_rows({row: row.product_id for row in self})

    def action_create_product(self):
        """A storable product per variant (its SKU as Internal Reference
        when no other product or variant has it), bound at once."""
        products = {}
        for row in self:
            if row.state == "bound":
                continue
            vals = {
                "name": row.title or row.sku or row.variant_ref,
                "type": "consu",
                "is_storable": True,
                "company_id": row.backend_id.company_id.id or False,
            }
            if row.state in ("unknown_sku",) and row.sku:
                vals["default_code"] = row.sku
            products[row] = self.env["product.product"].create(vals)
        self._bind_rows(products)

    # Matching

    def _bind_rows(self, products):
        """Bind ``{row: product}``: the variant's binding created, or
        updated (product, SKU, inventory item, active again); the products
        queued for a push. New bindings are created in one go (a first
        import creates thousands)."""
        if not products:
            return
        bindings = self.env["marketplace.product.binding"].with_context(
            active_test=False
        )
        rows = self.browse([row.id for row in products])
        existing = {
            (binding.backend_id.id, binding.external_id): binding
            for binding in bindings.search(
                [
                    ("backend_id", "in", rows.backend_id.ids),
                    ("external_id", "in", rows.mapped("variant_ref")),
                ]
            )
        }
        new_rows, new_vals = [], []
        for row, product in products.items():
            vals = {
                "product_id": product.id,
                "sku": row.sku or False,
                "channel_item_ref": row.inventory_item_ref or False,
                "active": True,
            }
            binding = existing.get((row.backend_id.id, row.variant_ref))
            if binding:
                current = {
                    "product_id": binding.product_id.id,
                    "sku": binding.sku or False,
                    "channel_item_ref": binding.channel_item_ref or False,
                    "active": binding.active,
                }
                changed = {k: v for k, v in vals.items() if current[k] != v}
                if changed:
                    binding.write(changed)
                if row.binding_id != binding or row.state != "bound":
                    row.write(
                        {
                            "state": "bound",
                            "product_id": product.id,
                            "binding_id": binding.id,
                        }
                    )
            else:
                new_rows.append(row)
                new_vals.append(
                    {
                        **vals,
                        "backend_id": row.backend_id.id,
                        "external_id": row.variant_ref,
                    }
                )
        for row, binding in zip(new_rows, bindings.create(new_vals), strict=True):
            row.write(
                {
                    "state": "bound",
                    "product_id": binding.product_id.id,
                    "binding_id": binding.id,
                }
            )
        product_ids = sorted({product.id for product in products.values()})
        self.env["marketplace.stock.dirty"]._mark(product_ids, False)

    @api.model
    def _match(self, backend, rows):
        """Match ``rows`` (variants seen on the shop) to products: by their
        binding, else by SKU = Internal Reference when exactly one variant
        of the shop and one product have it; the others become mismatches."""
        rows = rows.filtered(lambda r: r.state != "deleted")
        if not rows:
            return
        bindings = (
            self.env["marketplace.product.binding"]
            .with_context(active_test=False)
            .search(
                [
                    ("backend_id", "=", backend.id),
                    ("external_id", "in", rows.mapped("variant_ref")),
                ]
            )
        )
        bound = {binding.external_id: binding for binding in bindings}
        skus = {row.sku for row in rows if row.sku and row.variant_ref not in bound}
        shared = self._skus_on_several_variants(backend, skus)
        products_by_sku = {}
        if skus - shared:
            found = self.env["product.product"].search(
                [
                    ("default_code", "in", sorted(skus - shared)),
                    ("company_id", "in", (backend.company_id.id, False)),
                ]
            )
            for product in found:
                products_by_sku.setdefault(product.default_code, []).append(product)
        to_bind = {}
        states = {}
        for row in rows:
            binding = bound.get(row.variant_ref)
            if binding:
                to_bind[row] = binding.product_id
            elif not row.sku:
                states.setdefault("no_sku", []).append(row.id)
            elif row.sku in shared:
                states.setdefault("duplicate_sku", []).append(row.id)
            elif len(products_by_sku.get(row.sku, ())) > 1:
                states.setdefault("ambiguous_sku", []).append(row.id)
            elif products_by_sku.get(row.sku):
                to_bind[row] = products_by_sku[row.sku][0]
            else:
                states.setdefault("unknown_sku", []).append(row.id)
        for state, ids in states.items():
            self.browse(ids).write(
                {"state": state, "binding_id": False, "product_id": False}
            )
        self._bind_rows(to_bind)

    def _skus_on_several_variants(self, backend, skus):
        """The SKUs among ``skus`` that several live variants of the shop
        carry."""
        if not skus:
            return set()
        self.flush_model(["backend_id", "sku", "state"])
        self.env.cr.execute(
            """
            SELECT sku FROM marketplace_catalogue_variant
             WHERE backend_id = %s AND sku = ANY(%s) AND state != 'deleted'
             GROUP BY sku HAVING count(*) > 1
            """,
            (backend.id, sorted(skus)),
        )
        return {row[0] for row in self.env.cr.fetchall()}

    @api.model
    def _record(self, backend, variants, seen_at, run):
        """Upsert the shop's ``variants`` (:class:`ShopVariant`) seen by
        catalogue import ``run``; the rows."""
        existing = self.search(
            [
                ("backend_id", "=", backend.id),
                ("variant_ref", "in", [v.variant_id for v in variants]),
            ]
        )
        by_ref = {row.variant_ref: row for row in existing}
        rows = existing
        new = []
        for variant in variants:
            vals = {
                "sku": variant.sku or False,
                "title": variant.title,
                "inventory_item_ref": variant.inventory_item_id or False,
                "seen_at": seen_at,
                "seen_run": run,
            }
            row = by_ref.get(variant.variant_id)
            if row:
                if row.state == "deleted":
                    vals["state"] = "unknown_sku"
                row.write(vals)
            else:
                new.append(
                    {
                        **vals,
                        "backend_id": backend.id,
                        "variant_ref": variant.variant_id,
                    }
                )
        if new:
            rows |= self.create(new)
        return rows

    def _mark_deleted(self):
        """The shop deleted these variants: their bindings are archived,
        their stock no longer synchronised (levels removed)."""
        bindings = self.binding_id | self.env["marketplace.product.binding"].search(
            [
                ("backend_id", "in", self.backend_id.ids),
                ("external_id", "in", self.mapped("variant_ref")),
            ]
        )
        bindings._archive_deleted_on_channel()
        self.write({"state": "deleted"})
