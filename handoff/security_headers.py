"""Security headers on every response, and a Content-Security-Policy on each page the server serves.

Every response: ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy:
strict-origin-when-cross-origin`` (a page's full URL, which may carry an
order id, never leaves the site). The console may not be framed (clickjacking)
and runs only its own script files; the demo storefront runs only scripts from
this origin, like a strict storefront would. The widget's own files carry no
page policy: other sites embed them. What a storefront's CSP must allow for
the widget is in ``docs/security.md``.
"""

from __future__ import annotations

import re

from sanic import Sanic

HOST_RE = re.compile(r"^[A-Za-z0-9.\-\[\]:]{1,255}$")

EVERY_RESPONSE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def page_policy(host: str, frame_ancestors: str) -> str:
    """A CSP for a page of this server: its own scripts and styles, sockets to this host, no inline script."""
    sockets = f" ws://{host} wss://{host}" if HOST_RE.match(host or "") else ""
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        f"connect-src 'self'{sockets}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors}",
    ))


# Responses that are not pages (JSON, downloads) should never run as one if opened directly.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"


def headers_for(path: str, host: str) -> dict[str, str]:
    """The security headers a response to ``path`` gets."""
    headers = dict(EVERY_RESPONSE)
    if path in ("/console", "/studio"):
        headers["Content-Security-Policy"] = page_policy(host, "'none'")
        headers["X-Frame-Options"] = "DENY"
    elif path == "/":
        headers["Content-Security-Policy"] = page_policy(host, "'self'")
    elif path.startswith("/api/"):
        headers["Content-Security-Policy"] = API_POLICY
    return headers


def setup_security_headers(app: Sanic) -> None:
    """Add the headers to every response the app sends."""

    @app.on_response
    async def add_security_headers(request, response):
        if response is None:  # an engine.io websocket that has closed
            return
        for name, value in headers_for(request.path, request.host).items():
            response.headers.setdefault(name, value)
