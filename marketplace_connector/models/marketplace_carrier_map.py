# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Our carriers as a channel names them (Amazon's carrier codes, the
company names Shopify recognises): a shipment names the channel's carrier,
so that the customer gets a tracking link."""

from odoo import fields, models


class MarketplaceCarrierMap(models.Model):
    _name = "marketplace.carrier.map"
    _description = "Marketplace Carrier Mapping"

    backend_id = fields.Many2one(
        "marketplace.backend", required=True, ondelete="cascade", index=True
    )
    carrier_id = fields.Many2one("delivery.carrier", required=True, ondelete="cascade")
    code = fields.Char(
        required=True, help="The channel's code of this carrier, e.g. UPS, USPS."
    )
    name = fields.Char(help="The name sent with it, when the channel wants one.")

    _sql_constraints = [
        (
            "carrier_unique",
            "UNIQUE(backend_id, carrier_id)",
            "A carrier is mapped once per backend.",
        ),
    ]
