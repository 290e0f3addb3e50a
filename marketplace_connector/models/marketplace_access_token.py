# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Short-lived access tokens a channel's login hands out (Amazon's LWA
tokens last an hour), one per backend, shared by every worker and process:
logging in once an hour instead of once per job. Encrypted like every
credential, written through a connection of its own (see
``services/token_store.py``)."""

from odoo import fields, models

from .marketplace_backend import MANAGER_GROUP


class MarketplaceAccessToken(models.Model):
    _name = "marketplace.access.token"
    _description = "Marketplace Access Token"
    _log_access = False

    backend_id = fields.Integer(required=True)
    token_encrypted = fields.Char(required=True, groups=MANAGER_GROUP)
    expires_at = fields.Float(
        required=True, help="Unix time after which the channel refuses it."
    )

    _sql_constraints = [
        ("backend_unique", "UNIQUE(backend_id)", "One access token per backend."),
    ]
