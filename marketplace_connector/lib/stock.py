"""Channel-neutral stock writes and reads: what the core asks an adapter."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class StockWrite:
    """Set ``quantity`` of a channel item at a channel location, if the
    channel still has ``change_from`` there (compare-and-set; ``None`` skips
    the check, and a channel without compare-and-set ignores it)."""

    item_ref: str
    location_id: str
    quantity: int
    change_from: int | None


@dataclasses.dataclass(frozen=True)
class StockWriteResult:
    """``applied``: the writes the channel accepted. ``stale``: the writes
    refused because the channel's quantity was not ``change_from`` any more
    (nothing of a refused call is applied); re-read and try again.
    ``errors``: ``(write, message)`` of writes the channel refused for good
    (an unknown SKU, an invalid quantity), shown on their levels.
    ``submission``: for an asynchronous channel, the reference of a
    submission still processed; its writes are in ``pending`` and its outcome
    is asked later (``check_submission``)."""

    applied: tuple = ()
    stale: tuple = ()
    errors: tuple = ()
    submission: str | None = None
    pending: tuple = ()


#: how many of the quantities we last wrote to a level are remembered
RECENT_PUSHES = 10


def remember_push(recent, quantity):
    """``recent`` (the quantities last written to a level, newest first, as
    stored: ``"12,13,15"`` or empty) with ``quantity`` in front."""
    values = [str(int(quantity))] + [v for v in (recent or "").split(",") if v]
    return ",".join(values[:RECENT_PUSHES])


def is_echo(recent, quantity):
    """Whether a channel's report of ``quantity`` is the echo of one of our
    recent writes. Reports arrive late and out of order: during a burst the
    report of a write can come after two newer writes, and is no drift."""
    return str(int(quantity)) in (recent or "").split(",")
