"""Requests and responses as the handlers see them (no HTTP server here)."""

import dataclasses
import http
import json

JSON_TYPE = "application/json; charset=utf-8"
NOT_FOUND = {"errors": "Not Found"}
INVALID_TOKEN = {
    "errors": "[API] Invalid API key or access token "
    "(unrecognized login or wrong password)"
}
REST_THROTTLED = {
    "errors": "Exceeded 2 calls per second for api client. "
    "Reduce request rates to resume uninterrupted service."
}

_NO_JSON = object()


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict  # name -> [values], blank values kept
    headers: dict  # as received
    body: bytes
    client_host: str = "127.0.0.1"
    _json: object = dataclasses.field(default=_NO_JSON, repr=False)

    def header(self, name, default=None):
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return default

    def json(self):
        """The parsed body; raise ValueError when it is not JSON."""
        if self._json is _NO_JSON:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                self._json = None
                raise ValueError(f"the body is not JSON: {err}") from None
        return self._json

    def json_or_none(self):
        if not self.body:
            return None
        try:
            return self.json()
        except ValueError:
            return None


@dataclasses.dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict = dataclasses.field(default_factory=dict)
    #: seconds to hold the answer back (a timeout fault)
    delay: float = 0.0


def json_response(status, payload, headers=None):
    return raw_json_response(
        status, json.dumps(payload, separators=(",", ":")), headers
    )


def raw_json_response(status, text, headers=None):
    all_headers = {"Content-Type": JSON_TYPE}
    all_headers.update(headers or {})
    return Response(status, text.encode(), all_headers)


def error_response(status, headers=None):
    """A Shopify-looking error body for a bare status."""
    if status == 401:
        return json_response(401, INVALID_TOKEN, headers)
    if status == 404:
        return json_response(404, NOT_FOUND, headers)
    if status == 429:
        return json_response(429, REST_THROTTLED, headers)
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return json_response(status, {"errors": phrase}, headers)
