"""Delivering bot, agent and system messages to a shopper's sockets, each in the shape it asked for.

A session's sockets (browser tabs) sit in one of two rooms of the shopper
namespace: the session id itself for sockets that opted in to Crossdesk's
extensions (``session_request {extensions: 1}``), ``rasa:<session id>`` for the
others (rasa-webchat, Rasa's own clients). Everything emitted to the session id
room (history, typing, other tabs' messages, errors) therefore reaches only the
sockets that understand it, and a ``bot_uttered`` goes out once per shape: ours
to the first room, Rasa's exact shapes to the second. Both shapes are built
once per message, never per socket; an emit to an empty room costs no packet; scaled out, a
message's emits are one publish (``handoff.emits``).
"""

from __future__ import annotations

import socketio

from handoff import protocol


def plain_room(session_id: str) -> str:
    """The room of a session's sockets that speak Rasa's protocol only."""
    return f"rasa:{session_id}"


def session_room(session_id: str, extended: bool) -> str:
    """The room a socket of ``session_id`` joins, by whether it opted in to the extensions."""
    return session_id if extended else plain_room(session_id)


async def deliver(server: socketio.AsyncServer, session_id: str, payload: dict) -> None:
    """Send one bot, agent or system message to every socket of a session.

    Args:
        server: the Socket.IO server.
        session_id: the shopper's session (conversation id).
        payload: the ``bot_uttered`` payload with Crossdesk's extension keys
            (``id``, ``sender``, ``language``, ``ts``, ...).
    """
    room = plain_room(session_id)
    await server.manager.emit_each([(protocol.BOT_UTTERED, payload, session_id)]
                                   + [(protocol.BOT_UTTERED, plain, room) for plain in protocol.rasa_payloads(payload)],
                                   protocol.SHOPPER_NAMESPACE)
