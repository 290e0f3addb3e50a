# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The adapters' retryable errors, as queue_job understands them."""

import contextlib
import math

import psycopg2

from odoo.addons.queue_job.exception import RetryableJobError

from ..lib.database_errors import is_lost_connection
from ..lib.errors import RateLimitedError, RetryableError

#: a job cut off by a lost database connection runs again this much later
LOST_CONNECTION_RETRY_SECONDS = 10


def retry_seconds(wait):
    """queue_job counts whole seconds; ``None`` lets the retry pattern decide."""
    return max(1, math.ceil(wait)) if wait else None


@contextlib.contextmanager
def retry_later():
    """Turn a channel's "later" into a postponed job.

    Being throttled is flow control, not a failure: the job comes back when
    the channel said, without spending one of its retries. Timeouts and 5xx
    spend one, so that an outage that lasts ends in a visible failed job.
    """
    try:
        with retry_when_database_returns():
            yield
    except RateLimitedError as err:
        raise RetryableJobError(
            str(err), seconds=retry_seconds(err.retry_after), ignore_retry=True
        ) from err
    except RetryableError as err:
        raise RetryableJobError(
            str(err), seconds=retry_seconds(err.retry_after)
        ) from err


@contextlib.contextmanager
def retry_when_database_returns():
    """A job cut off by a database restart or a cut connection runs again
    a little later (it spends a retry: an outage that lasts ends in a
    visible failed job) instead of failing at once -- an order event that
    failed would wait for an operator's Retry."""
    try:
        yield
    except (psycopg2.OperationalError, psycopg2.InterfaceError) as err:
        if not is_lost_connection(err):
            raise
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise RetryableJobError(
            f"Database connection lost ({reason}): retrying",
            seconds=LOST_CONNECTION_RETRY_SECONDS,
        ) from err
