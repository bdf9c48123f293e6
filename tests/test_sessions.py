"""Agent sessions over real sockets: logout, expiry and deactivation cut an open /agent socket; login throttling;
the console's session cookie; security headers."""

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import socketio

from tests.support import ROOT, AgentClient, ServerProcess, Shopper, add_agent, login

TTL = 8  # seconds an agent login lasts on the short-lived server


@pytest.fixture(scope="module")
def accounts(server):
    for name in ("sana", "ravi", "dora", "lars", "kim", "cora"):
        add_agent(server.var_dir, name, f"{name}-password-1")
    return server


@pytest.fixture(scope="module")
def short_lived(model_path, tmp_path_factory):
    """A server whose logins last TTL seconds and whose sweep is too slow to matter in a test."""
    server = ServerProcess(tmp_path_factory.mktemp("var"), model_path,
                           env={"CROSSDESK_AGENT_TOKEN_TTL_SECONDS": str(TTL),
                                "CROSSDESK_AGENT_SESSION_SWEEP_SECONDS": "600"}).start()
    for name in ("tess", "vic"):
        add_agent(server.var_dir, name, f"{name}-password-1")
    yield server
    server.stop()


class Agent(AgentClient):
    """An agent client that also records being disconnected and the online agents list."""

    def __init__(self, url, token):
        super().__init__(url, token)
        self.client.on("disconnect", self._recorder("disconnect"), namespace="/agent")
        self.client.on("agent:agents", self._recorder("agent:agents"), namespace="/agent")


async def connected(server, name: str) -> Agent:
    agent = Agent(server.url, login(server.url, name, f"{name}-password-1")[1]["token"])
    await agent.connect()
    return agent


async def cut_off(agent: Agent, reason: str, within: float) -> float:
    """Wait for session_ended (with ``reason``) and the disconnect; how long it took."""
    start = time.monotonic()
    _, error = await agent.expect("crossdesk:error", timeout=within,
                                  where=lambda e: e.get("code") == "session_ended" and "reason" in e)
    assert error["reason"] == reason and error["message"]
    await agent.expect("disconnect", timeout=max(0.5, within - (time.monotonic() - start)))
    assert not agent.client.connected
    return time.monotonic() - start


def http(server, path: str, method: str = "GET", headers: dict = None, body: dict = None):
    """(status, headers, JSON body or raw bytes)."""
    request = urllib.request.Request(server.url + path, method=method, headers=headers or {},
                                     data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, answer_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, error.headers, error.read()
    try:
        return status, answer_headers, json.loads(raw)
    except ValueError:
        return status, answer_headers, raw


def cli(server, *args: str) -> None:
    """``python -m handoff agents ...`` against the server's database (another process)."""
    env = {**os.environ, "CROSSDESK_VAR_DIR": str(server.var_dir)}
    subprocess.run([sys.executable, "-m", "handoff", "agents", *args], env=env, cwd=ROOT, check=True,
                   capture_output=True)


async def test_logout_cuts_the_tokens_open_agent_socket_at_once(accounts):
    server = accounts
    sana, ravi = await connected(server, "sana"), await connected(server, "ravi")
    status, _, _ = http(server, "/api/logout", "POST", {"Authorization": f"Bearer {sana.token}"})
    assert status == 200
    assert await cut_off(sana, "logged_out", within=5) < 2
    # Gone for the others too, and the token opens no new socket.
    _, listed = await ravi.expect("agent:agents", where=lambda d: all(a["display_name"] != "Sana" for a in d["agents"]))
    again = Agent(server.url, sana.token)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await again.connect()
    # The other agent's session is untouched: it still receives the queue.
    shopper = Shopper(server.url)
    await shopper.connect()
    await shopper.ask("I want to talk to a real person")
    await ravi.expect("agent:queue", where=lambda d: any(e["conversation_id"] == shopper.session_id for e in d["queue"]))
    claimed = await ravi.call("claim", {"conversation_id": shopper.session_id})
    assert claimed["ok"]
    await ravi.call("handback", {"conversation_id": shopper.session_id})
    await ravi.close()
    await shopper.close()


async def test_deactivating_an_agent_from_the_command_line_cuts_their_socket_within_seconds(accounts):
    server = accounts
    dora, lars = await connected(server, "dora"), await connected(server, "lars")
    shopper = Shopper(server.url)
    await shopper.connect()
    await shopper.ask("I want to talk to a real person")
    assert (await dora.call("claim", {"conversation_id": shopper.session_id}))["ok"]
    await lars.expect("agent:queue", where=lambda d: all(e["conversation_id"] != shopper.session_id for e in d["queue"]))
    cli(server, "deactivate", "dora")
    assert await cut_off(dora, "deactivated", within=6) < 3.5  # the sweep runs every 2 s
    # Dora is not coming back: her conversation is waiting for someone else now, not after the grace period.
    await lars.expect("agent:queue", timeout=2,
                      where=lambda d: any(e["conversation_id"] == shopper.session_id for e in d["queue"]))
    assert (await lars.call("claim", {"conversation_id": shopper.session_id}))["ok"]
    await lars.call("handback", {"conversation_id": shopper.session_id})
    await lars.close()
    await shopper.close()
    assert http(server, "/api/me", headers={"Authorization": f"Bearer {dora.token}"})[0] == 401
    assert login(server.url, "dora", "dora-password-1")[0] == 401
    cli(server, "reactivate", "dora")
    assert http(server, "/api/me", headers={"Authorization": f"Bearer {dora.token}"})[0] == 401  # log in again
    assert login(server.url, "dora", "dora-password-1")[0] == 200


async def test_an_expired_login_cuts_the_socket_when_it_expires(short_lived):
    server = short_lived
    started = time.monotonic()
    tess = await connected(server, "tess")
    await cut_off(tess, "expired", within=TTL + 3)
    assert TTL - 1.5 < time.monotonic() - started < TTL + 2.5  # by its own timer (the sweep is 10 minutes away)


async def test_an_event_from_a_dead_session_is_refused_before_any_sweep(short_lived):
    server = short_lived
    vic = await connected(server, "vic")
    shopper = Shopper(server.url)
    await shopper.connect()
    cli(server, "deactivate", "vic")
    refused = await vic.call("claim", {"conversation_id": shopper.session_id})
    assert refused["ok"] is False and refused["error"] == "session_ended"
    await cut_off(vic, "deactivated", within=3)
    cli(server, "reactivate", "vic")
    await shopper.close()


async def test_repeated_wrong_passwords_are_slowed_with_429_and_retry_after(accounts):
    server = accounts
    for name in ("kim", "no-such-agent"):  # the same answers whether or not the account exists
        statuses, throttled = [], None
        for _ in range(7):
            status, headers, body = http(server, "/api/login", "POST", body={"username": name, "password": "wrong-one"})
            statuses.append(status)
            if status == 429:
                throttled = headers, body
                break
        assert statuses[:5] == [401] * 5 and statuses[-1] == 429, statuses
        headers, body = throttled
        assert body["error"] == "too_many_attempts" and body["message"]
        assert 1 <= int(headers["Retry-After"]) <= 60
        await asyncio.sleep(int(headers["Retry-After"]))
    assert login(server.url, "kim", "kim-password-1")[0] == 200  # slowed, never locked out


async def test_the_console_cookie_is_httponly_strict_and_only_honoured_from_this_origin(accounts):
    server = accounts
    status, headers, body = http(server, "/api/login", "POST", body={"username": "cora", "password": "cora-password-1"})
    cookie = headers["Set-Cookie"]
    assert status == 200 and "crossdesk_agent=" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    jar = {"Cookie": cookie.split(";")[0]}
    assert http(server, "/api/me", headers=jar)[2]["username"] == "cora"
    assert http(server, "/api/me", headers={**jar, "Origin": "http://shop.example"})[0] == 401
    socket = Agent(server.url, None)
    # (copies: python-engineio's client takes the Cookie header out of the dict it is given)
    await socket.client.connect(server.url, namespaces=["/agent"], transports=["websocket"], headers=dict(jar))
    await socket.expect("agent:hello")
    stranger = Agent(server.url, None)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await stranger.client.connect(server.url, namespaces=["/agent"], transports=["websocket"],
                                      headers={**jar, "Origin": "http://shop.example"})
    status, headers, _ = http(server, "/api/logout", "POST", headers=jar)
    assert status == 200 and "Max-Age=0" in headers["Set-Cookie"]
    await cut_off(socket, "logged_out", within=3)


def test_every_response_has_security_headers_and_pages_a_strict_csp(accounts):
    server = accounts
    for path in ("/", "/console", "/widget/crossdesk.js", "/console/static/console.js", "/health", "/api/me"):
        _, headers, _ = http(server, path)
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
    for path, ancestors in (("/console", "'none'"), ("/", "'self'")):
        csp = http(server, path)[1]["Content-Security-Policy"]
        directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
        assert directives["script-src"] == ["'self'"] and "unsafe" not in csp, csp
        assert directives["frame-ancestors"] == [ancestors]
    assert http(server, "/console")[1]["X-Frame-Options"] == "DENY"
    widget = http(server, "/widget/crossdesk.js")[1]
    assert "X-Frame-Options" not in widget and "Content-Security-Policy" not in widget  # embeddable anywhere
    assert "javascript" in widget["Content-Type"]
