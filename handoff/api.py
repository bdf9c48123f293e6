"""HTTP API: agent login (throttled; sets the console's session cookie). Errors become JSON 4xx in one place."""

from __future__ import annotations

import asyncio
import json
import math

from sanic import Sanic, response

from handoff import metrics
from handoff.protocol import is_text
from handoff.session_cookie import set_session_cookie
from handoff.store.agents import password_matches

MAX_LOGIN_BYTES = 4096


def error_response(status: int, code: str, message: str):
    """The JSON body of every API error: ``{"error": code, "message": ...}``."""
    metrics.error(code)
    return response.json({"error": code, "message": message}, status=status)


def setup_api(app: Sanic) -> None:
    """``POST /api/login {"username","password"}`` -> ``{"token", "agent"}`` (+ the session cookie)."""

    @app.post("/api/login")
    async def login(request):
        if len(request.body or b"") > MAX_LOGIN_BYTES:
            return error_response(413, "too_large", "request body too large")
        try:
            body = json.loads(request.body or b"")
        except (ValueError, UnicodeDecodeError, RecursionError):  # 4 KiB of "[" nests too deep for json
            return error_response(400, "invalid_json", "body must be JSON")
        if not isinstance(body, dict) or not is_text(body.get("username")) or not is_text(body.get("password")):
            return error_response(400, "invalid_credentials_format", "username and password must be strings")
        agents, limiter = request.app.ctx.agents, request.app.ctx.login_limiter
        ip = client_ip(request)
        wait = await limiter.attempt(body["username"], ip)
        if wait > 0:
            return too_many_attempts(wait)
        agent, stored = agents.credentials(body["username"])
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, password_matches, body["password"], stored):
            agent = None
        if agent is None or not agent.active:  # a deactivated agent is refused like a wrong password
            return error_response(401, "invalid_credentials", "wrong username or password")
        await limiter.succeeded(body["username"], ip)
        token = agents.issue_token(agent)
        answer = response.json({"token": token, "agent": {
            "id": agent.id, "username": agent.username, "display_name": agent.display_name,
            "languages": agent.languages, "role": agent.role}})
        set_session_cookie(answer, request, token, agents.token_ttl)
        return answer


def client_ip(request) -> str:
    """The client's address (the proxy's forwarded one when Sanic is told to trust proxies)."""
    return request.remote_addr or request.ip


def too_many_attempts(wait: float):
    """``429 too_many_attempts`` with ``Retry-After`` in whole seconds."""
    seconds = max(1, math.ceil(wait))
    answer = error_response(429, "too_many_attempts",
                            f"too many failed logins; try again in {seconds} s")
    answer.headers["Retry-After"] = str(seconds)
    return answer
