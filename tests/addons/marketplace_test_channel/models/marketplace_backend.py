# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The test channel's backend fields: one credential pair and the channel's
abilities, switchable per test (compare-and-set or last-write-wins,
synchronous or asynchronous writes, webhooks or a queue)."""

from odoo import fields, models

from odoo.addons.marketplace_connector.models.marketplace_backend import MANAGER_GROUP

TEST_CREDENTIALS = {
    "test_api_key": "test_api_key_encrypted",
    "test_webhook_secret": "test_webhook_secret_encrypted",
}


class MarketplaceBackend(models.Model):
    _inherit = "marketplace.backend"

    marketplace_type = fields.Selection(
        selection_add=[("test_channel", "Test channel")],
        ondelete={"test_channel": "cascade"},
    )
    test_api_key_encrypted = fields.Char(groups=MANAGER_GROUP, copy=False)
    test_webhook_secret_encrypted = fields.Char(groups=MANAGER_GROUP, copy=False)
    test_api_key = fields.Char(
        compute="_compute_credentials",
        inverse="_inverse_credentials",
        groups=MANAGER_GROUP,
    )
    test_webhook_secret = fields.Char(
        compute="_compute_credentials",
        inverse="_inverse_credentials",
        groups=MANAGER_GROUP,
    )
    test_compare_and_set = fields.Boolean(default=True)
    test_asynchronous = fields.Boolean()
    test_import_unpaid = fields.Boolean()
    test_hold_unpaid = fields.Boolean()

    def _credential_fields(self):
        return {**super()._credential_fields(), **TEST_CREDENTIALS}

    def _get_adapter_settings(self):
        settings = super()._get_adapter_settings()
        if self.marketplace_type == "test_channel":
            settings.update(
                compare_and_set=self.test_compare_and_set,
                asynchronous=self.test_asynchronous,
                import_unpaid=self.test_import_unpaid,
                hold_unpaid=self.test_hold_unpaid,
            )
        return settings
