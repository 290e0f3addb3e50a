"""Recognising the echoes of our own writes among a channel's reports."""

from odoo.addons.marketplace_connector.lib.stock import (
    RECENT_PUSHES,
    is_echo,
    remember_push,
)


def test_newest_first_and_bounded():
    recent = ""
    for quantity in range(20):
        recent = remember_push(recent, quantity)
    values = recent.split(",")
    assert values[0] == "19"
    assert len(values) == RECENT_PUSHES
    assert values[-1] == str(20 - RECENT_PUSHES)


def test_late_echo_of_an_older_write_is_recognised():
    recent = remember_push(remember_push(remember_push("", 30), 28), 26)
    assert is_echo(recent, 28)
    assert is_echo(recent, 30)


def test_other_values_and_empty_history_are_not_echoes():
    assert not is_echo(remember_push("", 30), 29)
    assert not is_echo("", 0)
    assert not is_echo(None, 5)
    # "1" is not an echo of "12": whole values only
    assert not is_echo(remember_push("", 12), 1)


def test_reconciliation_sql_keeps_as_many():
    # stock_reconciliation.py trims the list in SQL with a literal bound
    import pathlib

    import odoo.addons.marketplace_connector.services as services

    source = (
        pathlib.Path(services.__path__[0]) / "stock_reconciliation.py"
    ).read_text()
    assert f"[1:{RECENT_PUSHES}]" in source
