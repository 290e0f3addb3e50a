"""Login with Amazon (LWA): the refresh-token grant and its token cache.

Every SP-API call carries a short-lived access token (``x-amz-access-token``,
one hour) obtained from a long-lived refresh token, the seller's
authorisation of our app. Why a cache with an injectable store:

* a login per call would double the traffic and spend LWA's own limits;
* Odoo runs several worker processes: the Odoo side hands in a
  database-backed :class:`TokenStore` so they share one token instead of each
  logging in (plain-Python use keeps :class:`MemoryTokenStore`);
* a token is refreshed :data:`REFRESH_MARGIN` seconds before it expires, so
  a call never starts with a token that dies in flight;
* Amazon may still refuse a cached token (revoked, clock skew, a test that
  expires tokens): :meth:`LoginWithAmazon.refresh` is then asked for a new one
  once, and hands back a token another worker already refreshed when there
  is one rather than logging in again.

What goes wrong, in words an operator can act on: ``invalid_grant`` (the
seller revoked the app, or the refresh token is wrong) needs a new
authorisation in Seller Central; ``invalid_client`` names the LWA client id
and secret of the app. Neither is retried. Timeouts, 5xx and 429 are
:class:`RetryableError`. Secrets never appear in a log line or an error text.
"""

import logging
import threading
import time

import requests

from odoo.addons.marketplace_connector.lib.errors import (
    AuthenticationError,
    PermanentError,
    RateLimitedError,
    RetryableError,
)

_logger = logging.getLogger(__name__)

DEFAULT_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
#: seconds before expiry at which a cached token is replaced
REFRESH_MARGIN = 60.0
#: when LWA's answer names no lifetime (it always says 3600)
DEFAULT_LIFETIME = 3600.0
DEFAULT_TIMEOUT = (3.05, 15.0)

MESSAGE_INVALID_GRANT = (
    "Amazon refused the LWA refresh token (invalid_grant): the seller revoked "
    "the app's authorisation, or the token on the backend is wrong or "
    "truncated. In Seller Central, authorise the app again (Apps and Services "
    "> Manage Your Apps, or Develop Apps > Authorize for a private app), then "
    "paste the new refresh token into the backend's LWA refresh token field "
    "and retry."
)
MESSAGE_INVALID_CLIENT = (
    "Amazon refused the app's LWA credentials (invalid_client): check the LWA "
    "client id and client secret on the backend against the app in Seller "
    "Central (Develop Apps > View LWA credentials); a rotated secret must be "
    "entered again."
)


class TokenStore:
    """Where access tokens are kept between calls (and between workers).

    ``expires_at`` is epoch seconds (``time.time()`` scale).
    """

    def get(self):
        """:return: ``(token, expires_at)`` or ``None``."""
        raise NotImplementedError

    def put(self, token, expires_at):
        raise NotImplementedError


class MemoryTokenStore(TokenStore):
    """One process's cache (tests, scripts, one adapter instance)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entry = None

    def get(self):
        with self._lock:
            return self._entry

    def put(self, token, expires_at):
        with self._lock:
            self._entry = (token, float(expires_at))


def _safe_json(response):
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


class LoginWithAmazon:
    """Access tokens for one app and one seller authorisation.

    :param store: a :class:`TokenStore` (default: in memory).
    :param clock: epoch seconds now (tests pass a fake clock).
    """

    def __init__(
        self,
        client_id,
        client_secret,
        refresh_token,
        token_url=DEFAULT_TOKEN_URL,
        store=None,
        session=None,
        timeout=DEFAULT_TIMEOUT,
        clock=time.time,
        margin=REFRESH_MARGIN,
    ):
        missing = [
            label
            for label, value in (
                ("LWA client id", client_id),
                ("LWA client secret", client_secret),
                ("LWA refresh token", refresh_token),
            )
            if not value
        ]
        if missing:
            raise AuthenticationError(
                f"The backend has no {', '.join(missing)}: enter the app's LWA "
                f"credentials and the seller's refresh token, then retry."
            )
        self.client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self.token_url = token_url or DEFAULT_TOKEN_URL
        self.store = store or MemoryTokenStore()
        self.session = session or requests.Session()
        self.timeout = timeout
        self.clock = clock
        self.margin = float(margin)
        self._lock = threading.Lock()

    def __repr__(self):
        return f"<LoginWithAmazon {self.token_url}>"

    def _fresh(self, entry):
        return bool(entry and entry[0] and entry[1] - self.margin > self.clock())

    def access_token(self):
        """A token valid for at least the margin: the cached one, or a new one."""
        entry = self.store.get()
        if self._fresh(entry):
            return entry[0]
        return self.refresh()

    def refresh(self, rejected=None):
        """Log in again and cache the new token.

        :param rejected: the token Amazon just refused; when the store holds
            another fresh one (a worker refreshed meanwhile) that one is
            returned without a login.
        """
        with self._lock:
            entry = self.store.get()
            if rejected is not None and self._fresh(entry) and entry[0] != rejected:
                return entry[0]
            token, lifetime = self._grant()
            self.store.put(token, self.clock() + lifetime)
            return token

    def _grant(self):
        """``(access token, lifetime in seconds)`` from the refresh token."""
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token,
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }
        try:
            response = self.session.post(
                self.token_url,
                data=form,
                headers={"Accept": "application/json"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout as err:
            raise RetryableError(
                "Login with Amazon did not answer in time; retrying later."
            ) from err
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as err:
            raise PermanentError(
                f"The LWA token URL {self.token_url!r} is not a valid URL."
            ) from err
        except requests.RequestException as err:
            raise RetryableError(
                f"Cannot reach Login with Amazon ({err.__class__.__name__}); "
                f"retrying later."
            ) from err
        payload = _safe_json(response)
        status = response.status_code
        if status == 200 and payload.get("access_token"):
            try:
                lifetime = float(payload.get("expires_in") or DEFAULT_LIFETIME)
            except (TypeError, ValueError):
                lifetime = DEFAULT_LIFETIME
            _logger.info("LWA: new access token, valid %.0f s", lifetime)
            return payload["access_token"], lifetime
        error = str(payload.get("error") or "")
        _logger.warning("LWA refused the token request: HTTP %s %s", status, error)
        if error == "invalid_grant":
            raise AuthenticationError(MESSAGE_INVALID_GRANT)
        if error in ("invalid_client", "unauthorized_client"):
            raise AuthenticationError(MESSAGE_INVALID_CLIENT)
        if status == 429:
            raise RateLimitedError(
                "Login with Amazon throttled the token request.", retry_after=5.0
            )
        if status >= 500 or status == 408:
            raise RetryableError(
                f"Login with Amazon failed (HTTP {status}); retrying later."
            )
        description = str(payload.get("error_description") or "")[:200]
        raise AuthenticationError(
            f"Login with Amazon refused the token request (HTTP {status} "
            f"{error or 'no error code'}: {description or 'no description'}). "
            f"Check the LWA token URL and the app's LWA credentials."
        )
