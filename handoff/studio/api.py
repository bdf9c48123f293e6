"""The studio's page (``/studio``) and HTTP API (``/api/studio/...``): content staff and admins only.

File and database work runs in the default executor, never on the event loop
(an added example, with its git commit, took ~0.5 s here). Answers and store facts are reloaded into
the running server after each save (``handoff/studio/live.py``); training data
needs a new model (the training API).
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from pathlib import Path
from typing import Any, Callable, Optional

from sanic import Sanic, response

from crossdesk.store_facts import Gazetteer
from bot.language import AUTHORED
from bot.nlg import render
from handoff import audit, protocol
from handoff.api import error_response
from handoff.canned import destination_values, generic_values
from handoff.console_api import studio_required
from crossdesk.paths import ROOT
from handoff.static_files import StaticFiles
from handoff.studio import live
from handoff.studio.content import ContentError, ContentFiles, Editor, placeholder_names
from handoff.studio.coverage import coverage
from handoff.studio.inbox import REASONS, STATES, ReviewInbox

STUDIO_DIR = ROOT / "handoff" / "studio" / "static"
INBOX_ACTIONS = {"add": "added", "out_of_scope": "out_of_scope", "dismiss": "dismissed"}
MAX_BULK = 200
MAX_TRY_CHARS = 500


async def blocking(function: Callable, *args, **kwargs) -> Any:
    """Run ``function`` in the default executor."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(function, *args, **kwargs))


def editor(request) -> Editor:
    agent = request.ctx.agent
    return Editor(agent.id, agent.username, agent.display_name)


def content_error(error: ContentError):
    return error_response(400, error.code, error.message)


def body(request) -> dict:
    """The JSON object of a request (ContentError otherwise)."""
    try:
        data = request.json
    except Exception:  # Sanic raises its own error type for malformed JSON
        data = None
    if not isinstance(data, dict):
        raise ContentError("invalid_request", "send a JSON object")
    return data


def _limit(args, default: int = 50) -> int:
    try:
        limit = int(args.get("limit") or default)
    except ValueError:
        raise ContentError("invalid_request", "'limit' must be a number")
    if not 1 <= limit <= 200:
        raise ContentError("invalid_request", "'limit' must be 1-200")
    return limit


def setup_studio(app: Sanic) -> None:
    """Routes of the studio; its collaborators go to ``app.ctx.studio_*``."""
    settings = app.ctx.settings
    content = ContentFiles(settings.content_path, app.ctx.store.engine, Path(settings.var_dir) / "studio-locks",
                           responses_dir=settings.responses_path)
    inbox = ReviewInbox(app.ctx.store.engine, settings.studio_low_confidence)
    app.ctx.studio_content, app.ctx.studio_inbox = content, inbox
    static = StaticFiles(STUDIO_DIR, "no-cache")

    def guarded(handler):
        """``studio_required`` plus: a ContentError is a 400 with its message."""
        @functools.wraps(handler)
        async def wrapper(request, *args, **kwargs):
            try:
                return await handler(request, *args, **kwargs)
            except ContentError as error:
                return content_error(error)
        return studio_required(wrapper)

    @app.get("/studio")
    async def studio_page(request):
        return await response.file(STUDIO_DIR / "index.html", headers={"Cache-Control": "no-store"})

    @app.route("/studio/static/<path:path>", methods=["GET", "HEAD"], name="studio_file")
    async def studio_file(request, path: str):
        return static.respond(request, static.resolve(path))

    # -- inbox -----------------------------------------------------------------
    @app.get("/api/studio/inbox")
    @guarded
    async def inbox_items(request):
        args = request.args
        reason, state = args.get("reason") or None, args.get("state") or "open"
        if reason and reason not in REASONS:
            raise ContentError("invalid_request", f"reason must be one of {', '.join(REASONS)}")
        if state not in STATES:
            raise ContentError("invalid_request", f"state must be one of {', '.join(STATES)}")
        text = args.get("q") or None
        if text and len(text) > 200:
            raise ContentError("invalid_request", "'q' is too long")
        try:
            before = int(args.get("before")) if args.get("before") else None
        except ValueError:
            raise ContentError("invalid_request", "'before' must be an item id")
        found = await blocking(inbox.items, language=args.get("language") or None, reason=reason, text=text,
                               state=state, limit=_limit(args), before=before)
        return response.json(found)

    @app.post("/api/studio/inbox/actions")
    @guarded
    async def inbox_action(request):
        data = body(request)
        action, ids, intent = data.get("action"), data.get("ids"), data.get("intent")
        if action not in INBOX_ACTIONS:
            raise ContentError("invalid_request", f"action must be one of {', '.join(INBOX_ACTIONS)}")
        if (not isinstance(ids, list) or not 1 <= len(ids) <= MAX_BULK
                or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)):
            raise ContentError("invalid_request", f"ids must be a list of 1-{MAX_BULK} item ids")
        items = await blocking(inbox.get, ids)
        missing = sorted(set(ids) - {item["id"] for item in items})
        if missing:
            return error_response(404, "not_found", f"no inbox item {missing[0]}")
        if action == "add":
            if not isinstance(intent, str) or intent not in await blocking(content.intents):
                raise ContentError("unknown_intent", f"no intent called {intent!r}")
        target = intent if action == "add" else "out_of_scope"
        if action != "dismiss":
            for item in items:  # all checked before any is written
                if item["language"] not in AUTHORED:
                    raise ContentError("unknown_language", f"'{item['text']}' is in {item['language'] or 'an unknown language'}"
                                                           f"; training data exists for {', '.join(AUTHORED)}")
                await blocking(content.check_new_example, target, item["language"], item["text"])
        results = []
        for item in items:
            change = None
            if action != "dismiss":
                change = await blocking(content.add_example, editor(request), target, item["language"], item["text"],
                                        allow_repeat=True)
            await blocking(inbox.mark, item["id"], INBOX_ACTIONS[action], request.ctx.agent.id,
                           target if action != "dismiss" else None)
            results.append({"id": item["id"], "state": INBOX_ACTIONS[action], "change": change})
        return response.json({"ok": True, "results": results, "retrain_needed": action != "dismiss"})

    @app.get("/api/studio/conversations/<conversation_id>")
    @guarded
    async def studio_transcript(request, conversation_id: str):
        """A transcript of a conversation with a message in the inbox (so staff see the context)."""
        if not protocol.SESSION_ID_RE.match(conversation_id) or not await blocking(
                inbox.conversation_has_items, conversation_id):
            return error_response(404, "not_found", "no conversation with a message in the inbox")
        rows = await blocking(request.app.ctx.store.transcript, conversation_id, 0, 500)
        request.app.ctx.audit.record(request.ctx.agent.id, audit.READ_TRANSCRIPT, conversation_id, {"via": "studio"})
        return response.json({"conversation_id": conversation_id, "messages": [
            {"id": m.id, "sender": m.sender, "text": m.text, "language": m.language, "ts": m.created_at,
             "intent": m.data.get("intent"), "confidence": m.data.get("confidence"), "handoff": m.data.get("handoff")}
            for m in rows]})

    # -- coverage and examples ---------------------------------------------------
    @app.get("/api/studio/coverage")
    @guarded
    async def coverage_matrix(request):
        return response.json(await blocking(coverage, content.root, content.domain))

    @app.get("/api/studio/intents")
    @guarded
    async def intents(request):
        english = await blocking(content.responses, "en")
        return response.json({"intents": await blocking(content.intents), "languages": list(AUTHORED),
                              "answers": sorted(english)})

    @app.get("/api/studio/examples")
    @guarded
    async def examples(request):
        intent, language = request.args.get("intent"), request.args.get("language")
        found = await blocking(content.examples, intent, language, request.args.get("q") or None)
        return response.json({"intent": intent, "language": language, "examples": found})

    @app.post("/api/studio/examples")
    @guarded
    async def add_example(request):
        data = body(request)
        change = await blocking(content.add_example, editor(request), data.get("intent"), data.get("language"),
                                data.get("text"))
        return response.json({"ok": True, "change": change, "retrain_needed": True})

    @app.put("/api/studio/examples")
    @guarded
    async def edit_example(request):
        data = body(request)
        change = await blocking(content.edit_example, editor(request), data.get("intent"), data.get("language"),
                                data.get("old"), data.get("text"))
        return response.json({"ok": True, "change": change, "retrain_needed": True})

    @app.post("/api/studio/examples/delete")
    @guarded
    async def delete_example(request):
        data = body(request)
        change = await blocking(content.delete_example, editor(request), data.get("intent"), data.get("language"),
                                data.get("text"))
        return response.json({"ok": True, "change": change, "retrain_needed": True})

    # -- answers ------------------------------------------------------------------
    @app.get("/api/studio/answers")
    @guarded
    async def answers(request):
        language = request.args.get("language") or "en"
        if language not in AUTHORED:
            raise ContentError("unknown_language", f"language must be one of {', '.join(AUTHORED)}")
        query = (request.args.get("q") or "").casefold()
        english, own = await blocking(content.responses, "en"), await blocking(content.responses, language)
        found = []
        for name, variations in english.items():
            texts = [v.get("text") or "" for v in own.get(name) or []]
            if query and query not in name.casefold() and not any(query in t.casefold() for t in texts):
                continue
            found.append({"name": name, "texts": texts, "english": [v.get("text") or "" for v in variations],
                          "placeholders": sorted({p for v in variations for p in placeholder_names(v.get("text") or "")})})
        return response.json({"language": language, "answers": found})

    @app.put("/api/studio/answers")
    @guarded
    async def set_answer(request):
        data = body(request)
        change = await blocking(content.set_answer, editor(request), data.get("language"), data.get("name"),
                                data.get("index"), data.get("text"))
        await blocking(live.reload_responses, request.app.ctx.texts, content.responses_dir)
        return response.json({"ok": True, "change": change, "live": True})

    @app.post("/api/studio/answers/preview")
    @guarded
    async def preview(request):
        data = body(request)
        language, text = data.get("language"), data.get("text")
        if language not in AUTHORED:
            raise ContentError("unknown_language", f"language must be one of {', '.join(AUTHORED)}")
        if not isinstance(text, str):
            raise ContentError("empty_answer", "send the answer's text")
        names = placeholder_names(text)
        values = generic_values(request.app.ctx.facts)
        country = data.get("destination") or None
        if country:
            gazetteer = Gazetteer.from_file()
            if not isinstance(country, str) or country.upper() not in gazetteer.codes():
                raise ContentError("invalid_country", "destination must be an ISO 3166 alpha-2 code we know")
            country = country.upper()
            extra, _ = destination_values(request.app.ctx.facts, country, gazetteer.name(country, language), language)
            values.update(extra)
        rendered = render({"text": text}, values).get("text")
        return response.json({"text": rendered, "destination": country,
                              "unfilled": sorted(n for n in names if n not in values)})

    # -- store facts -----------------------------------------------------------------
    @app.get("/api/studio/facts")
    @guarded
    async def facts(request):
        return response.json(await blocking(content.facts))

    @app.put("/api/studio/facts")
    @guarded
    async def set_fact(request):
        data = body(request)
        change = await blocking(content.set_fact, editor(request), data.get("file"), data.get("path"),
                                data.get("value"))
        await blocking(live.reload_facts, request.app.ctx.facts, content.store_dir)
        return response.json({"ok": True, "change": change, "live": True})

    @app.get("/api/studio/changes")
    @guarded
    async def changes(request):
        return response.json({"changes": await blocking(content.changes, _limit(request.args))})

    # -- try it -------------------------------------------------------------------------
    @app.post("/api/studio/try")
    @guarded
    async def try_it(request):
        data = body(request)
        text, country = data.get("text"), data.get("destination") or None
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TRY_CHARS:
            raise ContentError("invalid_text", f"type a message of 1-{MAX_TRY_CHARS} characters")
        if country is not None:
            if not isinstance(country, str) or country.upper() not in Gazetteer.from_file().codes():
                raise ContentError("invalid_country", "destination must be an ISO 3166 alpha-2 code we know")
            country = country.upper()
        return response.json(await try_message(request.app.ctx.bot, text.strip(), country))


async def try_message(bot, text: str, country: Optional[str]) -> dict:
    """Run a message through the live model as a new shopper would (a throwaway tracker, erased after)."""
    sender = f"studio-try-{uuid.uuid4().hex}"
    try:
        if country:  # a session as Rasa starts one, then the destination (as if the shopper had named it)
            from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet

            await bot.run_on_tracker(sender, [ActionExecuted("action_session_start"), SessionStarted(),
                                              ActionExecuted("action_listen"), SlotSet("country", country)])
        reply = await bot.handle(text, sender, {"language": None, "locale": None})
    finally:
        await bot.erase_tracker(sender)
    return {"text": text, "language": reply.language, "intent": reply.intent, "confidence": reply.confidence,
            "entities": [{"entity": e.get("entity"), "value": e.get("value"), "text": e.get("text")}
                         for e in reply.entities],
            "answers": [m.get("text") for m in reply.messages if m.get("text")],
            "destination": country}
