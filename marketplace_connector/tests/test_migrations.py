# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Upgrades of marketplace_connector bring an existing database to the
schema a fresh install has."""

import importlib.util
import os

from odoo.tests.common import TransactionCase, tagged
from odoo.tools.sql import column_exists, create_index, index_exists

import odoo.addons.marketplace_connector as connector


def load_migration(version, name):
    path = os.path.join(
        os.path.dirname(connector.__file__), "migrations", version, f"{name}.py"
    )
    spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestMigrations(TransactionCase):
    def test_1_1_0_drops_the_indexes_a_unique_constraint_covers(self):
        migration = load_migration("18.0.1.1.0", "post-migrate")
        cr = self.env.cr
        for table, columns in migration.DROPPED.items():
            for column in columns:
                name = f"{table}__{column}_index"
                self.assertFalse(index_exists(cr, name), "a fresh install has none")
                create_index(cr, name, table, [f'"{column}"'])  # as 1.0.0 had
        migration.migrate(cr, "18.0.1.0.0")
        for table, columns in migration.DROPPED.items():
            for column in columns:
                self.assertFalse(index_exists(cr, f"{table}__{column}_index"))
        # what the constraints index stays
        self.assertTrue(
            index_exists(cr, "marketplace_order_binding_external_id_unique")
        )
        self.assertTrue(index_exists(cr, "marketplace_event_dedupe_key_unique"))

    def test_2_0_0_keeps_the_stock_references_of_bindings(self):
        """A 1.x database has Shopify's column name; the migration renames it
        before the ORM sees the model, values kept, and leaves the budgets
        keyed by family."""
        migration = load_migration("18.0.2.0.0", "pre-migrate")
        cr = self.env.cr
        backend = self.env["marketplace.backend"].create(
            {"name": "Migrated", "marketplace_type": "test_channel"}
        )
        product = self.env["product.product"].create({"name": "Migrated mug"})
        binding = self.env["marketplace.product.binding"].create(
            {
                "backend_id": backend.id,
                "product_id": product.id,
                "external_id": "migrated-variant",
                "channel_item_ref": "4711",
            }
        )
        binding.flush_recordset()
        # the schema of 18.0.1.x
        cr.execute(
            "ALTER TABLE marketplace_product_binding "
            "RENAME COLUMN channel_item_ref TO inventory_item_id"
        )
        # budgets other tests committed (several families per backend)
        cr.execute("DELETE FROM marketplace_rate_budget")
        cr.execute(
            "ALTER TABLE marketplace_rate_budget "
            "DROP CONSTRAINT marketplace_rate_budget_backend_family_unique"
        )
        cr.execute(
            "ALTER TABLE marketplace_rate_budget ADD CONSTRAINT "
            "marketplace_rate_budget_backend_unique UNIQUE (backend_id)"
        )
        cr.execute(
            "INSERT INTO marketplace_rate_budget (backend_id, family, available, "
            "maximum, restore_rate, updated_at) "
            "VALUES (%s, 'default', 5, 2000, 100, now())",
            (backend.id,),
        )
        migration.migrate(cr, "18.0.1.1.0")
        cr.execute(
            "SELECT channel_item_ref FROM marketplace_product_binding WHERE id = %s",
            (binding.id,),
        )
        self.assertEqual(cr.fetchone()[0], "4711")
        self.assertFalse(
            column_exists(cr, "marketplace_product_binding", "inventory_item_id")
        )
        cr.execute("SELECT count(*) FROM marketplace_rate_budget")
        self.assertEqual(cr.fetchone()[0], 0, "rebuilt on the next call")
        cr.execute(
            "SELECT 1 FROM pg_constraint "
            "WHERE conname = 'marketplace_rate_budget_backend_unique'"
        )
        self.assertFalse(cr.fetchone())
        # the model's own constraint back, as the upgrade's ORM step does
        cr.execute(
            "ALTER TABLE marketplace_rate_budget ADD CONSTRAINT "
            "marketplace_rate_budget_backend_family_unique UNIQUE (backend_id, family)"
        )
        self.env.invalidate_all()
        self.assertEqual(binding.channel_item_ref, "4711")
