from . import test_order_intake
from . import test_shipments
