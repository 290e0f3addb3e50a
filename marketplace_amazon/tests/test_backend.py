# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The Amazon backend: its form, its credentials kept encrypted, the
connection check against the seller's account and queue, and the crons
that serve it."""

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form

from .common import REFRESH_TOKEN, SELLER_ID, AmazonCase, tagged


@tagged("post_install", "-at_install")
class TestBackend(AmazonCase):
    def test_connection_check_names_the_seller_its_listings_and_queue(self):
        action = self.backend.action_test_connection()
        message = action["params"]["message"]
        self.assertIn(f"seller {SELLER_ID} (ATVPDKIKX0DER)", message)
        self.assertIn("3 listing(s)", message)
        self.assertIn("arn:aws:sqs:", message)
        self.assertEqual(self.calls("lwa:token"), 1)

    def test_connection_check_with_wrong_app_credentials_says_what_to_fix(self):
        self.backend.lwa_client_secret = "not-the-secret"
        with self.assertRaises(UserError) as raised:
            self.backend.action_test_connection()
        self.assertIn("invalid_client", str(raised.exception))
        self.assertIn("client secret", str(raised.exception))

    def test_credentials_are_stored_encrypted(self):
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT lwa_refresh_token_encrypted FROM marketplace_backend WHERE id = %s",
            (self.backend.id,),
        )
        stored = self.env.cr.fetchone()[0]
        self.assertTrue(stored)
        self.assertNotIn(REFRESH_TOKEN, stored)
        self.assertEqual(self.backend.lwa_refresh_token, REFRESH_TOKEN)
        config = self.backend._get_backend_config()
        self.assertEqual(config.credential("lwa_refresh_token"), REFRESH_TOKEN)
        self.assertEqual(config.setting("marketplace_ids"), ["ATVPDKIKX0DER"])
        self.assertEqual(config.setting("sqs_queue_url"), self.sim.queue_url)

    def test_form_defaults_the_api_host_to_the_region(self):
        form = Form(self.env["marketplace.backend"])
        form.name = "Amazon EU"
        form.marketplace_type = "amazon"
        self.assertEqual(form.api_url, "https://sellingpartnerapi-na.amazon.com")
        form.amazon_region = "eu"
        self.assertEqual(form.api_url, "https://sellingpartnerapi-eu.amazon.com")
        form.api_url = "http://127.0.0.1:8072"
        form.amazon_region = "fe"
        self.assertEqual(form.api_url, "http://127.0.0.1:8072", "an own URL stays")

    def test_at_most_fifty_marketplaces(self):
        with self.assertRaises(ValidationError):
            self.backend.amazon_marketplace_ids = ",".join(
                f"MKT{number}" for number in range(51)
            )

    def test_crons_pull_the_queue_and_poll(self):
        self.env["marketplace.backend"]._cron_pull_events()
        self.env["marketplace.backend"]._cron_poll_orders()
        self.assertIn(self.backend, self.pending_jobs("_job_pull_events").records)
        self.assertIn(self.backend, self.pending_jobs("_job_poll_orders").records)
