# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Every addon ships a current translation template: a user-facing string
added or changed without ``tools/export_pot.py`` fails here."""

import importlib.util
import os

from odoo.tests.common import TransactionCase, tagged

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _exporter():
    path = os.path.join(ROOT, "tools", "export_pot.py")
    spec = importlib.util.spec_from_file_location("export_pot", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestTranslations(TransactionCase):
    def test_translation_templates_are_current(self):
        exporter = _exporter()
        installed = self.env["ir.module.module"].search(
            [("name", "in", exporter.ADDONS), ("state", "=", "installed")]
        )
        self.assertTrue(installed)
        for addon in installed.mapped("name"):
            path = os.path.join(ROOT, addon, "i18n", f"{addon}.pot")
            self.assertTrue(os.path.exists(path), f"{path} is missing")
            with open(path, encoding="utf-8") as pot:
                shipped = exporter.strip_dates(pot.read())
            self.assertEqual(
                exporter.pot_of(self.env.cr, addon),
                shipped,
                f"{addon}/i18n/{addon}.pot is stale: run tools/export_pot.py "
                f"--config var/odoo-test.conf --database marketplace_test",
            )
