# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""List the taxes earlier versions created on the fly for the operator.

Before 18.0.3.0.0 the import matched a channel tax by its rate alone and,
failing that, created a sales tax named ``<title> <rate>%[ incl.]
(<channel>)`` -- with no account on its distribution and in whatever tax
group Odoo fell back to. Each such tax of a backend's company becomes a tax
mapping of that backend, *to review*, still pointing to the old tax: nothing
is deleted or changed on the tax or on the orders and invoices that used
it. The import refuses a mapping whose tax has no account, so the orders
with these taxes wait until a person maps them to a real tax (or gives the
old tax its accounts and confirms the row)."""

from odoo import SUPERUSER_ID, api

from odoo.addons.marketplace_connector.services.tax_migration import (
    list_legacy_taxes,
)


def migrate(cr, version):
    if not version:
        return
    list_legacy_taxes(api.Environment(cr, SUPERUSER_ID, {}))
