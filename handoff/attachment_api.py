"""HTTP routes of attachments: ``POST /api/attachments`` (upload) and ``GET /api/attachments/<id>[/thumbnail]``.

Upload is ``multipart/form-data`` with a ``file`` part and either ``session_id``
(a shopper: the session must exist) or ``conversation_id`` (an agent, logged in
by cookie or bearer token, who holds that conversation). See
``handoff/attachments.py`` for what is accepted and who may read what, and
``docs/protocol.md`` (Attachments) for the wire format.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import urllib.parse

from sanic import Sanic, response
from sanic.headers import parse_content_header

from handoff import metrics, protocol
from handoff.api import error_response
from handoff.attachments import (
    AttachmentError, AttachmentStore, check, clean_filename, file_payload, shopper_key,
)
from handoff.console_api import bearer_token
from handoff.lifecycle import LifecycleError
from handoff.store.sql import attachments as attachments_table

ATTACHMENT_ID_RE = re.compile(r"^[0-9a-f]{32}\Z")
MAX_PER_CONVERSATION = 50  # an anonymous shopper must not be able to fill the disk through one conversation
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the other fields, beyond the file itself


def _count(store, conversation_id: str) -> int:
    from sqlalchemy import func, select

    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(attachments_table)
                            .where(attachments_table.c.conversation_id == conversation_id)).scalar()


def _disposition(kind: str, filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(filename)}"


def download_headers(row: dict, content_type: str) -> dict:
    """Headers that keep a served file inert: its sniffed type, no sniffing, a sandbox, a disposition."""
    inline = content_type.startswith("image/")
    return {
        "Content-Type": content_type,
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": _disposition("inline" if inline else "attachment", row["filename"]),
        "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
        "Cache-Control": "private, max-age=3600",
        "Cross-Origin-Resource-Policy": "cross-origin",  # storefronts on other origins show the thumbnails
    }


def setup_attachments(app: Sanic) -> None:
    """Register the routes; the files live under ``<var>/uploads``."""
    settings = app.ctx.settings
    files = AttachmentStore(app.ctx.store, settings.var_dir / "uploads")
    app.ctx.attachments = files
    # Sanic refuses bodies over REQUEST_MAX_SIZE (413) before any handler reads them.
    app.config.REQUEST_MAX_SIZE = max(app.config.REQUEST_MAX_SIZE, settings.max_upload_bytes + FORM_OVERHEAD)

    @app.post("/api/attachments")
    async def upload(request):
        if len(request.body or b"") > settings.max_upload_bytes + FORM_OVERHEAD:
            return error_response(413, "file_too_large", f"the file is over {settings.max_upload_bytes} bytes")
        # Checked before Sanic parses the form: a multipart type without a boundary made it log a
        # traceback ("Failed when parsing form") and answer as if no file had been sent.
        kind, parameters = parse_content_header(request.headers.get("content-type", ""))
        if kind != "multipart/form-data" or not parameters.get("boundary"):
            return error_response(400, "no_file", "send multipart/form-data (with its boundary) and a 'file' part")
        part = (request.files or {}).get("file")
        if part is None:
            return error_response(400, "no_file", "send multipart/form-data with a 'file' part")
        form = request.form or {}
        session_id = form.get("session_id")
        if session_id is not None:
            uploader, sender, conversation_id, agent = "shopper", "shopper", session_id, None
            if not protocol.SESSION_ID_RE.match(session_id) or not request.app.ctx.store.conversation_exists(session_id):
                return error_response(404, "no_session", "no such session: open the chat first")
        else:
            agent = request.app.ctx.agents.agent_for_token(bearer_token(request))
            if agent is None:
                return error_response(401, "unauthorized", "log in first, or send your session_id")
            conversation_id = form.get("conversation_id") or ""
            try:
                protocol.parse_conversation_ref({"conversation_id": conversation_id})
                request.app.ctx.handoffs.assigned(agent, conversation_id)
            except (LifecycleError, protocol.ProtocolError) as error:
                return error_response(403, error.code, error.message)
            uploader, sender = f"agent:{agent.id}", "agent"
        if _count(request.app.ctx.store, conversation_id) >= MAX_PER_CONVERSATION:
            return error_response(429, "too_many_files", f"at most {MAX_PER_CONVERSATION} files per conversation")
        loop = asyncio.get_running_loop()
        try:  # decoding an image is CPU work: off the event loop
            checked = await loop.run_in_executor(None, check, part.body, settings.max_upload_bytes)
        except AttachmentError as error:
            return error_response(error.status, error.code, error.message)
        filename = clean_filename(part.name, checked.content_type)
        row = await loop.run_in_executor(None, files.save, conversation_id, uploader, filename, part.body, checked)
        stored = await _record(request.app, conversation_id, sender, agent, row)
        files.link(row["id"], stored.id)
        return response.json({"ok": True, "id": stored.id, "file": stored.data["file"]})

    @app.get("/api/attachments/<attachment_id>")
    async def download(request, attachment_id: str):
        return await _serve(request, attachment_id, thumbnail=False)

    @app.get("/api/attachments/<attachment_id>/thumbnail")
    async def thumbnail(request, attachment_id: str):
        return await _serve(request, attachment_id, thumbnail=True)

    async def _serve(request, attachment_id: str, thumbnail: bool):
        row = files.get(attachment_id) if ATTACHMENT_ID_RE.match(attachment_id) else None
        if row is None or not _may_read(request, row):
            return error_response(404, "not_found", "no such file")
        path = files.path(attachment_id, thumbnail=thumbnail)
        if not path.is_file():
            return error_response(404, "not_found", "no such file")
        content_type = row["content_type"]
        if thumbnail:
            content_type = "image/jpeg" if content_type == "image/jpeg" else "image/png"
        data = await asyncio.get_running_loop().run_in_executor(None, path.read_bytes)
        return response.raw(data, headers=download_headers(row, content_type), content_type=content_type)

    @app.on_response
    async def allow_storefronts(request, answer):
        # The widget on a storefront of another (allowed) origin reads the upload's answer;
        # a disallowed origin never gets here (setup_origin_check answered 403).
        origin = request.headers.get("origin")
        if answer is not None and origin and request.path.startswith("/api/attachments"):
            answer.headers.setdefault("Access-Control-Allow-Origin", origin)
            answer.headers.setdefault("Vary", "Origin")


def _may_read(request, row: dict) -> bool:
    """The conversation's shopper (the file's key) or an agent whom the read policy lets read it."""
    key = request.args.get("key")
    if key and hmac.compare_digest(key, shopper_key(row["conversation_id"], row["id"])):
        return True
    agent = request.app.ctx.agents.agent_for_token(bearer_token(request))
    if agent is None:
        return False
    conversation = request.app.ctx.store.get_conversation(row["conversation_id"])
    return conversation is not None and request.app.ctx.read_policy.may_read(agent, conversation)


async def _record(app: Sanic, conversation_id: str, sender: str, agent, row: dict):
    """The file as a transcript message, delivered like any message of its sender."""
    store = app.ctx.store
    conversation = store.get_conversation(conversation_id)
    data = {"file": file_payload(row, conversation_id)}
    if agent is not None:
        data.update(agent_id=agent.id, agent_name=agent.display_name)
    else:
        # "intent" marks the message as read by the bot: no answer is owed for a file (recovery after
        # a restart answers shopper messages without one), and it is not text for the NLU.
        data["intent"] = None
    stored, _ = store.add_message(conversation_id, sender, row["filename"], language=conversation.language, data=data)
    metrics.message("in" if sender == "shopper" else "out", sender, conversation.language)
    if sender == "agent":
        await app.ctx.handoffs.to_shopper(conversation_id, stored)
    else:
        shopper_side = app.ctx.shopper
        await shopper_side.emit(protocol.SHOPPER_ECHO, protocol.message_payload(stored), room=conversation_id)
        await app.ctx.handoffs.shopper_said(conversation_id, shopper_side.service.state(conversation_id), stored)
    return stored
