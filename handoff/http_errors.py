"""HTTP errors in one place: every error is ``{"error": code, "message": ...}`` with its 4xx status.

Sanic answers its own errors (no route, wrong method, malformed request) in
HTML or text, and an exception in a handler as a bare 500. Here each Sanic
error keeps its status with a JSON body, and an unexpected exception is
logged once with its traceback and answered ``500 internal_error``, which
the fuzz test (``tests/test_fuzz.py``) shows no request reaches.
"""

from __future__ import annotations

import logging

from sanic import Sanic, response
from sanic.exceptions import SanicException, ServerError

from handoff.api import error_response

logger = logging.getLogger(__name__)

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         408: "request_timeout", 413: "too_large", 416: "range_not_satisfiable", 503: "unavailable"}


def setup_http_errors(app: Sanic) -> None:
    """JSON for every error; engine.io requests it would crash on get a 400 first."""

    @app.exception(Exception)
    async def json_error(request, exception: Exception):
        status = getattr(exception, "status_code", 500) if isinstance(exception, SanicException) else 500
        if _finished_websocket(exception):
            return response.empty()  # nothing is sent: the connection was a websocket and is closed
        if status == 500:
            logger.error("%s %s failed", request.method, request.path[:200], exc_info=exception)
            return error_response(500, "internal_error", "the server failed on this request")
        # Sanic's own refusals (and 503 "Cancelled" for a client that went away): not the server's fault.
        return error_response(status, CODES.get(status, "bad_request"), str(exception)[:200] or CODES.get(status, ""))

    @app.on_request
    async def read_ignored_body(request):
        # Sanic skips the body of a GET (or HEAD, DELETE, OPTIONS) and then logs "<Request> body not
        # consumed" as an ERROR for every such request that sent one, even "Content-Length: 0".
        if request.stream is not None and request.stream.request_body:
            await request.receive_body()  # bounded by Sanic's REQUEST_MAX_SIZE (413 beyond it)

    @app.on_request
    async def engineio_without_session(request):
        # python-engineio 4.4 builds its "Invalid session" error as 'Invalid session ' + sid, a TypeError
        # (and a 500) when a POST has no sid.
        if request.method == "POST" and request.path.rstrip("/") == "/socket.io" and not request.args.get("sid"):
            return error_response(400, "invalid_session", "a POST to /socket.io needs the sid of an open session")
        return None


def _finished_websocket(exception: Exception) -> bool:
    """python-engineio's Sanic driver returns no response once a websocket closes; Sanic calls that an error."""
    return isinstance(exception, ServerError) and "Invalid response type None" in str(exception)
