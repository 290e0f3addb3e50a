"""A lost database connection is told apart from a failure of the work."""

import psycopg2
import pytest
from psycopg2 import errors as pg_errors

from odoo.addons.marketplace_connector.lib.database_errors import is_lost_connection


@pytest.mark.parametrize(
    "error",
    [
        psycopg2.OperationalError(
            "server closed the connection unexpectedly\n\tThis probably means "
            "the server terminated abnormally"
        ),
        psycopg2.InterfaceError("connection already closed"),
        pg_errors.AdminShutdown("terminating connection due to administrator command"),
        pg_errors.CrashShutdown("terminating connection because of crash"),
        pg_errors.CannotConnectNow("the database system is starting up"),
    ],
)
def test_restart_or_cut_connection_is_lost_connection(error):
    assert is_lost_connection(error)


@pytest.mark.parametrize(
    "error",
    [
        pg_errors.SerializationFailure("could not serialize access"),
        pg_errors.LockNotAvailable("could not obtain lock"),
        pg_errors.UniqueViolation("duplicate key value"),
        pg_errors.QueryCanceled("canceling statement due to statement timeout"),
        ValueError("bad data"),
    ],
)
def test_failures_of_the_work_are_not(error):
    assert not is_lost_connection(error)


def test_a_real_cut_connection_is_lost_connection():
    """What psycopg2 raises when the server is gone: a port nobody listens
    on refuses at once."""
    with pytest.raises(psycopg2.OperationalError) as caught:
        psycopg2.connect(host="127.0.0.1", port=1, connect_timeout=2)
    assert is_lost_connection(caught.value)
