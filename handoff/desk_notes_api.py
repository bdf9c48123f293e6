"""The console's desk-notes API (issue #19): private notes and tags, macros, the customer's history.

Agents only (the session cookie or a bearer token). Notes and tags are read and written here and
nowhere on the shopper side; the shopper's socket and transcript never carry them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from functools import lru_cache
from typing import Callable, Optional

from sanic import Sanic, response

from crossdesk.languages import AUTHORED
from crossdesk.store_facts import StoreFacts
from handoff import audit, protocol
from handoff.api import error_response
from handoff.console_api import SEARCH_ARGS, agent_required, search_filters
from handoff.desk_notes import VARIABLE_RE, DeskError, fill, macro_values, normalise_tag, note_text, parse_macro
from handoff.interpreting import Interpreter
from handoff.store.desk_notes import DeskNotesStore

MAX_MACRO_ID = 2**63 - 1
CSV_COLUMNS = ("conversation_id", "created_at", "language", "state", "outcome", "messages", "tags", "first_message")


def history_csv(found: list[dict]) -> str:
    """The history search's results as CSV, one row per conversation, tags ``;``-separated."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for c in found:
        when = dt.datetime.fromtimestamp(c["created_at"], dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        first = c.get("first_message") or ""
        if first[:1] in ("=", "+", "-", "@"):  # a spreadsheet would run it as a formula
            first = "'" + first
        writer.writerow([c["conversation_id"], when, c.get("language") or "", c["state"], c.get("outcome") or "",
                         c["messages"], ";".join(c.get("tags") or []), first])
    return out.getvalue()


async def render_macro(macro: dict, language: str, values_in: Callable[[str], dict],
                       interpreter: Optional[Interpreter]) -> dict:
    """A macro for one conversation: its text in ``language`` (else machine-translated from its source
    language, flagged), the variables filled, and the ones it could not fill.

    Args:
        values_in: the conversation's variable values in a language (the source text is filled in
            its own language, then translated whole: "Germany" reaches the translator, not "ドイツ").
    """
    texts = macro["texts"]
    translated, error = False, None
    if language in texts:
        text, missing = fill(texts[language], values_in(language))
        used = language
    else:
        source = macro["source_language"]
        text, missing = fill(texts[source], values_in(source))
        used = source
        if interpreter is not None and interpreter.enabled:
            result = await interpreter.service.translate(text, source, language)
            if result.translated and set(missing) <= set(VARIABLE_RE.findall(result.text)):
                text, used, translated = result.text, language, True
            else:  # (a provider that mangled "{order_id}" would hide a missing variable: keep the source)
                error = result.error or "variables_lost"
        else:
            error = "disabled"
    return {"id": macro["id"], "title": macro["title"], "shared": macro["shared"], "owner_id": macro["owner_id"],
            "source_language": macro["source_language"], "texts": texts, "language": used, "text": text,
            "translated": translated, "translation_error": error, "missing": missing}


def setup_desk_notes(app: Sanic, notes: DeskNotesStore, conversations, facts: StoreFacts,
                     interpreter: Optional[Interpreter]) -> None:
    """Routes for notes, tags, macros, the customer panel and the history CSV.

    Args:
        notes: where notes, tags, macros and customer links are kept.
        conversations: reads conversations (``conversation``, ``bundle``, ``search``: the HandoffService).
        facts: the store facts macros are filled from (reloaded in place by the studio).
        interpreter: translates a macro into a language it has no text in.
    """

    def readable(request, conversation_id: str):
        """The conversation if this agent may read it; raises DeskError(status-coded) otherwise."""
        conversation = (conversations.conversation(conversation_id)
                        if protocol.SESSION_ID_RE.match(conversation_id) else None)
        if conversation is None:
            raise _Refused(404, "not_found", "no such conversation")
        if not request.app.ctx.read_policy.may_read(request.ctx.agent, conversation):
            raise _Refused(403, "forbidden", "your role may not read this conversation")
        return conversation

    def refused(error: DeskError):
        return error_response(getattr(error, "status", 400), error.code, error.message)

    def body(request) -> dict:
        try:
            data = request.json
        except Exception:  # Sanic raises on malformed JSON
            data = None
        if not isinstance(data, dict):
            raise _Refused(400, "invalid_json", "body must be a JSON object")
        return data

    def customer_panel(conversation_id: str) -> Optional[dict]:
        customer = notes.customer_of(conversation_id)
        if customer is None:
            return None
        earlier = notes.earlier_conversations(conversation_id, customer["id"]) if customer["verified"] else []
        return {**customer, "earlier": earlier}

    @app.get("/api/conversations/<conversation_id>/desk")
    @agent_required
    async def desk(request, conversation_id: str):
        try:
            readable(request, conversation_id)
        except DeskError as error:
            return refused(error)
        return response.json({"conversation_id": conversation_id, "notes": notes.notes(conversation_id),
                              "tags": notes.tags(conversation_id), "customer": customer_panel(conversation_id)})

    @app.get("/api/conversations/<conversation_id>/earlier/<earlier_id>")
    @agent_required
    async def earlier(request, conversation_id: str, earlier_id: str):
        """An earlier conversation of this conversation's verified customer, to read (the customer panel).

        The agent may read it because they may read the current one, whoever handled it before; the
        read is audited like any transcript read (``via: customer_history``).
        """
        try:
            readable(request, conversation_id)
            if not (protocol.SESSION_ID_RE.match(earlier_id) and notes.same_verified_customer(conversation_id, earlier_id)
                    and conversations.conversation(earlier_id) is not None):
                raise _Refused(404, "not_found", "no such earlier conversation of this verified customer")
        except DeskError as error:
            return refused(error)
        request.app.ctx.audit.record(request.ctx.agent.id, audit.READ_TRANSCRIPT, earlier_id,
                                     {"via": "customer_history", "from": conversation_id})
        return response.json({**conversations.bundle(earlier_id), "tags": notes.tags(earlier_id), "read_only": True})

    @app.post("/api/conversations/<conversation_id>/notes")
    @agent_required
    async def add_note(request, conversation_id: str):
        agent = request.ctx.agent
        try:
            readable(request, conversation_id)
            text = note_text(body(request).get("text"))
        except DeskError as error:
            return refused(error)
        note = notes.add_note(conversation_id, agent.id, agent.display_name, text)
        return response.json({"ok": True, "note": note}, status=201)

    def own_note(request, conversation_id: str, note_id: int) -> dict:
        """The note if this agent may change it: their own; an admin any."""
        readable(request, conversation_id)
        note = notes.note(conversation_id, note_id) if 0 < note_id <= MAX_MACRO_ID else None
        if note is None:
            raise _Refused(404, "not_found", "the conversation has no such note")
        agent = request.ctx.agent
        if note["agent_id"] != agent.id and agent.role != "admin":
            raise _Refused(403, "forbidden", "only its author or an admin may change a note")
        return note

    def note_changed(request, conversation_id: str, note: dict, change: str) -> None:
        """Who changed which note when (the text is not copied: an erased shopper's details must go with it)."""
        request.app.ctx.audit.record(request.ctx.agent.id, audit.NOTE_CHANGED, conversation_id,
                                     {"note_id": note["id"], "change": change, "author_id": note["agent_id"]})

    @app.put("/api/conversations/<conversation_id>/notes/<note_id:int>")
    @agent_required
    async def edit_note(request, conversation_id: str, note_id: int):
        try:
            note = own_note(request, conversation_id, note_id)
            text = note_text(body(request).get("text"))
        except DeskError as error:
            return refused(error)
        changed = notes.update_note(conversation_id, note_id, text)
        if changed is None:  # deleted meanwhile
            return error_response(404, "not_found", "the conversation has no such note")
        note_changed(request, conversation_id, note, "edited")
        return response.json({"ok": True, "note": changed})

    @app.delete("/api/conversations/<conversation_id>/notes/<note_id:int>")
    @agent_required
    async def delete_note(request, conversation_id: str, note_id: int):
        try:
            note = own_note(request, conversation_id, note_id)
        except DeskError as error:
            return refused(error)
        if not notes.delete_note(conversation_id, note_id):
            return error_response(404, "not_found", "the conversation has no such note")
        note_changed(request, conversation_id, note, "deleted")
        return response.json({"ok": True, "notes": notes.notes(conversation_id)})

    @app.post("/api/conversations/<conversation_id>/tags")
    @agent_required
    async def add_tag(request, conversation_id: str):
        try:
            readable(request, conversation_id)
            tag = normalise_tag(body(request).get("tag"))
        except DeskError as error:
            return refused(error)
        created = notes.add_tag(conversation_id, tag, request.ctx.agent.id)
        return response.json({"ok": True, "tag": tag, "tags": notes.tags(conversation_id)},
                             status=201 if created else 200)

    @app.delete("/api/conversations/<conversation_id>/tags/<tag>")
    @agent_required
    async def remove_tag(request, conversation_id: str, tag: str):
        try:
            readable(request, conversation_id)
            tag = normalise_tag(tag)
        except DeskError as error:
            return refused(error)
        if not notes.remove_tag(conversation_id, tag):
            return error_response(404, "not_found", "the conversation has no such tag")
        return response.json({"ok": True, "tags": notes.tags(conversation_id)})

    @app.get("/api/history.csv")
    @agent_required
    async def history(request):
        try:
            filters = search_filters(request.args)
            filters["agent_id"] = request.app.ctx.read_policy.search_scope(request.ctx.agent)
        except ValueError as error:
            return error_response(400, getattr(error, "code", "invalid_search"), str(error))
        except PermissionError as error:
            return error_response(403, "forbidden", str(error))
        found = conversations.search(**filters)
        request.app.ctx.audit.record(request.ctx.agent.id, audit.SEARCH, None, {
            **{k: request.args.get(k) for k in SEARCH_ARGS if request.args.get(k)}, "format": "csv", "results": len(found)})
        return response.text(history_csv(found), content_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="crossdesk-history.csv"'})

    # -- macros ----------------------------------------------------------------
    def owned(request, macro_id: int) -> dict:
        """The macro if this agent may change it (its owner; an admin for shared ones)."""
        macro = notes.macro(macro_id) if 0 < macro_id <= MAX_MACRO_ID else None
        agent = request.ctx.agent
        if macro is None or not (macro["shared"] or macro["owner_id"] == agent.id):
            raise _Refused(404, "not_found", "no such macro")
        if macro["shared"] and agent.role != "admin":
            raise _Refused(403, "forbidden", "only admins may change shared macros")
        return macro

    @app.get("/api/macros")
    @agent_required
    async def list_macros(request):
        """The agent's macros and the shared ones, filled for ``conversation_id`` (else for ``language``)."""
        agent = request.ctx.agent
        query = (request.args.get("q") or "").strip().lower()
        bundle = {}
        try:
            conversation_id = request.args.get("conversation_id")
            if conversation_id:
                bundle = conversations.bundle(readable(request, conversation_id).id)
            language = request.args.get("language") or bundle.get("language") or "en"
            if language not in AUTHORED:
                raise _Refused(400, "invalid_language", f"'language' must be one of {', '.join(AUTHORED)}")
        except DeskError as error:
            return refused(error)
        values_in = lru_cache(maxsize=None)(lambda code: macro_values(bundle, facts, code))
        found = [m for m in notes.macros_for(agent.id)
                 if not query or query in m["title"].lower() or any(query in t.lower() for t in m["texts"].values())]
        rendered = [await render_macro(m, language, values_in, interpreter) for m in found[:50]]
        return response.json({"language": language, "country": (bundle.get("slots") or {}).get("country"),
                              "macros": rendered})

    @app.post("/api/macros")
    @agent_required
    async def create_macro(request):
        agent = request.ctx.agent
        try:
            title, source, texts, shared = parse_macro(body(request))
            if shared and agent.role != "admin":
                raise _Refused(403, "forbidden", "only admins may create shared macros")
        except DeskError as error:
            return refused(error)
        macro = notes.add_macro(None if shared else agent.id, title, source, texts, agent.id)
        return response.json({"ok": True, "macro": macro}, status=201)

    @app.put("/api/macros/<macro_id:int>")
    @agent_required
    async def update_macro(request, macro_id: int):
        try:
            macro = owned(request, macro_id)
            title, source, texts, _ = parse_macro({**body(request), "shared": macro["shared"]})
        except DeskError as error:
            return refused(error)
        return response.json({"ok": True, "macro": notes.update_macro(macro_id, title, source, texts)})

    @app.delete("/api/macros/<macro_id:int>")
    @agent_required
    async def delete_macro(request, macro_id: int):
        try:
            owned(request, macro_id)
        except DeskError as error:
            return refused(error)
        notes.delete_macro(macro_id)
        return response.json({"ok": True})


class _Refused(DeskError):
    """A DeskError with its HTTP status."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(code, message)
        self.status = status
