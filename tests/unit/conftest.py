"""Load the addons' plain-Python ``lib`` packages without Odoo.

Production code imports them as ``odoo.addons.<addon>.lib.<module>``. Here
``odoo`` and ``odoo.addons`` are empty stub packages (never the real Odoo,
even when it is installed), and each addon is a stub package whose
``__path__`` is its folder: ``odoo.addons.marketplace_connector.lib.errors``
then loads ``marketplace_connector/lib/errors.py`` without running the
addon's ``__init__.py`` (which imports models, hence Odoo). A ``lib`` module
that imports real Odoo code fails its unit tests, which is the point.

pytest imports this file before any test module of this folder. The
pytest-odoo plugin (installed for the Odoo tests) has imported the real Odoo
by then and imports ``odoo.tests`` before each test: it is switched off here,
so the unit tests and the Odoo tests run in separate pytest processes.
"""

import functools
import os
import pathlib
import sys
import types

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_ADDONS = ("marketplace_connector", "marketplace_shopify", "marketplace_amazon")


def _stub_package(name, path=()):
    module = types.ModuleType(name)
    module.__path__ = list(path)  # a package: submodules are found on this path
    sys.modules[name] = module
    return module


# Replace unconditionally: the real ``odoo`` (imported by pytest-odoo) and
# its submodules must not be reachable from the code under test.
for _name in [n for n in sys.modules if n == "odoo" or n.startswith("odoo.")]:
    del sys.modules[_name]
_odoo = _stub_package("odoo")
_odoo.addons = _stub_package("odoo.addons")
for _addon in _ADDONS:
    setattr(
        _odoo.addons,
        _addon,
        _stub_package(f"odoo.addons.{_addon}", [os.path.join(_ROOT, _addon)]),
    )


def pytest_configure(config):
    """Unregister pytest-odoo's hooks: they need the real Odoo hidden here."""
    config.pluginmanager.set_blocked("odoo")


# pytest-odoo's autouse fixtures were collected before its hooks could be
# switched off; these no-op fixtures of the same names replace them (they
# would open a database and load a registry).
@pytest.fixture(scope="session", autouse=True)
def load_registry():
    yield


@pytest.fixture(scope="session", autouse=True)
def load_http():
    yield


@pytest.fixture(scope="module", autouse=True)
def enable_odoo_test_flag():
    yield


#: Shopify's introspected Admin schemas, beside the checkout (never copied in)
SHOPIFY_SCHEMAS = pathlib.Path(_ROOT).parent / "shared" / "shopify-admin-schema"
SHOPIFY_SCHEMA_VERSIONS = ("2026-04", "2026-07")


@functools.cache
def _build_shopify_schema(path):
    from graphql import build_schema  # only the contract tests need it

    return build_schema(path.read_text(encoding="utf-8"))


@pytest.fixture(params=SHOPIFY_SCHEMA_VERSIONS)
def shopify_schema(request):
    """Shopify's Admin schema of each version we hold our GraphQL documents
    to, built once per run (a schema is tens of thousands of lines); the
    test is skipped, saying so, where ``../shared`` does not have it."""
    path = SHOPIFY_SCHEMAS / f"{request.param}.graphql"
    if not path.exists():
        pytest.skip(f"Shopify's Admin schema is not at {path}: contract test skipped")
    return _build_shopify_schema(path)
