"""Allocation and buffer arithmetic: properties that must hold for any stock
and any settings (hypothesis), plus worked examples an admin can check."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from odoo.addons.marketplace_connector.lib.allocation import (
    ChannelPolicy,
    allocate,
    available_to_sell,
    buffered_pool,
)

free_quantities = st.one_of(
    st.integers(min_value=-50, max_value=100_000),
    st.decimals(min_value=-50, max_value=100_000, places=3, allow_nan=False),
)
policies = st.builds(
    ChannelPolicy,
    share=st.decimals(min_value=0, max_value=1, places=2),
    buffer_units=st.integers(min_value=0, max_value=500),
    buffer_percent=st.decimals(min_value=0, max_value=100, places=1),
    maximum=st.one_of(st.none(), st.integers(min_value=0, max_value=10_000)),
)


@given(free=free_quantities, channels=st.lists(policies, min_size=1, max_size=6))
def test_never_negative_never_above_free_stock_together(free, channels):
    allocations = allocate(free, channels)
    free_units = max(0, int(Decimal(str(free)) // 1)) if free >= 0 else 0
    assert all(units >= 0 for units in allocations)
    assert all(units <= free_units for units in allocations)
    assert sum(allocations) <= free_units


@given(free=free_quantities, policy=policies)
def test_buffer_and_cap_are_respected(free, policy):
    units = available_to_sell(free, policy)
    assert units <= buffered_pool(free, policy)
    if policy.maximum is not None:
        assert units <= policy.maximum


@given(free=st.integers(min_value=0, max_value=10_000), policy=policies)
def test_more_stock_never_shows_less(free, policy):
    assert available_to_sell(free + 1, policy) >= available_to_sell(free, policy)


def test_worked_examples():
    # 100 free, keep 5 units and 10% back -> 85; half of it -> 42 (rounded down)
    policy = ChannelPolicy(
        share=Decimal("0.5"), buffer_units=5, buffer_percent=Decimal(10)
    )
    assert available_to_sell(100, policy) == 42
    # two channels with a full share each split the pool instead of both
    # offering it all
    assert allocate(7, [ChannelPolicy(), ChannelPolicy()]) == [3, 3]
    assert allocate(1, [ChannelPolicy(), ChannelPolicy()]) == [0, 0]
    assert allocate(1, [ChannelPolicy(), ChannelPolicy(share=Decimal(0))]) == [1, 0]
    assert available_to_sell(Decimal("3.7"), ChannelPolicy(maximum=2)) == 2
    assert available_to_sell(-4, ChannelPolicy()) == 0


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError):
        ChannelPolicy(share=Decimal("1.5"))
    with pytest.raises(ValueError):
        ChannelPolicy(buffer_units=-1)
