# A server-wide module of tests/deploy/test_reverse_proxy.py only, never
# installed: Odoo routes the controllers of server-wide modules anyway.
from . import controllers
