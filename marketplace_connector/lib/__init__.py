"""Channel-neutral logic that needs no database.

Everything in this package is plain Python: it must never import ``odoo``
(the unit tests in ``tests/unit`` load it without Odoo to make sure of it).
Adapters and Odoo models both speak the types defined here.
"""
