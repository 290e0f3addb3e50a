"""Requests, responses and Amazon's error shapes (no HTTP server here).

Every SP-API error is ``{"errors": [{"code", "message", "details"}]}``; the
helpers below are the only place those bodies are built, so the wording of
one kind of refusal is the same everywhere.
"""

import dataclasses
import json

JSON_TYPE = "application/json"

UNAUTHORIZED_MESSAGE = "Access to requested resource is denied."
QUOTA_MESSAGE = "You exceeded your quota for the requested resource."

_NO_JSON = object()


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict  # name -> [values], blank values kept
    headers: dict
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
        """The parsed body; ValueError when it is not JSON."""
        if self._json is _NO_JSON:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                self._json = _NO_JSON
                raise ValueError(f"the body is not JSON: {err}") from None
        return self._json

    def one(self, name):
        """A single-valued query parameter (None when absent)."""
        values = self.query.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise InvalidInput(f"{name} may be given only once")
        return values[0]

    def many(self, name):
        """An array query parameter: comma-separated (the models' default
        ``csv`` format) or repeated; None when absent."""
        values = self.query.get(name)
        if values is None:
            return None
        return [part for value in values for part in value.split(",")]


@dataclasses.dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict = dataclasses.field(default_factory=dict)


def json_response(status, payload, headers=None, content_type=JSON_TYPE):
    all_headers = {"Content-Type": content_type}
    all_headers.update(headers or {})
    text = json.dumps(payload, separators=(",", ":"))
    return Response(status, text.encode(), all_headers)


def errors_body(code, message, details=None):
    error = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"errors": [error]}


def error_response(status, code, message, details=None, headers=None):
    return json_response(status, errors_body(code, message, details), headers)


class ApiError(Exception):
    """Raised by handlers; the dispatcher turns it into Amazon's error body."""

    status = 400
    code = "InvalidInput"

    def __init__(self, message, details=None, status=None, code=None):
        super().__init__(message)
        self.message = message
        self.details = details
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def response(self):
        return error_response(self.status, self.code, self.message, self.details)


class InvalidInput(ApiError):
    """400 InvalidInput: what the Orders and Feeds APIs answer to a bad
    parameter (``details`` names it)."""


class NotFound(ApiError):
    status = 404
    code = "NotFound"


class Unauthorized(ApiError):
    status = 403
    code = "Unauthorized"

    def __init__(self, details=""):
        super().__init__(UNAUTHORIZED_MESSAGE, details)
