"""Channel-neutral stock writes and reads: what the core asks an adapter."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class StockWrite:
    """Set ``quantity`` at a channel location, if the channel still has
    ``change_from`` there (compare-and-set; ``None`` skips the check)."""

    inventory_item_id: str
    location_id: str
    quantity: int
    change_from: int | None


@dataclasses.dataclass(frozen=True)
class StockWriteResult:
    """``applied``: the writes the channel accepted. ``stale``: the writes
    refused because the channel's quantity was not ``change_from`` any more
    (nothing of a refused call is applied); re-read and try again."""

    applied: tuple = ()
    stale: tuple = ()
