# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Backend configuration: secrets for managers only, webhook URL, policy."""

import importlib.util
import os

from odoo.exceptions import AccessError, UserError
from odoo.tests.common import new_test_user
from odoo.tools.sql import column_exists

import odoo.addons.marketplace_shopify as shopify_addon

from ..lib.mapping import FINANCIAL_STATES
from .common import ACCESS_TOKEN, SECRET, SHOP, ShopifyCase, tagged


def load_migration(version, name):
    path = os.path.join(
        os.path.dirname(shopify_addon.__file__), "migrations", version, f"{name}.py"
    )
    spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestBackend(ShopifyCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesman = new_test_user(
            cls.env, login="mkt-salesman", groups="sales_team.group_sale_salesman"
        )
        cls.manager = new_test_user(
            cls.env,
            login="mkt-manager",
            groups="sales_team.group_sale_salesman,"
            "marketplace_connector.group_marketplace_manager",
        )

    def test_manager_reads_and_sets_secrets(self):
        backend = self.backend.with_user(self.manager)
        self.assertEqual(backend.access_token, ACCESS_TOKEN)
        self.assertEqual(backend.webhook_secret, SECRET)
        backend.webhook_secret = "whsec-rotated"
        self.assertEqual(
            backend._get_backend_config().credential("webhook_secret"), "whsec-rotated"
        )

    def test_user_sees_status_but_not_secrets(self):
        backend = self.backend.with_user(self.salesman)
        self.assertEqual(backend.name, "Acme Shopify")
        for field in (
            "access_token",
            "webhook_secret",
            "access_token_encrypted",
            "webhook_url",
        ):
            with self.assertRaises(AccessError):
                backend.read([field])
        with self.assertRaises(AccessError):
            backend.write({"name": "renamed"})

    def test_webhook_url_carries_an_unguessable_token(self):
        url = self.backend.webhook_url
        token = self.backend.webhook_token
        self.assertTrue(url.endswith(f"/marketplace/webhook/{token}"))
        self.assertGreaterEqual(len(token), 40)
        other = self.backend.copy({"name": "Copy"})
        self.assertNotEqual(other.webhook_token, token)
        self.backend.action_regenerate_webhook_token()
        self.assertNotEqual(self.backend.webhook_token, token)

    def test_import_policy_is_a_choice_of_shopify_states(self):
        states = self.env["marketplace.shopify.financial.state"].search([])
        self.assertEqual(set(states.mapped("code")), set(FINANCIAL_STATES))
        self.assertEqual(
            set(self.backend._get_adapter_settings()["import_financial_states"]),
            {"paid", "partially_paid", "authorized"},
            "a new backend imports paid and authorised orders",
        )
        self.backend.import_financial_state_ids = states.filtered(
            lambda s: s.code == "paid"
        )
        settings = self.backend._get_adapter_settings()
        self.assertEqual(settings["import_financial_states"], ("paid",))
        adapter = self.backend._get_adapter()
        for status, importable in (("authorized", False), ("paid", True)):
            payload = self.sim.create_order(
                lines=[("MUG-BLUE", 1)], financial_status=status, notify=False
            )
            order = adapter.parse_order(payload)
            self.assertEqual(adapter.importable(order), importable, status)
        with self.assertRaises(AccessError):
            states.with_user(self.manager).write({"code": "bogus"})

    def test_3_0_0_migration_keeps_the_states_a_database_held(self):
        """A 2.x database holds the states as text; the migration makes them
        the backend's choice (unknown names dropped) and drops the column."""
        migration = load_migration("18.0.3.0.0", "post-migrate")
        cr = self.env.cr
        other = self.backend.copy({"name": "Empty policy"})
        cr.execute(
            "ALTER TABLE marketplace_backend ADD COLUMN import_financial_states varchar"
        )
        cr.execute(
            "UPDATE marketplace_backend SET import_financial_states = %s WHERE id = %s",
            ("paid, pending,bogus", self.backend.id),
        )
        cr.execute(
            "UPDATE marketplace_backend SET import_financial_states = NULL "
            "WHERE id = %s",
            (other.id,),
        )
        migration.migrate(cr, "18.0.2.0.0")
        self.env.invalidate_all()
        self.assertEqual(
            set(self.backend.import_financial_state_ids.mapped("code")),
            {"paid", "pending"},
        )
        self.assertFalse(other.import_financial_state_ids, "nothing imported before")
        self.assertFalse(
            column_exists(cr, "marketplace_backend", "import_financial_states")
        )

    def test_test_connection(self):
        action = self.backend.action_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn(SHOP, action["params"]["message"])
        self.backend.access_token = "shpat_revoked"
        with self.assertRaisesRegex(UserError, "access token"):
            self.backend.action_test_connection()

    def test_the_form_shows_shopify_fields_only_to_shopify_backends(self):
        arch = self.env["marketplace.backend"].get_view(view_type="form")["arch"]
        for field in ("shop_domain", "access_token", "webhook_secret"):
            self.assertRegex(
                arch,
                rf'name="{field}"[^>]*invisible="marketplace_type != \'shopify\'"',
            )
