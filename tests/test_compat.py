"""crossdesk/compat.py: the version check and the room calls that work before and after python-socketio 5.10 (in-process)."""

from __future__ import annotations

import asyncio
import re

import pytest
import socketio

from crossdesk import compat
from crossdesk.paths import ROOT
from handoff.agent_notifier import SocketAgentNotifier, agent_room
from handoff.conversations import ConversationService
from handoff.namespaces.agent import AgentNamespace
from handoff.namespaces.shopper import ShopperNamespace
from handoff.settings import Settings


# --- version check ----------------------------------------------------------------------------

def test_the_versions_compat_was_written_for_are_the_pinned_ones():
    pinned = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE))
    assert {name: pinned.get(name) for name in compat.WRITTEN_FOR} == dict(compat.WRITTEN_FOR)


def test_the_check_passes_on_the_installed_pinned_versions():
    assert compat.installed_versions() == dict(compat.WRITTEN_FOR)
    compat.check_versions(compat.installed_versions())


def test_another_version_fails_naming_package_found_and_expected_versions_and_what_to_do():
    found = {**compat.WRITTEN_FOR, "python-socketio": "5.10.0"}

    with pytest.raises(RuntimeError) as raised:
        compat.check_versions(found)

    message = str(raised.value)
    assert "python-socketio 5.10.0 is installed" in message
    assert "python-socketio==5.8.0" in message
    assert "pip install -r requirements.txt" in message and "WRITTEN_FOR" in message
    assert "rasa" not in message  # only the package that differs is named


def test_a_missing_package_fails_too():
    found = {**compat.WRITTEN_FOR, "deep-translator": None}

    with pytest.raises(RuntimeError, match=r"deep-translator is not installed, but .*deep-translator==1\.11\.4"):
        compat.check_versions(found)


# --- room calls -------------------------------------------------------------------------------

class FakeRooms:
    def __init__(self):
        self.joined: list[tuple[str, str]] = []

    def enter_room_sync(self, sid, room):  # python-socketio < 5.10
        self.joined.append((sid, room))

    async def enter_room_async(self, sid, room):  # python-socketio >= 5.10
        await asyncio.sleep(0)
        self.joined.append((sid, room))


async def test_room_call_joins_with_a_synchronous_enter_room():
    rooms = FakeRooms()
    await compat.room_call(rooms.enter_room_sync, "sid-1", "room-a")
    assert rooms.joined == [("sid-1", "room-a")]


async def test_room_call_awaits_a_coroutine_enter_room():
    rooms = FakeRooms()
    await compat.room_call(rooms.enter_room_async, "sid-1", "room-a")
    assert rooms.joined == [("sid-1", "room-a")]


class CoroutineRoomsServer(socketio.AsyncServer):
    """python-socketio >= 5.10's shape: ``enter_room``/``leave_room`` are coroutines."""

    async def enter_room(self, sid, room, namespace=None):
        await asyncio.sleep(0)
        super().enter_room(sid, room, namespace=namespace)

    async def leave_room(self, sid, room, namespace=None):
        await asyncio.sleep(0)
        super().leave_room(sid, room, namespace=namespace)


def rooms_of(server: socketio.AsyncServer, namespace: str, sid: str) -> set[str]:
    return {room for room in server.manager.get_rooms(sid, namespace) if room != sid}


def connect(server: socketio.AsyncServer, namespace: str, sid_hint: str) -> str:
    return server.manager.connect(f"eio-{sid_hint}", namespace)


@pytest.mark.parametrize("server_class", [socketio.AsyncServer, CoroutineRoomsServer])
async def test_a_shopper_socket_joins_and_leaves_its_session_rooms_on_either_kind_of_server(server_class):
    server = server_class(async_mode="asgi")
    shopper = ShopperNamespace(ConversationService.__new__(ConversationService), Settings())
    server.register_namespace(shopper)
    sid = connect(server, "/", "shopper")

    await shopper._bind(sid, "session-1", extended=True)
    joined = rooms_of(server, "/", sid)
    await shopper._unbind(sid, "session-1")

    assert joined and all("session-1" in room for room in joined)
    assert rooms_of(server, "/", sid) == set()


@pytest.mark.parametrize("server_class", [socketio.AsyncServer, CoroutineRoomsServer])
async def test_every_console_tab_of_an_agent_joins_a_claimed_conversation_on_either_kind_of_server(server_class):
    server = server_class(async_mode="asgi")
    agents = AgentNamespace.__new__(AgentNamespace)
    socketio.AsyncNamespace.__init__(agents, "/agent")
    server.register_namespace(agents)
    tabs = [connect(server, "/agent", "tab-1"), connect(server, "/agent", "tab-2")]
    for sid in tabs:  # as AgentNamespace.on_connect does for an agent's socket
        await compat.room_call(agents.enter_room, sid, agent_room(7))
    notifier = SocketAgentNotifier(server)

    await notifier.seat(7, "conversation-9", join=True)
    joined = [rooms_of(server, "/agent", sid) - {agent_room(7)} for sid in tabs]
    await notifier.seat(7, "conversation-9", join=False)

    assert joined[0] == joined[1] and len(joined[0]) == 1 and "conversation-9" in next(iter(joined[0]))
    assert [rooms_of(server, "/agent", sid) for sid in tabs] == [{agent_room(7)}, {agent_room(7)}]


# --- per-conversation locks (no private asyncio.Lock attribute) --------------------------------

async def test_conversation_locks_serialise_a_conversation_and_are_dropped_when_unused():
    service = ConversationService.__new__(ConversationService)
    service._locks = {}
    order: list[str] = []

    async def turn(name: str, hold: float):
        async with service._conversation_lock("c1"):
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    first = asyncio.create_task(turn("a", 0.05))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(turn("b", 0)), asyncio.create_task(turn("c", 0))]
    await asyncio.sleep(0.01)
    waiting[0].cancel()  # a cancelled waiter must not leave the lock behind
    await asyncio.gather(first, *waiting, return_exceptions=True)

    assert order == ["a in", "a out", "c in", "c out"]
    assert service._locks == {}
