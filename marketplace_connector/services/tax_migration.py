# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Taxes created on the fly by versions before 18.0.3.0.0, listed as tax
mappings *to review* (the migration of 18.0.3.0.0 calls this; see its
docstring)."""

import logging
from decimal import Decimal

from ..lib.tax_matching import ChannelTax, parse_legacy_name, percent

_logger = logging.getLogger(__name__)


def list_legacy_taxes(env):
    """Create a *to review* mapping for each tax an earlier version created
    for a backend (recognised by its name, ``FR TVA 20% incl. (shopify)``,
    in the backend's company), unless the backend maps that channel tax
    already. Archived taxes count too: nothing is lost.

    :return: the mappings created
    """
    mappings = env["marketplace.tax.mapping"]
    for backend in (
        env["marketplace.backend"].with_context(active_test=False).search([])
    ):
        suffix = f"({backend.marketplace_type})"
        taxes = (
            env["account.tax"]
            .with_context(active_test=False)
            .search(
                [
                    ("company_id", "=", backend.company_id.id),
                    ("type_tax_use", "=", "sale"),
                    ("name", "=like", f"%{suffix}"),
                ]
            )
        )
        known = set(
            env["marketplace.tax.mapping"]
            .search([("backend_id", "=", backend.id)])
            .mapped("channel_key")
        )
        for tax in taxes:
            parsed = parse_legacy_name(tax.name, backend.marketplace_type)
            if not parsed:
                continue
            title, included = parsed
            channel = ChannelTax(
                title=title,
                rate=percent(Decimal(str(tax.amount)) / 100),
                included=included,
            )
            if channel.key in known:
                continue
            known.add(channel.key)
            mappings |= env["marketplace.tax.mapping"].create(
                {
                    "backend_id": backend.id,
                    "name": title,
                    "rate": tax.amount,
                    "price_include": included,
                    "tax_id": tax.id,
                    "state": "to_review",
                    "origin": "migrated",
                    "note": f"{tax.name}: created on the fly by an earlier "
                    f"version; map the channel tax to a tax with accounts",
                }
            )
    _logger.info("Listed %s tax(es) created on the fly for review", len(mappings))
    return mappings
