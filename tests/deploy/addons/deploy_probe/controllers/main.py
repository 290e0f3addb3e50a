# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""GET /deploy_probe/whoami: the client address, URL and forwarded headers
as Odoo sees them once its proxy_mode has applied the forwarded headers."""

import json

from odoo import http
from odoo.http import request

FORWARDED_HEADERS = (
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "X-Forwarded-Port",
    "X-Forwarded-Prefix",
    "X-Real-IP",
    "Forwarded",
)


class DeployProbe(http.Controller):
    @http.route("/deploy_probe/whoami", type="http", auth="none", save_session=False)
    def whoami(self):
        httprequest = request.httprequest
        seen = {
            "remote_addr": httprequest.remote_addr,
            "host_url": httprequest.host_url,
            "scheme": httprequest.scheme,
            "headers": {
                name: httprequest.headers.get(name) for name in FORWARDED_HEADERS
            },
        }
        return request.make_response(
            json.dumps(seen), headers=[("Content-Type", "application/json")]
        )
