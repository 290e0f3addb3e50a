"""The Amazon adapter as plain Python: Login with Amazon, the SP-API client,
the v2026 order mapping, SQS notifications, listings quantities and feeds,
shipment confirmations, and the adapter the core asks for.

Nothing here imports Odoo (``tests/unit`` loads this package without it).
Importing :mod:`.adapter` registers :class:`~.adapter.AmazonAdapter` for the
``amazon`` marketplace type, which is why the addon imports this package.
"""

from . import adapter
