"""The Socket.IO server: python-socketio's, with the shopper namespace's events handled inline.

Also where client input that never reaches a namespace handler is refused
(events without a name or with a reserved one, undecodable packets and
frames), and where engine.io's background tasks end at shutdown. These
override private parts of python-socketio 5.8.0 / python-engineio 4.4.1,
checked at import.
"""

from __future__ import annotations

import asyncio
import logging
from importlib import metadata

import engineio
import socketio
import ujson
from websockets import connection as websockets_connection
from engineio.async_drivers import sanic as engineio_sanic
from socketio import packet

from crossdesk import compat
from handoff import protocol

for _package, _pinned in (("python-socketio", "5.8.0"), ("python-engineio", "4.4.1")):
    if metadata.version(_package) != _pinned:
        raise ImportError(f"handoff.socket_server overrides internals of {_package} {_pinned}, "
                          f"not {metadata.version(_package)}")

logger = logging.getLogger(__name__)
# Names Socket.IO clients use for their own lifecycle; sent as events they would reach
# python-socketio's connect/disconnect handlers (an agent sending "disconnect" went offline).
RESERVED_EVENTS = frozenset(("connect", "connect_error", "disconnect", "disconnecting", "newListener",
                             "removeListener"))


class WireJSON:
    """The packets' JSON codec: ujson, writing what the standard library writes.

    The standard ``json`` module spends ~10 µs of every relayed message encoding
    and decoding packets; ujson takes a third of that. Non-ASCII characters are
    escaped as the standard library does, so a lone surrogate a client sent
    still encodes. Bad JSON raises ``ValueError`` (a rejected packet); integers
    are capped by Python's 4,300-digit limit.
    """

    @staticmethod
    def dumps(obj, **_options) -> str:
        return ujson.dumps(obj, escape_forward_slashes=False)

    @staticmethod
    def loads(text, **_options):
        return ujson.loads(text)


class TextPacket(compat.NoBinaryScan, socketio.packet.Packet):
    """Socket.IO packets without the walk through every emitted payload looking for bytes.

    Crossdesk sends JSON only (bytes would fail to encode, loudly); the walk
    cost ~3 % of the server's time per relayed message (``compat.NoBinaryScan``).
    """



class CheckedWebSocket(engineio_sanic.WebSocket):
    """python-engineio's Sanic websocket; a frame that is not an Engine.IO packet closes the connection.

    python-engineio 4.4 decodes frames outside its error handling: an empty
    frame raised out of the connection (a traceback, and a task left pending),
    an unknown packet type ("9") logged "Unknown receive error" with a traceback.

    A websocket the client has begun closing is not read again: Sanic's recv
    then waits on a frame that never comes, in a task of its own that nothing
    cancels when the connection ends ("ERROR asyncio: Task was destroyed but
    it is pending!", WebsocketFrameAssembler.get). The client's close frame
    only cancels a recv already waiting; it came in between two reads whenever
    the server had just closed the socket itself (a packet that is not
    Socket.IO, a shopper disconnected by the flood limits).
    """

    async def wait(self):
        connection = getattr(self._sock, "connection", None)
        if connection is not None and connection.state is not websockets_connection.OPEN:
            return None  # python-engineio reads None as "closed by the client"
        data = await super().wait()
        if isinstance(data, str) and (not data or data[0] not in "0123456"):
            logger.info("closed a websocket: not an Engine.IO packet (%r)", data[:20])
            return None  # python-engineio reads None as "closed by the client"
        return data


class EngineServer(engineio.AsyncServer):
    """python-engineio's server, keeping its background tasks so they can be cancelled at shutdown.

    Each socket has a ping task sleeping for ``ping_interval`` (25 s) and the
    server a timeout sweep; left pending when the loop closes, each was logged
    as "ERROR asyncio: Task was destroyed but it is pending!" on every stop.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._background: set[asyncio.Task] = set()
        if self._async.get("websocket") is engineio_sanic.WebSocket:
            self._async = {**self._async, "websocket": CheckedWebSocket}

    def start_background_task(self, target, *args, **kwargs):
        task = super().start_background_task(target, *args, **kwargs)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def cancel_background_tasks(self) -> None:
        """Cancel the pings, the sweep and any handler still running, and wait until they have ended."""
        tasks = [task for task in self._background if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class SocketServer(compat.InlineEvents, socketio.AsyncServer):
    """``socketio.AsyncServer`` that runs events of ``inline_namespaces`` in the socket's read loop.

    python-socketio starts a task for every incoming event (``async_handlers``),
    or runs every event inline: one switch for the whole server. The relay path
    is hot (thousands of shopper messages a second) and its handler is short, so
    the task is overhead. Shopper handlers never wait on anything slow (the bot
    answers in the background), so they run inline, which also handles one
    shopper's events strictly in order. Agent events keep their own task: a
    translation preview may wait on the provider, and the agent's next reply
    must not queue behind it. The override of python-socketio's private event
    dispatch is ``compat.InlineEvents``.
    """

    def __init__(self, *, inline_namespaces: tuple[str, ...] = ("/",), **options):
        super().__init__(async_handlers=True, serializer=TextPacket, json=WireJSON, **options)
        self.inline_namespaces = frozenset(inline_namespaces)

    def _engineio_server_class(self):
        return EngineServer

    def attach(self, app, socketio_path: str = "socket.io") -> None:
        """Serve Socket.IO on ``app``; engine.io's background tasks end when the server stops."""
        super().attach(app, socketio_path)

        async def cancel_background_tasks(_app, _loop):
            await self.eio.cancel_background_tasks()

        app.register_listener(cancel_background_tasks, "after_server_stop")

    async def _handle_event(self, eio_sid, namespace, id, data):
        namespace = namespace or "/"
        refusal = _refusal(data)
        if refusal is not None:
            return await self._refuse_event(eio_sid, namespace, id, data, refusal)
        return await super()._handle_event(eio_sid, namespace, id, data)  # compat.InlineEvents

    async def _refuse_event(self, eio_sid, namespace, id, data, error: protocol.ProtocolError) -> None:
        """Answer an event that never reaches a handler: ``crossdesk:error``, and the ack if asked for."""
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        handler = self.namespace_handlers.get(namespace)
        if handler is None or not self.manager.is_connected(sid, namespace):
            return
        event = data[0] if isinstance(data, list) and data and isinstance(data[0], str) else ""
        ack = await handler.refuse(sid, event, error)
        if id is not None:
            await self._send_packet(eio_sid, self.packet_class(packet.ACK, namespace=namespace, id=id, data=[ack]))

    async def _handle_eio_message(self, eio_sid, data):
        """A packet that isn't Socket.IO (bad JSON, unknown type) closes its connection, as socket.io's own server does.

        python-engineio would log it as an error with a traceback; it is the client's mistake, so one INFO line.
        """
        try:
            await super()._handle_eio_message(eio_sid, data)
        except (ValueError, TypeError, KeyError, IndexError) as error:  # decoding it (handlers catch their own)
            logger.info("closed %s: not a Socket.IO packet (%s: %s)", eio_sid, type(error).__name__,
                        str(error)[:80])
            self._binary_packet.pop(eio_sid, None)
            await self.eio.disconnect(eio_sid)


def _refusal(data) -> protocol.ProtocolError | None:
    """Why an event packet can't be dispatched: no event name, or a name reserved for Socket.IO itself."""
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        return protocol.ProtocolError("invalid_event", "an event is [name, payload?] with a string name")
    if data[0] in RESERVED_EVENTS:
        return protocol.ProtocolError("reserved_event", f"{data[0]!r} is reserved for Socket.IO itself")
    return None
