"""Shopper namespace ``/``: Rasa's socket.io protocol plus additive extensions."""

from __future__ import annotations

import logging
from typing import Any, Optional

from handoff import protocol
from handoff.conversations import ConversationService
from handoff.namespaces import BackgroundNamespace
from handoff.settings import Settings

logger = logging.getLogger(__name__)


class ShopperNamespace(BackgroundNamespace):
    """Handles widget sockets. A socket is bound to one session id.

    Every event is validated; a bad one gets ``crossdesk:error`` and changes
    nothing. Replies go to the session's room, so every tab of the same
    session sees them.
    """

    def __init__(self, service: ConversationService, settings: Settings):
        super().__init__(protocol.SHOPPER_NAMESPACE)
        self.service = service
        self.settings = settings
        self._tabs: dict[str, set[str]] = {}  # session id -> its sockets (browser tabs)
        self._session_of: dict[str, str] = {}  # socket -> its session id (read on every event)
        self.agent_side = None  # the AgentNamespace, set by the app

    async def _reject(self, sid: str, event: str, error: protocol.ProtocolError) -> dict:
        return await self.refuse(sid, event, error)

    def _bound_session(self, sid: str) -> Optional[str]:
        return self._session_of.get(sid)

    def _bind(self, sid: str, session_id: str) -> None:
        self._session_of[sid] = session_id
        self.enter_room(sid, session_id)
        self._tabs.setdefault(session_id, set()).add(sid)

    def _unbind(self, sid: str, session_id: str) -> None:
        self._session_of.pop(sid, None)
        self.leave_room(sid, session_id)
        tabs = self._tabs.get(session_id)
        if tabs is not None:
            tabs.discard(sid)
            if not tabs:
                del self._tabs[session_id]

    async def on_disconnect(self, sid: str) -> None:
        """Forget the socket's tab."""
        session_id = self._bound_session(sid)
        if session_id:
            self._unbind(sid, session_id)

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        """Accept the socket (origins are checked by the server)."""

    async def on_session_request(self, sid: str, data: Any = None) -> Any:
        """Rasa's handshake: confirm (or create) the session, then replay history."""
        try:
            request = protocol.parse_session_request(data)
        except protocol.ProtocolError as error:
            return await self._reject(sid, protocol.SESSION_REQUEST, error)
        session_id = request.session_id or protocol.new_session_id()
        previous = self._bound_session(sid)
        if previous and previous != session_id:
            self._unbind(sid, previous)
        self._bind(sid, session_id)
        conversation, transcript = self.service.open_session(session_id, request.locale)
        await self.emit(protocol.SESSION_CONFIRM, session_id, room=sid)
        await self.emit(protocol.HISTORY, protocol.history_payload(session_id, transcript), room=sid)
        return {"ok": True, "session_id": session_id, "state": conversation.state}

    async def on_user_uttered(self, sid: str, data: Any = None) -> Any:
        """Store the message, acknowledge it, then answer it in the background."""
        try:
            utterance = protocol.parse_user_uttered(data, self.settings.max_message_chars)
            session_id = await self._session_for(sid, utterance)
        except protocol.ProtocolError as error:
            return await self._reject(sid, protocol.USER_UTTERED, error)
        stored, created = await self.service.receive(session_id, utterance)
        if created:
            state = self.service.state(session_id)
            if state == "bot":
                self._spawn(self._answer(session_id, stored, utterance.metadata))
            elif self.agent_side:  # a human has it: the bot is paused, relay at once
                await self.agent_side.shopper_said(session_id, state, stored)
            if len(self._tabs.get(session_id, ())) > 1:  # the shopper's other tabs show it too
                await self.emit(protocol.SHOPPER_ECHO, protocol.message_payload(stored), room=session_id,
                                skip_sid=sid)
        return {"ok": True, "id": stored.id, "message_id": utterance.client_id, "duplicate": not created}

    async def on_typing(self, sid: str, data: Any = None) -> Any:
        """``crossdesk:typing {typing}``: forwarded to the agent holding the conversation."""
        session_id = self._bound_session(sid)
        if not session_id or not isinstance(data, dict) or not isinstance(data.get("typing"), bool):
            error = protocol.ProtocolError("invalid_payload", "expected {typing: bool} after session_request")
            return await self._reject(sid, protocol.TYPING, error)
        if self.agent_side and self.service.state(session_id) == "with_agent":
            await self.agent_side.shopper_typing(session_id, data["typing"])
        return {"ok": True}

    async def on_contact(self, sid: str, data: Any = None) -> Any:
        """``crossdesk:contact {email, name?}``: stored in the transcript for the agents."""
        session_id = self._bound_session(sid)
        try:
            if not session_id:
                raise protocol.ProtocolError("no_session", "send session_request first")
            contact = protocol.parse_contact(data)
        except protocol.ProtocolError as error:
            return await self._reject(sid, protocol.CONTACT, error)
        stored = self.service.leave_contact(session_id, contact)
        if self.agent_side:
            await self.agent_side.shopper_said(session_id, self.service.state(session_id), stored)
        return {"ok": True, "id": stored.id}

    # Events go to on_<event>; the crossdesk:* names (with a colon) to these (BackgroundNamespace.trigger_event).
    _HANDLERS = {protocol.USER_UTTERED: "on_user_uttered", protocol.TYPING: "on_typing",
                 protocol.CONTACT: "on_contact"}

    async def _session_for(self, sid: str, utterance: protocol.UserUttered) -> str:
        bound = self._bound_session(sid)
        if bound:
            if utterance.session_id and utterance.session_id != bound:
                raise protocol.ProtocolError("session_mismatch", "this socket belongs to another session")
            return bound
        # Rasa clients may send user_uttered with a session_id straight after connect.
        session_id = utterance.session_id or protocol.new_session_id()
        self._bind(sid, session_id)
        if not utterance.session_id:
            await self.emit(protocol.SESSION_CONFIRM, session_id, room=sid)
        return session_id

    async def _answer(self, session_id: str, stored, metadata: dict) -> None:
        try:
            turn = await self.service.answer(session_id, stored, metadata)
        except Exception:  # the shopper's message is stored; tell them, keep serving
            logger.exception("bot failed on message %s", stored.id)
            error = protocol.ProtocolError("bot_unavailable", "the assistant could not answer; please try again")
            await self.emit(protocol.ERROR, protocol.error_payload(error, protocol.USER_UTTERED), room=session_id)
            return
        for message in turn.outgoing:
            for payload in message.payloads:
                await self.emit(protocol.BOT_UTTERED, payload, room=session_id)
        if self.agent_side and turn.handoff_reason:
            for system in await self.service.lifecycle.request(turn.conversation, turn.handoff_reason):
                await self.agent_side.to_shopper(session_id, system)
            self.service.forget(session_id)
            await self.agent_side.push_queue()
