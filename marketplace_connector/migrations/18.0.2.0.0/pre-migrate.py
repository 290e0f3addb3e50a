# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""18.0.2.0.0: the core names no channel.

* ``marketplace_product_binding.inventory_item_id`` (Shopify's name) becomes
  ``channel_item_ref``, values kept: renamed before the ORM sees the model,
  so it neither creates an empty column nor loses the old one's data.
* Rate budgets are kept per operation family (one row per backend and
  family). A row is only the channel's last known bucket, rebuilt on the next
  call, so the old rows are deleted rather than guessed a family, and the
  constraint of one row per backend is dropped.

The Shopify credentials, shop domain, API version and import policy keep
their columns: ``marketplace_shopify`` declares those fields now.
"""

from odoo.tools.sql import column_exists, drop_index, rename_column, table_exists


def migrate(cr, version):
    table = "marketplace_product_binding"
    if column_exists(cr, table, "inventory_item_id") and not column_exists(
        cr, table, "channel_item_ref"
    ):
        rename_column(cr, table, "inventory_item_id", "channel_item_ref")
    if table_exists(cr, "marketplace_rate_budget"):
        cr.execute("DELETE FROM marketplace_rate_budget")
        cr.execute(
            "ALTER TABLE marketplace_rate_budget "
            "DROP CONSTRAINT IF EXISTS marketplace_rate_budget_backend_unique"
        )
        # the new constraint's index leads with backend_id
        drop_index(
            cr, "marketplace_rate_budget__backend_id_index", "marketplace_rate_budget"
        )
