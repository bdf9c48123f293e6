"""``GET /metrics``: Prometheus text format, optionally behind a bearer token."""

from __future__ import annotations

import hmac
import os

from sanic import Sanic, response

from handoff import metrics
from handoff.api import error_response
from handoff.console_api import bearer_token


def setup_metrics(app: Sanic, token: str = "") -> None:
    """Register ``/metrics``; with ``token`` set it needs ``Authorization: Bearer <token>``."""

    @app.get("/metrics")
    async def metrics_page(request):
        if token and not hmac.compare_digest((bearer_token(request) or "").encode(), token.encode()):
            return error_response(401, "unauthorized", "a valid metrics token is required")
        body, content_type = metrics.exposition()
        return response.raw(body, content_type=content_type)

    @app.listener("after_server_stop")
    async def forget_live_gauges(app, loop):
        if os.environ.get(metrics.MULTIPROC_ENV):  # this process's sockets and agents stop counting
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())
