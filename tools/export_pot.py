"""Write each addon's translation template, ``<addon>/i18n/<addon>.pot``,
from a database where the addons are installed (the test database:
``tests/run`` builds it).

    python3 tools/export_pot.py --config var/odoo-test.conf --database marketplace_test

``marketplace_connector/tests/test_translations.py`` fails when a template
is not what this writes (a string added or changed without it).
"""

import argparse
import io
import os
import sys

ADDONS = ("marketplace_connector", "marketplace_shopify", "marketplace_amazon")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pot_of(cr, addon):
    """The template of ``addon`` as Odoo exports it, without the header's
    creation date (it changes at every export)."""
    from odoo.tools.translate import trans_export

    buffer = io.BytesIO()
    trans_export(False, [addon], buffer, "po", cr)
    return strip_dates(buffer.getvalue().decode())


def strip_dates(text):
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if not line.startswith(('"POT-Creation-Date:', '"PO-Revision-Date:'))
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    args = parser.parse_args()
    import odoo

    odoo.tools.config.parse_config(["-c", args.config, "-d", args.database])
    registry = odoo.modules.registry.Registry(args.database)
    with registry.cursor() as cr:
        for addon in ADDONS:
            path = os.path.join(ROOT, addon, "i18n", f"{addon}.pot")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as pot:
                pot.write(pot_of(cr, addon))
            print(f"wrote {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
