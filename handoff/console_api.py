"""The agent console: its page and its authenticated HTTP API (``/api/...``)."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Optional

from sanic import Sanic, response

from crossdesk.paths import CONSOLE_DIR
from crossdesk.store_facts import Gazetteer, StoreFacts
from bot.nlg import MultilingualNLG
from handoff import audit, protocol
from handoff.api import error_response
from handoff.canned import canned_answers
from handoff.desk_notes import normalise_tag
from handoff.session_cookie import clear_session_cookie, cookie_token
from handoff.store.agents import token_hash

SEARCH_ARGS = ("q", "language", "from", "to", "outcome", "tag", "limit")  # what a search's audit row keeps


def bearer_token(request) -> Optional[str]:
    """The token of an ``Authorization: Bearer ...`` header, else of the console's session cookie."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return cookie_token(request.headers.get("cookie"), request.headers.get("origin"), request.headers.get("host"))


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


def roles_required(*roles: str, who: str):
    """Only for logged-in users with one of ``roles``: 401 without a valid login, 403 ``forbidden``
    for other roles (``who`` names the allowed users in the message)."""

    def decorate(handler):
        @agent_required
        @functools.wraps(handler)
        async def wrapper(request, *args, **kwargs):
            if request.ctx.agent.role not in roles:
                return error_response(403, "forbidden", f"only {who} may do this")
            return await handler(request, *args, **kwargs)

        return wrapper

    return decorate


admin_required = roles_required("admin", who="admins")
studio_required = roles_required("content", "admin", who="content staff and admins")


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
            "until": _date(args.get("to"), end=True), "outcome": args.get("outcome") or None, "limit": limit,
            "tag": normalise_tag(args.get("tag")) if args.get("tag") else None}


def transcript_text(bundle: dict) -> str:
    """A conversation as plain text, one line per message."""
    lines = [f"Conversation {bundle['conversation_id']} ({bundle['language'] or '?'}, {bundle['state']})"]
    if bundle.get("tags"):
        lines.append("Tags: " + ", ".join(bundle["tags"]))
    for m in bundle["transcript"]:
        when = dt.datetime.fromtimestamp(m["ts"], dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        who = m["sender"] + (f" {m['name']}" if m.get("name") else "")
        lines.append(f"[{when} UTC] {who}: {m['text']}")
        if m.get("translation"):
            lines.append(f"    ({m['translation'].get('language')}) {m['translation'].get('text')}")
    return "\n".join(lines) + "\n"


def setup_console(app: Sanic, conversations, nlg: MultilingualNLG, facts: StoreFacts) -> None:
    """``/console`` and the agent API.

    Args:
        conversations: what the API reads conversations through: the HandoffService
            (``search``, ``conversation``, ``bundle``).
    """

    @app.get("/console")
    async def console_page(request):
        return await response.file(CONSOLE_DIR / "index.html", headers={"Cache-Control": "no-store"})

    # (its static files: handoff/static_files.py)

    @app.get("/api/me")
    @agent_required
    async def me(request):
        agent = request.ctx.agent
        return response.json({"id": agent.id, "username": agent.username, "display_name": agent.display_name,
                              "languages": agent.languages, "role": agent.role})

    @app.post("/api/logout")
    @agent_required
    async def logout(request):
        token = bearer_token(request)
        request.app.ctx.agents.revoke_token(token)
        await request.app.ctx.agent.end_sessions(token_hash(token), "logged_out")
        answer = response.json({"ok": True})
        clear_session_cookie(answer)
        return answer

    @app.get("/api/conversations")
    @agent_required
    async def search(request):
        try:
            filters = search_filters(request.args)
            filters["agent_id"] = request.app.ctx.read_policy.search_scope(request.ctx.agent)
        except ValueError as error:
            return error_response(400, "invalid_search", str(error))
        except PermissionError as error:
            return error_response(403, "forbidden", str(error))
        found = conversations.search(**filters)
        request.app.ctx.audit.record(request.ctx.agent.id, audit.SEARCH, None, {
            **{k: request.args.get(k) for k in SEARCH_ARGS if request.args.get(k)}, "results": len(found)})
        return response.json({"conversations": found})

    def readable_bundle(request, conversation_id: str, action: str):
        """(bundle, None) if the agent may read it (the read is audited), else (None, error response)."""
        conversation = (conversations.conversation(conversation_id)
                        if protocol.SESSION_ID_RE.match(conversation_id) else None)
        if conversation is None:
            return None, error_response(404, "not_found", "no such conversation")
        agent = request.ctx.agent
        if not request.app.ctx.read_policy.may_read(agent, conversation):
            request.app.ctx.audit.record(agent.id, action, conversation_id, {"denied": True})
            return None, error_response(403, "forbidden", "your role may not read this conversation")
        request.app.ctx.audit.record(agent.id, action, conversation_id,
                                     {"format": request.args.get("format", "json")} if action == audit.EXPORT else {})
        return conversations.bundle(conversation_id), None

    @app.get("/api/conversations/<conversation_id>")
    @agent_required
    async def conversation(request, conversation_id: str):
        bundle, refused = readable_bundle(request, conversation_id, audit.READ_TRANSCRIPT)
        return refused or response.json(bundle)

    @app.get("/api/conversations/<conversation_id>/export")
    @agent_required
    async def export(request, conversation_id: str):
        kind = request.args.get("format", "json")
        if kind not in ("json", "text"):
            return error_response(400, "invalid_format", "format must be json or text")
        bundle, refused = readable_bundle(request, conversation_id, audit.EXPORT)
        if refused:
            return refused
        bundle = {**bundle, "tags": request.app.ctx.desk_notes.tags(conversation_id)}  # (notes stay in the console)
        name = f"crossdesk-{conversation_id}"
        if kind == "json":
            return response.text(json.dumps(bundle, ensure_ascii=False, indent=2), content_type="application/json",
                                 headers={"Content-Disposition": f'attachment; filename="{name}.json"'})
        return response.text(transcript_text(bundle), content_type="text/plain; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}.txt"'})

    @app.get("/api/canned")
    @agent_required
    async def canned(request):
        language = request.args.get("language") or "en"
        query = request.args.get("q") or None
        agent = request.ctx.agent
        try:
            country = canned_destination(request.args, conversations,
                                         lambda c: request.app.ctx.read_policy.may_read(agent, c))
        except LookupError as error:
            return error_response(404, "not_found", str(error))
        except PermissionError as error:  # its destination is part of a conversation this agent may not read
            return error_response(403, "forbidden", str(error))
        except ValueError as error:
            return error_response(400, error.args[0], error.args[1])
        destination = (country, Gazetteer.from_file().name(country, language)) if country else None
        return response.json({"language": language, "country": country,
                              "answers": canned_answers(nlg, facts, language, query, destination)})


def canned_destination(args, conversations, may_read=lambda conversation: True) -> Optional[str]:
    """The destination canned answers are for: ``country`` (ISO code), or the conversation's ``country`` slot.

    ``conversations`` reads them (``conversation(id)``, ``bundle(id)``: the HandoffService).

    Raises ValueError(code, message) on a malformed value, LookupError for an unknown conversation,
    PermissionError for one ``may_read`` refuses.
    """
    country = args.get("country")
    if country:
        if country.upper() not in Gazetteer.from_file().codes():
            raise ValueError("invalid_country", "'country' must be an ISO 3166 alpha-2 code we know")
        return country.upper()
    conversation_id = args.get("conversation_id")
    if not conversation_id:
        return None
    if not protocol.SESSION_ID_RE.match(conversation_id):
        raise ValueError("invalid_conversation_id", "'conversation_id' is malformed")
    conversation = conversations.conversation(conversation_id)
    if conversation is None:
        raise LookupError("no such conversation")
    if not may_read(conversation):
        raise PermissionError("your role may not read this conversation")
    return conversations.bundle(conversation_id)["slots"].get("country")
