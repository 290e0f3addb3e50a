# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Loaded server-wide, the connector warns at startup when queue_job's
runner may send jobs to every HTTP worker of the server, leaving none for
webhooks; the figures are read from the configuration as queue_job reads
them (environment first, then the ``[queue_job]`` section)."""

import os
from unittest.mock import patch

import odoo
from odoo.tests.common import BaseCase, tagged
from odoo.tools import config

from odoo.addons.marketplace_connector import post_load, worker_capacity_check

QUEUE_JOB_VARIABLES = (
    "ODOO_QUEUE_JOB_CHANNELS",
    "ODOO_QUEUE_JOB_HOST",
    "ODOO_QUEUE_JOB_PORT",
    "ODOO_QUEUE_JOB_MAX_CAPACITY",
)


@tagged("post_install", "-at_install")
class TestWorkerCapacityCheck(BaseCase):
    def configure(self, workers, channels, port=None, stop_after_init=False):
        """The server's options and queue_job's environment, for this test."""
        environ = patch.dict(os.environ)
        environ.start()
        self.addCleanup(environ.stop)
        for name in QUEUE_JOB_VARIABLES:
            os.environ.pop(name, None)
        os.environ["ODOO_QUEUE_JOB_CHANNELS"] = channels
        os.environ["ODOO_QUEUE_JOB_HOST"] = "localhost"
        os.environ["ODOO_QUEUE_JOB_PORT"] = str(port or config["http_port"])
        options = patch.dict(
            config.options, {"workers": workers, "stop_after_init": stop_after_init}
        )
        options.start()
        self.addCleanup(options.stop)

    def test_jobs_that_can_take_every_worker_are_warned_of_at_startup(self):
        self.configure(2, "root:2,root.marketplace.inbound:2,root.marketplace.poll:1")
        with self.assertLogs(worker_capacity_check.__name__, "WARNING") as logged:
            post_load()
        (message,) = logged.output
        self.assertIn("Odoo runs 2 HTTP workers and queue_job up to 2 jobs", message)
        self.assertIn("0 worker(s) answer webhooks", message)
        self.assertIn("Set workers to at least 4", message)

    def test_enough_workers_left_says_nothing(self):
        self.configure(5, "root:3,root.marketplace.inbound:2,root.marketplace.stock:1")
        self.assertIsNone(worker_capacity_check.check())

    def test_jobs_sent_to_a_server_of_their_own_say_nothing(self):
        self.configure(2, "root:4", port=int(config["http_port"]) + 1)
        self.assertIsNone(worker_capacity_check.check())

    def test_no_runner_here_says_nothing(self):
        self.configure(2, "root:0")
        self.assertIsNone(worker_capacity_check.check())

    def test_an_install_or_upgrade_says_nothing(self):
        self.configure(2, "root:4", stop_after_init=True)
        self.assertIsNone(worker_capacity_check.check())

    def test_threaded_mode_says_nothing(self):
        self.configure(0, "root:4")
        self.assertIsNone(worker_capacity_check.check())

    def test_the_websocket_server_says_nothing(self):
        """The main process starts it with the same configuration; the
        warning is the main process's to give, once."""
        self.configure(2, "root:4")
        with patch.object(odoo, "evented", True):
            self.assertIsNone(worker_capacity_check.check())
