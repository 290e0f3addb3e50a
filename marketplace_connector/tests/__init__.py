from . import test_migrations
from . import test_job_runner_wakeup
from . import test_worker_capacity_check
from . import test_pull_intake
from . import test_channel_abilities
