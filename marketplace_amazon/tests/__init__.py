from . import test_order_intake
from . import test_shipments
from . import test_cancellation
from . import test_stock
from . import test_auth_and_throttling
from . import test_backend
from . import test_order_taxes
from . import test_polling
