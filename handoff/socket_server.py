"""The Socket.IO server: python-socketio's, with the shopper namespace's events handled inline.

Also where client input that never reaches a namespace handler is refused
(events without a name or with a reserved one, undecodable packets and
frames), and where engine.io's background tasks end at shutdown. The
overrides of python-socketio's and python-engineio's private parts that do it
live in ``crossdesk/compat.py`` (checked against the pinned versions at import);
this module says what is refused.
"""

from __future__ import annotations

import socketio
import ujson

from crossdesk import compat
from handoff import protocol

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



class SocketServer(compat.RefusableEvents, compat.UndecodablePacketsClose, compat.CancellableEngine,
                   compat.InlineEvents, socketio.AsyncServer):
    """``socketio.AsyncServer`` that runs events of ``inline_namespaces`` in the socket's read loop.

    python-socketio starts a task for every incoming event (``async_handlers``),
    or runs every event inline: one switch for the whole server. The relay path
    is hot (thousands of shopper messages a second) and its handler is short, so
    the task is overhead. Shopper handlers never wait on anything slow (the bot
    answers in the background), so they run inline, which also handles one
    shopper's events strictly in order. Agent events keep their own task: a
    translation preview may wait on the provider, and the agent's next reply
    must not queue behind it. The overrides of python-socketio's private event
    dispatch are ``compat.InlineEvents`` and ``compat.RefusableEvents`` (events
    refused by :meth:`event_refusal`); a packet that isn't Socket.IO closes its
    connection (``compat.UndecodablePacketsClose``); engine.io's background tasks
    are kept so they end at shutdown (``compat.CancellableEngine``).
    """

    def __init__(self, *, inline_namespaces: tuple[str, ...] = ("/",), **options):
        super().__init__(async_handlers=True, serializer=TextPacket, json=WireJSON, **options)
        self.inline_namespaces = frozenset(inline_namespaces)

    def attach(self, app, socketio_path: str = "socket.io") -> None:
        """Serve Socket.IO on ``app``; engine.io's background tasks end when the server stops."""
        super().attach(app, socketio_path)

        async def cancel_background_tasks(_app, _loop):
            await self.eio.cancel_background_tasks()

        app.register_listener(cancel_background_tasks, "after_server_stop")

    def event_refusal(self, data) -> protocol.ProtocolError | None:
        """Why an event packet can't be dispatched (see :func:`_refusal`); None dispatches it."""
        return _refusal(data)


def _refusal(data) -> protocol.ProtocolError | None:
    """Why an event packet can't be dispatched: no event name, or a name reserved for Socket.IO itself."""
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        return protocol.ProtocolError("invalid_event", "an event is [name, payload?] with a string name")
    if data[0] in RESERVED_EVENTS:
        return protocol.ProtocolError("reserved_event", f"{data[0]!r} is reserved for Socket.IO itself")
    return None
