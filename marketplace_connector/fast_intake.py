# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""The webhook intake without Odoo's request dispatch.

A marketplace never sends a session cookie, so Odoo's dispatcher lists the
databases on every webhook (a connection to ``postgres`` each time), builds a
session, a request environment and a routing map before our controller runs:
measured here, that caps a trivial route near 100 requests/s on two cores
(``shared/perf-notes.md``). Webhooks need none of it.

When ``marketplace_connector`` is a server-wide module
(``server_wide_modules = web,queue_job,marketplace_connector``), this module
wraps Odoo's WSGI application: ``POST /marketplace/webhook/<token>`` is
served here, everything else goes to Odoo untouched. It keeps every
guarantee of the controller, because it runs the very same code
(``marketplace.backend._receive_webhook``): signature checked before
anything is stored, the event row and its queue job committed before the
200, 503 whenever they cannot be stored -- including when PostgreSQL itself
is down or restarting, where Odoo's own dispatcher would answer 500.

What it skips: the database listing (the database comes from ``db_name`` or
from a ``dbfilter`` matched once per host and cached), sessions, the routing
map, ``ir.http`` authentication. Without the server-wide module, or when the
database is ambiguous, the controller route serves the webhook as before.
"""

import logging
import select
import threading
import time
from contextlib import closing

import psycopg2
from psycopg2.extensions import ISOLATION_LEVEL_READ_COMMITTED, STATUS_READY
from psycopg2.pool import PoolError
from werkzeug.datastructures import EnvironHeaders
from werkzeug.wsgi import get_input_stream

import odoo
from odoo import SUPERUSER_ID, api
from odoo.http import Application

_logger = logging.getLogger(__name__)

WEBHOOK_PREFIX = "/marketplace/webhook/"
DB_CACHE_SECONDS = 60
#: switched on by :func:`install`; tests switch it off to exercise the route
ENABLED = False

_original_call = Application.__call__
_db_cache = {}
_db_cache_lock = threading.Lock()

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    503: "Service Unavailable",
}


def install():
    """Wrap Odoo's WSGI application (the manifest's ``post_load``)."""
    global ENABLED  # a process-wide switch, set once
    if Application.__call__ is not _patched_call:
        Application.__call__ = _patched_call
    ENABLED = True
    _logger.info("Marketplace webhook fast intake installed")


def _patched_call(self, environ, start_response):
    if (
        ENABLED
        and environ.get("REQUEST_METHOD") == "POST"
        and environ.get("PATH_INFO", "").startswith(WEBHOOK_PREFIX)
    ):
        dbname = _database(environ)
        if dbname:
            return _serve(dbname, environ, start_response)
    return _original_call(self, environ, start_response)


def _database(environ):
    """The one database webhooks of this host go to, or None."""
    config = odoo.tools.config
    if config["db_name"]:
        names = [n for n in config["db_name"].split(",") if n.strip()]
        names = odoo.http.db_filter(names, host=environ.get("HTTP_HOST", ""))
        return names[0] if len(names) == 1 else None
    host = environ.get("HTTP_HOST", "")
    now = time.monotonic()
    with _db_cache_lock:
        cached = _db_cache.get(host)
        if cached and now - cached[1] < DB_CACHE_SECONDS:
            return cached[0]
    names = odoo.http.db_list(force=True, host=host)
    dbname = names[0] if len(names) == 1 else None
    with _db_cache_lock:
        _db_cache[host] = (dbname, now)
    return dbname


_signaling_checked = {}


def _registry(dbname):
    """The database's registry, checking at most once a second whether
    another process changed it (a module upgrade, a cache invalidation):
    that check costs a cursor of its own, more than the rest of a webhook."""
    registry = odoo.modules.registry.Registry(dbname)
    now = time.monotonic()
    if now - _signaling_checked.get(dbname, 0) >= 1.0:
        registry = registry.check_signaling()
        _signaling_checked[dbname] = now
    return registry


class IntakeConnections:
    """Connections of the intake, lent again without Odoo's reset.

    Odoo's pool resets a connection each time it lends one (psycopg2's
    ``reset``: ``DISCARD ALL``, a round trip). On a server busy with a flash
    sale every round trip waits its turn: measured with py-spy, lending the
    cursor was a fifth of the intake's time. The intake leaves nothing in a
    session to reset -- it sets no parameter, takes no session lock, and
    ends with a commit or a rollback -- so its connections are kept here
    between deliveries (at most ``KEEP`` idle per database; more go back to
    Odoo's pool).

    They are borrowed from Odoo's pool, and count against ``db_maxconn``
    there. A kept connection that the server has spoken on unasked (a
    restart or an administrator ending the session: PostgreSQL says so
    before it closes) or that is closed is dropped before it is lent, and a
    fresh one comes from Odoo's pool, which checks it: a restarted server
    costs no delivery a 503.
    """

    KEEP = 2
    readonly = False  # read by odoo.sql_db.Cursor

    def __init__(self):
        self._idle = {}
        self._lock = threading.Lock()

    @staticmethod
    def _pool():
        return odoo.sql_db._Pool  # pylint: disable=protected-access

    @staticmethod
    def usable(connection):
        if connection.closed:
            return False
        readable, _w, _x = select.select([connection], [], [], 0)
        return not readable

    def _discard(self, connection):
        try:
            self._pool().give_back(connection, keep_in_pool=False)
        except PoolError:
            connection.close()  # the pool closed and forgot it already

    def borrow(self, connection_info):
        key = tuple(sorted(connection_info.items()))
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                connection = idle.pop()
                if self.usable(connection):
                    connection.intake_key = key
                    return connection
                self._discard(connection)
        connection = self._pool().borrow(connection_info)
        connection.intake_key = key
        return connection

    def give_back(self, connection, keep_in_pool=True):
        key = getattr(connection, "intake_key", None)
        if (
            keep_in_pool
            and key is not None
            and not connection.closed
            and connection.status == STATUS_READY
        ):
            with self._lock:
                idle = self._idle.setdefault(key, [])
                if len(idle) < self.KEEP:
                    idle.append(connection)
                    return
        if connection.closed:
            self._discard(connection)
        else:
            self._pool().give_back(connection, keep_in_pool=keep_in_pool)

    def clear(self):
        """Give every idle connection back to Odoo's pool."""
        with self._lock:
            idle = [c for connections in self._idle.values() for c in connections]
            self._idle.clear()
        for connection in idle:
            self._discard(connection)

    def cursor(self, dbname):
        odoo.sql_db.db_connect(dbname)  # makes sure Odoo's pool exists
        _name, connection_info = odoo.sql_db.connection_info_for(dbname)
        return odoo.sql_db.Cursor(self, dbname, connection_info)


INTAKE_CONNECTIONS = IntakeConnections()


def intake_cursor(registry):
    """A new cursor of ``registry`` for storing a delivery, on a kept
    connection (:class:`IntakeConnections`) and READ COMMITTED (see
    :func:`read_committed`). Tests share one cursor through the registry:
    they get theirs."""
    if registry.test_cr is not None:
        return read_committed(registry.cursor())
    return read_committed(INTAKE_CONNECTIONS.cursor(registry.db_name))


def read_committed(cr):
    """Make the transactions of the new cursor ``cr`` READ COMMITTED.

    Shopify sends ``orders/create`` and ``orders/paid`` of a paid order at
    the same instant, with the same state: the second INSERT of the same
    dedupe key waits for the first. In Odoo's REPEATABLE READ, the first's
    commit then makes the waiting INSERT fail to serialise (the row it
    conflicts with is newer than its snapshot), and the delivery is stored
    again from the start. READ COMMITTED lets ``ON CONFLICT DO NOTHING``
    simply find the duplicate. The intake reads the backend and writes one
    event and its job: nothing in it depends on a stable snapshot.

    The level holds for this cursor only: Odoo sets REPEATABLE READ again
    on every cursor it creates from the pooled connection. A cursor already
    in a transaction (a test's, shared by its requests) is left as it is:
    psycopg2 would end that transaction to change the level."""
    if cr.connection.status == STATUS_READY:
        cr.connection.set_isolation_level(ISOLATION_LEVEL_READ_COMMITTED)
    return cr


def _respond(start_response, status, text):
    body = text.encode()
    start_response(
        f"{status} {_REASONS.get(status, 'Error')}",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]


def _serve(dbname, environ, start_response):
    token = environ["PATH_INFO"][len(WEBHOOK_PREFIX) :].strip("/")
    current = threading.current_thread()
    current.dbname = dbname
    try:
        registry = _registry(dbname)
        with closing(intake_cursor(registry)) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            backend = env["marketplace.backend"]._find_by_webhook_token(token)
            if not backend:
                return _respond(start_response, 404, "unknown endpoint")
            limit = backend.max_body_bytes
            length = int(environ.get("CONTENT_LENGTH") or 0)  # ValueError: 400
            if length > limit:
                return _respond(start_response, 413, "payload too large")
            body = get_input_stream(environ).read(limit + 1)
            if len(body) > limit:
                return _respond(start_response, 413, "payload too large")
            status, text = backend._receive_webhook(EnvironHeaders(environ), body)
            return _respond(start_response, status, text)
    except ValueError:
        return _respond(start_response, 400, "malformed Content-Length")
    except psycopg2.Error as err:
        _logger.warning("Webhook not stored, answering 503: %s", type(err).__name__)
        return _respond(start_response, 503, "temporarily unable to store the delivery")
    except Exception:
        # a bug, an unloadable registry: the marketplace redelivers later
        _logger.exception("Webhook intake failed, answering 503")
        return _respond(start_response, 503, "temporarily unable to store the delivery")
