# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
{
    "name": "Deploy probe (tests only)",
    "summary": "What Odoo sees of a request behind the reverse proxy",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "license": "AGPL-3",
    "author": "Marketplace Connector",
    "depends": ["web"],
    "installable": True,
}
