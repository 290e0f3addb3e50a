"""The channel-neutral refund: how a refunded quantity splits between what
Odoo has not shipped and what it shipped, and what a refund adds up to."""

from decimal import Decimal

import pytest

from odoo.addons.marketplace_connector.lib.refund import (
    AMOUNT_ADJUSTMENT,
    AMOUNT_SHIPPING,
    RESTOCK_CANCEL,
    RESTOCK_NONE,
    RESTOCK_RETURN,
    LinePlan,
    Refund,
    RefundAmount,
    RefundLine,
    money_difference,
    plan_line,
)

D = Decimal


def line(quantity, restock, subtotal="0", tax="0"):
    return RefundLine("1", D(quantity), restock, D(subtotal), D(tax))


@pytest.mark.parametrize(
    ("restock", "quantity", "ordered", "delivered", "expected"),
    [
        # nothing shipped: every refunded unit comes off the order
        (RESTOCK_CANCEL, 2, 3, 0, LinePlan(D(2), D(0), D(0))),
        (RESTOCK_NONE, 2, 3, 0, LinePlan(D(2), D(0), D(0))),
        (RESTOCK_RETURN, 2, 3, 0, LinePlan(D(2), D(0), D(0))),
        # all shipped: a return comes back, a no-restock stays out
        (RESTOCK_RETURN, 2, 3, 3, LinePlan(D(0), D(2), D(0))),
        (RESTOCK_NONE, 2, 3, 3, LinePlan(D(0), D(0), D(2))),
        # partly shipped: the unshipped units first
        (RESTOCK_RETURN, 3, 5, 4, LinePlan(D(1), D(2), D(0))),
        (RESTOCK_NONE, 3, 5, 4, LinePlan(D(1), D(0), D(2))),
        # "cancel" of units Odoo shipped: kept (the processor flags it)
        (RESTOCK_CANCEL, 2, 2, 2, LinePlan(D(0), D(0), D(2))),
    ],
)
def test_plan_line(restock, quantity, ordered, delivered, expected):
    assert plan_line(line(quantity, restock), D(ordered), D(delivered)) == expected


def test_plan_line_never_cuts_below_what_was_delivered():
    plan = plan_line(line(2, RESTOCK_CANCEL), D(1), D(3))
    assert plan.cut == 0
    assert plan.shipped == 2


def refund(taxes_included=False, total=None, amounts=()):
    return Refund(
        external_id="9",
        order_external_id="7",
        created_at=None,
        currency="USD",
        taxes_included=taxes_included,
        lines=(line(2, RESTOCK_CANCEL, "39.98", "8.00"),),
        amounts=amounts,
        total=total,
    )


def test_totals_taxes_excluded_add_tax_on_top():
    shipping = RefundAmount(AMOUNT_SHIPPING, D("5.00"), D("1.00"))
    discrepancy = RefundAmount(AMOUNT_ADJUSTMENT, D("-2.50"))
    subject = refund(amounts=(shipping, discrepancy))
    assert subject.computed_total == D("51.48")
    assert subject.expected_total == D("51.48"), "no transactions: the parts"
    assert subject.shipping == (shipping,)
    assert subject.adjustments == (discrepancy,)


def test_totals_taxes_included_count_the_subtotal_only():
    assert refund(taxes_included=True).computed_total == D("39.98")


def test_expected_total_is_what_was_paid_back():
    assert refund(total=D("47.975")).expected_total == D("47.98")


def test_money_difference_to_the_cent():
    assert money_difference(47.98, D("47.98")) == 0
    assert money_difference(47.97, D("47.98")) == D("-0.01")
    assert money_difference(48.4849, D("47.98")) == D("0.50")


def test_money_difference_at_the_currencys_own_decimals():
    assert money_difference(1500.4, D("1500"), 0) == 0, "yen: no decimals"
    assert money_difference(1501, D("1500"), 0) == 1
    assert money_difference(12.3455, D("12.345"), 3) == D("0.001"), "dinars: three"


def test_totals_round_at_the_refunds_currency():
    yen = Refund(
        external_id="9",
        order_external_id="7",
        created_at=None,
        currency="JPY",
        taxes_included=False,
        lines=(line(1, RESTOCK_CANCEL, "1000", "100.4"),),
    )
    assert yen.computed_total == D("1100")
    dinars = Refund(
        external_id="9",
        order_external_id="7",
        created_at=None,
        currency="KWD",
        taxes_included=True,
        lines=(line(1, RESTOCK_CANCEL, "12.3456"),),
        total=D("12.3456"),
    )
    assert dinars.expected_total == D("12.346")
