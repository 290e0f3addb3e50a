"""The channel-neutral refund every adapter maps its wire format to, and the
plain arithmetic of booking it (no database).

A refund gives money back for some order lines (a quantity of each), for
shipping and for adjustments, and says per line what becomes of the units
(``restock_type``):

* ``cancel``: never shipped; they stay in the warehouse (the order shrinks);
* ``return``: shipped and coming back into stock (a return receipt);
* ``no_restock``: the customer keeps them, or they are written off.

What Odoo does does not depend on the channel's word alone but also on what
Odoo shipped (:func:`plan_line`): refunded units not shipped yet are always
taken off the order (the delivery shrinks), whatever the restock type, and
only units Odoo did ship can come back on a return receipt.

Money is :class:`~decimal.Decimal` as the channel computed it, rounded at
the currency's own decimals (yen none, dinars three). Amounts are
*refunded* amounts, positive when money goes back to the customer; prices
and amounts are tax-included when the order's prices are
(``taxes_included``), as the order's own lines.
"""

import dataclasses
import datetime
from decimal import Decimal

from .pricing import minor_units, round_money

RESTOCK_CANCEL = "cancel"
RESTOCK_RETURN = "return"
RESTOCK_NONE = "no_restock"
RESTOCK_TYPES = (RESTOCK_CANCEL, RESTOCK_RETURN, RESTOCK_NONE)

AMOUNT_SHIPPING = "shipping"
AMOUNT_ADJUSTMENT = "adjustment"

ZERO = Decimal(0)


@dataclasses.dataclass(frozen=True)
class RefundLine:
    """Units of one order line refunded.

    :param line_id: the channel's id of the order line (``marketplace_line_id``).
    :param subtotal: the money refunded for them, tax included when the
        order's prices are; ``tax``: the tax in it (or on top of it).
    :param location_id: the channel's location the units go back to, if any.
    """

    line_id: str
    quantity: Decimal
    restock_type: str
    subtotal: Decimal = ZERO
    tax: Decimal = ZERO
    location_id: str = ""


@dataclasses.dataclass(frozen=True)
class RefundAmount:
    """Money refunded outside the lines: shipping or an adjustment (the
    channel's discrepancy between what the lines are worth and what was
    paid back)."""

    kind: str
    amount: Decimal
    tax: Decimal = ZERO
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Refund:
    """One refund of an order, as the channel booked it.

    :param total: the money the channel paid back (its transactions), or
        ``None`` when it does not say; the booking is checked against it.
    """

    external_id: str
    order_external_id: str
    created_at: datetime.datetime | None
    currency: str
    taxes_included: bool
    lines: tuple = ()
    amounts: tuple = ()
    total: Decimal | None = None
    note: str = ""

    @property
    def shipping(self):
        return tuple(a for a in self.amounts if a.kind == AMOUNT_SHIPPING)

    @property
    def adjustments(self):
        return tuple(a for a in self.amounts if a.kind == AMOUNT_ADJUSTMENT)

    @property
    def decimals(self):
        """The currency's decimal places (ISO 4217)."""
        return minor_units(self.currency)

    @property
    def computed_total(self):
        """What the lines, shipping and adjustments add up to."""
        total = ZERO
        for part in self.lines + self.amounts:
            amount = part.subtotal if isinstance(part, RefundLine) else part.amount
            total += amount if self.taxes_included else amount + part.tax
        return round_money(total, self.decimals)

    @property
    def expected_total(self):
        """What the booking in Odoo must come to: the money paid back when
        the channel says, else what the parts add up to."""
        if self.total is None:
            return self.computed_total
        return round_money(self.total, self.decimals)


@dataclasses.dataclass(frozen=True)
class LinePlan:
    """What a refund line does in Odoo.

    :param cut: units taken off the order (not shipped: the delivery shrinks).
    :param returned: shipped units coming back on a return receipt.
    :param kept: shipped units refunded without coming back (no restock,
        or a channel saying "never shipped" about units Odoo shipped).
    """

    cut: Decimal
    returned: Decimal
    kept: Decimal

    @property
    def shipped(self):
        return self.returned + self.kept


def plan_line(line, ordered, delivered):
    """Split a refunded quantity between the order's unshipped units and
    those Odoo shipped.

    :param line: the :class:`RefundLine`.
    :param ordered: the order line's ordered quantity, as it is now (earlier
        refunds already cut from it).
    :param delivered: its quantity shipped.

    >>> plan_line(RefundLine("1", Decimal(3), "return"), Decimal(5), Decimal(4))
    LinePlan(cut=Decimal('1'), returned=Decimal('2'), kept=Decimal('0'))
    """
    quantity = Decimal(line.quantity)
    unshipped = max(Decimal(ordered) - Decimal(delivered), ZERO)
    cut = min(quantity, unshipped)
    rest = quantity - cut
    if line.restock_type == RESTOCK_RETURN:
        return LinePlan(cut=cut, returned=rest, kept=ZERO)
    return LinePlan(cut=cut, returned=ZERO, kept=rest)


def money_difference(booked, expected, decimals=2):
    """``booked - expected`` rounded at the currency's ``decimals``: zero
    when the booking matches the refund to the smallest unit.

    >>> money_difference(1500.4, Decimal("1500"), 0)
    Decimal('0')
    >>> money_difference(12.3455, Decimal("12.345"), 3)
    Decimal('0.001')
    """
    return round_money(Decimal(str(booked)), decimals) - round_money(
        Decimal(str(expected)), decimals
    )
