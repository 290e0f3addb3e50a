from . import webhook
from . import metrics
