"""The contract between the channel-neutral core and one marketplace.

Only an adapter knows its marketplace's wire format, credentials and
abilities. The core builds a :class:`BackendConfig` from the
``marketplace.backend`` record (credentials already decrypted, the adapter
addon's own settings included) and asks the adapter registered for the
backend's marketplace type. Adapters are plain Python: they never touch the
database.

An adapter states what its channel can do instead of the core assuming it:

* how events arrive: pushed to our webhook URL (:meth:`verify_webhook`),
  pulled from a queue (:class:`PullIntakeMixin`), and polled as a backstop
  (:meth:`iter_updated_orders`);
* which orders import (:meth:`importable`);
* how quantities are written (:class:`StockAbilities`: compare-and-set or
  last-write-wins, synchronous or asynchronous bulk submissions);
* its rate budgets, one per operation family (:meth:`rate_limits`), each
  shared by every worker through the database (the core's ``RateGate``).
"""

import abc
import dataclasses
import types

from .errors import DataError, WebhookRejected

_ADAPTERS = {}


def _frozen(mapping):
    return types.MappingProxyType(dict(mapping or {}))


@dataclasses.dataclass(frozen=True)
class BackendConfig:
    """What an adapter may know about its backend.

    :param api_url: the base URL of the channel's API (tests point it at a
        simulator).
    :param credentials: the decrypted secrets the adapter declared (by field
        name, e.g. ``access_token``); empty ones are left out.
    :param settings: the adapter addon's own non-secret settings (e.g. a shop
        domain, a region, marketplace ids), as its backend extension returns
        them from ``_get_adapter_settings``.
    """

    backend_id: int
    name: str
    api_url: str = ""
    credentials: types.MappingProxyType = dataclasses.field(
        default_factory=dict, repr=False
    )
    settings: types.MappingProxyType = dataclasses.field(default_factory=dict)
    timeout: float = 10.0
    max_body_bytes: int = 2 * 1024 * 1024

    def __post_init__(self):
        object.__setattr__(self, "credentials", _frozen(self.credentials))
        object.__setattr__(self, "settings", _frozen(self.settings))

    def credential(self, name):
        """A decrypted credential, or ``""`` when it is not set."""
        return self.credentials.get(name) or ""

    def setting(self, name, default=""):
        value = self.settings.get(name)
        return default if value is None else value


@dataclasses.dataclass(frozen=True)
class RateLimit:
    """A token bucket as the channel counts it: ``maximum`` points (the
    burst), restored at ``restore_rate`` points per second."""

    maximum: float
    restore_rate: float


class NoRateGate:
    """Spends nothing: plain-Python use of an adapter (unit tests, scripts).
    In jobs the core hands the adapter a gate that spends the backend's
    budgets in the database, shared by every worker."""

    def reserve(self, family, cost=1):
        """Wait until ``cost`` points of ``family`` are available, or raise
        a ``RetryableError`` when the wait would be too long."""

    def observe(self, family, available, maximum, restore_rate):
        """Align a bucket with what the channel just reported."""


class MarketplaceAdapter(abc.ABC):
    """What every marketplace adapter provides to the core."""

    #: value of ``marketplace.backend.marketplace_type``
    marketplace_type = None
    #: whether the channel keeps the units of an order it has not let us
    #: import yet (Amazon's pending orders): its demand then keeps counting
    #: against available-to-sell until a newer state of it is processed;
    #: otherwise it stops counting once its event is processed
    unpaid_orders_hold_stock = False
    #: whether an order's job may import other waiting orders with its own
    #: (one create and one confirm for several). A channel whose events are
    #: only triggers (``prepare_event_payload`` calls it) says no: the calls
    #: would be made with the batch's stock locks held
    batch_imports = True

    def __init__(self, config, rate_gate=None):
        self.config = config
        self.rate_gate = rate_gate or NoRateGate()

    # Intake

    def verify_webhook(self, headers, body):
        """Check a delivery and describe it, before anything is stored.

        :param headers: a case-insensitive mapping of the request headers.
        :param body: the raw request body, as bytes (the signature is over it).
        :return: an :class:`~.inbound.InboundEvent`.
        :raise WebhookRejected: with the HTTP status to answer.
        """
        raise WebhookRejected(404, "this channel does not deliver webhooks")

    @abc.abstractmethod
    def parse_order(self, payload):
        """Map an order payload (as stored on its event) to an
        :class:`~.order.Order`.

        :raise DataError: when the payload cannot be imported as it is.
        """

    def parse_refund(self, payload):
        """Map a refund payload (as stored on its event) to a
        :class:`~.refund.Refund` (a channel that reports refunds).

        :raise DataError: when the payload cannot be booked as it is.
        """
        raise DataError(f"{self.marketplace_type} does not report refunds")

    def importable(self, order):
        """Whether ``order`` is created in Odoo now. An order that is not
        (e.g. not paid yet) still counts against available-to-sell while it
        waits (its event's demand); a cancelled order is never importable.
        """
        return not order.is_cancelled

    def prepare_event_payload(self, payload):
        """The payload the importer maps, from the one stored at intake.
        Channels whose events are only triggers (Amazon's notifications)
        re-read the resource here; others return ``payload`` as it is.

        :raise RetryableError: when the channel is unavailable for now.
        """
        return payload

    #: where an interrupted poll may go on: set by adapters whose polls
    #: can resume, after each page whose events were all yielded (a
    #: JSON-able value, e.g. the page token with its window); None: a poll
    #: cut short starts again from the cursor
    poll_resume = None
    #: set by the polling job before a poll: a callable that takes
    #: ``(external id, updated_at)`` states of orders (naive UTC) and
    #: returns those the inbox already holds an order event for. An adapter
    #: whose channel can list states cheaply before it reads orders in full
    #: reads only the others; adapters that read orders at once ignore it
    poll_known = None

    @abc.abstractmethod
    def iter_updated_orders(self, since):
        """Yield :class:`~.inbound.InboundEvent` (source ``poll``) for every
        order updated at or after ``since`` (naive UTC), oldest page first.

        An adapter that sets :attr:`poll_resume` also takes
        ``resume=<that value>``: the poll goes on where it stopped.

        :raise RetryableError: when the channel is unavailable for now.
        """

    def poll_until(self, now):
        """The newest ``updated_at`` a poll may ask for (naive UTC): the
        channel's data may lag behind its changes (default: ``now``)."""
        return now

    @abc.abstractmethod
    def test_connection(self):
        """Call the channel once; return a short human-readable confirmation.

        :raise AuthenticationError: when the credentials are refused.
        """

    # Rate budgets

    def rate_limits(self):
        """``{family: RateLimit}``: the channel's budgets, one per family of
        operations (Shopify: one GraphQL bucket; Amazon: one per operation).
        The core keeps each in one database row per backend."""
        return {}


@dataclasses.dataclass(frozen=True)
class PulledMessage:
    """A message taken from the channel's queue, not yet acknowledged.

    :param message_id: the queue's id of the message (kept across
        redeliveries, so a message that can never be parsed is stored once).
    :param receipt: what acknowledges (deletes) this delivery of it.
    :param body: the raw body, as text.
    """

    message_id: str
    receipt: str
    body: str
    attributes: types.MappingProxyType = dataclasses.field(default_factory=dict)


class PullIntakeMixin:
    """Events that arrive on a queue the core consumes (Amazon's SQS).

    The core receives a batch, stores each message in the inbox with the same
    dedupe as a webhook, commits, and only then acknowledges the batch: a
    message that could not be stored comes back after its visibility
    timeout. One that can never be parsed is stored as a failed event with
    its raw body, then acknowledged.
    """

    #: messages asked for per receive call
    pull_batch_size = 10
    #: long-polling wait per receive call (seconds)
    pull_wait_seconds = 5

    def receive_messages(self, max_messages, wait_seconds):
        """:return: a list of :class:`PulledMessage` (empty: none now).

        :raise RetryableError: when the queue cannot be reached now.
        """
        raise NotImplementedError

    def parse_message(self, message):
        """:return: the :class:`~.inbound.InboundEvent` of a message, or
        ``None`` for a message we do not handle (acknowledged, not stored).

        :raise DataError: when it can never be parsed.
        """
        raise NotImplementedError

    def acknowledge(self, messages):
        """Delete these deliveries from the queue (after their commit)."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class StockAbilities:
    """How a channel takes quantities.

    :param compare_and_set: a write carries the quantity we believe the
        channel has and is refused as stale when it does not; without it,
        the last write wins and the core relies on decreasing first and
        holding raises while orders wait.
    :param asynchronous: a write is a submission whose result arrives later
        (:meth:`StockAdapterMixin.check_submission`).
    :param batch_size: at most this many quantities per :meth:`write_stock`.
    """

    compare_and_set: bool = True
    asynchronous: bool = False
    batch_size: int = 250


class StockAdapterMixin:
    """Stock operations; an adapter that pushes quantities implements them.

    Quantities are whole units; ``item_ref`` (the channel's reference of a
    sellable item: Shopify's inventory item id, Amazon's seller SKU) and
    ``location_id`` are the channel's ids as strings.
    """

    stock_abilities = StockAbilities()

    def throttle_status(self):
        """``{family: (available, maximum, restore_rate)}`` as the channel
        last reported its budgets, or ``None``."""
        return None

    def stock_write_cost(self, count):
        """``{family: points}`` a :meth:`write_stock` of ``count`` writes
        spends, reserved by the core before the call; an adapter whose
        client reserves per call through its rate gate returns ``{}``."""
        return {}

    def stock_read_cost(self, count):
        """``{family: points}`` of a :meth:`read_stock` of ``count`` pairs."""
        return {}

    def write_stock(self, writes, idempotency_key):
        """Send :class:`~.stock.StockWrite` quantities.

        :return: a :class:`~.stock.StockWriteResult`.
        """
        raise NotImplementedError

    def check_submission(self, submission, writes):
        """The outcome of an asynchronous submission (:class:`~.stock.
        StockWriteResult` with ``submission`` set) of these ``writes`` (the
        result's ``pending``, in the same order).

        :return: ``None`` while it is processed, else a
            :class:`~.stock.StockWriteResult` with ``applied`` and ``errors``.
        """
        raise NotImplementedError

    def read_stock(self, pairs):
        """:return: {(item_ref, location_id): quantity}"""
        raise NotImplementedError

    def iter_stock(self, location_id):
        """Yield pages of ``(item_ref, quantity)`` for every tracked item at a
        location (reconciliation)."""
        raise NotImplementedError

    def parse_stock_level(self, payload):
        """``(item_ref, location_id, quantity or None)`` from an inbound stock
        level payload."""
        raise NotImplementedError


class ShipmentAdapterMixin:
    """A channel that wants to hear of the packages we ship (merchant
    fulfilled orders): carrier, tracking number, lines and quantities."""

    def send_shipment(self, shipment):
        """Tell the channel of a :class:`~.shipment.Shipment`. Sending the
        same ``reference`` again must not ship twice (a retry after a lost
        answer).

        :raise PermanentError: the channel refused it (shown on the order).
        :raise RetryableError: try again later.
        """
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
