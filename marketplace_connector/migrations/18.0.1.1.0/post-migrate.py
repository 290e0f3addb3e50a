# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Drop the single-column indexes 18.0.1.1.0 no longer declares.

Odoo keeps an index a field stops asking for. These duplicated the leading
column of a UNIQUE constraint (or indexed a column nothing searches), cost
a write for every webhook stored and every change of an event's state, and
one of them misled the planner during sales (see the order binding)."""

from odoo.tools.sql import drop_index

DROPPED = {
    "marketplace_event": ("backend_id", "company_id"),
    "marketplace_order_binding": ("backend_id",),
    "marketplace_partner_binding": ("backend_id",),
    "marketplace_product_binding": ("backend_id",),
}


def migrate(cr, version):
    for table, columns in DROPPED.items():
        for column in columns:
            drop_index(cr, f"{table}__{column}_index", table)
