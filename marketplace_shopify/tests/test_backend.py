# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Backend configuration: secrets for managers only, webhook URL, policy."""

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests.common import new_test_user

from .common import ACCESS_TOKEN, SECRET, SHOP, ShopifyCase, tagged


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

    def test_import_policy_is_validated(self):
        with self.assertRaises(ValidationError):
            self.backend.import_financial_states = "paid,bogus"

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
