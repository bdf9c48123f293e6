"""The Socket.IO server: python-socketio's, with the shopper namespace's events handled inline."""

from __future__ import annotations

import socketio
import ujson

import compat


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
