from . import marketplace_backend
from . import marketplace_shopify_financial_state
from . import marketplace_backend_catalogue
from . import marketplace_catalogue_variant
from . import marketplace_product_binding
