# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""POST /marketplace/webhook/<token>: verify, store, acknowledge.

Thin on purpose: find the backend by its unguessable token, read the body
within the size limit, and let the backend verify and store. Nothing is
processed here: processing is a queue job. Statuses:

* 200 -- stored (or a duplicate of a stored delivery, or a topic we ignore);
* 400 -- malformed (missing headers, body not JSON);
* 401 -- signature missing or wrong; 403 -- wrong shop;
* 404 -- unknown token; 413 -- body over the backend's limit;
* 503 -- the delivery could not be stored: the marketplace retries later.
"""

from odoo import SUPERUSER_ID, http
from odoo.http import Response, request


def _answer(status, text):
    return Response(text, status=status, content_type="text/plain; charset=utf-8")


class MarketplaceWebhookController(http.Controller):
    _webhook_url = "/marketplace/webhook/<string:token>"

    @http.route(
        _webhook_url,
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        readonly=False,
    )
    def receive_webhook(self, token, **_params):
        backends = request.env["marketplace.backend"].with_user(SUPERUSER_ID)
        backend = backends._find_by_webhook_token(token)
        if not backend:
            return _answer(404, "unknown endpoint")
        httprequest = request.httprequest
        limit = backend.max_body_bytes
        if (httprequest.content_length or 0) > limit:
            return _answer(413, "payload too large")
        body = httprequest.get_data(cache=False)
        if len(body) > limit:
            return _answer(413, "payload too large")
        status, text = backend._receive_webhook(httprequest.headers, body)
        return _answer(status, text)
