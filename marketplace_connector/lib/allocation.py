"""Available-to-sell: how many units each channel may show.

Odoo's free quantity in the channel's locations (on hand minus reserved) is
the pool. Each channel keeps a safety buffer (units and/or a percentage of
the pool) out of it, then receives its allocation share of what is left,
rounded down, capped at its maximum, never negative. When the shares of the
channels selling one product add up to more than 1 they are scaled down, so
the channels together never show more than the free stock: two channels
cannot both sell the last unit because neither was offered it twice.
"""

import dataclasses
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal


@dataclasses.dataclass(frozen=True)
class ChannelPolicy:
    """One channel's settings for one product.

    :param share: fraction of the pool after buffer, 0..1 (1 = all of it).
    :param buffer_units: units always kept back.
    :param buffer_percent: percentage of the pool kept back, rounded up.
    :param maximum: never show more than this (``None``: no cap).
    """

    share: Decimal = Decimal(1)
    buffer_units: int = 0
    buffer_percent: Decimal = Decimal(0)
    maximum: int | None = None

    def __post_init__(self):
        if not Decimal(0) <= Decimal(self.share) <= Decimal(1):
            raise ValueError(f"share must be between 0 and 1, got {self.share}")
        if self.buffer_units < 0 or Decimal(self.buffer_percent) < 0:
            raise ValueError("buffers cannot be negative")
        if self.maximum is not None and self.maximum < 0:
            raise ValueError("maximum cannot be negative")


def _units(quantity):
    """Whole units of a (possibly fractional) free quantity, rounded down."""
    return max(0, int(Decimal(str(quantity)).to_integral_value(rounding=ROUND_FLOOR)))


def buffered_pool(free_quantity, policy):
    """Units left for the channel after its safety buffer."""
    pool = _units(free_quantity)
    percent_kept = (
        Decimal(pool) * Decimal(policy.buffer_percent) / 100
    ).to_integral_value(rounding=ROUND_CEILING)
    return max(0, pool - policy.buffer_units - int(percent_kept))


def available_to_sell(free_quantity, policy, share_total=Decimal(1)):
    """Units one channel may show.

    :param free_quantity: Odoo's free quantity in the channel's locations.
    :param share_total: the sum of the shares of every channel selling this
        product; above 1 the shares are scaled down by it.
    """
    scale = max(Decimal(1), Decimal(share_total))
    allowed = (
        Decimal(buffered_pool(free_quantity, policy)) * Decimal(policy.share) / scale
    )
    units = int(allowed.to_integral_value(rounding=ROUND_FLOOR))
    if policy.maximum is not None:
        units = min(units, policy.maximum)
    return max(0, units)


def allocate(free_quantity, policies):
    """Available-to-sell of every channel selling one product, in order."""
    total = sum((Decimal(p.share) for p in policies), Decimal(0))
    return [available_to_sell(free_quantity, p, total) for p in policies]
