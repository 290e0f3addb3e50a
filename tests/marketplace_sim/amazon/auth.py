"""Login with Amazon (LWA): refresh token -> access token, and the
``x-amz-access-token`` check in front of every SP-API call.

What a client must survive, on demand:
- ``expire_tokens()``: every issued access token dies now (a client that
  caches a token must catch the 403 and log in again);
- ``revoke()``: the refresh token stops working, ``invalid_grant`` forever
  (the seller must authorise the app again: no retry can fix it).
"""

import hmac
import secrets
import threading
from urllib.parse import parse_qs

from .wire import JSON_TYPE, Unauthorized, json_response

TOKEN_LIFETIME = 3600
_FORM = "application/x-www-form-urlencoded"


def _lwa_error(status, error, description):
    return json_response(
        status,
        {"error_description": description, "error": error},
        {"Cache-Control": "no-cache, no-store", "Pragma": "no-cache"},
        content_type=JSON_TYPE + ";charset=UTF-8",
    )


class LoginWithAmazon:
    def __init__(self, clock, client_id, client_secret, refresh_token):
        self.clock = clock
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.lifetime = TOKEN_LIFETIME
        self._revoked = False
        self._lock = threading.Lock()
        self._tokens = {}  # access token -> (client id, expiry)

    # Control

    def expire_tokens(self):
        with self._lock:
            self._tokens = {
                token: (app, 0.0) for token, (app, _exp) in self._tokens.items()
            }

    def revoke(self):
        with self._lock:
            self._revoked = True
            self._tokens.clear()

    def restore(self, refresh_token=None):
        """Authorise again (optionally with a new refresh token)."""
        with self._lock:
            self._revoked = False
            if refresh_token:
                self.refresh_token = refresh_token

    def issue(self):
        """An access token for tests that skip the LWA round trip."""
        token = "Atza|" + secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = (self.client_id, self.clock() + self.lifetime)
        return token

    # HTTP

    def handle_token(self, request):
        """``POST /auth/o2/token``."""
        content_type = (request.header("Content-Type") or "").split(";")[0].strip()
        if request.method != "POST" or content_type.lower() != _FORM:
            return _lwa_error(
                400, "invalid_request", "The request is missing a required parameter"
            )
        try:
            form = {
                key: values[-1]
                for key, values in parse_qs(request.body.decode("utf-8")).items()
            }
        except UnicodeDecodeError:
            form = {}
        grant = form.get("grant_type")
        if not grant or not form.get("client_id"):
            return _lwa_error(
                400, "invalid_request", "The request is missing a required parameter"
            )
        if grant != "refresh_token":
            return _lwa_error(
                400,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the "
                "authorization server",
            )
        if not (
            hmac.compare_digest(form.get("client_id", ""), self.client_id)
            and hmac.compare_digest(form.get("client_secret", ""), self.client_secret)
        ):
            return _lwa_error(401, "invalid_client", "Client authentication failed")
        with self._lock:
            revoked = self._revoked
        if revoked or not hmac.compare_digest(
            form.get("refresh_token", ""), self.refresh_token
        ):
            return _lwa_error(
                400,
                "invalid_grant",
                "The request has an invalid grant parameter : refresh_token",
            )
        token = self.issue()
        return json_response(
            200,
            {
                "access_token": token,
                "refresh_token": self.refresh_token,
                "token_type": "bearer",
                "expires_in": self.lifetime,
            },
            {"Cache-Control": "no-cache, no-store", "Pragma": "no-cache"},
        )

    def authenticate(self, request):
        """The application id behind ``x-amz-access-token``.

        :raise Unauthorized: missing, unknown or expired token (403, as the
            SP-API answers all three).
        """
        token = request.header("x-amz-access-token")
        if not token:
            raise Unauthorized("")
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None:
            raise Unauthorized(
                "The access token you provided is revoked, malformed or invalid."
            )
        application, expiry = entry
        if self.clock() >= expiry:
            raise Unauthorized("The access token you provided has expired.")
        return application
