"""Scaled out: ``serve --workers 2`` on real Redis and PostgreSQL, behind the shipped nginx configuration.

One set of services for the module: a throwaway PostgreSQL cluster, ``redis-server``
on a free loopback port, the supervisor with two workers, and nginx running
``deploy/nginx-crossdesk.conf``. nginx hashes the client address, so each client
connects from its own loopback address (127.0.0.x) to choose its process; the
test's copy of the configuration adds an ``X-Upstream`` header saying which
process answered, to pick addresses that land on process A and on process B.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest
import socketio

from harness.redis_server import REDIS, RedisServer, wait_port
from harness.postgres import PostgresCluster, logged_statements, postgres_bin_dir
from tests.support import ROOT, AgentClient, Shopper, free_port, login

NGINX = "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(
    not (os.access(NGINX, os.X_OK) and os.access(REDIS, os.X_OK) and postgres_bin_dir()),
    reason="nginx, redis-server and PostgreSQL are needed: run scripts/ensure-services")


def postgres_restart(cluster: PostgresCluster, stop: bool) -> None:
    """Stop, or start again, the cluster's server (its data stays)."""
    if stop:
        cluster._run("pg_ctl", "-D", str(cluster.data), "-m", "fast", "-w", "stop")
        return
    options = (f"-p {cluster.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={cluster.dir}"
               " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    cluster._run("pg_ctl", "-D", str(cluster.data), "-l", str(cluster.dir / "postgres.log"), "-o", options,
                 "-w", "-t", "60", "start")


def log_all_statements(cluster: PostgresCluster) -> None:
    """PostgreSQL logs every statement from now on (its sessions' prepared statements too)."""
    import psycopg2

    connection = psycopg2.connect(cluster.url())
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("ALTER SYSTEM SET log_statement = 'all'")
            cursor.execute("SELECT pg_reload_conf()")
    finally:
        connection.close()


def two_free_ports() -> int:
    """A port p with p and p + 1 both free (the workers listen on consecutive ports)."""
    import socket

    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
    raise RuntimeError("no two consecutive free ports")


class Workers:
    """``python -m handoff serve --workers 2`` (the supervisor) and its workers' pids."""

    def __init__(self, directory: Path, env: dict):
        self.port = two_free_ports()
        self.log_path = directory / "workers.log"
        self.env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "CROSSDESK_PORT": str(self.port),
                    "CROSSDESK_VAR_DIR": str(directory), **env}
        self.process: subprocess.Popen | None = None

    @property
    def ports(self) -> list[int]:
        return [self.port, self.port + 1]

    def start(self) -> "Workers":
        with open(self.log_path, "ab") as log:  # (the child has its own copy of the descriptor)
            self.process = subprocess.Popen([sys.executable, "-m", "handoff", "serve", "--workers", "2"], cwd=ROOT,
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        for port in self.ports:
            self.wait_healthy(port)
        return self

    def wait_healthy(self, port: int, timeout: float = 420) -> None:  # (model loads take minutes on a busy machine)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"supervisor exited: {self.log()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if b'"ok"' in response.read():
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"worker on {port} not healthy: {self.log()[-3000:]}")

    def pid_of(self, port: int) -> int:
        """The newest pid the supervisor logged for the worker on ``port``."""
        found = re.findall(rf"worker \d+ started on port {port} \(pid (\d+)\)", self.log())
        return int(found[-1])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()


class Nginx:
    """nginx running ``deploy/nginx-crossdesk.conf`` on loopback ports, in front of the workers."""

    def __init__(self, directory: Path, ports: list[int]):
        from tests.test_deploy_nginx import self_signed

        self.directory = directory
        self.http_port, self.https_port = free_port(), free_port()
        cert, key = self_signed(directory)
        site = (ROOT / "deploy" / "nginx-crossdesk.conf").read_text(encoding="utf-8")
        for shipped, ours in [
            ("listen 80;", f"listen 127.0.0.1:{self.http_port};"),
            ("listen 443 ssl http2;", f"listen 127.0.0.1:{self.https_port} ssl http2;"),
            ("server 127.0.0.1:5005 ", f"server 127.0.0.1:{ports[0]} "),
            ("server 127.0.0.1:5006 ", f"server 127.0.0.1:{ports[1]} "),
            ("/etc/letsencrypt/live/support.example-shop.com/fullchain.pem", str(cert)),
            ("/etc/letsencrypt/live/support.example-shop.com/privkey.pem", str(key)),
            ("        proxy_pass http://crossdesk;", "        add_header X-Upstream $upstream_addr always;\n"
                                                   "        proxy_pass http://crossdesk;"),
        ]:
            assert shipped in site, shipped
            site = site.replace(shipped, ours)
        temp = "\n".join(f"    {kind}_temp_path {directory / kind};" for kind in
                         ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (directory / "nginx.conf").write_text(
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"worker_processes 1;\npid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'};\n"
            f"events {{}}\nhttp {{\n    access_log off;\n{temp}\n{site}\n}}\n")
        self.process = subprocess.Popen([NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf"),
                                         "-g", "daemon off;"], stderr=subprocess.PIPE)
        wait_port(self.https_port, process=self.process)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def upstream_for(self, address: str) -> int:
        """The worker port nginx sends a client at ``address`` to."""
        import http.client
        import ssl

        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        connection = http.client.HTTPSConnection("127.0.0.1", self.https_port, context=context, timeout=10,
                                                 source_address=(address, 0))
        try:
            connection.request("GET", "/health")
            reply = connection.getresponse()
            reply.read()
            return int(reply.getheader("X-Upstream").rsplit(":", 1)[1])
        finally:
            connection.close()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(15)


class Stack:
    """Everything the module's tests share."""

    def __init__(self, postgres, redis, workers, nginx, database_url, tracker_url):
        self.postgres, self.redis, self.workers, self.nginx = postgres, redis, workers, nginx
        self.database_url, self.tracker_url = database_url, tracker_url
        self.addresses: dict[int, list[str]] = {}  # worker port -> client addresses nginx sends there
        for last in range(2, 60):
            address = f"127.0.0.{last}"
            self.addresses.setdefault(nginx.upstream_for(address), []).append(address)
        assert set(self.addresses) == set(workers.ports), self.addresses
        self._used: dict[int, int] = {}

    def address_on(self, port: int) -> str:
        """A fresh client address nginx sends to the worker on ``port``."""
        index = self._used.get(port, 0)
        self._used[port] = index + 1
        return self.addresses[port][index % len(self.addresses[port])]

    def store(self):
        from handoff.store import SQLStore

        return SQLStore(self.database_url)


@pytest.fixture(scope="module")
def stack(model_path):
    bin_dir = postgres_bin_dir()
    if os.geteuid() == 0:
        import pwd

        pwd.getpwnam("postgres")
    directory = Path(tempfile.mkdtemp(prefix="crossdesk-scale-"))
    postgres = PostgresCluster(bin_dir).start()
    log_all_statements(postgres)  # (a test counts the statements of a shopper message)
    redis = RedisServer(directory).start()
    workers = nginx = None
    try:
        database_url, tracker_url = postgres.create_database(), postgres.create_database()
        from handoff.store import SQLStore
        from handoff.store.agents import AgentStore

        agents = AgentStore(SQLStore(database_url))
        for name in ("yuki", "ken", "mei"):
            agents.add(name, f"{name}-password-1", ["en", "ja"], name.title(), "agent")
        workers = Workers(directory, {
            "CROSSDESK_REDIS_URL": redis.url, "CROSSDESK_DATABASE_URL": database_url,
            "CROSSDESK_TRACKER_DB_URL": tracker_url, "CROSSDESK_MODEL_PATH": str(model_path),
            "CROSSDESK_AGENT_GRACE_SECONDS": "30",
        }).start()
        nginx = Nginx(directory, workers.ports)
        yield Stack(postgres, redis, workers, nginx, database_url, tracker_url)
    finally:
        for service in (nginx, workers, redis):
            if service is not None:
                service.stop()
        postgres.stop()
        if os.environ.get("CROSSDESK_KEEP_TEST_LOGS"):
            shutil.copytree(directory, os.environ["CROSSDESK_KEEP_TEST_LOGS"], dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*.pem"))
        shutil.rmtree(directory, ignore_errors=True)


def from_address(client, address: str) -> None:
    """Make a python-socketio client connect from ``address`` (nginx hashes it) and accept the test certificate."""
    client.eio.ssl_verify = False
    client.eio.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0), ssl=False))


async def shopper_at(stack: Stack, port: int, session_id: str | None = None) -> Shopper:
    shopper = Shopper(stack.nginx.url)
    shopper.address = stack.address_on(port)
    from_address(shopper.client, shopper.address)
    await shopper.connect(session_id)
    return shopper


async def agent_at(stack: Stack, port: int, name: str) -> AgentClient:
    token = login(f"http://127.0.0.1:{port}", name, f"{name}-password-1")[1]["token"]
    agent = AgentClient(stack.nginx.url, token)
    agent.address = stack.address_on(port)
    from_address(agent.client, agent.address)
    await agent.connect()
    return agent


async def close(*clients) -> None:
    for client in clients:
        await client.close()
        if client.client.eio.http is not None:
            await client.client.eio.http.close()


async def queued(stack: Stack, agent: AgentClient, port: int) -> Shopper:
    """A shopper on ``port`` who asked for a human, seen in ``agent``'s queue."""
    shopper = await shopper_at(stack, port)
    system = await shopper.ask("I want to talk to a real person")
    assert system["sender"] == "system"
    await agent.expect("agent:queue", where=lambda q: any(
        e["conversation_id"] == shopper.session_id for e in q["queue"]))
    return shopper


async def test_a_shopper_on_one_process_and_an_agent_on_the_other_go_through_the_whole_handoff(stack):
    a, b = stack.workers.ports
    agent = await agent_at(stack, b, "yuki")
    shopper = await queued(stack, agent, a)

    claimed = await agent.call("claim", {"conversation_id": shopper.session_id})
    assert claimed["ok"] and claimed["conversation"]["transcript"][0]["text"] == "I want to talk to a real person"
    _, joined = await shopper.expect("bot_uttered")
    assert joined["sender"] == "system" and "Yuki" in joined["text"]

    assert (await shopper.client.call("crossdesk:typing", {"typing": True}))["ok"]
    _, typing = await agent.expect("agent:shopper_typing")
    assert typing == {"conversation_id": shopper.session_id, "typing": True}
    assert (await agent.call("typing", {"conversation_id": shopper.session_id, "typing": True}))["ok"]
    assert (await shopper.expect("crossdesk:typing"))[1]["sender"] == "agent"

    assert (await shopper.say("my parcel is late, order #A10234"))["ok"]
    _, relayed = await agent.expect("agent:shopper_message")
    assert relayed["message"]["text"] == "my parcel is late, order #A10234"
    assert (await agent.call("send", {"conversation_id": shopper.session_id, "text": "Let me check."}))["ok"]
    _, reply = await shopper.expect("bot_uttered")
    assert reply["sender"] == "agent" and reply["text"] == "Let me check."  # the bot (on A) stayed silent

    assert (await agent.call("resolve", {"conversation_id": shopper.session_id, "outcome": "solved"}))["ok"]
    _, left = await shopper.expect("bot_uttered")
    assert left["sender"] == "system"
    assert (await shopper.ask("thank you"))["sender"] == "bot"  # written after resolve: the bot again
    await close(shopper, agent)


async def test_a_bot_reply_reaches_the_shoppers_tabs_on_both_processes_each_in_its_protocols_shape(stack):
    a, b = stack.workers.ports
    asking = await shopper_at(stack, a)
    plain = Shopper(stack.nginx.url)  # another tab, a Rasa widget (no extensions), on the other process
    from_address(plain.client, stack.address_on(b))
    await plain.connect(asking.session_id, extensions=None)
    extended = await shopper_at(stack, b, asking.session_id)

    reply = await asking.ask("how long does shipping to Canada take?")
    _, rasa_shaped = await plain.expect("bot_uttered")
    _, ours = await extended.expect("bot_uttered", where=lambda m: m.get("sender") == "bot")
    assert reply["sender"] == "bot" and ours["id"] == reply["id"] and ours["text"] == reply["text"]
    assert rasa_shaped["text"] == reply["text"] and "sender" not in rasa_shaped and "id" not in rasa_shaped
    await close(asking, plain, extended)


async def test_a_bot_answered_message_costs_postgresql_five_statements_two_of_them_reads(stack):
    a, _ = stack.workers.ports
    shopper = await shopper_at(stack, a)
    await shopper.ask("hello")  # (the conversation's first turn: rows made, its language set)
    log = stack.postgres.dir / "postgres.log"  # (every statement since the stack started: log_all_statements)
    offset = log.stat().st_size
    await shopper.ask("how long does shipping to Canada take?")
    await asyncio.sleep(0.5)
    with open(log, "rb") as lines:
        logged = lines.read().decode(errors="replace")
    prepared: dict[str, str] = {}
    logged_statements(logged.splitlines(), prepared)  # (the statements prepared, whichever session's)
    sent = logged_statements([line for line in logged[offset:].splitlines() if shopper.session_id in line], prepared)
    # the row read to store the message; the message with its KPI note; the row read again after it is
    # stored (which the bot's turn uses: before, it read the row a third time); the tracker's new events;
    # the bot's reading of the message, KPI note and reply (before: 20 statements with pings, BEGINs, COMMITs)
    assert sent == ["SELECT id,", "WITH new", "SELECT id,", "INSERT INTO", "UPDATE messages"]
    await close(shopper)


async def test_two_agents_on_two_processes_racing_for_one_claim_exactly_one_wins(stack):
    a, b = stack.workers.ports
    ken, mei = await agent_at(stack, a, "ken"), await agent_at(stack, b, "mei")
    for _ in range(3):
        shopper = await queued(stack, ken, a)
        await mei.expect("agent:queue", where=lambda q: any(
            e["conversation_id"] == shopper.session_id for e in q["queue"]))
        results = await asyncio.gather(*(agent.call("claim", {"conversation_id": shopper.session_id})
                                         for agent in (ken, mei)))
        assert sorted(r["ok"] for r in results) == [False, True], results
        assert next(r for r in results if not r["ok"])["error"] == "already_claimed"
        winner = (ken, mei)[[r["ok"] for r in results].index(True)]
        assert (await winner.call("resolve", {"conversation_id": shopper.session_id}))["ok"]
        await close(shopper)
    await close(ken, mei)


async def test_agents_online_on_one_process_are_listed_on_the_other_and_leave_when_they_disconnect(stack):
    a, b = stack.workers.ports
    ken = await agent_at(stack, a, "ken")
    mei = await agent_at(stack, b, "mei")
    ken.client.on("agent:agents", lambda data: ken.events.put_nowait(("agent:agents", data)), namespace="/agent")
    assert (await mei.call("presence", {"status": "away"}))["ok"]
    _, listed = await ken.expect("agent:agents", where=lambda p: any(
        x["display_name"] == "Mei" and x["status"] == "away" for x in p["agents"]))
    await close(mei)
    await ken.expect("agent:agents", timeout=10, where=lambda p: all(x["display_name"] != "Mei" for x in p["agents"]))
    await close(ken)


async def test_sigkill_of_a_process_moves_its_shopper_and_agent_to_the_other_and_no_acknowledged_message_is_lost(stack):
    a, b = stack.workers.ports
    agent = await agent_at(stack, a, "yuki")
    shopper = await queued(stack, agent, a)
    assert (await agent.call("claim", {"conversation_id": shopper.session_id}))["ok"]
    await shopper.expect("bot_uttered")
    acknowledged = []
    for number in range(3):
        ack = await shopper.say(f"before the crash {number}", message_id=f"m-before-{number}")
        assert ack["ok"]
        acknowledged.append(f"before the crash {number}")
    assert (await agent.call("send", {"conversation_id": shopper.session_id, "text": "still here",
                                      "message_id": "a-1"}))["ok"]
    old_pid = stack.workers.pid_of(a)

    os.kill(old_pid, signal.SIGKILL)
    await asyncio.sleep(0.5)
    # Same client addresses: nginx finds process A gone and sends them to B.
    again = Shopper(stack.nginx.url)
    from_address(again.client, shopper.address)
    await again.connect(shopper.session_id)
    token = agent.token
    agent_again = AgentClient(stack.nginx.url, token)
    from_address(agent_again.client, agent.address)
    hello = await agent_again.connect()
    assert [c["conversation_id"] for c in hello["conversations"]] == [shopper.session_id]
    for client in (shopper, agent):
        if client.client.eio.http is not None:
            await client.client.eio.http.close()

    # A retry of the last acknowledged message (the widget resends what it is unsure of) is not stored twice.
    assert (await again.say("before the crash 2", message_id="m-before-2"))["duplicate"]
    assert (await again.say("after the crash", message_id="m-after"))["ok"]
    acknowledged.append("after the crash")
    _, relayed = await agent_again.expect("agent:shopper_message", where=lambda m: m["message"]["text"] == "after the crash")
    assert (await agent_again.call("send", {"conversation_id": shopper.session_id, "text": "got it"}))["ok"]
    await again.expect("bot_uttered", where=lambda m: m.get("text") == "got it")

    store = stack.store()
    texts = [m.text for m in store.transcript(shopper.session_id) if m.sender == "shopper"]
    store.close()
    assert [texts.count(text) for text in acknowledged] == [1] * len(acknowledged), texts
    # The supervisor starts A again (waited for off the event loop: the clients must keep answering pings).
    await asyncio.get_running_loop().run_in_executor(None, stack.workers.wait_healthy, a)
    assert stack.workers.pid_of(a) != old_pid
    assert (await agent_again.call("resolve", {"conversation_id": shopper.session_id}))["ok"]
    await close(again, agent_again)


async def test_after_a_redis_restart_the_processes_reconnect_by_themselves(stack):
    a, b = stack.workers.ports
    stack.redis.stop()
    await asyncio.sleep(1)
    stack.redis.start()
    # python-socketio's Redis manager resubscribes after 1 s, then 2 s, ...: until then emits
    # (even to a socket of the same process: they all go through Redis) are lost. Retry until it works.
    deadline = time.monotonic() + 30
    while True:
        agent = shopper = None
        try:
            agent = await agent_at(stack, b, "ken")
            shopper = await queued(stack, agent, a)
            break
        except (TimeoutError, asyncio.TimeoutError, socketio.exceptions.TimeoutError):
            await close(*[client for client in (agent, shopper) if client is not None])
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)
    assert (await agent.call("claim", {"conversation_id": shopper.session_id}))["ok"]
    assert (await shopper.say("are you there?"))["ok"]
    await agent.expect("agent:shopper_message", where=lambda m: m["message"]["text"] == "are you there?")
    assert (await agent.call("resolve", {"conversation_id": shopper.session_id}))["ok"]
    await close(shopper, agent)


async def test_with_postgresql_briefly_down_shoppers_get_a_clear_error_then_service_resumes(stack):
    a, _ = stack.workers.ports
    shopper = await shopper_at(stack, a)
    assert (await shopper.ask("hello"))["sender"] == "bot"
    postgres_restart(stack.postgres, stop=True)
    try:
        ack = await shopper.say("is my order shipped?", message_id="during-outage")
        assert ack["ok"] is False and ack["error"] == "store_unavailable", ack
        _, error = await shopper.expect("crossdesk:error")
        assert error["code"] == "store_unavailable"
    finally:
        postgres_restart(stack.postgres, stop=False)
    ack = await shopper.say("is my order shipped?", message_id="during-outage")  # the widget's retry
    assert ack["ok"] and not ack.get("duplicate"), ack
    _, reply = await shopper.expect("bot_uttered")
    assert reply["sender"] == "bot"
    store = stack.store()
    assert [m.text for m in store.transcript(shopper.session_id)].count("is my order shipped?") == 1
    store.close()
    # The bot read it with the conversation's stored tracker (not Rasa's empty in-memory fallback) and saved it.
    from sqlalchemy import create_engine, text

    engine = create_engine(stack.tracker_url)
    with engine.connect() as connection:
        saved = connection.execute(text("SELECT count(*) FROM events WHERE sender_id = :s AND type_name = 'user' "
                                         "AND data LIKE '%is my order shipped?%'"), {"s": shopper.session_id}).scalar()
    engine.dispose()
    assert saved == 1
    await close(shopper)


async def test_a_transfer_to_an_agent_on_the_other_process_reaches_him_at_once(stack):
    a, b = stack.workers.ports
    ken, mei = await agent_at(stack, a, "ken"), await agent_at(stack, b, "mei")
    mei.client.on("agent:assigned", lambda data: mei.events.put_nowait(("agent:assigned", data)), namespace="/agent")
    shopper = await queued(stack, ken, a)
    assert (await ken.call("claim", {"conversation_id": shopper.session_id}))["ok"]
    from handoff.store.agents import AgentStore

    store = stack.store()
    target = next(agent for agent in AgentStore(store).all() if agent.username == "mei")
    store.close()
    assert (await ken.call("transfer", {"conversation_id": shopper.session_id, "agent_id": target.id}))["ok"]
    _, assigned = await mei.expect("agent:assigned")
    assert assigned["conversation"]["conversation_id"] == shopper.session_id
    await asyncio.sleep(0.5)  # (the room change travels through Redis beside the emit)
    assert (await shopper.say("hello Mei"))["ok"]
    await mei.expect("agent:shopper_message", where=lambda m: m["message"]["text"] == "hello Mei")
    assert (await mei.call("resolve", {"conversation_id": shopper.session_id}))["ok"]
    await close(shopper, ken, mei)


async def test_a_process_taking_over_after_the_other_died_answers_from_the_whole_history(stack):
    # Each process keeps the trackers of the conversations it answered (bot.turn_locks says when a copy
    # went stale): B answers first and keeps its copy, A answers next, A dies, B takes over.
    a, b = stack.workers.ports
    first = await shopper_at(stack, b)
    assert (await first.ask("hi"))["sender"] == "bot"
    on_a = await shopper_at(stack, a, first.session_id)  # the same shopper, now through process A
    question = await on_a.ask("how long does shipping take?")
    assert "country" in question["text"], question  # the bot waits for the destination

    old_pid = stack.workers.pid_of(a)
    os.kill(old_pid, signal.SIGKILL)
    await asyncio.sleep(0.5)
    again = Shopper(stack.nginx.url)
    from_address(again.client, on_a.address)  # nginx finds A gone and sends the shopper to B
    await again.connect(first.session_id)
    if on_a.client.eio.http is not None:
        await on_a.client.eio.http.close()
    answer = await again.ask("Japan")
    # B's copy from "hi" did not hold A's question: read with it, "Japan" alone got "Yes, we ship to Japan!".
    assert "delivery to Japan" in answer["text"], answer
    await asyncio.get_running_loop().run_in_executor(None, stack.workers.wait_healthy, a)
    await close(again, first)
