"""What an adapter hands to the inbox: one verified delivery or polled record."""

import dataclasses
import datetime

SOURCE_WEBHOOK = "webhook"
SOURCE_POLL = "poll"


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
    """

    topic: str
    dedupe_key: str
    resource_type: str
    external_id: str
    external_updated_at: datetime.datetime | None
    payload: dict
    headers: dict = dataclasses.field(default_factory=dict)
    source: str = SOURCE_WEBHOOK
