"""Privacy in the server: the admin API (shopper export and erasure, the audit log) and its wiring.

``setup_privacy`` puts the audit log, the read policy and ``Privacy`` on
``app.ctx``, starts the retention job and the erasure feed with the server,
and registers the admin-only routes.
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Optional

from sanic import Sanic, response

from handoff import protocol
from handoff.api import error_response
from handoff.audit import ReadPolicy
from handoff.console_api import _date, admin_required
from handoff.privacy import PROCESS, Privacy, ShopperNotFound
from handoff.retention import ErasureFeed, RetentionJob



def shopper_query(args) -> tuple[Optional[str], Optional[str]]:
    """``(session, email)`` from ``?session=`` or ``?email=`` (exactly one; ValueError otherwise)."""
    session, email = args.get("session") or None, args.get("email") or None
    if bool(session) == bool(email):
        raise ValueError("give exactly one of 'session' or 'email'")
    if session and not protocol.SESSION_ID_RE.match(session):
        raise ValueError("'session' is not a session id")
    if email and not protocol.EMAIL_RE.match(email.strip()):
        raise ValueError("'email' is not an e-mail address")
    return session, email.strip() if email else None


def audit_filters(args, agents) -> dict:
    """Validated ``agent`` (id or username), ``from``/``to`` (YYYY-MM-DD), ``action`` and ``limit``."""
    limit = int(args.get("limit") or 100)
    if not 1 <= limit <= 1000:
        raise ValueError("'limit' must be 1-1000")
    agent_id = None
    name = (args.get("agent") or "").strip()
    if name:
        found = [a for a in agents.all() if a.username == name or str(a.id) == name]
        if not found:
            raise ValueError(f"no agent {name!r}")
        agent_id = found[0].id
    return {"agent_id": agent_id, "since": _date(args.get("from")), "until": _date(args.get("to"), end=True),
            "action": args.get("action") or None, "limit": limit}


def setup_privacy(app: Sanic, service, handoffs) -> None:
    """Read policy, shopper export/erasure, retention and the admin routes (the audit log: ``app.ctx.audit``).

    Args:
        app: the server.
        service: the ConversationService (its caches are dropped on erasure).
        handoffs: the HandoffService (the agents' queue is pushed again after an erasure).
    """
    settings = app.ctx.settings
    app.ctx.read_policy = ReadPolicy(app.ctx.store)
    loop_holder: list[asyncio.AbstractEventLoop] = []

    async def forget(ids: list[str]) -> None:
        """Nothing of erased conversations stays in this process: caches, trackers, translations, sockets."""
        service.erased(ids)
        app.ctx.translator.clear_cache()
        for conversation_id in ids:
            await app.ctx.shopper.disconnect_session(conversation_id)
            if hasattr(app.ctx.bot, "erase_tracker"):  # (test doubles of the bot keep no tracker)
                await app.ctx.bot.erase_tracker(conversation_id)  # also what a turn running meanwhile saved
        await handoffs.push_queue()

    async def forget_remote(ids: list[str]) -> None:
        """An erasure made elsewhere; a shopper who already wrote since has a new conversation: keep it."""
        await forget([i for i in ids if not service.renewed(i)])

    def on_erased(ids: list[str]) -> None:  # called from executor threads
        if loop_holder:
            asyncio.run_coroutine_threadsafe(forget(ids), loop_holder[0])

    app.ctx.privacy = Privacy(app.ctx.store, settings.tracker_db_url, settings.retention_days, on_erased=on_erased,
                              uploads=settings.var_dir / "uploads")
    retention = RetentionJob(app.ctx.privacy)
    feed = ErasureFeed(app.ctx.audit, PROCESS, forget_remote)
    tasks: list[asyncio.Task] = []

    @app.listener("after_server_start")
    async def start_jobs(app, loop):
        loop_holder.append(loop)
        tasks.extend([asyncio.ensure_future(retention.run()), asyncio.ensure_future(feed.run())])

    @app.listener("before_server_stop")
    async def stop_jobs(app, loop):
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        app.ctx.privacy.close()

    setup_admin_routes(app)


def setup_admin_routes(app: Sanic) -> None:
    """``/api/admin/shoppers/export``, ``DELETE /api/admin/shoppers``, ``/api/admin/audit``."""

    @app.get("/api/admin/shoppers/export")
    @admin_required
    async def export_shopper(request):
        try:
            session, email = shopper_query(request.args)
        except ValueError as error:
            return error_response(400, "invalid_query", str(error))
        work = functools.partial(request.app.ctx.privacy.export, session, email, request.ctx.agent.id, "console")
        try:
            exported = await asyncio.get_running_loop().run_in_executor(None, work)
        except ShopperNotFound as error:
            return error_response(404, "not_found", str(error))
        name = f"crossdesk-shopper-{session or 'email'}.json"
        return response.text(json.dumps(exported, ensure_ascii=False, indent=2), content_type="application/json",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.delete("/api/admin/shoppers")
    @admin_required
    async def delete_shopper(request):
        try:
            session, email = shopper_query(request.args)
        except ValueError as error:
            return error_response(400, "invalid_query", str(error))
        work = functools.partial(request.app.ctx.privacy.delete, session, email, request.ctx.agent.id, "console")
        try:
            deleted = await asyncio.get_running_loop().run_in_executor(None, work)
        except ShopperNotFound as error:
            return error_response(404, "not_found", str(error))
        return response.json({"ok": True, **deleted})

    @app.get("/api/admin/audit")
    @admin_required
    async def audit_entries(request):
        try:
            filters = audit_filters(request.args, request.app.ctx.agents)
        except ValueError as error:
            return error_response(400, "invalid_query", str(error))
        return response.json({"entries": request.app.ctx.audit.entries(**filters)})
