"""Which Odoo tax books a channel's tax: keys and matching, without Odoo.

A channel names a tax by its title and rate (Shopify's ``FR TVA`` 20 %,
``GST`` 5 %), sometimes with a country or region, and says whether its
prices include it; Amazon also says when the marketplace collects and
remits the tax itself (marketplace-facilitator rules). :class:`ChannelTax`
is that identity, and the key of a ``marketplace.tax.mapping`` row.

:func:`propose` picks the company's tax a new channel tax should map to,
for a person to confirm. A candidate must have, all of:

* use ``sale``, type ``percent``, and the same rate (to 1e-4 of a percent);
* the same price inclusion as the channel's prices;
* the same country as the channel tax (its own, or the order's delivery
  country);
* an account on every *tax* repartition line, invoices and refunds alike
  (a tax without one books the collected tax as revenue);
* a tax group that is not a generic fallback (a group named only after a
  rate, such as the generic chart's ``Tax 15%``: any 5 % sales tax would
  otherwise be taken for Canada's GST).

When several remain, those whose name contains the channel title's words
win; still several is ambiguous and nothing is proposed (the reason says
which taxes compete). A marketplace-collected tax is never our liability:
it only matches taxes whose tax lines all post on the backend's clearing
account.
"""

import dataclasses
import re
from decimal import Decimal

#: rates are compared as percentages with four decimals (account.tax.amount)
PERCENT_QUANTUM = Decimal("0.0001")
_GENERIC_GROUP = re.compile(r"^\s*(tax|taxes)?\s*\d+([.,]\d+)?\s*%?\s*$", re.I)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
#: how an earlier version named the taxes it created on the fly:
#: ``FR TVA 20% incl. (shopify)``
_LEGACY_NAME = re.compile(
    r"^(?P<title>.*?)\s*(?P<rate>\d+(?:\.\d+)?)%(?P<incl> incl\.)?"
    r" \((?P<channel>[a-z_]+)\)$"
)


def percent(rate):
    """A channel's rate (a fraction: 0.2) as Odoo's percentage (20.0000)."""
    return (Decimal(rate) * 100).quantize(PERCENT_QUANTUM)


def normalise_title(title):
    """The title a mapping is keyed on: case and spacing do not matter."""
    return " ".join((title or "Tax").split()).casefold()


@dataclasses.dataclass(frozen=True)
class ChannelTax:
    """A channel's tax as a mapping knows it. ``rate`` is a percentage."""

    title: str
    rate: Decimal
    country: str = ""
    region: str = ""
    included: bool = False
    collected_by_channel: bool = False

    @property
    def key(self):
        """What makes two channel taxes the same mapping (a text: stored
        and unique per backend)."""
        return "|".join(
            (
                normalise_title(self.title),
                format(self.rate.quantize(PERCENT_QUANTUM), "f"),
                self.country.upper(),
                self.region.upper(),
                "incl" if self.included else "excl",
                "channel" if self.collected_by_channel else "seller",
            )
        )

    @property
    def label(self):
        """How an operator is told about it: ``GST 5% (CA-QC, excluded)``."""
        where = "-".join(p for p in (self.country, self.region) if p)
        details = [where] if where else []
        details.append("price-included" if self.included else "excluded")
        if self.collected_by_channel:
            details.append("collected by the marketplace")
        return f"{self.title} {self.rate.normalize():f}% ({', '.join(details)})"


def channel_tax(tax_rate, included, country=""):
    """The :class:`ChannelTax` of an order's ``TaxRate``: its own country
    (and region) when the channel gives them, otherwise the order's
    delivery ``country``. A region is only the channel's own: the order's
    state does not split a country-wide tax into one mapping per state."""
    own_country = getattr(tax_rate, "country", "") or ""
    return ChannelTax(
        title=" ".join((tax_rate.title or "Tax").split()),
        rate=percent(tax_rate.rate),
        country=(own_country or country or "").upper(),
        region=(getattr(tax_rate, "region", "") or "").upper(),
        included=bool(included),
        collected_by_channel=bool(getattr(tax_rate, "collected_by_channel", False)),
    )


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One of the company's taxes, as :func:`propose` sees it."""

    id: int
    name: str
    amount: Decimal
    price_include: bool
    country: str
    group_name: str
    has_accounts: bool
    type_tax_use: str = "sale"
    amount_type: str = "percent"
    #: every tax line of it posts on the backend's clearing account
    on_clearing_account: bool = False


def is_generic_group(name):
    """A tax group named only after a rate (``Tax 15%``, ``15%``): the
    group Odoo or the generic chart falls back to, which says nothing of
    what the tax is."""
    return not (name or "").strip() or bool(_GENERIC_GROUP.match(name))


def refusal(candidate, tax):
    """Why ``candidate`` cannot book ``tax`` (``None`` when it can)."""
    if candidate.type_tax_use != "sale" or candidate.amount_type != "percent":
        return "not a sales tax in percent"
    if Decimal(candidate.amount).quantize(PERCENT_QUANTUM) != tax.rate:
        return "another rate"
    if bool(candidate.price_include) != tax.included:
        return "price inclusion differs"
    if tax.country and (candidate.country or "").upper() != tax.country:
        return "another country"
    if not candidate.has_accounts:
        return "a tax line without an account"
    if is_generic_group(candidate.group_name):
        return f"generic tax group '{candidate.group_name}'"
    if tax.collected_by_channel and not candidate.on_clearing_account:
        return "not on the marketplace's clearing account"
    return None


def _title_words(title):
    return {word.casefold() for word in _WORD.findall(title or "") if len(word) > 1}


def propose(tax, candidates):
    """``(candidate or None, reason)``: the one tax ``tax`` maps to, or
    why none is proposed (no match, or several equally good)."""
    matching = [c for c in candidates if refusal(c, tax) is None]
    if not matching:
        return None, "no tax of the company has this rate, country and inclusion"
    if len(matching) > 1:
        words = _title_words(tax.title)
        named = [c for c in matching if words and words <= _title_words(c.name)]
        if len(named) == 1:
            return named[0], "its name matches the channel's title"
        if named:
            matching = named
        return None, "several taxes fit: " + ", ".join(sorted(c.name for c in matching))
    return matching[0], "the only tax with this rate, country and inclusion"


def mapping_keys(tax):
    """The keys a mapping of ``tax`` may have, best first: its own, the
    same tax for its whole country (no region), for any country."""
    keys = [tax.key]
    for wider in (
        dataclasses.replace(tax, region=""),
        dataclasses.replace(tax, region="", country=""),
    ):
        if wider.key not in keys:
            keys.append(wider.key)
    return keys


def find_mapping(tax, mappings):
    """The mapping of ``tax`` among ``mappings`` (``{key: value}``), by
    :func:`mapping_keys`."""
    for key in mapping_keys(tax):
        if key in mappings:
            return mappings[key]
    return None


def parse_legacy_name(name, marketplace_type):
    """``(title, included)`` of a tax an earlier version created on the fly
    for channel ``marketplace_type`` (named ``FR TVA 20% incl. (shopify)``),
    ``None`` for any other tax."""
    match = _LEGACY_NAME.match((name or "").strip())
    if not match or match["channel"] != marketplace_type:
        return None
    return (match["title"].strip() or "Tax"), bool(match["incl"])
