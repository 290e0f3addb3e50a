"""A small Shopify Admin API client: GraphQL and REST GET.

Why not a generic HTTP helper: Shopify has its own ways of saying "later"
and "never", and the job layer needs them told apart.

* **Later** -- HTTP 429 (``Retry-After``), GraphQL ``THROTTLED`` (in an HTTP
  200 *or* 429, with the bucket's state in ``extensions.cost``), 5xx,
  timeouts and dropped connections. Inside one call the client waits and
  retries, with capped exponential backoff and jitter for failures and the
  server's own figure for throttling, as long as a wait stays under
  ``max_inline_wait`` and attempts remain. Beyond that it raises
  :class:`RateLimitedError` / :class:`RetryableError` carrying
  ``retry_after`` so that the job is re-queued instead of holding a worker.
* **Never without a fix** -- 401/403 and GraphQL ``ACCESS_DENIED``
  (:class:`AuthenticationError`), 402 frozen and 423 locked shops, 3xx, other
  4xx and GraphQL validation errors (:class:`PermanentError` /
  :class:`DataError`), each with a message that says what to do.

The client also keeps what Shopify reports about our budget after every
call, so callers can pace themselves: :attr:`ShopifyClient.rest_call_limit`
from ``X-Shopify-Shop-Api-Call-Limit`` and
:attr:`ShopifyClient.throttle_status` from GraphQL's ``extensions.cost``.

Secrets: the access token travels only in the ``X-Shopify-Access-Token``
header. It is never logged, never part of an exception text (remote texts
are scrubbed too), and redirects are not followed: ``requests`` would resend
a custom header to whatever host a redirect names.
"""

import dataclasses
import logging
import random
import time

import requests

from odoo.addons.marketplace_connector.lib.errors import (
    AuthenticationError,
    DataError,
    PermanentError,
    RateLimitedError,
    RetryableError,
)

_logger = logging.getLogger(__name__)

#: (connect, read) seconds; a little over 3 s to connect lets one lost SYN
#: be retransmitted
DEFAULT_TIMEOUT = (3.05, 10.0)
#: what to wait after a REST 429 that names no Retry-After (leak 2 calls/s)
DEFAULT_RETRY_AFTER = 2.0
BACKOFF_BASE = 0.5
#: the longest ``retry_after`` we suggest to the job layer after failures
REQUEUE_CAP = 60.0
CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"
TOKEN_HEADER = "X-Shopify-Access-Token"
_MAX_REMOTE_TEXT = 300

MESSAGE_401 = (
    "Shopify refused the access token (HTTP 401): the app may have been "
    "uninstalled or the token revoked. Update the access token on the "
    "backend, then retry."
)
MESSAGE_403 = (
    "Shopify refused the request (HTTP 403: {remote}): the access token was "
    "refused or lacks an access scope this call needs -- the app may have been "
    "uninstalled, the token revoked or a scope removed. Update the access "
    "token (or the app's scopes) on the backend, then retry."
)
MESSAGE_402 = (
    "The Shopify shop is frozen (HTTP 402 Payment Required): the merchant "
    "must settle the shop's Shopify bill. Retry once the shop is unfrozen."
)
MESSAGE_423 = (
    "The Shopify shop is locked (HTTP 423 Locked), usually by Shopify for a "
    "fraud or policy review. The merchant must contact Shopify support; "
    "retry once the shop is unlocked."
)


@dataclasses.dataclass(frozen=True)
class ThrottleStatus:
    """The GraphQL cost bucket as of the last response.

    :param maximum_available: the bucket size in points.
    :param currently_available: points left after the last query.
    :param restore_rate: points restored per second.
    :param actual_cost: what the last query really cost (``None`` when it
        was not run, e.g. throttled).
    :param requested_cost: what the last query was estimated to cost.
    """

    maximum_available: float
    currently_available: float
    restore_rate: float
    actual_cost: float | None = None
    requested_cost: float | None = None

    def seconds_until(self, cost):
        """Seconds until ``cost`` points are available (0 when they are)."""
        deficit = float(cost) - self.currently_available
        if deficit <= 0:
            return 0.0
        if self.restore_rate <= 0:
            return None
        return deficit / self.restore_rate


def _number(value):
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_call_limit(value):
    """``"32/40"`` → ``(32, 40)``; ``None`` when absent or garbled."""
    if not value or "/" not in value:
        return None
    used, _sep, maximum = value.partition("/")
    try:
        return int(used.strip()), int(maximum.strip())
    except ValueError:
        return None


def parse_throttle_status(payload):
    """A :class:`ThrottleStatus` from a GraphQL response body, or ``None``."""
    extensions = payload.get("extensions") if isinstance(payload, dict) else None
    cost = extensions.get("cost") if isinstance(extensions, dict) else None
    if not isinstance(cost, dict):
        return None
    status = cost.get("throttleStatus")
    if not isinstance(status, dict):
        return None
    values = [
        _number(status.get(name))
        for name in ("maximumAvailable", "currentlyAvailable", "restoreRate")
    ]
    if None in values:
        return None
    return ThrottleStatus(
        *values,
        actual_cost=_number(cost.get("actualQueryCost")),
        requested_cost=_number(cost.get("requestedQueryCost")),
    )


def _parse_retry_after(value):
    seconds = _number(value)
    if seconds is None or seconds < 0:
        return None
    return seconds


def _normalise_timeout(timeout):
    """``(connect, read)`` floats, or one float for both.

    A single number is passed on as it is rather than split: Odoo's test
    harness wraps ``requests`` and compares the timeout with a number, so a
    backend's timeout (one number) must stay one number.
    """
    if isinstance(timeout, (tuple, list)):
        connect, read = timeout
        return float(connect), float(read)
    return float(timeout)


class ShopifyClient:
    """One shop's Admin API, for one API version.

    :param api_url: ``https://{shop}.myshopify.com`` (or a simulator).
    :param access_token: the Admin API access token.
    :param api_version: e.g. ``2026-10``.
    :param timeout: ``(connect, read)`` seconds, or one number for both.
    :param session: a :class:`requests.Session` to reuse (connection pooling).
    :param max_attempts: tries per call, the first included.
    :param max_inline_wait: the longest wait spent inside a call; a longer
        one is left to the job layer (raised as ``retry_after``).
    :param sleep: how to wait (tests pass a recorder).
    """

    def __init__(
        self,
        api_url,
        access_token,
        api_version,
        timeout=DEFAULT_TIMEOUT,
        session=None,
        max_attempts=4,
        max_inline_wait=5.0,
        sleep=time.sleep,
    ):
        if not api_url:
            raise PermanentError(
                "No API URL is set on the backend: enter the shop's address, "
                "e.g. https://your-shop.myshopify.com."
            )
        if not access_token:
            raise AuthenticationError(
                "No access token is set on the backend: enter the Admin API "
                "access token of the shop's app, then retry."
            )
        if not api_version:
            raise PermanentError(
                "No API version is set on the backend: enter a supported "
                "Shopify Admin API version, e.g. 2026-10."
            )
        self.api_url = api_url.rstrip("/")
        self.api_version = api_version
        self._token = access_token
        self.timeout = _normalise_timeout(timeout)
        self.session = session or requests.Session()
        self.max_attempts = max(1, int(max_attempts))
        self.max_inline_wait = float(max_inline_wait)
        self._sleep = sleep
        #: ``(used, maximum)`` of the REST bucket, from the last REST answer
        self.rest_call_limit = None
        #: :class:`ThrottleStatus` from the last GraphQL answer
        self.throttle_status = None

    def __repr__(self):
        return f"<ShopifyClient {self.api_url} {self.api_version}>"

    # Public API

    def url(self, path):
        return f"{self.api_url}/admin/api/{self.api_version}/{path.lstrip('/')}"

    def graphql(self, query, variables=None):
        """Run a GraphQL query or mutation; return its ``data``.

        Mutation ``userErrors`` are part of ``data``: the caller reads them.

        :raise RateLimitedError: still throttled after the inline waits.
        :raise AuthenticationError: token refused, or ``ACCESS_DENIED``.
        :raise PermanentError: the query itself was refused.
        """
        body = {"query": query}
        if variables:
            body["variables"] = variables

        def attempt():
            response = self._send("POST", "graphql.json", json_body=body)
            return self._graphql_data(self._json(response, "POST graphql.json"))

        return self._retrying("POST graphql.json", attempt)

    def rest_get(self, path, params=None):
        """``GET {path}``; return ``(parsed JSON, response)``.

        The response is returned for its headers (``Link``, call limit).
        """
        what = f"GET {path}"

        def attempt():
            response = self._send("GET", path, params=params)
            return self._json(response, what), response

        return self._retrying(what, attempt)

    def close(self):
        self.session.close()

    # One attempt

    def _headers(self):
        return {
            TOKEN_HEADER: self._token,
            "Accept": "application/json",
        }

    def _send(self, method, path, params=None, json_body=None):
        """One HTTP exchange; the response when it is a success, else raise."""
        what = f"{method} {path}"
        try:
            response = self.session.request(
                method,
                self.url(path),
                params=params,
                json=json_body,
                headers=self._headers(),
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout as err:
            phase = "connect" if isinstance(err, requests.ConnectTimeout) else "read"
            limit = self.timeout
            if isinstance(limit, tuple):
                limit = limit[0 if phase == "connect" else 1]
            raise RetryableError(
                f"Shopify did not answer {what} in time ({phase} timeout, {limit:g} s)."
            ) from err
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as err:
            raise PermanentError(
                f"The backend's API URL {self.api_url!r} is not a valid URL: "
                f"{self._scrub(str(err))}"
            ) from err
        except requests.RequestException as err:
            raise RetryableError(
                f"Cannot reach Shopify for {what}: {err.__class__.__name__}: "
                f"{self._scrub(str(err))[:_MAX_REMOTE_TEXT]}"
            ) from err
        self._note_call_limit(response)
        _logger.debug("Shopify %s answered %s", what, response.status_code)
        status = response.status_code
        if 200 <= status < 300:
            return response
        raise self._http_error(response, what)

    def _http_error(self, response, what):
        status = response.status_code
        reason = response.reason or ""
        remote = self._remote_message(response)
        if status == 429:
            retry_after = _parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is None:
                retry_after = self._throttle_wait(_safe_json(response))
            return RateLimitedError(
                f"Shopify throttled {what} (HTTP 429): {remote}",
                retry_after=DEFAULT_RETRY_AFTER if retry_after is None else retry_after,
            )
        if status >= 500 or status == 408:
            return RetryableError(
                f"Shopify answered {what} with HTTP {status} {reason}: {remote}",
                retry_after=_parse_retry_after(response.headers.get("Retry-After")),
            )
        if status == 401:
            return AuthenticationError(MESSAGE_401)
        if status == 403:
            return AuthenticationError(MESSAGE_403.format(remote=remote))
        if status == 402:
            return PermanentError(MESSAGE_402)
        if status == 423:
            return PermanentError(MESSAGE_423)
        if 300 <= status < 400:
            location = self._scrub(response.headers.get("Location") or "?")
            return PermanentError(
                f"Shopify redirected {what} (HTTP {status}) to {location}: set "
                f"the backend's API URL to the shop's own "
                f"https://<shop>.myshopify.com address."
            )
        if status == 404:
            return PermanentError(
                f"Shopify answered {what} with HTTP 404 Not Found ({remote}): "
                f"check the backend's API URL and API version (a version "
                f"Shopify no longer supports is an error)."
            )
        if status == 422:
            return DataError(f"Shopify refused {what} (HTTP 422): {remote}")
        return PermanentError(
            f"Shopify refused {what} (HTTP {status} {reason}): {remote}"
        )

    def _json(self, response, what):
        try:
            return response.json()
        except ValueError as err:
            raise PermanentError(
                f"Shopify's answer to {what} is not JSON (HTTP "
                f"{response.status_code}, {response.headers.get('Content-Type')}): "
                f"check the backend's API URL."
            ) from err

    def _graphql_data(self, payload):
        if not isinstance(payload, dict):
            raise PermanentError("Shopify's GraphQL answer is not a JSON object.")
        status = parse_throttle_status(payload)
        if status is not None:
            self.throttle_status = status
        errors = payload.get("errors")
        if errors:
            raise self._graphql_error(errors, payload)
        data = payload.get("data")
        if not isinstance(data, dict):
            raise PermanentError("Shopify's GraphQL answer has no data.")
        return data

    def _graphql_error(self, errors, payload):
        if not isinstance(errors, list):
            errors = [errors]
        codes = set()
        messages = []
        for error in errors:
            if isinstance(error, dict):
                extensions = error.get("extensions")
                if isinstance(extensions, dict) and extensions.get("code"):
                    codes.add(str(extensions["code"]))
                messages.append(str(error.get("message") or error))
            else:
                messages.append(str(error))
        text = self._scrub("; ".join(messages))[:_MAX_REMOTE_TEXT]
        if "THROTTLED" in codes:
            return RateLimitedError(
                f"Shopify throttled the GraphQL query: {text}",
                retry_after=self._throttle_wait(payload),
            )
        if "ACCESS_DENIED" in codes:
            return AuthenticationError(
                f"Shopify denied access to the GraphQL query ({text}): the "
                f"access token lacks an access scope this call needs, or was "
                f"revoked. Update the access token (or the app's scopes) on "
                f"the backend, then retry."
            )
        if "INTERNAL_SERVER_ERROR" in codes:
            return RetryableError(f"Shopify failed the GraphQL query: {text}")
        return PermanentError(f"Shopify refused the GraphQL query: {text}")

    def _throttle_wait(self, payload):
        """Seconds until the throttled query's cost is back in the bucket."""
        status = parse_throttle_status(payload)
        if status is None:
            return None
        self.throttle_status = status
        if status.restore_rate <= 0:
            return None
        wait = status.seconds_until(status.requested_cost or 0)
        # throttled although the points seem to be there: wait one restore tick
        return max(wait, 1.0 / status.restore_rate)

    def _note_call_limit(self, response):
        limit = parse_call_limit(response.headers.get(CALL_LIMIT_HEADER))
        if limit is not None:
            self.rest_call_limit = limit

    def _remote_message(self, response):
        """Shopify's own words about an error, short and without the token."""
        payload = _safe_json(response)
        if isinstance(payload, dict):
            found = payload.get("errors") or payload.get("error") or payload
            if isinstance(found, dict):
                text = "; ".join(
                    f"{field}: {_join(value)}" for field, value in found.items()
                )
            elif isinstance(found, list):
                text = _join(found)
            else:
                text = str(found)
        else:
            text = " ".join((response.text or "").split()) or "(empty body)"
        return self._scrub(text)[:_MAX_REMOTE_TEXT]

    def _scrub(self, text):
        return text.replace(self._token, "***") if self._token else text

    # Retries

    def _backoff(self, attempt, cap=None):
        """Capped exponential backoff with "equal jitter": half fixed, half
        random, so that clients failing together do not retry together."""
        cap = self.max_inline_wait if cap is None else cap
        delay = min(cap, BACKOFF_BASE * 2 ** (attempt - 1))
        return delay / 2 + random.uniform(0, delay / 2)

    def _retrying(self, what, attempt):
        number = 0
        while True:
            number += 1
            try:
                return attempt()
            except RetryableError as err:
                wait = err.retry_after
                if wait is None:
                    wait = self._backoff(number)
                if number < self.max_attempts and wait <= self.max_inline_wait:
                    _logger.info(
                        "%s; attempt %d of %d, retrying in %.2f s",
                        err,
                        number,
                        self.max_attempts,
                        wait,
                    )
                    self._sleep(wait)
                    continue
                retry_after = err.retry_after
                if retry_after is None:
                    retry_after = self._backoff(number + 1, cap=REQUEUE_CAP)
                _logger.warning(
                    "%s; giving up after %d attempt(s), retry in %.2f s",
                    err,
                    number,
                    retry_after,
                )
                raise type(err)(
                    f"{err} (gave up after {number} attempt(s); retry in "
                    f"{retry_after:.1f} s)",
                    retry_after=retry_after,
                ) from err


def _join(value):
    """Shopify's error values: text, lists of texts, or GraphQL-like dicts."""
    if isinstance(value, list):
        return "; ".join(_join(item) for item in value)
    if isinstance(value, dict) and "message" in value:
        return str(value["message"])
    return str(value)


def _safe_json(response):
    try:
        return response.json()
    except ValueError:
        return None
