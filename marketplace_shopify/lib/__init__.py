"""The Shopify adapter as plain Python: webhook signatures, the REST order
mapping, the Admin API client and the adapter the core asks for.

Nothing here imports Odoo (``tests/unit`` loads this package without it).
Importing :mod:`.adapter` registers :class:`~.adapter.ShopifyAdapter` for the
``shopify`` marketplace type, which is why the addon imports this package.
"""

from . import adapter
