# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Which orders import becomes a choice among Shopify's financial states.

18.0.2.x kept it as comma-separated text (``import_financial_states``). The
ORM leaves the column of a removed field in place: its text becomes the
backend's chosen states (names it does not know are dropped, as they never
matched an order), then the column goes."""

from odoo import SUPERUSER_ID, Command, api
from odoo.tools.sql import column_exists

OLD_COLUMN = "import_financial_states"


def migrate(cr, version):
    if not version or not column_exists(cr, "marketplace_backend", OLD_COLUMN):
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    states = env["marketplace.shopify.financial.state"].search([])
    by_code = {state.code: state.id for state in states}
    cr.execute(
        "SELECT id, import_financial_states FROM marketplace_backend "
        "WHERE marketplace_type = 'shopify'"
    )
    for backend_id, text in cr.fetchall():
        codes = [code.strip() for code in (text or "").split(",")]
        env["marketplace.backend"].browse(backend_id).import_financial_state_ids = [
            Command.set([by_code[code] for code in codes if code in by_code])
        ]
    env.flush_all()
    cr.execute("ALTER TABLE marketplace_backend DROP COLUMN import_financial_states")
