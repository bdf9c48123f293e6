"""Agent accounts for admins (handoff/team_api.py) in-process, and ``agents edit`` / ``agents passwd`` on the
command line: create, edit, validation, 403 for agents, deactivation and password resets cutting live consoles."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import aiohttp
import pytest
import pytest_asyncio

from tests.inprocess import PASSWORD, closed, served, until
from tests.support import ROOT

ASYNC = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(tmp_path_factory):
    async with served(tmp_path_factory.mktemp("team"), agent_grace_seconds=30) as running:
        running.admin = running.agent_token("boss", languages=("en",), role="admin")
        yield running


async def api(desk, token, method: str, path: str, body=None, raw: bytes = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http:
        async with http.request(method, desk.url + path, json=body if raw is None else None, data=raw,
                                headers=headers) as response:
            return response.status, await response.json()


@ASYNC
async def test_agents_get_403_and_strangers_401_on_every_admin_agents_route(desk):
    token = desk.agent_token("plain", languages=("en",))
    target = desk.app.ctx.agents.by_username("boss").id
    calls = [("GET", "/api/admin/agents", None), ("POST", "/api/admin/agents", {"username": "x"}),
             ("PATCH", f"/api/admin/agents/{target}", {"role": "agent"}),
             ("POST", f"/api/admin/agents/{target}/deactivate", None),
             ("POST", f"/api/admin/agents/{target}/password", {"password": "something-long"})]

    answers = [await api(desk, token, method, path, body) for method, path, body in calls]
    strangers = [await api(desk, None, method, path, body) for method, path, body in calls]

    assert [(status, body["error"]) for status, body in answers] == [(403, "forbidden")] * len(calls)
    assert [status for status, _ in strangers] == [401] * len(calls)
    assert desk.app.ctx.agents.by_username("boss").active and desk.app.ctx.agents.by_username("x") is None


@ASYNC
async def test_an_admin_creates_lists_and_edits_an_agent_and_bad_input_is_a_json_400(desk):
    created = await api(desk, desk.admin, "POST", "/api/admin/agents", {
        "username": "minji", "password": "minji-password", "display_name": "Minji Kim",
        "languages": ["ko", "en"], "skills": ["payments"], "role": "agent"})
    taken = await api(desk, desk.admin, "POST", "/api/admin/agents", {
        "username": "minji", "password": "minji-password", "languages": ["ko"]})
    bad = [await api(desk, desk.admin, "POST", "/api/admin/agents", body) for body in (
        {"username": "a", "password": "short", "languages": ["en"]},
        {"username": "b", "password": "long-enough", "languages": "en"},
        {"username": "c", "password": "long-enough", "languages": ["en"], "skills": ["Has Space"]},
        {"username": "d", "password": "long-enough", "languages": ["en"], "role": "root"})]
    not_json = await api(desk, desk.admin, "POST", "/api/admin/agents", raw=b"{oops")
    minji = created[1]["agent"]
    edited = await api(desk, desk.admin, "PATCH", f"/api/admin/agents/{minji['id']}",
                       {"languages": ["ko"], "skills": ["payments", "returns"], "role": "admin"})
    unknown = await api(desk, desk.admin, "PATCH", f"/api/admin/agents/{minji['id']}", {"password": "x" * 9})
    own_role = await api(desk, desk.admin, "PATCH", f"/api/admin/agents/{desk.app.ctx.agents.by_username('boss').id}",
                         {"role": "agent"})
    missing = await api(desk, desk.admin, "PATCH", "/api/admin/agents/9999", {"role": "agent"})
    listed = await api(desk, desk.admin, "GET", "/api/admin/agents")

    assert created[0] == 201 and minji["skills"] == ["payments"] and minji["display_name"] == "Minji Kim"
    assert taken[0] == 409 and taken[1]["error"] == "username_taken"
    assert [(status, body["error"]) for status, body in bad] == [(400, "invalid_agent")] * 4
    assert not_json[0] == 400 and not_json[1]["error"] == "invalid_json"
    assert edited[0] == 200 and edited[1]["agent"]["languages"] == ["ko"] and edited[1]["agent"]["role"] == "admin"
    assert unknown[0] == 400 and own_role == (400, {"error": "own_role", "message": own_role[1]["message"]})
    assert missing[0] == 404
    row = next(a for a in listed[1]["agents"] if a["username"] == "minji")
    assert row["skills"] == ["payments", "returns"] and row["active"] and not row["online"]
    assert desk.app.ctx.agents.authenticate("minji", "minji-password") is not None
    changes = [(e["target"], json.loads(e["details"])["change"] if isinstance(e["details"], str) else e["details"]["change"])
               for e in desk.app.ctx.audit.entries(action="agent_changed") if e["target"] == "minji"]
    assert sorted(changes) == [("minji", "created"), ("minji", "edited")]  # who changed what is in the audit log


@ASYNC
async def test_deactivating_a_logged_in_agent_cuts_their_console_at_once_and_requeues_their_conversation(desk):
    client, _ = await desk.agent("victor", languages=("en",))
    client.client.on("disconnect", client._recorder("disconnect"), namespace="/agent")
    token = client.token
    shopper = await desk.shopper()
    await shopper.say("I want a human")
    await until(lambda: desk.app.ctx.store.get_conversation(shopper.session_id).state == "waiting")
    assert (await client.call("claim", {"conversation_id": shopper.session_id}))["ok"]
    victor = desk.app.ctx.agents.by_username("victor")

    status, body = await api(desk, desk.admin, "POST", f"/api/admin/agents/{victor.id}/deactivate")
    _, ended = await client.expect("crossdesk:error", timeout=3)
    await client.expect("disconnect", timeout=3)
    me = await api(desk, token, "GET", "/api/me")
    self_deactivation = await api(desk, desk.admin, "POST",
                                  f"/api/admin/agents/{desk.app.ctx.agents.by_username('boss').id}/deactivate")

    assert status == 200 and body["sockets_closed"] == 1 and body["agent"]["active"] is False
    assert ended["code"] == "session_ended" and ended["reason"] == "deactivated"
    assert me[0] == 401  # the token stopped working at once
    assert desk.app.ctx.store.get_conversation(shopper.session_id).state == "waiting"  # not after the 30 s grace
    assert self_deactivation[0] == 400 and self_deactivation[1]["error"] == "own_account"
    assert desk.app.ctx.agents.authenticate("victor", PASSWORD) is None
    await closed(shopper)


@ASYNC
async def test_a_password_reset_ends_the_agents_logins_and_the_new_password_works(desk):
    client, _ = await desk.agent("rita", languages=("en",))
    rita = desk.app.ctx.agents.by_username("rita")

    short = await api(desk, desk.admin, "POST", f"/api/admin/agents/{rita.id}/password", {"password": "short"})
    status, body = await api(desk, desk.admin, "POST", f"/api/admin/agents/{rita.id}/password",
                             {"password": "a brand new password"})
    _, ended = await client.expect("crossdesk:error", timeout=3)

    assert short[0] == 400 and short[1]["error"] == "invalid_agent"
    assert status == 200 and body["sockets_closed"] == 1 and ended["code"] == "session_ended"
    assert desk.app.ctx.agents.authenticate("rita", PASSWORD) is None
    assert desk.app.ctx.agents.authenticate("rita", "a brand new password") is not None


def test_agents_edit_and_passwd_on_the_command_line(tmp_path):
    env = {**os.environ, "CROSSDESK_VAR_DIR": str(tmp_path), "RASA_TELEMETRY_ENABLED": "false"}

    def agents(*args, stdin=""):
        return subprocess.run([sys.executable, "-m", "handoff", "agents", *args], input=stdin, text=True,
                              capture_output=True, env=env, cwd=ROOT, timeout=60)

    agents("add", "yuki", "--languages", "ja,en", stdin="first-password\n")
    edited = agents("edit", "yuki", "--languages", "ja,ko", "--skills", "payments", "--role", "admin")
    refused = agents("edit", "yuki", "--skills", "Not A Skill")
    changed = agents("passwd", "yuki", stdin="second-password\n")
    too_short = agents("passwd", "yuki", stdin="short\n")
    unknown = agents("passwd", "nobody", stdin="whatever-long\n")

    from handoff.store import SQLStore
    from handoff.store.agents import AgentStore

    store = AgentStore(SQLStore(f"sqlite:///{tmp_path / 'crossdesk.db'}"))
    yuki = store.by_username("yuki")
    assert edited.returncode == 0 and (yuki.languages, yuki.skills, yuki.role) == (["ja", "ko"], ["payments"], "admin")
    assert refused.returncode == 2 and "skills" in refused.stderr
    assert changed.returncode == 0 and store.authenticate("yuki", "second-password") is not None
    assert store.authenticate("yuki", "first-password") is None
    assert too_short.returncode == 2 and "8" in too_short.stderr
    assert unknown.returncode == 2 and "nobody" in unknown.stderr
