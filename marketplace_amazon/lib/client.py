"""A small Selling Partner API client: one call, its budget, its errors.

Why its own client rather than a generic one (or ``python-amazon-sp-api``):
the core spends each operation's rate budget in the database, shared by all
workers (``rate_gate.reserve(operation)`` before every call), and needs
Amazon's refusals told apart as "later" and "never without a fix".

* Every call names its SP-API operation (``searchOrders``, ``getOrder``...):
  the operation is the rate family, the log label and the key of
  :data:`RATE_LIMITS` (Amazon's default usage plans, from the models).
* Later -- 429 ``QuotaExceeded`` (:class:`RateLimitedError`, ``retry_after``
  one restore period: 1 / the rate Amazon reports in
  ``x-amzn-RateLimit-Limit``, else the plan's), 5xx, 408, timeouts and
  dropped connections (:class:`RetryableError`). Server errors are retried
  inline a couple of times with short jittered waits; throttling never is
  (the shared gate and the job layer pace that).
* Never without a fix -- 400 (:class:`DataError` with Amazon's own
  ``errors[].message`` and ``details``), 404 (:class:`DataError`), 401/403
  after one fresh login (:class:`AuthenticationError`), other 4xx and
  redirects (:class:`PermanentError`).

Secrets: the access token travels only in ``x-amz-access-token`` to the
SP-API host; redirects are not followed (requests would resend it), and the
pre-signed feed document URLs (S3) get no token at all. Logs name the
operation, the status and Amazon's request id, never a token.
"""

import logging
import platform
import random
import time

import requests

from odoo.addons.marketplace_connector.lib.adapter import RateLimit
from odoo.addons.marketplace_connector.lib.errors import (
    AuthenticationError,
    DataError,
    PermanentError,
    RateLimitedError,
    RetryableError,
)

_logger = logging.getLogger(__name__)

#: Amazon's regional SP-API hosts (the protocols doc lists which countries)
REGION_HOSTS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}

#: Default usage plans (burst, requests per second) of the operations we
#: call, from Amazon's API models. createFeed is also capped at 5 submissions
#: per 5 minutes per region since 2025-05, which is stricter than its token
#: bucket (0.0083/s, burst 15): that cap is the budget we keep.
RATE_LIMITS = {
    "searchOrders": RateLimit(20, 0.0056),
    "getOrder": RateLimit(30, 0.5),
    "confirmShipment": RateLimit(10, 2.0),
    "patchListingsItem": RateLimit(5, 5.0),
    "getListingsItem": RateLimit(10, 5.0),
    "searchListingsItems": RateLimit(5, 5.0),
    "createFeedDocument": RateLimit(15, 0.5),
    "createFeed": RateLimit(5, 5 / 300),
    "getFeed": RateLimit(15, 2.0),
    "getFeedDocument": RateLimit(10, 0.0222),
}

RATE_HEADER = "x-amzn-RateLimit-Limit"
REQUEST_ID_HEADER = "x-amzn-RequestId"
TOKEN_HEADER = "x-amz-access-token"
USER_AGENT = (
    f"odoo-marketplace-connector/18.0 (Language=Python/{platform.python_version()})"
)
DEFAULT_TIMEOUT = (3.05, 20.0)
BACKOFF_BASE = 0.5
_MAX_REMOTE_TEXT = 400


class NotFoundError(DataError):
    """Amazon answered 404: no such order, listing, feed or document (for
    now: a just-notified order may not be readable yet)."""


def endpoint(region, api_url=""):
    """The SP-API base URL: ``api_url`` when set (tests), else the region's."""
    if api_url:
        return api_url.rstrip("/")
    try:
        return REGION_HOSTS[(region or "").strip().lower()]
    except KeyError:
        raise PermanentError(
            f"Unknown Amazon region {region!r} on the backend: choose na (North "
            f"America), eu (Europe, UK, India, Middle East) or fe (Japan, "
            f"Australia, Singapore)."
        ) from None


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def amazon_errors(response):
    """Amazon's ``{"errors": [{code, message, details}]}`` as one line."""
    try:
        payload = response.json()
    except ValueError:
        text = " ".join((response.text or "").split())
        return text[:_MAX_REMOTE_TEXT] or "(empty body)"
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if not isinstance(errors, list) or not errors:
        return str(payload)[:_MAX_REMOTE_TEXT]
    parts = []
    for error in errors:
        if not isinstance(error, dict):
            parts.append(str(error))
            continue
        text = f"{error.get('code') or '?'}: {error.get('message') or ''}".strip()
        if error.get("details"):
            text += f" ({error['details']})"
        parts.append(text)
    return "; ".join(parts)[:_MAX_REMOTE_TEXT]


class SpApiClient:
    """Calls to one region's SP-API for one seller authorisation.

    :param lwa: a :class:`~.lwa.LoginWithAmazon`.
    :param rate_gate: the core's gate (``reserve(family, cost)``,
        ``observe(...)``); one point of the operation's family per call.
    :param sleep: how to wait between inline retries (tests record it).
    """

    def __init__(
        self,
        base_url,
        lwa,
        rate_gate,
        timeout=DEFAULT_TIMEOUT,
        session=None,
        max_attempts=3,
        max_inline_wait=2.0,
        sleep=time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.lwa = lwa
        self.rate_gate = rate_gate
        self.timeout = timeout
        self.session = session or requests.Session()
        self.max_attempts = max(1, int(max_attempts))
        self.max_inline_wait = float(max_inline_wait)
        self._sleep = sleep

    def __repr__(self):
        return f"<SpApiClient {self.base_url}>"

    # Public API

    def call(self, operation, method, path, params=None, body=None):
        """One SP-API operation; its parsed JSON answer (``None`` when empty).

        :param params: query parameters; lists are sent comma-separated
            (the models' ``csv`` collection format).
        """
        number = 0
        while True:
            number += 1
            try:
                return self._authorised(operation, method, path, params, body)
            except RateLimitedError:
                raise
            except RetryableError as err:
                if number >= self.max_attempts:
                    raise
                wait = min(self.max_inline_wait, BACKOFF_BASE * 2 ** (number - 1))
                wait = wait / 2 + random.uniform(0, wait / 2)
                _logger.info("%s; attempt %d, retrying in %.2f s", err, number, wait)
                self._sleep(wait)

    def transfer(self, method, url, data=None, content_type=None, what="document"):
        """Upload to or download from a pre-signed feed document URL.

        No access token and no rate gate: the URL is S3's, signed by Amazon.
        An expired or refused URL is retryable: the caller starts over with a
        new document.

        :return: the response body (bytes).
        """
        headers = {"Content-Type": content_type} if content_type else {}
        try:
            response = self.session.request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as err:
            raise RetryableError(
                f"Cannot {method} the feed {what} ({err.__class__.__name__})."
            ) from err
        if 200 <= response.status_code < 300:
            return response.content
        text = " ".join((response.text or "").split())[:200]
        raise RetryableError(
            f"The feed {what} URL answered {method} with HTTP "
            f"{response.status_code}: {text}"
        )

    # One exchange

    def _authorised(self, operation, method, path, params, body):
        """Send with the cached token; after a 401/403 log in once again."""
        token = self.lwa.access_token()
        response = self._send(operation, method, path, params, body, token)
        if response.status_code in (401, 403):
            _logger.info(
                "SP-API %s answered %s with a cached token; logging in again",
                operation,
                response.status_code,
            )
            token = self.lwa.refresh(rejected=token)
            response = self._send(operation, method, path, params, body, token)
        return self._result(operation, response)

    def _send(self, operation, method, path, params, body, token):
        self.rate_gate.reserve(operation, 1)
        query = {
            name: ",".join(str(v) for v in value)
            if isinstance(value, (list, tuple))
            else value
            for name, value in (params or {}).items()
            if value is not None
        }
        headers = {
            TOKEN_HEADER: token,
            "user-agent": USER_AGENT,
            "Accept": "application/json",
        }
        try:
            response = self.session.request(
                method,
                f"{self.base_url}{path}",
                params=query,
                json=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout as err:
            raise RetryableError(
                f"Amazon did not answer {operation} in time ({self.timeout} s)."
            ) from err
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as err:
            raise PermanentError(
                f"The SP-API URL {self.base_url!r} is not a valid URL."
            ) from err
        except requests.RequestException as err:
            raise RetryableError(
                f"Cannot reach Amazon for {operation} ({err.__class__.__name__})."
            ) from err
        _logger.debug(
            "SP-API %s %s: HTTP %s (request id %s)",
            operation,
            path,
            response.status_code,
            response.headers.get(REQUEST_ID_HEADER),
        )
        return response

    def _result(self, operation, response):
        status = response.status_code
        if 200 <= status < 300:
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError as err:
                raise PermanentError(
                    f"Amazon's answer to {operation} is not JSON (HTTP {status}): "
                    f"check the backend's API URL."
                ) from err
        raise self._error(operation, response)

    def _error(self, operation, response):
        status = response.status_code
        remote = amazon_errors(response)
        request_id = response.headers.get(REQUEST_ID_HEADER) or "?"
        if status == 429:
            return self._throttled(operation, response, remote)
        if status >= 500 or status == 408:
            return RetryableError(
                f"Amazon failed {operation} (HTTP {status}: {remote}; request id "
                f"{request_id})."
            )
        if status in (401, 403):
            return AuthenticationError(
                f"Amazon refused {operation} (HTTP {status}: {remote}) even with a "
                f"new access token: the seller's authorisation may lack the role "
                f"this call needs, or the seller id on the backend is not the "
                f"authorising seller's. Check the app's roles in Seller Central "
                f"and authorise it again if needed."
            )
        if status == 400:
            return DataError(f"Amazon refused {operation}: {remote}")
        if status == 404:
            return NotFoundError(f"Amazon found nothing for {operation}: {remote}")
        if 300 <= status < 400:
            return PermanentError(
                f"Amazon redirected {operation} (HTTP {status}): check the "
                f"backend's region and API URL."
            )
        return PermanentError(f"Amazon refused {operation} (HTTP {status}: {remote}).")

    def _throttled(self, operation, response, remote):
        plan = RATE_LIMITS.get(operation)
        rate = _number(response.headers.get(RATE_HEADER))
        if rate is None and plan is not None:
            rate = plan.restore_rate
        if rate is not None and plan is not None:
            self.rate_gate.observe(operation, 0, plan.maximum, rate)
        retry_after = 1.0 / rate if rate else None
        return RateLimitedError(
            f"Amazon throttled {operation} (HTTP 429: {remote}).",
            retry_after=retry_after,
        )
