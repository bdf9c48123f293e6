"""The team's accounts in the console (admins only): ``/api/admin/agents...``.

List, create, edit (display name, languages, skills, role), deactivate / reactivate and reset a
password. A deactivation or a password reset takes effect at once in this process (the agent
namespace's session sweep runs right away: their console sockets are told why and closed, their
conversations go back to the queue) and within ``CROSSDESK_AGENT_SESSION_SWEEP_SECONDS`` in the
others, exactly as ``python -m handoff agents deactivate`` does. Every change is in the audit log.
"""

from __future__ import annotations

import json
from typing import Awaitable, Callable, Optional

from sanic import Sanic, response

from handoff.api import error_response
from handoff.audit import AGENT_CHANGED
from handoff.console_api import admin_required
from handoff.store.agents import (
    ROLES, AgentError, AgentStore, checked_display_name, checked_languages, checked_password, checked_skills,
)
from handoff.store.records import Agent

MAX_BODY_BYTES = 8192
EDITABLE = ("display_name", "languages", "skills", "role")


def _body(request) -> tuple[Optional[dict], Optional[object]]:
    """(the JSON object, None) or (None, an error response)."""
    if len(request.body or b"") > MAX_BODY_BYTES:
        return None, error_response(413, "too_large", "request body too large")
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, error_response(400, "invalid_json", "body must be a JSON object")
    if not isinstance(body, dict):
        return None, error_response(400, "invalid_json", "body must be a JSON object")
    return body, None


def _invalid(error: AgentError):
    return error_response(400, "invalid_agent", str(error))


class Team:
    """What the routes do, over the account store and the live agent namespace.

    Args:
        agents: the accounts (``AgentStore``).
        presence: who is online (``handoff/presence.py``).
        load: how many conversations an agent holds.
        sweep: ends this process's console sockets whose login stopped working (``SessionGuard.sweep``).
    """

    def __init__(self, agents: AgentStore, presence, load: Callable[[int], int], sweep: Callable[[], Awaitable[int]]):
        self.agents = agents
        self.presence = presence
        self.load = load
        self.sweep = sweep

    def describe(self, agent: Agent) -> dict:
        """An account as the console shows it (with whether it is online and its load)."""
        online = self.presence.is_online(agent.id)
        return {"id": agent.id, "username": agent.username, "display_name": agent.display_name,
                "languages": agent.languages, "skills": agent.skills, "role": agent.role, "active": agent.active,
                "online": online, "load": self.load(agent.id) if online else 0}

    def create(self, body: dict) -> Agent:
        """A new account from ``{username, password, display_name?, languages, skills?, role?}``."""
        username, role = body.get("username"), body.get("role", "agent")
        if not isinstance(username, str) or not isinstance(role, str) or role not in ROLES:
            raise AgentError(f"username: a string; role: one of {', '.join(ROLES)}")
        display_name = checked_display_name(body["display_name"]) if body.get("display_name") else None
        return self.agents.add(username, checked_password(body.get("password")),
                               checked_languages(body.get("languages", [])), display_name, role,
                               checked_skills(body.get("skills", [])))

    def edit(self, agent: Agent, body: dict) -> Agent:
        """Change what ``body`` names of ``EDITABLE``; unknown keys are refused."""
        unknown = sorted(set(body) - set(EDITABLE))
        if unknown or not body:
            raise AgentError(f"give some of {', '.join(EDITABLE)}" + (f"; not {', '.join(unknown)}" if unknown else ""))
        if "role" in body and not isinstance(body["role"], str):
            raise AgentError(f"role: one of {', '.join(ROLES)}")
        return self.agents.update(agent.id, **{key: body[key] for key in EDITABLE if key in body})

    async def cut_off(self) -> int:
        """End, now, the console sockets in this process whose login stopped working."""
        return await self.sweep()


def setup_team(app: Sanic, team: Team) -> None:
    """The admin routes for agent accounts (``team``: what they do)."""
    agents = team.agents

    def target(agent_id: int):
        found = agents.get(agent_id)
        return (found, None) if found else (None, error_response(404, "not_found", "no such agent"))

    def audited(request, agent: Agent, change: str, details: Optional[dict] = None) -> None:
        request.app.ctx.audit.record(request.ctx.agent.id, AGENT_CHANGED, agent.username,
                                     {"change": change, **(details or {})})

    @app.get("/api/admin/agents")
    @admin_required
    async def list_agents(request):
        return response.json({"agents": [team.describe(a) for a in agents.all()], "roles": list(ROLES)})

    @app.post("/api/admin/agents")
    @admin_required
    async def create_agent(request):
        body, refused = _body(request)
        if refused:
            return refused
        try:
            agent = team.create(body)
        except AgentError as error:
            if "is taken" in str(error):
                return error_response(409, "username_taken", str(error))
            return _invalid(error)
        audited(request, agent, "created", {"role": agent.role})
        return response.json({"agent": team.describe(agent)}, status=201)

    @app.patch("/api/admin/agents/<agent_id:int>")
    @admin_required
    async def edit_agent(request, agent_id: int):
        agent, refused = target(agent_id)
        body, bad = _body(request) if agent else (None, None)
        if refused or bad:
            return refused or bad
        if agent.id == request.ctx.agent.id and body.get("role", agent.role) != agent.role:
            return error_response(400, "own_role", "you cannot change your own role (ask another admin)")
        try:
            changed = team.edit(agent, body)
        except AgentError as error:
            return _invalid(error)
        audited(request, changed, "edited", {"fields": sorted(body)})
        return response.json({"agent": team.describe(changed)})

    @app.post("/api/admin/agents/<agent_id:int>/deactivate")
    @admin_required
    async def deactivate_agent(request, agent_id: int):
        agent, refused = target(agent_id)
        if refused:
            return refused
        if agent.id == request.ctx.agent.id:
            return error_response(400, "own_account", "you cannot deactivate yourself (ask another admin)")
        agents.set_active(agent.username, False)
        cut = await team.cut_off()
        audited(request, agent, "deactivated")
        return response.json({"agent": team.describe(agents.get(agent.id)), "sockets_closed": cut})

    @app.post("/api/admin/agents/<agent_id:int>/reactivate")
    @admin_required
    async def reactivate_agent(request, agent_id: int):
        agent, refused = target(agent_id)
        if refused:
            return refused
        agents.set_active(agent.username, True)
        audited(request, agent, "reactivated")
        return response.json({"agent": team.describe(agents.get(agent.id))})

    @app.post("/api/admin/agents/<agent_id:int>/password")
    @admin_required
    async def reset_password(request, agent_id: int):
        agent, refused = target(agent_id)
        body, bad = _body(request) if agent else (None, None)
        if refused or bad:
            return refused or bad
        try:
            agents.set_password(agent.id, body.get("password"))
        except AgentError as error:
            return _invalid(error)
        cut = await team.cut_off()  # their old logins stop working: open consoles log in again
        audited(request, agent, "password_reset")
        return response.json({"ok": True, "sockets_closed": cut})
