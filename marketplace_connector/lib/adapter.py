"""The contract between the channel-neutral core and one marketplace.

Only an adapter knows its marketplace's wire format. The core builds a
:class:`BackendConfig` from the ``marketplace.backend`` record (secrets already
decrypted) and asks the adapter registered for the backend's marketplace type.
Adapters are plain Python: they never touch the database.
"""

import abc
import dataclasses

_ADAPTERS = {}


@dataclasses.dataclass(frozen=True)
class BackendConfig:
    """What an adapter may know about its backend.

    :param api_url: the base URL of the channel's API, e.g.
        ``https://shop.myshopify.com`` (tests point it at a simulator).
    :param webhook_secrets: the secrets a delivery may be signed with, the
        current one first (rotation keeps the previous one valid).
    """

    backend_id: int
    name: str
    api_url: str
    shop_domain: str = ""
    api_version: str = ""
    access_token: str = dataclasses.field(default="", repr=False)
    webhook_secrets: tuple = dataclasses.field(default=(), repr=False)
    timeout: float = 10.0
    max_body_bytes: int = 2 * 1024 * 1024


class MarketplaceAdapter(abc.ABC):
    """What every marketplace adapter provides to the core."""

    #: value of ``marketplace.backend.marketplace_type``
    marketplace_type = None

    def __init__(self, config):
        self.config = config

    @abc.abstractmethod
    def verify_webhook(self, headers, body):
        """Check a delivery and describe it, before anything is stored.

        :param headers: a case-insensitive mapping of the request headers.
        :param body: the raw request body, as bytes (the signature is over it).
        :return: an :class:`~.inbound.InboundEvent`.
        :raise WebhookRejected: with the HTTP status to answer.
        """

    @abc.abstractmethod
    def parse_order(self, payload):
        """Map an order payload to an :class:`~.order.Order`.

        :raise DataError: when the payload cannot be imported as it is.
        """

    @abc.abstractmethod
    def iter_updated_orders(self, since):
        """Yield :class:`~.inbound.InboundEvent` (source ``poll``) for every
        order updated at or after ``since`` (naive UTC), oldest page first.

        :raise RetryableError: when the channel is unavailable for now.
        """

    @abc.abstractmethod
    def test_connection(self):
        """Call the channel once; return a short human-readable confirmation.

        :raise AuthenticationError: when the credentials are refused.
        """


class StockAdapterMixin:
    """Stock operations; an adapter that pushes quantities implements them.

    Quantities are whole units; ``inventory_item_id`` and ``location_id`` are
    the channel's ids as strings.
    """

    #: at most this many quantities per write call
    stock_batch_size = 250

    def rate_limit(self):
        """``(maximum, restore_rate)`` of the channel's bucket by default."""
        raise NotImplementedError

    def throttle_status(self):
        """``(available, maximum, restore_rate)`` as the channel last
        reported it, or ``None``."""
        return None

    def stock_write_cost(self, count):
        raise NotImplementedError

    def stock_read_cost(self, count):
        raise NotImplementedError

    def write_stock(self, writes, idempotency_key):
        """Compare-and-set writes (:class:`~.stock.StockWrite`).

        :return: a :class:`~.stock.StockWriteResult`.
        """
        raise NotImplementedError

    def read_stock(self, pairs):
        """:return: {(inventory_item_id, location_id): quantity}"""
        raise NotImplementedError

    def iter_stock(self, location_id):
        """Yield pages of ``(inventory_item_id, quantity)`` for every tracked
        item at a location (reconciliation)."""
        raise NotImplementedError

    def parse_stock_level(self, payload):
        """``(inventory_item_id, location_id, quantity or None)`` from an
        inbound stock level payload."""
        raise NotImplementedError


def register_adapter(cls):
    """Class decorator: make ``cls`` the adapter of its marketplace type."""
    if not cls.marketplace_type:
        raise ValueError(f"{cls.__name__} must set marketplace_type")
    _ADAPTERS[cls.marketplace_type] = cls
    return cls


def get_adapter_class(marketplace_type):
    try:
        return _ADAPTERS[marketplace_type]
    except KeyError:
        raise LookupError(
            f"No adapter is installed for marketplace type {marketplace_type!r}"
        ) from None
