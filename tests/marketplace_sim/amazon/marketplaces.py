"""Marketplace ids (protocols doc) with the name, currency and country an
order placed there carries."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Marketplace:
    marketplace_id: str
    name: str
    currency: str
    country: str
    region: str  # NA | EU | FE: the SP-API host that serves it


MARKETPLACES = {
    m.marketplace_id: m
    for m in (
        Marketplace("ATVPDKIKX0DER", "Amazon.com", "USD", "US", "NA"),
        Marketplace("A2EUQ1WTGCTBG2", "Amazon.ca", "CAD", "CA", "NA"),
        Marketplace("A1AM78C64UM0Y8", "Amazon.com.mx", "MXN", "MX", "NA"),
        Marketplace("A1PA6795UKMFR9", "Amazon.de", "EUR", "DE", "EU"),
        Marketplace("A1F83G8C2ARO7P", "Amazon.co.uk", "GBP", "GB", "EU"),
        Marketplace("A13V1IB3VIYZZH", "Amazon.fr", "EUR", "FR", "EU"),
        Marketplace("APJ6JRA9NG5V4", "Amazon.it", "EUR", "IT", "EU"),
        Marketplace("A1RKKUPIHCS9HS", "Amazon.es", "EUR", "ES", "EU"),
        Marketplace("A1805IZSGTT6HS", "Amazon.nl", "EUR", "NL", "EU"),
        Marketplace("A1VC38T7YXB528", "Amazon.co.jp", "JPY", "JP", "FE"),
        Marketplace("A39IBJ37TRP1C6", "Amazon.com.au", "AUD", "AU", "FE"),
    )
}


def marketplace(marketplace_id):
    try:
        return MARKETPLACES[marketplace_id]
    except KeyError:
        raise ValueError(f"unknown marketplace id {marketplace_id!r}") from None
