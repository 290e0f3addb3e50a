"""Money arithmetic for reproducing a channel's order totals in Odoo."""

import hashlib
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")

#: ISO 4217 minor units of the currencies that do not have two decimals
#: (the channels round each currency at its own places, and so does Odoo:
#: ``res.currency.rounding`` is 1 for JPY, 0.001 for KWD)
MINOR_UNITS = {
    **dict.fromkeys(
        ("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF").split(),
        0,
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}


def minor_units(currency_code):
    """The decimal places of a currency (2 unless ISO 4217 says otherwise).

    >>> minor_units("JPY"), minor_units("KWD"), minor_units("EUR")
    (0, 3, 2)
    """
    return MINOR_UNITS.get((currency_code or "").upper(), 2)


def quantum(decimals):
    """The smallest amount of a currency with ``decimals`` places."""
    return Decimal(1).scaleb(-decimals)


def round_money(value, decimals=2):
    """Round half-up at ``decimals`` places, as the channels do."""
    return Decimal(value).quantize(quantum(decimals), rounding=ROUND_HALF_UP)


def to_cents(value):
    """Round half-up to cents (a two-decimal currency)."""
    return round_money(value, 2)


def exact_discount_percent(base, discount, decimals=2):
    """The discount as a percentage with two decimals (Odoo's precision on
    order lines), or ``None`` when no such percentage reproduces exactly
    ``base - discount`` after rounding at the currency's ``decimals``.

    >>> exact_discount_percent(Decimal("39.98"), Decimal("4.00"))
    Decimal('10.01')
    """
    if not base or discount <= 0 or discount > base:
        return None
    percent = (discount * 100 / base).quantize(CENT, rounding=ROUND_HALF_UP)
    discounted = round_money(base * (1 - percent / 100), decimals)
    return percent if discounted == base - discount else None


def rounding_tolerance(line_count, rounding=CENT):
    """How far Odoo's total may drift from the channel's through rounding
    alone: half a unit per independently rounded line, at least one unit.
    A larger difference means the taxes or prices do not match."""
    return rounding * max(line_count, 2) / 2


def lines_signature(order):
    """A digest of what an order's lines say; an edit changes it."""
    parts = sorted(
        f"{line.external_id}|{line.sku}|{line.quantity}|{line.price_unit}|"
        f"{line.discount_amount}"
        for line in order.lines
    )
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()
