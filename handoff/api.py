"""HTTP API: agent login. Errors become JSON 4xx in one place."""

from __future__ import annotations

import asyncio
import json

from sanic import Sanic, response

from handoff.protocol import is_text
from handoff.store.agents import password_matches

MAX_LOGIN_BYTES = 4096


def error_response(status: int, code: str, message: str):
    """The JSON body of every API error: ``{"error": code, "message": ...}``."""
    return response.json({"error": code, "message": message}, status=status)


def setup_api(app: Sanic) -> None:
    """``POST /api/login {"username","password"}`` -> ``{"token", "agent"}``."""

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
        agents = request.app.ctx.agents
        agent, stored = agents.credentials(body["username"])
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, password_matches, body["password"], stored):
            agent = None
        if agent is None:
            return error_response(401, "invalid_credentials", "wrong username or password")
        token = agents.issue_token(agent)
        return response.json({"token": token, "agent": {
            "id": agent.id, "username": agent.username, "display_name": agent.display_name,
            "languages": agent.languages, "role": agent.role}})
