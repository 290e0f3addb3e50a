from . import marketplace_backend
from . import marketplace_shopify_financial_state
