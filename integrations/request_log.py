"""The servers' request log (`carebot serve`, `carebot fhir`): method, route template,
status and duration of each request.

The route's template (`/fhir/{type}/{id}`), never the raw path or its query string: paths
and queries carry patient ids and search terms, which stay out of logs.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

REQUEST_LOG = "carebot.requests"
UNMATCHED = "(no route)"


def route_template(request: web.BaseRequest) -> str:
    """The template of the route that answered REQUEST, or `(no route)`."""
    if not isinstance(request, web.Request):
        return UNMATCHED
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


class RequestLogger(AbstractAccessLogger):
    """aiohttp's access logger, writing one line a request without ids or queries."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Log REQUEST, answered with RESPONSE after TIME seconds."""
        self.logger.info(
            "%s %s %d %.1f ms", request.method, route_template(request), response.status, time * 1e3
        )
