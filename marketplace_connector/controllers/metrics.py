# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""GET /metrics through Odoo's dispatch, when ``marketplace_connector`` is
not a server-wide module (as one, ``metrics_endpoint.py`` answers first,
without the dispatch). Token first, then the same scrape."""

from odoo import http
from odoo.http import Response, request

from .. import metrics_endpoint


class MarketplaceMetricsController(http.Controller):
    @http.route(
        metrics_endpoint.METRICS_PATH,
        type="http",
        auth="none",
        methods=["GET"],
        csrf=False,
        save_session=False,
        readonly=True,
    )
    def metrics(self, **_params):
        httprequest = request.httprequest
        if not metrics_endpoint.allowed(
            httprequest.headers.get("Authorization"), httprequest.remote_addr
        ):
            return Response(
                "a bearer token is required\n",
                status=401,
                content_type="text/plain; charset=utf-8",
                headers=[("WWW-Authenticate", 'Bearer realm="metrics"')],
            )
        if not request.db:
            return Response("no database\n", status=503, content_type="text/plain")
        body, content_type = metrics_endpoint.render(
            request.db,
            httprequest.query_string.decode(),
            httprequest.headers.get("Accept"),
        )
        return Response(body, status=200, content_type=content_type)
