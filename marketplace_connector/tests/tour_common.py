# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Browser tours that can leave screenshots behind.

The README's and the addons' screenshots are taken by the tours themselves,
so they show the screens as they are. A tour asks for one with the steps of
``screenshotSteps(name)`` (static/tests/tours/screenshot.js): it logs
``marketplace-screenshot:<name>`` on the console and waits until the body
carries ``o_marketplace_screenshot_<name>``. :class:`ScreenshotBrowser`, the
Chromium driver the tours of :class:`TourMixin` run in, answers that log:
when ``MARKETPLACE_SCREENSHOTS`` names a directory it captures the page
there as ``<name>.png`` (DevTools' ``Page.captureScreenshot``, what Odoo's
own failure screenshots use), then it sets the class and the tour goes on.
Without the variable nothing is written and the tour runs the same way.
"""

import base64
import logging
import os
import re
from unittest.mock import patch

from odoo.tests import common as odoo_test_common

_logger = logging.getLogger(__name__)

SCREENSHOT_SIGNAL = "marketplace-screenshot:"
SCREENSHOTS_ENV = "MARKETPLACE_SCREENSHOTS"
_NAME = re.compile(r"[a-z][a-z0-9_]*")


class ScreenshotBrowser(odoo_test_common.ChromeBrowser):
    """Odoo's headless Chromium driver, answering the tours' screenshot
    requests."""

    def _handle_console(self, type, args=None, stackTrace=None, **kw):  # pylint: disable=redefined-builtin
        if type == "log" and args:
            first = self._from_remoteobject(args[0])
            if isinstance(first, str) and first.startswith(SCREENSHOT_SIGNAL):
                self._screenshot(first[len(SCREENSHOT_SIGNAL) :])
        return super()._handle_console(type, args=args, stackTrace=stackTrace, **kw)

    def _screenshot(self, name):
        """Runs on the websocket's receiving thread: nothing here may wait
        for an answer, hence the callbacks."""
        if not _NAME.fullmatch(name):
            self._release(f"invalid-{len(name)}")
            return
        directory = os.environ.get(SCREENSHOTS_ENV)
        if not directory:
            self._release(name)
            return

        def save(future):
            try:
                data = base64.b64decode(future.result(timeout=0)["data"], validate=True)
                path = os.path.join(os.path.abspath(directory), f"{name}.png")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as png:
                    png.write(data)
                _logger.info("Screenshot %s saved in %s", name, path)
            except Exception:
                _logger.exception("Screenshot %s could not be saved", name)
            self._release(name)

        capture = self._websocket_send(
            "Page.captureScreenshot", params={"format": "png"}, with_future=True
        )
        capture.add_done_callback(save)

    def _release(self, name):
        """Let the waiting tour go on."""
        self._websocket_send(
            "Runtime.evaluate",
            params={
                "expression": "document.body.classList.add("
                f"'o_marketplace_screenshot_{name}')"
            },
        )


class TourMixin:
    """For HttpCase tests: tours run in :class:`ScreenshotBrowser`, in a
    window large enough for a form and its notebook."""

    browser_size = "1440x900"

    def start_tour(self, url_path, tour_name, step_delay=None, **kwargs):
        with patch.object(odoo_test_common, "ChromeBrowser", ScreenshotBrowser):
            return super().start_tour(url_path, tour_name, step_delay, **kwargs)
