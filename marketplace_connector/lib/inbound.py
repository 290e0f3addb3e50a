"""What an adapter hands to the inbox: one verified delivery or polled record."""

import dataclasses
import datetime

SOURCE_WEBHOOK = "webhook"
SOURCE_POLL = "poll"


@dataclasses.dataclass(frozen=True)
class DemandLine:
    """A quantity an order takes from stock, as the channel names the item.

    Stored with the order's event at intake, so that orders received but not
    yet imported count against available-to-sell at once (a flash sale's
    import backlog must not let another channel sell the same units)."""

    variant_id: str
    sku: str
    quantity: float

    def as_json(self):
        return {"variant": self.variant_id, "sku": self.sku, "quantity": self.quantity}


@dataclasses.dataclass(frozen=True)
class InboundEvent:
    """A delivery (or polled record) that passed the adapter's checks.

    :param topic: the channel's topic, e.g. ``orders/create``.
    :param dedupe_key: what makes two deliveries "the same event". It is
        unique per backend in the database: a second insert with the same key
        stores nothing. For orders it names the order *state* (id, updated_at
        and a digest of the fields we import), so that a webhook and a poll of
        the same state make one event.
    :param resource_type: ``order`` (more types come with later features).
    :param external_id: the channel's id of the resource, as a string.
    :param external_updated_at: the resource's ``updated_at``, naive UTC.
    :param payload: the parsed JSON body.
    :param headers: the headers worth keeping (never a signature or a secret).
    :param source: ``webhook`` or ``poll``.
    :param demand: for an order, the :class:`DemandLine` of each stocked
        line (empty for a cancelled order); ``None`` for other resources.
    """

    topic: str
    dedupe_key: str
    resource_type: str
    external_id: str
    external_updated_at: datetime.datetime | None
    payload: dict
    headers: dict = dataclasses.field(default_factory=dict)
    source: str = SOURCE_WEBHOOK
    demand: tuple | None = None

    def demand_json(self):
        """The demand as stored on the event (a JSON list), or None."""
        if self.demand is None:
            return None
        return [line.as_json() for line in self.demand]
