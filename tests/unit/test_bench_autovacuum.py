"""The flash-sale benchmark turns PostgreSQL's autovacuum on for its run and
puts back what the server had, with a server made up."""

import psycopg2
import pytest
from benchmarks.autovacuum import autovacuum_on


class FakeServer:
    def __init__(self, setting, sourcefile=None, superuser=True):
        self.setting, self.sourcefile, self.superuser = setting, sourcefile, superuser
        self.auto_conf = "off" if sourcefile and "auto.conf" in sourcefile else None
        self.statements = []

    def connect(self):
        return FakeConnection(self)

    def execute(self, statement):
        self.statements.append(statement)
        if statement.startswith("ALTER SYSTEM"):
            if not self.superuser:
                raise psycopg2.ProgrammingError(
                    "must be superuser to execute ALTER SYSTEM"
                )
            self.auto_conf = None if "RESET" in statement else statement.split()[-1]
        elif "pg_reload_conf" in statement:
            self.setting = self.auto_conf or "off"
            return [(True,)]
        elif "FROM pg_settings" in statement:
            return [(self.setting, self.sourcefile)]
        return None


class FakeConnection:
    def __init__(self, server):
        self.server, self.autocommit = server, False

    def cursor(self):
        return FakeCursor(self)

    def close(self):
        pass


class FakeCursor:
    def __init__(self, conn):
        self.conn, self.rows = conn, None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @property
    def description(self):
        return self.rows is not None or None

    def execute(self, statement):
        assert self.conn.autocommit, "ALTER SYSTEM cannot run in a transaction"
        self.rows = self.conn.server.execute(statement)

    def fetchall(self):
        return self.rows


def test_off_in_the_configuration_files_is_on_for_the_run_then_off_again():
    server = FakeServer("off", "/etc/postgresql/15/main/conf.d/90-ci.conf")
    with autovacuum_on(server.connect) as state:
        assert server.setting == "on"
        assert state.startswith("on for this run")
    assert server.setting == "off"
    assert "ALTER SYSTEM RESET autovacuum" in server.statements


def test_off_set_by_alter_system_is_set_again():
    server = FakeServer("off", "/var/lib/postgresql/15/main/postgresql.auto.conf")
    with autovacuum_on(server.connect):
        assert server.setting == "on"
    assert server.auto_conf == "off"
    assert server.setting == "off"


def test_put_back_when_the_run_fails():
    server = FakeServer("off", "/etc/postgresql/conf.d/90-ci.conf")
    with pytest.raises(RuntimeError), autovacuum_on(server.connect):
        raise RuntimeError("the sale failed")
    assert server.setting == "off"


def test_on_already_is_left_alone():
    server = FakeServer("on")
    with autovacuum_on(server.connect) as state:
        assert state == "on"
    assert not any(s.startswith("ALTER") for s in server.statements)


def test_not_allowed_to_change_it_is_reported():
    server = FakeServer("off", "/etc/x.conf", superuser=False)
    with autovacuum_on(server.connect) as state:
        assert "could not turn it on" in state
        assert server.setting == "off"


def test_kept_off_on_request():
    server = FakeServer("off", "/etc/x.conf")
    with autovacuum_on(server.connect, enable=False) as state:
        assert "left off" in state
    assert not any(s.startswith("ALTER") for s in server.statements)
