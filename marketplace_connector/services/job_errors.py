# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The adapters' retryable errors, as queue_job understands them."""

import contextlib
import math

from odoo.addons.queue_job.exception import RetryableJobError

from ..lib.errors import RateLimitedError, RetryableError


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
        yield
    except RateLimitedError as err:
        raise RetryableJobError(
            str(err), seconds=retry_seconds(err.retry_after), ignore_retry=True
        ) from err
    except RetryableError as err:
        raise RetryableJobError(
            str(err), seconds=retry_seconds(err.retry_after)
        ) from err
