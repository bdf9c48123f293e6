"""Shopper namespace ``/``: Rasa's socket.io protocol plus additive extensions."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Optional

from crossdesk.compat import room_call
from handoff import metrics
from handoff import protocol
from handoff.conversations import ConversationService
from handoff.csat import Satisfaction, request_rating
from handoff.delivery import deliver, plain_room, session_room
from handoff.handoffs import HandoffService
from handoff.limits import ShopperLimits
from handoff.namespaces import BackgroundNamespace
from handoff.settings import Settings
from handoff.ticket_api import TicketDesk

logger = logging.getLogger(__name__)
BOT_STATES = ("bot", "resolved")  # a message in these states goes to the bot (resolved: the turn reopens it)


class ShopperNamespace(BackgroundNamespace):
    """Handles widget sockets. A socket is bound to one session id.

    Every event is validated; a bad one gets ``crossdesk:error`` and changes
    nothing. Replies go to the session's rooms, so every tab of the same
    session sees them, each in the shape it asked for (``handoff.delivery``).

    A message goes to ``service`` (``conversations.py``: stored, then the bot),
    or, while a person has the conversation, to ``handoffs`` (``handoffs.py``: to the agents).
    """

    def __init__(self, service: ConversationService, settings: Settings, limits: Optional[ShopperLimits] = None,
                 handoffs: Optional[HandoffService] = None, satisfaction: Optional[Satisfaction] = None,
                 tickets: Optional[TicketDesk] = None, stopping: Optional[Callable[[], bool]] = None):
        super().__init__(protocol.SHOPPER_NAMESPACE, stopping)
        self.service = service
        self.handoffs = handoffs
        self.satisfaction = satisfaction  # CSAT ratings (handoff/csat.py); None: ratings refused
        self.tickets = tickets  # follow-up tickets (handoff/ticket_api.py): contacts left, shoppers who left
        self.settings = settings
        self.limits = limits or ShopperLimits(settings)
        self._tabs: dict[str, set[str]] = {}  # session id -> its sockets (browser tabs)
        self._session_of: dict[str, str] = {}  # socket -> its session id (read on every event)

    async def _reject(self, sid: str, event: str, error: protocol.ProtocolError) -> dict:
        ack = await self.refuse(sid, event, error)
        retry_after = getattr(error, "retry_after", None)
        if retry_after is None:
            return ack
        self._refused(sid)
        return {**ack, "retry_after": retry_after}

    def _refused(self, sid: str) -> None:
        """Slow down a refused socket; disconnect one that keeps sending regardless."""
        if self.limits.refused(sid):
            logger.warning("disconnecting a shopper socket from %s: it kept sending while refused",
                           self.limits.address(sid))
            self._spawn(self.disconnect(sid))  # after this event's ack went out

    async def _paced(self, sid: str) -> bool:
        """Read a socket that was just refused more slowly (its events wait here, in its own read loop).

        Returns False when the socket went away meanwhile (the event is dropped: nobody awaits its ack).
        """
        delay = self.limits.delay(sid)
        if not delay:
            return True
        await asyncio.sleep(delay)
        return self.server.manager.is_connected(sid, self.namespace)

    def _bound_session(self, sid: str) -> Optional[str]:
        return self._session_of.get(sid)

    async def _bind(self, sid: str, session_id: str, extended: bool = False) -> None:
        self._session_of[sid] = session_id
        await room_call(self.enter_room, sid, session_room(session_id, extended))
        self._tabs.setdefault(session_id, set()).add(sid)
        if self.tickets:
            self.tickets.shopper_back(session_id)

    async def _unbind(self, sid: str, session_id: str) -> None:
        self._session_of.pop(sid, None)
        await room_call(self.leave_room, sid, session_id)
        await room_call(self.leave_room, sid, plain_room(session_id))
        tabs = self._tabs.get(session_id)
        if tabs is not None:
            tabs.discard(sid)
            if not tabs:
                del self._tabs[session_id]

    async def disconnect_session(self, session_id: str) -> None:
        """Close every tab of an erased session; reconnecting with its id starts an empty conversation."""
        for sid in list(self._tabs.get(session_id, ())):
            await self.disconnect(sid)

    async def on_disconnect(self, sid: str) -> None:
        """Forget the socket's tab (a shopper who left gets a ticket later: not while the server stops)."""
        self.limits.disconnected(sid)
        metrics.socket(protocol.SHOPPER_NAMESPACE, -1)
        session_id = self._bound_session(sid)
        if session_id:
            await self._unbind(sid, session_id)
            if self.tickets and not self.tabs_open(session_id) and not self.stopping():
                self.tickets.shopper_gone(session_id)

    def tabs_open(self, session_id: str) -> bool:
        """Whether a tab of the session is connected to this process."""
        return bool(self._tabs.get(session_id))

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        """Accept the socket (origins are checked by the server); note its client address for the limits."""
        self.limits.connected(sid, environ)
        metrics.socket(protocol.SHOPPER_NAMESPACE, 1)

    async def on_session_request(self, sid: str, data: Any = None) -> Any:
        """Rasa's handshake: confirm (or create) the session, then replay history."""
        if not await self._paced(sid):
            return None
        try:
            self.limits.admit_session(sid)
            request = protocol.parse_session_request(data)
        except protocol.ProtocolError as error:
            return await self._reject(sid, protocol.SESSION_REQUEST, error)
        session_id = request.session_id or protocol.new_session_id()
        previous = self._bound_session(sid)
        if previous:  # also the same session: the socket may have changed its mind about extensions
            await self._unbind(sid, previous)
        await self._bind(sid, session_id, extended=request.extensions > 0)
        conversation, transcript = self.service.open_session(session_id, request.locale)
        await self.emit(protocol.SESSION_CONFIRM, session_id, room=sid)
        if request.extensions:
            await self.emit(protocol.HISTORY, protocol.history_payload(session_id, transcript, conversation.state),
                            room=sid)
            await self.ask_rating(session_id, sid)  # resolved and not rated yet: ask again after a reload
            if self.handoffs and conversation.state == "waiting":  # their place in the queue, again
                await self.handoffs.repeat_position(session_id)
        return {"ok": True, "session_id": session_id, "state": conversation.state,
                protocol.EXTENSIONS_KEY: request.extensions}

    async def on_user_uttered(self, sid: str, data: Any = None) -> Any:
        """Store the message, acknowledge it, then answer it in the background."""
        if not await self._paced(sid):
            return None
        with self.service.bot.answering():  # (a swap's model loading waits for it)
            return await self._user_uttered(sid, data)

    async def _user_uttered(self, sid: str, data: Any) -> Any:
        try:
            self.limits.admit_message(sid)
            utterance = protocol.parse_user_uttered(data, self.settings.max_message_chars)
            session_id = await self._session_for(sid, utterance)
            self.limits.reserve(session_id)  # a place in the conversation's bot queue, before storing
        except protocol.ProtocolError as error:
            return await self._reject(sid, protocol.USER_UTTERED, error)
        conversation = None
        try:
            stored, created = await self.service.receive(session_id, utterance)
            conversation = self.service.current(session_id) if created else None  # (read after the message is in)
        finally:
            if conversation is None or conversation.state not in BOT_STATES:  # not for the bot: its place is free
                self.limits.release(session_id)
        if created:
            state = conversation.state
            if state in BOT_STATES:  # after resolve the bot answers again (the turn reopens it)
                self._spawn(self._answer_reserved(session_id, stored, utterance.metadata, conversation))
            elif self.handoffs:  # a human has it: the bot is paused, relay at once
                await self.handoffs.shopper_said(session_id, state, stored)
            if len(self._tabs.get(session_id, ())) > 1:  # the shopper's other tabs show it too
                await self.emit(protocol.SHOPPER_ECHO, protocol.message_payload(stored), room=session_id,
                                skip_sid=sid)
        return {"ok": True, "id": stored.id, "message_id": utterance.client_id, "duplicate": not created}

    async def on_typing(self, sid: str, data: Any = None) -> Any:
        """``crossdesk:typing {typing}``: forwarded to the agent holding the conversation."""
        if not await self._paced(sid):
            return None
        wait = self.limits.admit_typing(sid)
        if wait is not None:  # dropped without a crossdesk:error: an indicator is not worth an event back
            self._refused(sid)
            return {"ok": False, "error": protocol.RATE_LIMITED, "message": "typing events are dropped for now",
                    "retry_after": wait}
        session_id = self._bound_session(sid)
        if not session_id or not isinstance(data, dict) or not isinstance(data.get("typing"), bool):
            error = protocol.ProtocolError("invalid_payload", "expected {typing: bool} after session_request")
            return await self._reject(sid, protocol.TYPING, error)
        if self.handoffs and self.service.state(session_id) == "with_agent":
            await self.handoffs.shopper_typing(session_id, data["typing"])
        return {"ok": True}

    async def on_contact(self, sid: str, data: Any = None) -> Any:
        """``crossdesk:contact {email, name?}``: stored in the transcript for the agents."""
        if not await self._paced(sid):
            return None
        session_id = self._bound_session(sid)
        try:
            self.limits.admit_message(sid)  # each one is stored, like a message
            if not session_id:
                raise protocol.ProtocolError("no_session", "send session_request first")
            contact = protocol.parse_contact(data)
        except protocol.ProtocolError as error:
            return await self._reject(sid, protocol.CONTACT, error)
        stored = self.service.leave_contact(session_id, contact)
        if self.tickets:
            try:
                await self.tickets.contact_left(session_id, contact)
            except Exception:  # the contact is stored (agents see it); the ticket is what failed
                logger.exception("could not open a ticket for the contact left in %s", session_id)
        if self.handoffs:
            await self.handoffs.shopper_said(session_id, self.service.state(session_id), stored)
        return {"ok": True, "id": stored.id}

    async def ask_rating(self, session_id: str, room: Optional[str] = None) -> None:
        """``crossdesk:rating_request`` for the session's latest unrated resolution, if any.

        ``room`` defaults to the session id room: the sockets that opted in to the extensions only.
        """
        if self.satisfaction:
            await request_rating(self.server, self.satisfaction, session_id, room)

    async def on_rating(self, sid: str, data: Any = None) -> Any:
        """``crossdesk:rating {resolution_id, rating, comment?}``: the shopper's CSAT, once per resolution."""
        if not await self._paced(sid):
            return None
        session_id = self._bound_session(sid)
        try:
            self.limits.admit_message(sid)  # each one is stored, like a message
            if not session_id:
                raise protocol.ProtocolError("no_session", "send session_request first")
            rating = protocol.parse_rating(data)
            if self.satisfaction is None:
                raise protocol.ProtocolError("unknown_event", "ratings are not enabled on this server")
            rating_id = self.satisfaction.rate(session_id, rating)
        except protocol.ProtocolError as error:
            return await self._reject(sid, protocol.RATING, error)
        return {"ok": True, "id": rating_id}

    # Events go to on_<event>; the crossdesk:* names (with a colon) to these (BackgroundNamespace.trigger_event).
    _HANDLERS = {protocol.USER_UTTERED: "on_user_uttered", protocol.TYPING: "on_typing",
                 protocol.CONTACT: "on_contact", protocol.RATING: "on_rating"}

    async def _session_for(self, sid: str, utterance: protocol.UserUttered) -> str:
        bound = self._bound_session(sid)
        if bound:
            if utterance.session_id and utterance.session_id != bound:
                raise protocol.ProtocolError("session_mismatch", "this socket belongs to another session")
            return bound
        # Rasa clients may send user_uttered with a session_id straight after connect.
        session_id = utterance.session_id or protocol.new_session_id()
        await self._bind(sid, session_id)
        if not utterance.session_id:
            await self.emit(protocol.SESSION_CONFIRM, session_id, room=sid)
        return session_id

    async def _answer_reserved(self, session_id: str, stored, metadata: dict, conversation=None) -> None:
        """Answer, then free the message's place in the conversation's bot queue."""
        try:
            with self.service.bot.answering():
                await self._answer(session_id, stored, metadata, conversation)
        finally:
            self.limits.release(session_id)

    async def _answer(self, session_id: str, stored, metadata: dict, conversation=None) -> None:
        try:
            turn = await self.service.answer(session_id, stored, metadata, conversation)
        except Exception:  # the shopper's message is stored; tell them, keep serving
            logger.exception("bot failed on message %s", stored.id)
            error = protocol.ProtocolError("bot_unavailable", "the assistant could not answer; please try again")
            metrics.error(error.code)
            await self.emit(protocol.ERROR, protocol.error_payload(error, protocol.USER_UTTERED), room=session_id)
            return
        for message in turn.outgoing:
            for payload in message.payloads:
                await deliver(self.server, session_id, payload)
        if self.handoffs and turn.handoff_reason:  # the shopper hears what happens next, then the agents
            await self.handoffs.request(turn.conversation, turn.handoff_reason)
            self.service.forget(session_id)

    async def answer_stored(self, stored) -> None:
        """Answer a shopper message stored earlier (one left unanswered by a crash), emitting to its room."""
        await self._answer(stored.conversation_id, stored, stored.data.get("metadata") or {})
