# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The Odoo taxes of an order's lines, through the backend's tax mappings.

For each channel tax of a line (:class:`~..lib.tax_matching.ChannelTax`:
title, rate, country, region, price inclusion, collected by the
marketplace or not):

1. its ``marketplace.tax.mapping`` row, when there is one: its tax must post
   on accounts (and, for a marketplace-collected tax, on the backend's
   clearing account); otherwise the order stops naming the row to fix;
2. otherwise the company's tax :func:`~..lib.tax_matching.propose` finds,
   recorded as a *proposed* mapping for a person to confirm;
3. otherwise the backend's policy: *stop* (the default) fails the order's
   event with a message that names the tax to map -- map it, then Retry the
   event -- or *template*: a copy of the backend's template tax (its
   distribution accounts, tax group and country) at the channel's rate,
   mapped *to review*.

No tax is ever created without accounts, and none is taken by its rate
alone.
"""

from decimal import Decimal

import psycopg2

from odoo import Command

from ..lib.errors import DataError, RetryableError
from ..lib.tax_matching import Candidate, channel_tax, mapping_keys, propose

MAPPINGS_MENU = "Marketplaces > Configuration > Tax mappings"
#: ``marketplace.backend.unmapped_tax_policy``: copy the template tax
POLICY_TEMPLATE = "template"


class OrderTaxes:
    def __init__(self, backend, env):
        self.backend = backend
        self.env = env
        self.company = backend.company_id
        #: channel tax key -> account.tax, for one import (a savepoint that
        #: rolls back restores it: see ``OrderImporter.savepoint``)
        self.cache = {}

    def of(self, tax_rates, order):
        """The Odoo taxes of a line's ``tax_rates`` (zero rates skipped)."""
        country = (
            order.shipping_address.country_code or order.billing_address.country_code
        )
        taxes = self.env["account.tax"]
        for tax_rate in tax_rates:
            if tax_rate.rate:
                taxes |= self.tax(channel_tax(tax_rate, order.taxes_included, country))
        return taxes

    def tax(self, channel):
        """The Odoo tax of one :class:`ChannelTax`; raises ``DataError``
        when the order must wait for a person."""
        if channel.key not in self.cache:
            mapping = self._mapping(channel)
            if mapping:
                tax = self._mapped_tax(mapping, channel)
            else:
                tax, reason = self._proposed_tax(channel)
                tax = tax or self._unmapped(channel, reason)
            self.cache[channel.key] = tax
        return self.cache[channel.key]

    # Mappings

    def _mapping(self, channel):
        """The mapping row of ``channel``: its own, else one for its whole
        country (no region), else one for any country."""
        keys = mapping_keys(channel)
        rows = self.env["marketplace.tax.mapping"].search(
            [("backend_id", "=", self.backend.id), ("channel_key", "in", keys)]
        )
        for key in keys:
            row = rows.filtered(lambda r, k=key: r.channel_key == k)[:1]
            if row:
                return row
        return rows

    def _mapped_tax(self, mapping, channel):
        tax = mapping.tax_id
        problem = (
            tax._marketplace_booking_problem(
                channel.collected_by_channel and self.backend
            )
            if tax
            else "no Odoo tax is chosen"
        )
        if problem:
            raise DataError(
                f"The tax mapping of {channel.label} cannot be used: {problem}. "
                f"Choose its Odoo tax in {MAPPINGS_MENU} ({self.backend.name}), "
                f"then Retry."
            )
        return tax

    def _candidates(self, channel):
        clearing = self.backend.collected_tax_account_id
        taxes = (
            self.env["account.tax"]
            .with_context(active_test=True)
            .search(
                [
                    ("company_id", "=", self.company.id),
                    ("type_tax_use", "=", "sale"),
                    ("amount_type", "=", "percent"),
                    ("amount", ">=", float(channel.rate) - 0.00005),
                    ("amount", "<=", float(channel.rate) + 0.00005),
                ]
            )
        )
        candidates = []
        for tax in taxes:
            lines = tax._marketplace_tax_lines()
            candidates.append(
                Candidate(
                    id=tax.id,
                    name=tax.name,
                    amount=Decimal(str(tax.amount)),
                    price_include=tax.price_include,
                    country=tax.country_id.code or "",
                    group_name=tax.tax_group_id.name or "",
                    has_accounts=bool(lines) and all(line.account_id for line in lines),
                    on_clearing_account=bool(clearing)
                    and bool(lines)
                    and lines.account_id == clearing,
                )
            )
        return candidates

    def _proposed_tax(self, channel):
        """``(tax, reason)``: the company's one fitting tax, mapped as
        *proposed*; no tax, and why, when there is none."""
        match, reason = propose(channel, self._candidates(channel))
        if not match:
            return self.env["account.tax"], reason
        tax = self.env["account.tax"].browse(match.id)
        self._create_mapping(channel, tax, "proposed", "matched", match.name, reason)
        return tax, reason

    def _unmapped(self, channel, reason):
        if self.backend.unmapped_tax_policy == POLICY_TEMPLATE:
            return self._from_template(channel)
        raise DataError(
            f"No Odoo tax is mapped to the channel tax {channel.label} ({reason}). "
            f"Map it in {MAPPINGS_MENU} ({self.backend.name}), then Retry."
        )

    def _from_template(self, channel):
        template = self.backend.tax_template_id
        if not template:
            raise DataError(
                f"No Odoo tax is mapped to {channel.label} and the backend "
                f"{self.backend.name} names no template tax: set one on its "
                f"Taxes and accounting tab, or map the tax in {MAPPINGS_MENU}, "
                f"then Retry."
            )
        if channel.collected_by_channel and not self.backend.collected_tax_account_id:
            raise DataError(
                f"{channel.label} is collected by the marketplace: set the "
                f"clearing account for marketplace-collected taxes on "
                f"{self.backend.name}, then Retry."
            )
        tax = template.copy(self._template_vals(channel, template))
        if channel.collected_by_channel:
            tax._marketplace_tax_lines().account_id = (
                self.backend.collected_tax_account_id
            )
        problem = tax._marketplace_booking_problem(
            channel.collected_by_channel and self.backend
        )
        if problem:
            raise DataError(
                f"The template tax {template.display_name} cannot book "
                f"{channel.label}: {problem}."
            )
        self._create_mapping(
            channel,
            tax,
            "to_review",
            "template",
            tax.name,
            reason=f"created from {template.name}",
        )
        return tax

    def _template_vals(self, channel, template):
        name = f"{channel.title} {channel.rate.normalize():f}%"
        if channel.included:
            name += " incl."
        if channel.collected_by_channel:
            name += " (collected by marketplace)"
        if channel.country and channel.country != (template.country_id.code or ""):
            name += f" {channel.country}"
        unique, number = name, 1
        while (
            self.env["account.tax"]
            .with_context(active_test=False)
            .search_count(
                [
                    ("company_id", "=", self.company.id),
                    ("name", "=", unique),
                    ("type_tax_use", "=", template.type_tax_use),
                    ("country_id", "=", template.country_id.id),
                ]
            )
        ):
            number += 1
            unique = f"{name} ({self.backend.name}{f' {number}' if number > 2 else ''})"
        return {
            "name": unique,
            "amount": float(channel.rate),
            "price_include_override": "tax_included"
            if channel.included
            else "tax_excluded",
            "invoice_label": channel.title,
            "description": False,
            "active": True,
            "children_tax_ids": [Command.clear()],
        }

    def _create_mapping(self, channel, tax, state, origin, tax_name, reason):
        country = self.env["res.country"]
        if channel.country:
            country = country.search([("code", "=", channel.country)], limit=1)
        vals = {
            "backend_id": self.backend.id,
            "name": channel.title,
            "rate": float(channel.rate),
            "country_id": country.id,
            "region": channel.region or False,
            "price_include": channel.included,
            "collected_by_channel": channel.collected_by_channel,
            "tax_id": tax.id,
            "state": state,
            "origin": origin,
            "note": f"{tax_name}: {reason}",
        }
        try:
            with self.env.cr.savepoint():
                return self.env["marketplace.tax.mapping"].create(vals)
        except psycopg2.errors.UniqueViolation as err:
            # another import mapped it meanwhile: this one uses that row
            raise RetryableError(
                f"The mapping of {channel.label} was created concurrently",
                retry_after=1,
            ) from err
