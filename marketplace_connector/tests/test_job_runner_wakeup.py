# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Loaded server-wide, the connector makes queue_job's runner wake up every
few seconds without a notification, so that a job whose worker died gives
its channel place back within seconds of the runner's dead-job delay."""

from odoo.tests.common import BaseCase, tagged

from odoo.addons.marketplace_connector import job_runner_wakeup, post_load
from odoo.addons.queue_job.jobrunner import runner


@tagged("post_install", "-at_install")
class TestJobRunnerWakeup(BaseCase):
    def setUp(self):
        super().setUp()
        self.addCleanup(setattr, runner, "SELECT_TIMEOUT", runner.SELECT_TIMEOUT)

    def test_server_wide_load_shortens_the_runners_wait(self):
        runner.SELECT_TIMEOUT = 60  # queue_job's own
        post_load()
        self.assertEqual(runner.SELECT_TIMEOUT, job_runner_wakeup.WAKEUP_SECONDS)

    def test_a_shorter_wait_set_elsewhere_is_kept(self):
        runner.SELECT_TIMEOUT = 2
        job_runner_wakeup.install()
        self.assertEqual(runner.SELECT_TIMEOUT, 2)
