"""Overrides of Sanic internals, for the pinned version only (checked at import).

Sanic 21.12 decodes the request line with ``surrogateescape`` and hands
``url.encode()`` to httptools, which refuses any byte outside printable
ASCII. A request target with a raw non-ASCII byte (``GET /hé``, or a query
``?é=1``) then fails twice: building the request, and building the stand-in
request for the error response. The client gets no answer at all and the log
gets two tracebacks ("protocol.connection_task uncaught"). Here such bytes are
percent-encoded as a browser would have sent them, so the request is routed
and answered like any other.
"""

from __future__ import annotations

import sanic
from sanic.http import Http
from sanic.server.protocols.websocket_protocol import WebSocketProtocol

if sanic.__version__ != "21.12.2":  # the overrides below rely on this version's internals
    raise ImportError(f"handoff.sanic_compat was written for sanic 21.12.2, not {sanic.__version__}")

_URL_SLOT = Http.url  # Http keeps the request target in a slot


def ascii_target(target: str) -> str:
    """The request target with every byte outside printable ASCII percent-encoded."""
    if target.isascii() and target.isprintable():
        return target
    raw = target.encode("utf-8", "surrogateescape")
    return "".join(chr(byte) if 0x21 <= byte <= 0x7E else f"%{byte:02X}" for byte in raw)


class SafeUrlHttp(Http):
    """Sanic's HTTP/1.1 state machine, with the request target made ASCII as it is read."""

    __slots__ = ()

    @property
    def url(self):
        return _URL_SLOT.__get__(self, Http)

    @url.setter
    def url(self, value):
        _URL_SLOT.__set__(self, ascii_target(value) if isinstance(value, str) else value)


class CrossdeskProtocol(WebSocketProtocol):
    """Sanic's protocol (HTTP and websockets) using ``SafeUrlHttp``; pass it to ``app.run(protocol=...)``."""

    def _setup_connection(self):
        super()._setup_connection()
        self._http = SafeUrlHttp(self)
