"""HTTP errors in one place: every error is ``{"error": code, "message": ...}`` with its 4xx status.

Sanic answers its own errors (no route, wrong method, malformed request) in
HTML or text, and an exception in a handler as a bare 500. Here each Sanic
error keeps its status with a JSON body, and an unexpected exception is
logged once with its traceback and answered ``500 internal_error``, which
the fuzz test (``tests/test_fuzz.py``) shows no request reaches.
"""

from __future__ import annotations

import base64
import logging
from typing import Optional
from urllib.parse import parse_qs

from engineio.payload import Payload
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
        if request.path.startswith("/socket.io") and _finished_websocket(exception):
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
    async def engineio_post(request):
        if request.method != "POST" or request.path.rstrip("/") != "/socket.io":
            return None
        # python-engineio 4.4 builds its "Invalid session" error as 'Invalid session ' + sid, a TypeError
        # (and a 500) when a POST has no sid.
        if not request.args.get("sid"):
            return error_response(400, "invalid_session", "a POST to /socket.io needs the sid of an open session")
        problem = polling_payload_problem(request.body or b"")
        if problem:
            return error_response(400, "invalid_packet", problem)
        return None


def polling_payload_problem(body: bytes) -> Optional[str]:
    """Why a long-polling POST body is not an Engine.IO payload, or None.

    python-engineio 4.4 decodes it inside a bare ``except`` that logs a traceback and answers 200:
    a body that is not UTF-8, an empty or unknown packet, bad base64, or more than 16 packets.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the payload is not UTF-8"
    if not text:
        return None
    if text.startswith("d="):  # JSONP
        text = parse_qs(text).get("d", [""])[0]
    packets = text.split("\x1e")
    if len(packets) > Payload.max_decode_packets:
        return f"more than {Payload.max_decode_packets} packets in one payload"
    for encoded in packets:
        if not encoded or encoded[0] not in "0123456b":
            return "not an Engine.IO packet"
        if encoded[0] == "b":
            try:
                base64.b64decode(encoded[1:])
            except ValueError:
                return "a binary packet that is not base64"
    return None


def _finished_websocket(exception: Exception) -> bool:
    """Nothing left to answer: python-engineio's Sanic driver returns no response once a websocket closes
    (Sanic calls that an error), or the connection is already gone (its transport is None while a server
    that is stopping closes it: Sanic 21.12 raises AttributeError on ``transport.is_closing``)."""
    if isinstance(exception, ServerError) and ("Invalid response type None" in str(exception)
                                               or "Handler produced no response" in str(exception)):
        return True
    return isinstance(exception, AttributeError) and "'NoneType' object has no attribute 'is_closing'" in str(exception)
