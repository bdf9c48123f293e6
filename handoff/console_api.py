"""The agent console: its page and its authenticated HTTP API (``/api/...``)."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Optional

from sanic import Sanic, response

from actions.facts import StoreFacts
from bot.nlg import MultilingualNLG
from handoff import protocol
from handoff.api import error_response
from handoff.canned import canned_answers
from handoff.static_files import serve_directory
from handoff.settings import ROOT

CONSOLE_DIR = ROOT / "handoff" / "console"


def bearer_token(request) -> Optional[str]:
    """The token of an ``Authorization: Bearer ...`` header."""
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def agent_required(handler):
    """Only for requests with a valid agent token; the agent goes to ``request.ctx.agent``."""

    @functools.wraps(handler)
    async def wrapper(request, *args, **kwargs):
        agent = request.app.ctx.agents.agent_for_token(bearer_token(request))
        if agent is None:
            return error_response(401, "unauthorized", "log in first")
        request.ctx.agent = agent
        return await handler(request, *args, **kwargs)

    return wrapper


def _date(value: Optional[str], end: bool = False) -> Optional[float]:
    if not value:
        return None
    day = dt.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    if end and day.date() == dt.date.max:  # the day after 9999-12-31 is past datetime's range
        return None
    return (day + dt.timedelta(days=1)).timestamp() if end else day.timestamp()


def search_filters(args) -> dict:
    """Validated search parameters (ValueError on bad ones)."""
    text = args.get("q") or None
    if text and len(text) > 200:
        raise ValueError("'q' is too long")
    limit = int(args.get("limit") or 50)
    if not 1 <= limit <= 200:
        raise ValueError("'limit' must be 1-200")
    return {"text": text, "language": args.get("language") or None, "since": _date(args.get("from")),
            "until": _date(args.get("to"), end=True), "outcome": args.get("outcome") or None, "limit": limit}


def transcript_text(bundle: dict) -> str:
    """A conversation as plain text, one line per message."""
    lines = [f"Conversation {bundle['conversation_id']} ({bundle['language'] or '?'}, {bundle['state']})"]
    for m in bundle["transcript"]:
        when = dt.datetime.fromtimestamp(m["ts"], dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        who = m["sender"] + (f" {m['name']}" if m.get("name") else "")
        lines.append(f"[{when} UTC] {who}: {m['text']}")
        if m.get("translation"):
            lines.append(f"    ({m['translation'].get('language')}) {m['translation'].get('text')}")
    return "\n".join(lines) + "\n"


def setup_console(app: Sanic, lifecycle, nlg: MultilingualNLG, facts: StoreFacts) -> None:
    """``/console`` and the agent API."""

    @app.get("/console")
    async def console_page(request):
        return await response.file(CONSOLE_DIR / "index.html", headers={"Cache-Control": "no-store"})

    serve_directory(app, "/console/static", CONSOLE_DIR, name="console_static")

    @app.get("/api/me")
    @agent_required
    async def me(request):
        agent = request.ctx.agent
        return response.json({"id": agent.id, "username": agent.username, "display_name": agent.display_name,
                              "languages": agent.languages, "role": agent.role})

    @app.post("/api/logout")
    @agent_required
    async def logout(request):
        request.app.ctx.agents.revoke_token(bearer_token(request))
        return response.json({"ok": True})

    @app.get("/api/conversations")
    @agent_required
    async def search(request):
        try:
            filters = search_filters(request.args)
        except ValueError as error:
            return error_response(400, "invalid_search", str(error))
        return response.json({"conversations": lifecycle.store.search(**filters)})

    def bundle_or_404(conversation_id: str):
        if not protocol.SESSION_ID_RE.match(conversation_id) or not lifecycle.store.get_conversation(conversation_id):
            return None
        return lifecycle.bundle(conversation_id)

    @app.get("/api/conversations/<conversation_id>")
    @agent_required
    async def conversation(request, conversation_id: str):
        bundle = bundle_or_404(conversation_id)
        return response.json(bundle) if bundle else error_response(404, "not_found", "no such conversation")

    @app.get("/api/conversations/<conversation_id>/export")
    @agent_required
    async def export(request, conversation_id: str):
        bundle = bundle_or_404(conversation_id)
        if bundle is None:
            return error_response(404, "not_found", "no such conversation")
        kind = request.args.get("format", "json")
        name = f"crossdesk-{conversation_id}"
        if kind == "json":
            return response.text(json.dumps(bundle, ensure_ascii=False, indent=2), content_type="application/json",
                                 headers={"Content-Disposition": f'attachment; filename="{name}.json"'})
        if kind == "text":
            return response.text(transcript_text(bundle), content_type="text/plain; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{name}.txt"'})
        return error_response(400, "invalid_format", "format must be json or text")

    @app.get("/api/canned")
    @agent_required
    async def canned(request):
        language = request.args.get("language") or "en"
        query = request.args.get("q") or None
        return response.json({"language": language, "answers": canned_answers(nlg, facts, language, query)})
