"""Money arithmetic for reproducing a channel's order totals in Odoo."""

import hashlib
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_cents(value):
    """Round half-up to cents, as the channels do."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def exact_discount_percent(base, discount):
    """The discount as a percentage with two decimals (Odoo's precision on
    order lines), or ``None`` when no such percentage reproduces exactly
    ``base - discount`` after rounding to cents.

    >>> exact_discount_percent(Decimal("39.98"), Decimal("4.00"))
    Decimal('10.01')
    """
    if not base or discount <= 0 or discount > base:
        return None
    percent = (discount * 100 / base).quantize(CENT, rounding=ROUND_HALF_UP)
    discounted = to_cents(base * (1 - percent / 100))
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
