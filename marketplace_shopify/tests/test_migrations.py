# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Upgrades of marketplace_connector bring an existing database to the
schema a fresh install has."""

import importlib.util
import os

from odoo.tests.common import TransactionCase, tagged
from odoo.tools.sql import create_index, index_exists

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
