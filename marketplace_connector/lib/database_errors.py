"""Which database errors mean the work was interrupted, not wrong: a lost
connection, or a conflict with a concurrent transaction."""

import psycopg2
from psycopg2 import errors as pg_errors

#: another transaction holds or has just changed the same rows: the same
#: work in a new transaction (a new snapshot) a moment later goes through
CONCURRENCY_ERRORS = (
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.LockNotAvailable,
)

#: the server is shutting down or restarting (SQLSTATE class 57)
_SERVER_GOING_AWAY = (
    pg_errors.AdminShutdown,
    pg_errors.CrashShutdown,
    pg_errors.CannotConnectNow,
)


def is_lost_connection(error):
    """Whether ``error`` says the database went away under a transaction (a
    restart, a failover, a cut connection): the work did not fail, it was
    interrupted, and runs again once the database is back.

    The server names its own shutdowns (SQLSTATE 57P01-57P03); a connection
    cut without a word is a plain ``OperationalError`` or ``InterfaceError``
    raised by the client, with no SQLSTATE. Anything the server answered
    with a SQLSTATE of another kind (a constraint, a serialization failure)
    is not a lost connection."""
    if isinstance(error, _SERVER_GOING_AWAY):
        return True
    return (
        type(error) in (psycopg2.OperationalError, psycopg2.InterfaceError)
        and getattr(error, "pgcode", None) is None
    )
