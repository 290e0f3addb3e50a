# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""What an Amazon backend adds to the core's: the seller, its region and
marketplaces, the Login with Amazon credentials, and the SQS queue its
ORDER_CHANGE notifications arrive on."""

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.marketplace_connector.models.marketplace_backend import (
    MANAGER_GROUP,
    get_secret_box,
)
from odoo.addons.marketplace_connector.services.token_store import DatabaseTokenStore

from ..lib.client import REGION_HOSTS

AMAZON_CREDENTIALS = {
    "lwa_client_id": "lwa_client_id_encrypted",
    "lwa_client_secret": "lwa_client_secret_encrypted",
    "lwa_refresh_token": "lwa_refresh_token_encrypted",
    "aws_access_key_id": "aws_access_key_id_encrypted",
    "aws_secret_access_key": "aws_secret_access_key_encrypted",
}
REGIONS = [
    ("na", "North America (US, CA, MX, BR)"),
    ("eu", "Europe (UK, DE, FR, IT, ES, NL, PL, SE, TR, AE, SA, EG, IN, ZA)"),
    ("fe", "Far East (JP, AU, SG)"),
]


def _secret(help_text=None):
    return fields.Char(
        compute="_compute_credentials",
        inverse="_inverse_credentials",
        groups=MANAGER_GROUP,
        help=help_text,
    )


class MarketplaceBackend(models.Model):
    _inherit = "marketplace.backend"

    marketplace_type = fields.Selection(
        selection_add=[("amazon", "Amazon")],
        ondelete={"amazon": "cascade"},
    )
    amazon_region = fields.Selection(REGIONS, string="Amazon Region", default="na")
    amazon_seller_id = fields.Char(
        string="Seller ID", help="Your merchant token (Seller Central > Settings)."
    )
    amazon_marketplace_ids = fields.Char(
        string="Marketplace IDs",
        help="Comma-separated, e.g. ATVPDKIKX0DER (US), A2EUQ1WTGCTBG2 (CA).",
    )
    amazon_sqs_queue_url = fields.Char(
        string="SQS Queue URL",
        help="The queue your ORDER_CHANGE subscription delivers to.",
    )
    amazon_sqs_region = fields.Char(string="SQS Region", default="us-east-1")
    amazon_sqs_endpoint_url = fields.Char(
        string="SQS Endpoint",
        help="Leave empty for AWS; set only to reach another endpoint.",
    )
    amazon_lwa_url = fields.Char(
        string="Login with Amazon URL",
        help="Leave empty for https://api.amazon.com/auth/o2/token.",
    )
    amazon_patch_threshold = fields.Integer(
        string="Patch up to",
        default=10,
        help="Up to this many changed SKUs are written one PATCH each (5 per "
        "second); more go as one feed (up to 25,000, a few minutes).",
    )
    lwa_client_id_encrypted = fields.Char(groups=MANAGER_GROUP, copy=False)
    lwa_client_secret_encrypted = fields.Char(groups=MANAGER_GROUP, copy=False)
    lwa_refresh_token_encrypted = fields.Char(groups=MANAGER_GROUP, copy=False)
    aws_access_key_id_encrypted = fields.Char(groups=MANAGER_GROUP, copy=False)
    aws_secret_access_key_encrypted = fields.Char(groups=MANAGER_GROUP, copy=False)
    lwa_client_id = _secret("The LWA client id of your SP-API application.")
    lwa_client_secret = _secret()
    lwa_refresh_token = _secret(
        "Given when the seller authorises your application; authorise again "
        "when Amazon refuses it (invalid_grant)."
    )
    aws_access_key_id = _secret(
        "For the SQS queue; leave empty to use the server's AWS credentials."
    )
    aws_secret_access_key = _secret()

    def _credential_fields(self):
        return {**super()._credential_fields(), **AMAZON_CREDENTIALS}

    def _amazon_marketplace_id_list(self):
        return [
            m.strip()
            for m in (self.amazon_marketplace_ids or "").split(",")
            if m.strip()
        ]

    def _get_adapter_settings(self):
        settings = super()._get_adapter_settings()
        if self.marketplace_type == "amazon":
            settings.update(
                region=self.amazon_region or "na",
                seller_id=self.amazon_seller_id or "",
                marketplace_ids=self._amazon_marketplace_id_list(),
                sqs_queue_url=self.amazon_sqs_queue_url or "",
                sqs_region=self.amazon_sqs_region or "us-east-1",
                sqs_endpoint_url=self.amazon_sqs_endpoint_url or "",
                lwa_url=self.amazon_lwa_url or "",
                patch_threshold=self.amazon_patch_threshold or 10,
            )
        return settings

    def _get_adapter_options(self):
        options = super()._get_adapter_options()
        if self.marketplace_type == "amazon":
            # one LWA token per backend for every worker, refreshed before
            # it expires
            options["token_store"] = DatabaseTokenStore(
                self.env, self.id, get_secret_box()
            )
        return options

    @api.constrains("marketplace_type", "amazon_marketplace_ids")
    def _check_amazon_marketplaces(self):
        for backend in self.filtered(lambda b: b.marketplace_type == "amazon"):
            if len(backend._amazon_marketplace_id_list()) > 50:
                raise ValidationError(_("Amazon takes at most 50 marketplace ids."))

    @api.onchange("marketplace_type", "amazon_region")
    def _onchange_amazon_defaults(self):
        for backend in self.filtered(lambda b: b.marketplace_type == "amazon"):
            host = REGION_HOSTS.get(backend.amazon_region or "na")
            if host and (not backend.api_url or "sellingpartnerapi" in backend.api_url):
                backend.api_url = host
