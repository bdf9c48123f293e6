"""The agent console's session cookie: HttpOnly and SameSite=Strict, so page scripts cannot read it.

Why a cookie rather than a token in ``localStorage``: ``docs/security.md``.
API clients and scripts keep using ``Authorization: Bearer`` (the login answer
carries the token too).
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Optional
from urllib.parse import urlsplit

SESSION_COOKIE = "crossdesk_agent"


def set_session_cookie(answer, request, token: str, max_age: float) -> None:
    """The console's login: an HttpOnly, SameSite=Strict cookie its scripts cannot read (docs/security.md)."""
    answer.cookies[SESSION_COOKIE] = token
    cookie = answer.cookies[SESSION_COOKIE]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = "/"
    cookie["max-age"] = int(max_age)
    if request.scheme in ("https", "wss"):
        cookie["secure"] = True


def clear_session_cookie(answer) -> None:
    """Logout: the browser drops the cookie."""
    answer.cookies[SESSION_COOKIE] = ""
    answer.cookies[SESSION_COOKIE]["max-age"] = 0
    answer.cookies[SESSION_COOKIE]["path"] = "/"
    answer.cookies[SESSION_COOKIE]["httponly"] = True
    answer.cookies[SESSION_COOKIE]["samesite"] = "Strict"


def same_origin(origin: Optional[str], host: Optional[str]) -> bool:
    """Whether a request's ``Origin`` (absent: not a cross-origin browser request) is this server.

    A session cookie is only honoured for such requests: SameSite=Strict keeps it
    from other sites, and this keeps it from other origins of the same site (a
    storefront on www.shop.example next to support.shop.example).
    """
    if not origin:
        return True
    return bool(host) and urlsplit(origin).netloc.lower() == host.lower()


def cookie_token(cookie_header: Optional[str], origin: Optional[str], host: Optional[str]) -> Optional[str]:
    """The session cookie's token from a ``Cookie`` header, for a same-origin request only."""
    if not cookie_header or not same_origin(origin, host):
        return None
    jar = SimpleCookie()
    try:
        jar.load(cookie_header)
    except CookieError:
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel and morsel.value else None
