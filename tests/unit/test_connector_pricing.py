"""Plain-Python tests of the money helpers the order importer relies on."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from odoo.addons.marketplace_connector.lib.order import OrderLine
from odoo.addons.marketplace_connector.lib.pricing import (
    exact_discount_percent,
    lines_signature,
    rounding_tolerance,
    to_cents,
)

cents = st.integers(min_value=1, max_value=10_000_000).map(lambda c: Decimal(c) / 100)


def test_to_cents_rounds_half_up():
    assert to_cents(Decimal("2.005")) == Decimal("2.01")
    assert to_cents(Decimal("2.0049")) == Decimal("2.00")


def test_exact_percentages_are_found():
    assert exact_discount_percent(Decimal("100.00"), Decimal("10.00")) == Decimal(
        "10.00"
    )
    assert exact_discount_percent(Decimal("39.98"), Decimal("4.00")) == Decimal("10.01")


def test_inexact_discount_returns_none():
    # 0.01 off 9,999.00 would need 0.0001%: not representable
    assert exact_discount_percent(Decimal("9999.00"), Decimal("0.01")) is None


def test_degenerate_discounts_return_none():
    assert exact_discount_percent(Decimal(0), Decimal("1")) is None
    assert exact_discount_percent(Decimal("10"), Decimal("0")) is None
    assert exact_discount_percent(Decimal("10"), Decimal("11")) is None


@given(base=cents, discount=cents)
def test_a_returned_percentage_reproduces_the_discounted_amount(base, discount):
    percent = exact_discount_percent(base, discount)
    if percent is not None:
        assert to_cents(base * (1 - percent / 100)) == base - discount
        assert Decimal(0) < percent <= Decimal(100)


def test_rounding_tolerance_grows_with_lines():
    assert rounding_tolerance(1) == Decimal("0.01")
    assert rounding_tolerance(6) == Decimal("0.03")


def _line(line_id, quantity):
    return OrderLine(
        external_id=line_id,
        sku="SKU",
        variant_id="1",
        title="t",
        quantity=Decimal(quantity),
        price_unit=Decimal("9.99"),
    )


class _Order:
    def __init__(self, lines):
        self.lines = lines


def test_lines_signature_ignores_order_and_sees_edits():
    a = _Order([_line("1", 1), _line("2", 3)])
    b = _Order([_line("2", 3), _line("1", 1)])
    c = _Order([_line("1", 2), _line("2", 3)])
    assert lines_signature(a) == lines_signature(b)
    assert lines_signature(a) != lines_signature(c)
