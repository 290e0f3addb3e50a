from . import test_order_import
from . import test_webhook_intake
from . import test_polling
from . import test_backend
from . import test_stock
from . import test_metrics
from . import test_refunds
