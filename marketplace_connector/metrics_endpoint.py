# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""``GET /metrics`` and the count of the intake's answers, without Odoo's
request dispatch.

As a server-wide module (``post_load``), this wraps Odoo's WSGI application,
like the fast intake (``fast_intake.py``) and after it:

* ``GET /metrics`` is answered here: the bearer token (or the client's
  address) is checked before anything else, then a handful of aggregate
  queries on a connection of its own (``services/metrics.py``). No database
  listing, session, routing map or registry: a scrape costs its queries.
* every answer to ``/marketplace/webhook/`` -- from the fast intake or from
  the controller route -- is counted by status code and backend, in memory;
  a background thread writes the counts every few seconds. The intake never
  waits for it.

Without the server-wide module, the controller route
(``controllers/metrics.py``) serves ``/metrics`` through Odoo's dispatch.

Configuration (Odoo configuration file, or the environment):
``marketplace_metrics_token`` / ``MARKETPLACE_METRICS_TOKEN`` and
``marketplace_metrics_trusted`` / ``MARKETPLACE_METRICS_TRUSTED`` (addresses
or networks, comma-separated, e.g. ``127.0.0.1,10.0.0.0/8``). Neither set:
every scrape gets 401.
"""

import logging
import os
import threading
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

import odoo
from odoo.http import Application

from . import fast_intake
from .lib import metrics as lib
from .services import metrics

_logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
TOKEN_OPTION = "marketplace_metrics_token"
TOKEN_VARIABLE = "MARKETPLACE_METRICS_TOKEN"
TRUSTED_OPTION = "marketplace_metrics_trusted"
TRUSTED_VARIABLE = "MARKETPLACE_METRICS_TRUSTED"

_previous_call = None


def install():
    """Wrap Odoo's WSGI application (the manifest's ``post_load``, after
    the fast intake's)."""
    global _previous_call  # a process-wide wrapper, set once
    if getattr(Application.__call__, "marketplace_metrics", False):
        return
    _previous_call = Application.__call__
    Application.__call__ = _metrics_call
    _logger.info("Marketplace metrics endpoint installed at %s", METRICS_PATH)


def uninstall():
    """Tests put Odoo's application back as it was."""
    global _previous_call  # see install
    if _previous_call is not None and Application.__call__ is _metrics_call:
        Application.__call__ = _previous_call
        _previous_call = None


def _metrics_call(self, environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == METRICS_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
        dbname = fast_intake._database(environ)  # pylint: disable=protected-access
        return serve(environ, start_response, dbname)
    if not path.startswith(fast_intake.WEBHOOK_PREFIX):
        return _previous_call(self, environ, start_response)
    return _counted_intake(self, environ, start_response)


_metrics_call.marketplace_metrics = True


def _counted_intake(app, environ, start_response):
    """Serve a webhook as before, and count its answer."""
    current = threading.current_thread()
    current.marketplace_backend_id = 0
    answered = []

    def recording_start_response(status, headers, exc_info=None):
        answered.append(status)
        return start_response(status, headers, exc_info)

    result = _previous_call(app, environ, recording_start_response)
    try:
        dbname = getattr(current, "dbname", None)
        code = answered[0].split(" ", 1)[0] if answered else "500"
        backend_id = getattr(current, "marketplace_backend_id", 0)
        metrics.count(dbname, lib.INTAKE_RESPONSES, backend_id, code)
        if backend_id and code.startswith("2"):
            metrics.mark(dbname, backend_id, "intake")
        elif backend_id and code.startswith("5"):
            metrics.mark(dbname, backend_id, "intake", name=lib.LAST_FAILURE)
    except Exception:  # counting must never cost a delivery its answer
        _logger.exception("Could not count a webhook answer")
    return result


def _setting(option, variable):
    return odoo.tools.config.get(option) or os.environ.get(variable) or ""


def allowed(authorization, remote_addr):
    """Whether this scrape may read the metrics (token first)."""
    return lib.access_allowed(
        authorization,
        remote_addr,
        _setting(TOKEN_OPTION, TOKEN_VARIABLE),
        lib.parse_trusted(_setting(TRUSTED_OPTION, TRUSTED_VARIABLE)),
    )


def render(dbname, query_string, accept):
    """``(body, content type)`` of a scrape of ``dbname``: OpenMetrics when
    the scraper asks for it (Prometheus does), else the text format."""
    window = lib.parse_window((parse_qs(query_string or "").get("window") or [None])[0])
    snapshot = metrics.scrape(dbname, window)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(lib.SnapshotCollector(snapshot))
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


def _respond(start_response, status, body, content_type, extra=()):
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            *extra,
        ],
    )
    return [body]


def serve(environ, start_response, dbname):
    if not allowed(environ.get("HTTP_AUTHORIZATION"), environ.get("REMOTE_ADDR")):
        return _respond(
            start_response,
            "401 Unauthorized",
            b"a bearer token is required\n",
            "text/plain; charset=utf-8",
            [("WWW-Authenticate", 'Bearer realm="metrics"')],
        )
    if not dbname:
        return _respond(
            start_response,
            "503 Service Unavailable",
            b"no single database for this host: set db_name or dbfilter\n",
            "text/plain; charset=utf-8",
        )
    threading.current_thread().dbname = dbname
    try:
        body, content_type = render(
            dbname, environ.get("QUERY_STRING"), environ.get("HTTP_ACCEPT")
        )
    except Exception:
        _logger.exception("Metrics of %s could not be read", dbname)
        return _respond(
            start_response,
            "503 Service Unavailable",
            b"metrics unavailable\n",
            "text/plain; charset=utf-8",
        )
    return _respond(start_response, "200 OK", body, content_type)
