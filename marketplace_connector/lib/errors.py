"""Errors every adapter raises, so the core can decide retry versus fix.

* :class:`RetryableError` -- "later": timeouts, 429, 5xx, lock contention.
  The job layer turns it into queue_job's ``RetryableJobError``.
* :class:`PermanentError` -- "never without a fix": bad data, unknown SKU,
  revoked credentials. The event is marked ``failed`` with the message, which
  must tell an operator what to fix before pressing *Retry*.
"""


class MarketplaceError(Exception):
    """Base class of every error raised by the connector's plain code."""


class RetryableError(MarketplaceError):
    """A transient failure: the same call may succeed later.

    :param retry_after: seconds the remote side asked us to wait
        (``Retry-After``), or ``None`` to let the caller's backoff decide.
    """

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(RetryableError):
    """The channel throttled us (HTTP 429, GraphQL ``THROTTLED``)."""


class PermanentError(MarketplaceError):
    """A failure that repeats until somebody fixes data or configuration."""


class AuthenticationError(PermanentError):
    """Credentials are missing, wrong or revoked (HTTP 401/403)."""


class DataError(PermanentError):
    """The payload cannot be turned into an Odoo document as it is."""


class UnknownProductError(DataError):
    """An order line names a product we cannot match."""

    def __init__(self, sku, variant_id=None, title=None):
        label = f"SKU '{sku}'" if sku else "a line without SKU"
        details = []
        if variant_id:
            details.append(f"variant {variant_id}")
        if title:
            details.append(f"'{title}'")
        suffix = f" ({', '.join(details)})" if details else ""
        super().__init__(
            f"Unknown product: {label}{suffix}. Set this SKU as the Internal "
            f"Reference of a product, or add a product binding, then press Retry."
        )
        self.sku = sku
        self.variant_id = variant_id


class WebhookRejected(MarketplaceError):
    """A delivery we refuse; ``status`` is the HTTP status to answer.

    Nothing is stored for a rejected delivery.
    """

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason
