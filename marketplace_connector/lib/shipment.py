"""A package we shipped, as the core tells a channel about it."""

import dataclasses
import datetime


@dataclasses.dataclass(frozen=True)
class ShipmentLine:
    """``quantity`` units of the channel's order line ``line_id``."""

    line_id: str
    quantity: int


@dataclasses.dataclass(frozen=True)
class Shipment:
    """One validated delivery of a marketplace order.

    :param reference: ours, stable across retries (one per delivery): the
        channel can tell a retry from a second package by it.
    :param carrier_code: the channel's code of the carrier, from the
        backend's carrier mapping; empty when unmapped (the adapter then
        sends the carrier's name, as its channel allows).
    :param attempt: 1 the first time it is sent, more on a retry: an
        adapter that must look for an earlier attempt's result on the
        channel (its answer lost) knows when one may exist.
    :param locations: the channel's ids of the locations the delivery left
        from (the backend's channel locations holding its source location),
        for a channel that splits orders by location.
    """

    reference: str
    order_id: str
    marketplace: str
    carrier_code: str
    carrier_name: str
    service: str
    tracking_number: str
    shipped_at: datetime.datetime
    lines: tuple = ()
    attempt: int = 1
    locations: tuple = ()
