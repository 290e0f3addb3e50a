from . import test_order_intake
