"""Every override of a third-party library's internals, checked against the versions it was written for.

The rule: **every override of, or call into, a pinned library's private or undocumented
internals lives in this module** (the one exception is listed below). Each one says what
it replaces, why (with the measurement that justified it) and the pinned version it was
written for. Importing this module compares the installed versions with
:data:`WRITTEN_FOR` and raises ``RuntimeError`` naming the package, the version found, the
version expected and what to do, so an upgrade fails at start-up instead of on the first
message, or silently.

It imports nothing of Crossdesk (``bot/`` and ``handoff/`` both import it, the bot never
the server) and imports the libraries themselves only inside the functions that patch
them, so ``from crossdesk import compat`` costs a few metadata look-ups. Overrides of methods are
mixins (a Crossdesk class lists the mixin before the library base class) or, where the library
must be imported to subclass it, classes built on first use (:func:`engine_server_class`,
:func:`sanic_protocol`).

Exception: the trained model's own components. ``bot/intent_classifier.py`` overrides Rasa's
``LogisticRegressionClassifier._create_X`` and calls ``_create_training_matrix``;
``bot/components.py`` calls ``Tokenizer._apply_token_pattern``. Both files are training
inputs (their code is part of the model's fingerprint and their import paths are stored in
the trained model), so those lines stay there; the ``rasa`` check below covers them.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import inspect
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional

WRITTEN_FOR: Mapping[str, str] = {
    "python-socketio": "5.8.0",  # InlineEvents, RefusableEvents, UndecodablePacketsClose, NoBinaryScan, room_call
    "python-engineio": "4.4.1",  # engine_server_class (CheckedWebSocket, background tasks)
    "sanic": "21.12.2",  # sanic_protocol (SafeUrlHttp)
    "requests": "2.34.2",  # install_request_timeout
    "deep-translator": "1.11.4",  # FixedLanguageList
    # rasa: tune_rasa, run_graphs_in_order, run_prediction_loop, KnownNewEvents, BulkEventRows, cache_empty_domain,
    # incremental_tracker_states, rule_keys_up_to_longest_rule; the model components
    "rasa": "3.6.21",
    "skops": "0.9.0",  # skops_trusted_types_precomputed (and the three below: what its lists are made of)
    "scikit-learn": "1.1.3",
    "numpy": "1.23.5",
    "scipy": "1.10.1",
}
"""The exact versions (as pinned in requirements.txt) each override was written and measured on."""


def installed_versions(packages: Mapping[str, str] = WRITTEN_FOR) -> dict[str, Optional[str]]:
    """The installed version of each package (None when it is not installed)."""
    found: dict[str, Optional[str]] = {}
    for name in packages:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def check_versions(found: Mapping[str, Optional[str]], expected: Mapping[str, str] = WRITTEN_FOR) -> None:
    """Raise ``RuntimeError`` unless every package in ``expected`` is found at exactly that version.

    Args:
        found: package name -> installed version (None: not installed).
        expected: package name -> the version the overrides were written for.
    """
    wrong = [(name, found.get(name), version) for name, version in expected.items() if found.get(name) != version]
    if wrong:
        lines = [f"{name} {have + ' is installed' if have else 'is not installed'}, "
                 f"but crossdesk/compat.py was written for {name}=={want}" for name, have, want in wrong]
        raise RuntimeError(
            "Crossdesk overrides internals of these libraries and refuses to run on other versions: "
            + "; ".join(lines) + ". Install the pinned versions (pip install -r requirements.txt), "
            "or, when upgrading on purpose, re-check every override in crossdesk/compat.py against the new "
            "version's source, then update WRITTEN_FOR and requirements.txt together."
        )


check_versions(installed_versions())


# -- python-socketio 5.8.0 ------------------------------------------------------------------

async def room_call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Call ``enter_room``/``leave_room`` (or any method) and await its result when it is awaitable.

    python-socketio < 5.10 has synchronous ``enter_room``/``leave_room``; from 5.10 on they are
    coroutines on the async server and namespace, and a call that is not awaited joins no room
    at all (silently: replies then reach nobody). Usage: ``await room_call(self.enter_room, sid, room)``.
    """
    result = method(*args, **kwargs)
    if inspect.isawaitable(result):
        await result


class InlineEvents:
    """Mixin for ``socketio.AsyncServer``: events of ``inline_namespaces`` run in the socket's read loop.

    Replaces ``AsyncServer._handle_event`` (private, python-socketio 5.8.0) and calls its
    private ``_handle_event_internal``. python-socketio starts a task per incoming event
    (``async_handlers=True``) or runs every event inline: one switch for the whole server.
    The shopper relay path is hot (thousands of messages a second) and its handlers short,
    so the task is overhead, and inline handling also keeps one shopper's events in order;
    other namespaces keep their task. Same checks as the original (a socket not connected
    to the namespace is ignored), minus its per-event info log.
    """

    inline_namespaces: frozenset = frozenset()

    async def _handle_event(self, eio_sid, namespace, id, data):
        namespace = namespace or "/"
        if namespace not in self.inline_namespaces:
            return await super()._handle_event(eio_sid, namespace, id, data)
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if self.manager.is_connected(sid, namespace):
            await self._handle_event_internal(self, sid, eio_sid, data, namespace, id)


class NoBinaryScan:
    """Mixin for ``socketio.packet.Packet``: skip the walk through every payload looking for bytes.

    Sets the undocumented class attribute ``uses_binary_events`` (python-socketio 5.8.0;
    ``msgpack_packet.MsgPackPacket`` sets it the same way). Crossdesk sends JSON only (bytes
    would fail to encode, loudly); the walk cost ~3 % of the server's time per relayed message.
    """

    uses_binary_events = False


class RefusableEvents:
    """Mixin for ``socketio.AsyncServer``: an event its subclass refuses never reaches a handler.

    Wraps ``AsyncServer._handle_event`` (private, python-socketio 5.8.0). The subclass's
    ``event_refusal(data)`` returns why an event packet can't be dispatched (no name, a name
    reserved for Socket.IO itself) or None; a refused event is answered by the namespace
    handler's ``refuse(sid, event, error)`` (which emits the error event and returns the ack),
    and the ack goes back through the private ``_send_packet`` when the client asked for one.
    Without this, python-socketio 5.8 dispatched ``["disconnect"]`` to the disconnect handler
    (an agent sending it went offline) and an event without a name raised in its read loop.
    """

    def event_refusal(self, data: Any) -> Any:
        """Why an event packet must not be dispatched, or None (override)."""
        return None

    async def _handle_event(self, eio_sid, namespace, id, data):
        namespace = namespace or "/"
        refusal = self.event_refusal(data)
        if refusal is None:
            return await super()._handle_event(eio_sid, namespace, id, data)
        from socketio import packet

        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        handler = self.namespace_handlers.get(namespace)
        if handler is None or not self.manager.is_connected(sid, namespace):
            return None
        event = data[0] if isinstance(data, list) and data and isinstance(data[0], str) else ""
        ack = await handler.refuse(sid, event, refusal)
        if id is not None:
            await self._send_packet(eio_sid, self.packet_class(packet.ACK, namespace=namespace, id=id, data=[ack]))
        return None


class UndecodablePacketsClose:
    """Mixin for ``socketio.AsyncServer``: a packet that isn't Socket.IO closes its connection.

    As socket.io's own server does. Wraps ``AsyncServer._handle_eio_message`` (private, python-socketio 5.8.0) and clears its
    private ``_binary_packet`` entry. python-socketio would log bad JSON or an unknown packet
    type as an error with a traceback; it is the client's mistake, so one INFO line.
    """

    async def _handle_eio_message(self, eio_sid, data):
        try:
            await super()._handle_eio_message(eio_sid, data)
        except (ValueError, TypeError, KeyError, IndexError) as error:  # decoding it (handlers catch their own)
            _socket_logger().info("closed %s: not a Socket.IO packet (%s: %s)", eio_sid, type(error).__name__,
                                  str(error)[:80])
            self._binary_packet.pop(eio_sid, None)
            await self.eio.disconnect(eio_sid)


class CancellableEngine:
    """Mixin for ``socketio.AsyncServer``: its engine.io server is :func:`engine_server_class`'s.

    Overrides the private ``AsyncServer._engineio_server_class`` (python-socketio 5.8.0).
    """

    def _engineio_server_class(self):
        return engine_server_class()


def _socket_logger():
    import logging

    return logging.getLogger(__name__)


# -- python-engineio 4.4.1 ------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def engine_server_class() -> type:
    """python-engineio's ``AsyncServer`` with checked websocket frames and cancellable background tasks.

    Built on first use (engine.io is imported only then). Overrides:

    * ``engineio.async_drivers.sanic.WebSocket.wait`` (``CheckedWebSocket``): python-engineio
      4.4 decodes frames outside its error handling: an empty frame raised out of the
      connection (a traceback, and a task left pending), an unknown packet type ("9") logged
      "Unknown receive error" with a traceback. A frame that is not an Engine.IO packet now
      closes the connection. A websocket the client has begun closing is not read again:
      Sanic's recv then waits on a frame that never comes, in a task of its own that nothing
      cancels when the connection ends ("ERROR asyncio: Task was destroyed but it is pending!",
      WebsocketFrameAssembler.get). The client's close frame only cancels a recv already
      waiting; it came in between two reads whenever the server had just closed the socket
      itself (a packet that is not Socket.IO, a shopper disconnected by the flood limits).
    * the private ``_async`` driver table (to use that websocket) and
      ``start_background_task`` (to keep the tasks): each socket has a ping task sleeping for
      ``ping_interval`` (25 s) and the server a timeout sweep; left pending when the loop
      closed, each was logged as "ERROR asyncio: Task was destroyed but it is pending!" on
      every stop. ``cancel_background_tasks()`` ends them.
    """
    import asyncio

    import engineio
    from engineio.async_drivers import sanic as engineio_sanic
    from websockets import connection as websockets_connection

    class CheckedWebSocket(engineio_sanic.WebSocket):
        async def wait(self):
            connection = getattr(self._sock, "connection", None)
            if connection is not None and connection.state is not websockets_connection.OPEN:
                return None  # python-engineio reads None as "closed by the client"
            data = await super().wait()
            if isinstance(data, str) and (not data or data[0] not in "0123456"):
                _socket_logger().info("closed a websocket: not an Engine.IO packet (%r)", data[:20])
                return None  # python-engineio reads None as "closed by the client"
            return data

    class EngineServer(engineio.AsyncServer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._background: set = set()
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

    return EngineServer


# -- requests 2.34.2 ------------------------------------------------------------------------

_request_timeout_installed = threading.Lock()


def install_request_timeout(default_timeout: Callable[[], Optional[float]]) -> None:
    """Make ``requests`` use ``default_timeout()`` when a caller passes no timeout (installed once).

    Wraps ``requests.adapters.HTTPAdapter.send`` (requests 2.34.2). deep-translator calls
    requests without a timeout, so a provider that never answers would hold a worker thread
    (and interpreter exit, which joins pool threads) forever. ``default_timeout`` returns
    the timeout for the calling thread (None: unchanged), so other callers are untouched.
    """
    from requests.adapters import HTTPAdapter

    with _request_timeout_installed:
        send = HTTPAdapter.send
        if getattr(send, "crossdesk_default_timeout", False):
            return

        def send_with_timeout(self, request, stream=False, timeout=None, **kwargs):
            if timeout is None:
                timeout = default_timeout()
            return send(self, request, stream=stream, timeout=timeout, **kwargs)

        send_with_timeout.crossdesk_default_timeout = True
        HTTPAdapter.send = send_with_timeout


# -- deep-translator 1.11.4 -----------------------------------------------------------------

class FixedLanguageList:
    """Mixin for ``deep_translator.MicrosoftTranslator``: no download of the language list.

    Replaces its private ``_get_supported_languages`` (deep-translator 1.11.4), which the
    constructor calls on every instance to fetch the list from Microsoft (no timeout, no
    key); we build one translator per call. Subclasses set ``fixed_languages`` (code -> code).
    """

    fixed_languages: Mapping[str, str] = {}

    def _get_supported_languages(self):
        return dict(self.fixed_languages)


# -- sanic 21.12.2 --------------------------------------------------------------------------

def ascii_target(target: str) -> str:
    """The request target with every byte outside printable ASCII percent-encoded."""
    if target.isascii() and target.isprintable():
        return target
    raw = target.encode("utf-8", "surrogateescape")
    return "".join(chr(byte) if 0x21 <= byte <= 0x7E else f"%{byte:02X}" for byte in raw)


@functools.lru_cache(maxsize=1)
def sanic_protocol() -> type:
    """Sanic's protocol (HTTP and websockets) reading request targets made ASCII; pass it to ``app.run(protocol=...)``.

    Sanic 21.12 decodes the request line with ``surrogateescape`` and hands ``url.encode()``
    to httptools, which refuses any byte outside printable ASCII. A request target with a raw
    non-ASCII byte (``GET /hé``, or a query ``?é=1``) then failed twice: building the
    request, and building the stand-in request for the error response. The client got no
    answer at all and the log two tracebacks ("protocol.connection_task uncaught"). Here such
    bytes are percent-encoded as a browser would have sent them, so the request is routed and
    answered like any other. Overrides the ``url`` slot of ``sanic.http.Http`` and the private
    ``WebSocketProtocol._setup_connection`` / ``_http``.
    """
    from sanic.http import Http
    from sanic.server.protocols.websocket_protocol import WebSocketProtocol

    url_slot = Http.url  # Http keeps the request target in a slot

    class SafeUrlHttp(Http):
        __slots__ = ()

        @property
        def url(self):
            return url_slot.__get__(self, Http)

        @url.setter
        def url(self, value):
            url_slot.__set__(self, ascii_target(value) if isinstance(value, str) else value)

    class CrossdeskProtocol(WebSocketProtocol):
        def _setup_connection(self):
            super()._setup_connection()
            self._http = SafeUrlHttp(self)

    return CrossdeskProtocol


# -- rasa 3.6.21 ----------------------------------------------------------------------------

async def run_prediction_loop(processor: Any, output_channel: Any, tracker: Any) -> None:
    """Run Rasa's action prediction loop on a tracker (``MessageProcessor._run_prediction_loop``, private).

    ``bot.engine`` mirrors ``MessageProcessor.handle_message`` (rasa 3.6.21) to keep the
    parse result, which that method does not return; this is the one private step it needs.
    """
    await processor._run_prediction_loop(output_channel, tracker)


class KnownNewEvents:
    """Mixin for Rasa's ``SQLTrackerStore``: a subclass may say which events are not stored yet.

    Overrides the private ``SQLTrackerStore._additional_events`` (rasa 3.6.21), which counts
    the conversation's rows in SQL on every save. A subclass that knows (a tracker it cached
    after saving) returns the new events from :meth:`known_new_events`; None falls back to
    Rasa's query.
    """

    def known_new_events(self, tracker: Any) -> Optional[Iterator]:
        """The events of ``tracker`` not yet in SQL, or None to ask SQL."""
        return None

    def _additional_events(self, session: Any, tracker: Any) -> Iterator:
        events = self.known_new_events(tracker)
        return events if events is not None else super()._additional_events(session, tracker)


class BulkEventRows:
    """Mixin for Rasa's ``SQLTrackerStore``: save a turn's new events with one multi-row INSERT.

    Replaces ``SQLTrackerStore.save`` (rasa 3.6.21) and calls its private ``_additional_events``.
    Rasa builds one ORM ``SQLEvent`` object per event and lets the session's unit of work flush
    them one by one; that bookkeeping (identity map, per-object state, one INSERT per row) was
    ~12 % of a reply's bot-thread samples in a py-spy profile of 1,000 replies at 50 shoppers.
    Here the same column values (type, timestamp, intent, action, ``json.dumps`` of the event's
    dict) go to the table in one ``executemany``, in event order, in one committed transaction,
    so the rows, their order and what ``retrieve`` rebuilds are the same. On SQLite the rows go
    straight to the driver's ``executemany`` (SQLAlchemy's statement compilation and cache-key
    work were another ~4 % of the samples); elsewhere (PostgreSQL's driver would send one
    statement per row) through SQLAlchemy's multi-row insert. When the store knows the new events
    without asking SQL (``KnownNewEvents``), without an ORM session: on PostgreSQL one multi-row INSERT
    in autocommit on the thread's connection (the session, statement and commit were ~7 % of a
    scaled-out server's samples, py-spy --gil, 50 shoppers; the same single INSERT), on SQLite by the
    driver's ``executemany`` on the thread's connection (~11 % of an embedded server's).
    """

    statements = None  # PostgreSQL: ``crossdesk.statement_connections.StatementConnections`` of the engine

    async def save(self, tracker: Any) -> None:
        await self.stream_events(tracker)
        known = getattr(self, "known_new_events", lambda _tracker: None)(tracker)
        if known is not None and (self.statements is not None or self.engine.dialect.name == "sqlite"):
            _insert_event_rows(self.engine, self.SQLEvent.__table__.name,
                               [_event_row(tracker.sender_id, event) for event in known], self.statements)
            return
        with self.session_scope() as session:
            rows = [_event_row(tracker.sender_id, event) for event in self._additional_events(session, tracker)]
            if rows and session.bind.dialect.name == "sqlite":
                table = self.SQLEvent.__table__.name
                values = ", ".join("?" * len(_EVENT_COLUMNS))
                session.connection().exec_driver_sql(
                    f"INSERT INTO {table} ({', '.join(_EVENT_COLUMNS)}) VALUES ({values})",
                    [tuple(row[column] for column in _EVENT_COLUMNS) for row in rows])
            elif rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()


_EVENT_COLUMNS = ("sender_id", "type_name", "timestamp", "intent_name", "action_name", "data")


def _insert_event_rows(engine: Any, table: str, rows: list[dict], statements: Any = None) -> None:
    """``rows`` in one committed transaction, without an ORM session: on PostgreSQL one multi-row INSERT in
    autocommit on the thread's connection of ``statements`` (one round trip: ``StatementConnections.write``),
    on SQLite the driver's ``executemany`` on the thread's connection. A driver error rolls back and comes out
    as SQLAlchemy's, as from a session."""
    if not rows:
        return
    from sqlalchemy.exc import DBAPIError

    values = [tuple(row[column] for column in _EVENT_COLUMNS) for row in rows]
    into = f"INSERT INTO {table} ({', '.join(_EVENT_COLUMNS)}) VALUES"
    if engine.dialect.driver == "psycopg2":
        statements.write(f"{into} {_rows_of_placeholders(len(values))}", tuple(v for row in values for v in row))
        return
    sql = f"{into} ({', '.join('?' * len(_EVENT_COLUMNS))})"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            cursor.executemany(sql, values)
        finally:
            cursor.close()
        raw.commit()
    except engine.dialect.dbapi.Error as error:
        raw.rollback()
        raise DBAPIError.instance(sql, None, error, engine.dialect.dbapi.Error) from error
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()


@functools.lru_cache(maxsize=32)
def _rows_of_placeholders(count: int) -> str:
    """``(%s, ...), ...`` for ``count`` event rows: one INSERT whose values psycopg2 fills in C (its
    ``execute_values`` formats each row in Python: ~3 % of a scaled-out server's GIL samples)."""
    return ", ".join(["(" + ", ".join(["%s"] * len(_EVENT_COLUMNS)) + ")"] * count)


def _event_row(sender_id: str, event: Any) -> dict:
    """The column values Rasa's ``SQLTrackerStore.save`` stores for one event."""
    import json

    data = event.as_dict()
    return {"sender_id": sender_id, "type_name": event.type_name, "timestamp": data.get("timestamp"),
            "intent_name": (data.get("parse_data", {}).get("intent", {}) or {}).get("name"),
            "action_name": data.get("name"), "data": json.dumps(data)}


def cache_action_result_validator() -> None:
    """Validate custom-action results with a compiled JSON-schema validator.

    Replaces the private ``RemoteAction._validate_action_result`` (rasa 3.6.21), which calls
    ``jsonschema.validate``; that re-checks the (constant) schema against its meta-schema on
    every call: 69 ms per custom action here. The compiled validator checks the same schema
    once and validates each result in ~0.1 ms, raising the same ``ValidationError`` with the
    same message.
    """
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    @functools.lru_cache(maxsize=1)
    def validator():
        schema = RemoteAction.action_response_format_spec()
        cls = validator_for(schema)
        cls.check_schema(schema)
        return cls(schema)

    def _validate_action_result(self, result):
        try:
            validator().validate(result)
            return True
        except ValidationError as error:
            error.message += (
                ". Failed to validate Action server response from API, make sure your "
                "response from the Action endpoint is valid. For more information about "
                f"the format visit {DOCS_BASE_URL}/custom-actions"
            )
            raise error

    RemoteAction._validate_action_result = _validate_action_result


def cache_event_types() -> None:
    """Look event classes up by name once, not by walking every subclass per event.

    Wraps ``Event.resolve_by_type`` (rasa 3.6.21), which walks all ``Event`` subclasses
    (30+) for each event it deserialises; a tracker of 80 events costs 9 ms to rebuild. The
    cache keeps exactly the class the original lookup returned; unknown names still go
    through the original (same errors, same defaults).
    """
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    found: dict = {}

    def resolve_by_type(type_name, default=None):
        cls = found.get(type_name)
        if cls is not None:
            return cls
        cls = original(type_name, default)
        if cls is not None and cls is not default:
            found[type_name] = cls
        return cls

    Event.resolve_by_type = staticmethod(resolve_by_type)


def cache_empty_domain() -> None:
    """Compare a domain with the empty domain's dict built once, not once per message.

    Replaces ``Domain.is_empty`` (rasa 3.6.21), which builds a whole ``Domain.empty()`` (from a
    dict, with every default action, slot and response check) on each call; the processor calls
    it for every parsed message (``_check_for_unseen_features``): ~2 % of a reply's samples in
    a py-spy profile at 50 shoppers. ``Domain.empty()`` is always the same, so comparing with its
    ``as_dict()`` kept from the first call gives the same answer.
    """
    from rasa.shared.core.domain import Domain

    empty: list = []

    def is_empty(self) -> bool:
        if not empty:
            empty.append(Domain.empty().as_dict())
        return self.as_dict() == empty[0]

    Domain.is_empty = is_empty


def incremental_tracker_states(cache_size: int = 1000) -> None:
    """Featurise only the events a conversation gained since its last prediction.

    Wraps ``Domain.states_for_tracker_history`` (rasa 3.6.21) and replays events like the private
    ``DialogueStateTracker.init_copy`` / ``generate_all_prior_trackers`` do. The RulePolicy asks
    for the states of the whole session three times per shopper message (text, then intent, then
    after the bot's action), replaying every event of the session each time: ~12 % of a reply's
    CPU samples (py-spy ``--gil``, 50 shoppers, sessions of up to 60 events). A state taken before
    an action depends only on the events applied before it, so for a conversation whose applied
    events (after reverts, restarts and session starts) begin with the very same event objects as
    last time, the states up to there are kept, with the replay tracker they were taken from,
    and only the new events are replayed; the last state (after the newest event) is always taken
    afresh, as callers change it in place (``_choose_last_user_input``). Anything else (another
    domain, other slots, ``ignore_rule_only_turns``, events removed or replaced) goes through the
    original. Bot-thread only, like the policies that call it.
    """
    from collections import OrderedDict

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted

    original = Domain.states_for_tracker_history
    kept: "OrderedDict[str, tuple]" = OrderedDict()

    def states_for_tracker_history(self, tracker, omit_unset_slots=False, ignore_rule_only_turns=False,
                                   rule_only_data=None):
        if ignore_rule_only_turns:
            return original(self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        applied = tracker.applied_events()
        shape = (self, omit_unset_slots, tuple(tracker.slots), tracker.is_rule_tracker)
        previous = kept.pop(tracker.sender_id, None)
        if previous is not None and previous[0] == shape and _starts_with(applied, previous[1]):
            _, seen, states, replay = previous
            states = list(states)
        else:
            seen, states, replay = [], [], tracker.init_copy()
        for event in applied[len(seen):]:
            if isinstance(event, ActionExecuted):
                states.append(self._clean_state(self.get_active_state(replay, omit_unset_slots=omit_unset_slots)))
            replay.update(event)
        kept[tracker.sender_id] = (shape, applied, list(states), replay)
        while len(kept) > cache_size:
            kept.popitem(last=False)
        states.append(self._clean_state(self.get_active_state(replay, omit_unset_slots=omit_unset_slots)))
        return states

    states_for_tracker_history.__wrapped__ = original  # (what the tests compare with)
    Domain.states_for_tracker_history = states_for_tracker_history


def _starts_with(events: list, prefix: list) -> bool:
    """Whether ``events`` begins with the very objects of ``prefix`` (identity, not equality)."""
    return len(events) >= len(prefix) and all(a is b for a, b in zip(events, prefix))


def rule_keys_up_to_longest_rule() -> None:
    """Match the RulePolicy's rules against the last states only as far back as the longest rule.

    Replaces the private ``RulePolicy._get_possible_keys`` (rasa 3.6.21), which filters every rule
    key against every state of the session, newest first, although ``_is_rule_applicable`` keeps
    any key once the state is further back than the rule is long: ~6 % of a reply's CPU samples
    (py-spy ``--gil``, 50 shoppers, sessions of up to 60 events), growing with the session. The
    loop here stops at the longest rule of the lookup (or when no key is left), after which
    Rasa's filter would have kept every key: the same keys come out.

    The keys are then a function of the lookup and those last states only, which repeat from
    conversation to conversation: a served model's searches (``predict_action_probabilities``, four
    per shopper message) are remembered by those states; training, whose lookup changes as it goes,
    always searches. The search was ~7 % of a scaled-out server's GIL samples (py-spy, 50 shoppers).
    """
    from rasa.core.policies.rule_policy import RulePolicy

    longest: dict = {}  # id(lookup) -> (lookup, length of its longest rule in states)

    def longest_rule(policy: Any, lookup: dict) -> int:
        known = longest.get(id(lookup))
        if known is None or known[0] is not lookup or len(known[0]) != known[2]:
            length = max((len(policy._rule_key_to_state(key)) for key in lookup), default=0)
            known = longest[id(lookup)] = (lookup, length, len(lookup))
        return known[1]

    def _get_possible_keys(self, lookup, states):
        limit = longest_rule(self, lookup)
        recent = states[len(states) - limit:] if limit else []
        remember = getattr(_SERVING_RULES, "on", False)
        if remember:  # (a served model's lookup never changes; training changes it as it goes)
            key = (id(lookup), tuple(map(_frozen_state, recent)))
            known = found.get(key)
            if known is not None and known[0] is lookup:
                return set(known[1])
        possible_keys = set(lookup.keys())
        for i, state in enumerate(reversed(recent)):
            if not possible_keys:
                break  # (Rasa's filter keeps every key from here on)
            possible_keys = set(filter(lambda _key: self._is_rule_applicable(_key, i, state), possible_keys))
        if remember:
            if len(found) >= RULE_KEYS_REMEMBERED:
                found.clear()
            found[key] = (lookup, frozenset(possible_keys))
        return possible_keys

    found: dict = {}  # (id(lookup), the last states, frozen) -> (lookup, its keys that apply)
    predict = RulePolicy.predict_action_probabilities

    def predict_action_probabilities(self, *args, **kwargs):
        with serving_rules():
            return predict(self, *args, **kwargs)

    _get_possible_keys.__wrapped__ = RulePolicy._get_possible_keys  # (what the tests compare with)
    RulePolicy._get_possible_keys = _get_possible_keys
    predict_action_probabilities.__wrapped__ = predict
    RulePolicy.predict_action_probabilities = predict_action_probabilities


RULE_KEYS_REMEMBERED = 4096
"""Rule searches a process remembers (their keys are a model's last few dialogue states, which repeat)."""
_SERVING_RULES = threading.local()


@contextlib.contextmanager
def serving_rules() -> Iterator[None]:
    """Rule searches in this thread remember their keys (a served model's predictions: its lookup is fixed)."""
    _SERVING_RULES.on = True
    try:
        yield
    finally:
        _SERVING_RULES.on = False


def _frozen_state(state: dict) -> tuple:
    """A dialogue state (``{"user": {"intent": ...}, "prev_action": {...}, "slots": {...}}``) as a hashable key."""
    return tuple(sorted((part, tuple(sorted(values.items()))) for part, values in state.items()))


def run_graphs_in_order() -> None:
    """Run Rasa's model graph by calling its nodes in dependency order, without dask's scheduler.

    Replaces ``DaskGraphRunner.run`` (rasa 3.6.21) and calls its private ``_build_dask_graph``
    and ``_add_inputs_to_graph``. Rasa runs the graph three times per shopper message (NLU, then
    two action predictions) with ``dask.get``, dask's synchronous scheduler: one node after
    another in one thread, as here, but its bookkeeping (ordering, caching, callbacks) took ~17 %
    of a reply's CPU time in a profile of 300 replies, as much as the intent classifier and the
    featurizer together. Same graph, same nodes, same inputs and outputs: each node is called once
    with its needs' results (an input passes as the ``(name, value)`` pair dask passes), and a
    ``RuntimeError`` becomes Rasa's ``GraphRunError`` as before. Our graphs are chains of NLU
    components and providers feeding the policy and its ensemble, so no two nodes could see each
    other's side effects in another order.
    """
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner.dask import DaskGraphRunner

    def run(self, inputs=None, targets=None):
        run_targets = targets if targets else self._graph_schema.target_names
        run_graph = self._build_dask_graph(self._graph_schema.minimal_graph_schema(run_targets))
        if inputs:
            self._add_inputs_to_graph(inputs, run_graph)
        try:
            return dict(_in_order(run_graph, run_targets))
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error

    DaskGraphRunner.run = run


def _in_order(graph: Mapping[str, tuple], targets: list) -> list:
    """The targets' values of a dask-style graph: ``key -> (callable, *keys it needs)`` or an input tuple."""
    done: dict = {}

    def value(key: Any) -> Any:
        if key in done:
            return done[key]
        if key not in graph:
            return key  # (dask passes a name that is no key as it is)
        task = graph[key]
        done[key] = task[0](*(value(need) for need in task[1:])) if callable(task[0]) else task
        return done[key]

    return [value(target) for target in targets]


_rasa_tuned = False


def tune_rasa() -> None:
    """Apply the Rasa patches above once. They change only *how* Rasa works, never *what* it does."""
    global _rasa_tuned
    if not _rasa_tuned:
        cache_action_result_validator()
        cache_event_types()
        run_graphs_in_order()
        cache_empty_domain()
        incremental_tracker_states()
        rule_keys_up_to_longest_rule()
        from crossdesk.compat_rasa_speed import skip_debug_arguments
        skip_debug_arguments()
        skops_trusted_types_precomputed()
        reuse_unpacked_models()
        read_model_domain_once()
        _rasa_tuned = True


# -- rasa 3.6.21: the model's own domain read once, not re-validated -------------------------

def _domain_from_model_directory(directory: Path) -> Any:
    """``Domain.from_directory`` without its schema validation and its discarded first parse of each file."""
    import os

    import rasa.shared.utils.io
    from rasa.shared.core.domain import Domain

    combined: dict = {}
    for root, _dirs, files in os.walk(directory, followlinks=True):  # (the walk and merge of from_directory)
        for file in files:
            full_path = os.path.join(root, file)
            if Domain.is_domain_file(full_path):
                data = rasa.shared.utils.io.read_yaml(rasa.shared.utils.io.read_file(full_path))
                combined = Domain.merge_domain_dicts(data, combined)
    return Domain.from_dict(combined)


def read_model_domain_once() -> None:
    """Load a model's domain (``DomainProvider.load``) without validating it against Rasa's schema again.

    The domain in a model was written by Rasa at training from a domain it had validated;
    ``Domain.from_directory`` validates it again with pykwalify (importing ``pkg_resources``, which
    scans every installed distribution) and parses each file twice: ~0.3-0.4 s of a start, for the same
    ``Domain`` (``tests/test_cold_start.py`` compares them). Installed once.
    """
    from rasa.graph_components.providers.domain_provider import DomainProvider

    if getattr(DomainProvider.load, "crossdesk_read_once", False):
        return

    def load(cls, config, model_storage, resource, execution_context, **kwargs):
        with model_storage.read_from(resource) as resource_directory:
            domain = _domain_from_model_directory(Path(resource_directory))
        return cls(model_storage, resource, domain)

    load.crossdesk_read_once = True
    DomainProvider.load = classmethod(load)


# -- rasa 3.6.21: its tracker store module without boto3 and pymongo ------------------------

RASA_STORE_CLIENT_NAMES: Mapping[str, tuple] = {"boto3.dynamodb.conditions": ("Key",),
                                                 "pymongo.collection": ("Collection",)}
"""What ``rasa.core.tracker_store`` imports at module level for its DynamoDB and MongoDB stores (``Key`` is
called inside ``DynamoTrackerStore`` only, ``Collection`` is an annotation): importing them imports boto3
with botocore, and pymongo with dnspython, ~0.2-0.45 s of a start, for stores we never use (ours is SQL)."""


class _DeferredName:
    """Stands for ``module.name`` and imports the real module on its first call or attribute use."""

    def __init__(self, module: str, name: str):
        self._module, self._name = module, name

    def _target(self) -> Any:
        import importlib

        return getattr(importlib.import_module(self._module), self._name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._target()(*args, **kwargs)

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return getattr(self._target(), attribute)

    def __repr__(self) -> str:
        return f"<deferred {self._module}.{self._name}>"


@contextlib.contextmanager
def rasa_store_clients_deferred(names: Mapping[str, tuple] = RASA_STORE_CLIENT_NAMES) -> Iterator[bool]:
    """While inside, :data:`RASA_STORE_CLIENT_NAMES`' modules are stand-ins whose names import the real module
    when first used; wrap the first import of ``rasa.core.agent`` (which imports ``rasa.core.tracker_store``).

    On leaving, the stand-ins leave ``sys.modules``, so a later import anywhere gets the real modules.
    Yields False (and changes nothing) when one of those packages is already imported.
    """
    import sys
    import types

    packages = {name.split(".")[0] for name in names}
    if any(name in sys.modules for name in packages) or "rasa.core.tracker_store" in sys.modules:
        yield False
        return
    for module_name in names:
        stand_in = types.ModuleType(module_name, f"Crossdesk stand-in for {module_name}: names import it when used.")
        stand_in.__getattr__ = functools.partial(_deferred_attribute, module_name)
        stand_in.crossdesk_stand_in = True
        sys.modules[module_name] = stand_in  # (a name in sys.modules is imported without its parent packages)
    try:
        yield True
    finally:
        for module_name in names:
            if getattr(sys.modules.get(module_name), "crossdesk_stand_in", False):
                del sys.modules[module_name]


def _deferred_attribute(module_name: str, name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return _DeferredName(module_name, name)


# -- sanic 23.x: distutils from the standard library ------------------------------------------

def stdlib_distutils() -> bool:
    """Import the standard library's ``distutils`` for Sanic, not setuptools' copy (once, before Sanic).

    ``sanic.server.loop`` imports ``strtobool`` from ``distutils.util``. setuptools' import hook
    (``_distutils_hack``, installed by a ``.pth`` file) answers ``distutils`` with
    ``setuptools._distutils``, which imports setuptools itself: 0.1-0.35 s of a server's start for one
    function that is the same in both. Python 3.10 still ships ``distutils`` (deprecated; its
    warning is silenced here). Returns False (nothing changed) if ``distutils`` is already imported.
    """
    import importlib.machinery
    import importlib.util
    import sys
    import sysconfig
    import warnings

    if "distutils" in sys.modules:
        return False
    spec = importlib.machinery.PathFinder.find_spec("distutils", [sysconfig.get_paths()["stdlib"]])
    if spec is None or spec.loader is None:  # (a Python without it)
        return False
    module = importlib.util.module_from_spec(spec)
    sys.modules["distutils"] = module
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            spec.loader.exec_module(module)
            importlib.import_module("distutils.util")
    except Exception:
        sys.modules.pop("distutils", None)
        sys.modules.pop("distutils.util", None)
        raise
    return True


# -- rasa 3.6.21: model archives unpacked once, kept on disk ---------------------------------

_unpacking_original: Optional[Callable] = None


def reuse_unpacked_models() -> None:
    """Load models from a directory unpacked once beside the archive (``crossdesk.unpacked_models``).

    Rasa's ``LocalModelStorage.from_model_archive`` unpacks the whole archive (39 MB, 100 MB
    unpacked) into a temporary directory at every load, moves the components into the empty
    storage directory it is given, reads them and deletes them: ~15 % of the CPU from process start
    to first reply. Here the storage is the kept directory's ``components`` (the graph only reads
    from it when predicting) and Rasa's temporary directory stays empty. If the archive's folder is
    not writable, Rasa unpacks as before. Installed once.
    """
    global _unpacking_original
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    if _unpacking_original is not None:
        return
    _unpacking_original = original = LocalModelStorage.from_model_archive.__func__

    def from_model_archive(cls, storage_path, model_archive_path):
        from rasa.engine.storage.local_model_storage import MODEL_ARCHIVE_COMPONENTS_DIR

        from crossdesk.unpacked_models import unpacked

        try:
            directory = unpacked(Path(model_archive_path), cls._extract_archive_to_directory)
        except OSError:
            return original(cls, storage_path, model_archive_path)
        return cls(directory / MODEL_ARCHIVE_COMPONENTS_DIR), cls._load_metadata(directory)

    LocalModelStorage.from_model_archive = classmethod(from_model_archive)


# -- rasa 3.6.21: matplotlib and apscheduler only when used ---------------------------------

LAZY_RASA_MODULES = frozenset({"rasa.utils.plotting", "rasa.core.jobs"})
"""Modules imported at once but run on their first use (their importers use them only inside functions):
``rasa.nlu.test`` (imported for a helper by the CRF extractor, which Rasa's recipe imports with every
default component) imports ``rasa.utils.plotting`` and with it matplotlib (~0.2-0.3 s, 10 MB) for
evaluation plots a server never draws; ``rasa.core.agent`` and ``processor`` import ``rasa.core.jobs``
(apscheduler, which reads every installed distribution through ``pkg_resources`` at import:
~0.15 s) for reminders, which our bot never schedules."""


def lazy_rasa_modules(names: frozenset = LAZY_RASA_MODULES) -> bool:
    """Defer :data:`LAZY_RASA_MODULES` until first used (installed once); False if one is already imported."""
    from crossdesk.compat_cold_start import install_lazy_modules

    return install_lazy_modules(names)


# -- rasa 3.6.21: its channels package without every channel --------------------------------

RASA_CHANNEL_BASICS: Mapping[str, str] = {
    name: "rasa.core.channels.channel" for name in ("InputChannel", "OutputChannel", "UserMessage",
                                                    "CollectingOutputChannel")}
"""The names Rasa's own modules import from the ``rasa.core.channels`` package (its ``__init__`` takes
them from ``channel``), served without running that ``__init__``."""


class _LazyChannelsFinder:
    """Import hook: ``rasa.core.channels`` as a package whose ``__init__`` runs on first use of another name."""

    name = "rasa.core.channels"

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != self.name:
            return None
        import importlib.machinery

        real = importlib.machinery.PathFinder.find_spec(name, path)
        if real is None or real.origin is None:
            return None
        spec = importlib.machinery.ModuleSpec(name, self, origin=real.origin, is_package=True)
        spec.submodule_search_locations = real.submodule_search_locations
        spec.has_location = True
        return spec

    def create_module(self, spec: Any) -> Any:
        return None  # the default module; __path__ and __file__ come from the spec

    def exec_module(self, module: Any) -> None:
        lock = threading.Lock()

        def attribute(name: str) -> Any:
            import importlib

            if name in RASA_CHANNEL_BASICS:
                return getattr(importlib.import_module(RASA_CHANNEL_BASICS[name]), name)
            if name.startswith("__"):
                raise AttributeError(name)
            with lock:
                if not module.__dict__.get("crossdesk_every_channel"):
                    with open(module.__spec__.origin, "rb") as source:
                        code = compile(source.read(), module.__spec__.origin, "exec")
                    exec(code, module.__dict__)  # the real __init__: every channel, BUILTIN_CHANNELS
                    module.crossdesk_every_channel = True
            try:
                return module.__dict__[name]
            except KeyError:
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}") from None

        module.__getattr__ = attribute
        module.crossdesk_every_channel = False


def lazy_rasa_channels() -> bool:
    """Import Rasa's ``rasa.core.channels`` package without importing every channel it ships (installed once).

    Its ``__init__`` (rasa 3.6.21) imports all fifteen input channels (Slack, Telegram, Twilio,
    console with prompt_toolkit, ...: 480 modules) to build ``BUILTIN_CHANNELS``, and
    ``rasa.core.agent`` imports the package for ``UserMessage``: 1.0 s of CPU and 19 MB in a server
    that uses none of them (it has its own Socket.IO server). Here the package imports as an
    empty package: submodules import as usual, :data:`RASA_CHANNEL_BASICS` come from ``channel``,
    and any other name runs the real ``__init__`` first, so every name still resolves. Returns
    False (and changes nothing) when the package is already imported.
    """
    import sys

    if _LazyChannelsFinder.name in sys.modules:
        return False
    if not any(isinstance(finder, _LazyChannelsFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _LazyChannelsFinder())
    return True


# -- skops 0.9.0 (Rasa loads the intent classifier with it) ---------------------------------

SKOPS_TRUSTED_TYPES_MODULE = "skops.io._trusted_types"
SKOPS_TRUSTED_TYPES_FILE = "skops_trusted_types.json"
"""The lists of ``skops.io._trusted_types`` for the pinned skops, scikit-learn, numpy and scipy, beside this
module (``python -m crossdesk.compat skops-types`` writes them; ``tests/test_lean_process.py`` compares them
with what skops computes in a fresh interpreter)."""


def skops_trusted_type_names() -> dict:
    """The name lists skops' private ``_trusted_types`` module computes when imported (imports it)."""
    import importlib

    module = importlib.import_module(SKOPS_TRUSTED_TYPES_MODULE)
    return {name: list(getattr(module, name)) for name in sorted(dir(module)) if name.endswith("_TYPE_NAMES")}


class _PrecomputedModuleFinder:
    """Import hook answering one module name with a module holding precomputed values."""

    def __init__(self, name: str, values: Callable[[], Mapping[str, Any]]):
        self.name = name
        self.values = values

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != self.name:
            return None
        import importlib.machinery

        return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec: Any) -> Any:
        return None  # the default module

    def exec_module(self, module: Any) -> None:
        module.__dict__.update(self.values())
        module.crossdesk_precomputed = True


def _read_skops_trusted_types() -> dict:
    import json
    from pathlib import Path

    return json.loads((Path(__file__).with_name(SKOPS_TRUSTED_TYPES_FILE)).read_text(encoding="utf-8"))


def skops_trusted_types_precomputed() -> bool:
    """Make skops' private ``skops.io._trusted_types`` import as the lists it would compute (installed once).

    Importing it (skops 0.9.0, which Rasa's ``LogisticRegressionClassifier.load`` imports) imports
    every scikit-learn estimator (``all_estimators``: 526 modules, 26 MB) and names ~320 numpy and
    scipy ufuncs with pickle's ``whichmodule``, which searches every module in ``sys.modules`` for
    each ufunc: 1.4 s of CPU in a bare interpreter, 5.9 s in the server, where Rasa has imported
    3,000 modules before (a third of the process's start). The lists are constants for the pinned
    versions (identical in a fresh interpreter and in the server, checked): here they are read from
    :data:`SKOPS_TRUSTED_TYPES_FILE` instead. They are what skops trusts by default when loading; a
    wrong list would make Rasa fall back to an untrained classifier, so a test compares the file with
    skops' own result. Returns False (and changes nothing) when the module is already imported.
    """
    import sys

    if SKOPS_TRUSTED_TYPES_MODULE in sys.modules:
        return False
    if not any(isinstance(finder, _PrecomputedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PrecomputedModuleFinder(SKOPS_TRUSTED_TYPES_MODULE, _read_skops_trusted_types))
    return True


# -- rasa 3.6.21: no TensorFlow in a process that does not use it ---------------------------

TENSORFLOW_ONLY_MODULES: frozenset = frozenset({
    # rasa.core.agent -> policies.policy -> featurizers -> nlu.extractors.extractor -> utils.train_utils:
    "rasa.utils.tensorflow.callback",
    "rasa.utils.tensorflow.data_generator",
    # the model's train schema names DefaultV1RecipeValidator, which imports every default component:
    "rasa.nlu.classifiers.diet_classifier",
    "rasa.nlu.selectors.response_selector",
    "rasa.core.policies.ted_policy",
})
"""Rasa 3.6.21 modules that import TensorFlow at module level although loading a model without
TensorFlow components (ours: count vectors, logistic regression, RulePolicy) needs them only for
names: type hints, base classes, ``issubclass`` checks at training time. Found by loading our
model with ``tensorflow`` made unimportable (``tests/test_lean_process.py`` does it again)."""


class TensorFlowAvoided(RuntimeError):
    """A stand-in for a TensorFlow-only Rasa module was used: this model needs TensorFlow."""


def _tensorflow_stub(module_name: str):
    import types

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise TensorFlowAvoided(
            f"{module_name} was replaced by a stand-in (compat.tensorflow_avoided) because Crossdesk's "
            "pipeline needs no TensorFlow; this model uses a TensorFlow component. Load it with "
            "bot.engine.build_agent(..., avoid_tensorflow=False).")

    class StandIn:
        """Placeholder for a TensorFlow-only class: subclassing works, using it fails clearly."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            refuse()

        def __init_subclass__(cls, **kwargs: Any) -> None:
            pass

    def attribute(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (StandIn,), {"__module__": module_name})

    module = types.ModuleType(module_name, f"Crossdesk stand-in for {module_name} (no TensorFlow).")
    module.__getattr__ = attribute
    module.crossdesk_stand_in = True
    return module


class _TensorFlowFreeFinder:
    """Import hook answering TENSORFLOW_ONLY_MODULES with stand-ins."""

    def __init__(self, modules: frozenset):
        self.modules = modules

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in self.modules:
            return None
        import importlib.machinery

        return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec: Any) -> Any:
        return _tensorflow_stub(spec.name)

    def exec_module(self, module: Any) -> None:
        pass


@contextlib.contextmanager
def tensorflow_avoided(modules: frozenset = TENSORFLOW_ONLY_MODULES) -> Iterator[bool]:
    """While inside, Rasa's TensorFlow-only modules import as stand-ins, so loading our model never imports TensorFlow.

    TensorFlow is most of a server process: 694 MB at rest with it, 343 MB without (same
    model, same load). Wrap the model load only: on leaving, the stand-ins leave
    ``sys.modules`` and the import hook is removed, so a later import in the same process
    (training a model in the background) gets the real modules. Yields False (and changes
    nothing) when TensorFlow or one of the modules is already imported: the real modules are
    in use and must stay. A model that does use TensorFlow fails to load with
    :class:`TensorFlowAvoided` naming the module, never silently.

    Raises:
        RuntimeError: the installed Rasa is not the version the module list was made for.
    """
    import sys

    found = installed_versions({"rasa": WRITTEN_FOR["rasa"]})["rasa"]
    if found != "3.6.21":
        raise RuntimeError(
            f"compat.tensorflow_avoided lists Rasa 3.6.21's TensorFlow-only modules, but rasa {found} is "
            "installed: re-check which rasa modules import tensorflow at module level "
            "(python -X importtime -c 'import rasa.core.agent') and update TENSORFLOW_ONLY_MODULES.")
    if "tensorflow" in sys.modules or any(name in sys.modules for name in modules):
        yield False
        return
    finder = _TensorFlowFreeFinder(modules)
    sys.meta_path.insert(0, finder)
    try:
        yield True
    finally:
        sys.meta_path.remove(finder)
        for name in modules:
            if getattr(sys.modules.get(name), "crossdesk_stand_in", False):
                del sys.modules[name]


def _pickled_copy(value: Any) -> Any:
    """A deep copy through pickle: the same result as ``copy.deepcopy`` for Rasa's training data
    (plain dicts, lists, strings, ``Message``), about 6x faster (3,410 messages: 18.6 ms -> 2.4 ms)."""
    import pickle

    return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def fast_training_data_merge() -> None:
    """``TrainingData.merge`` (rasa 3.6.21) deep-copies every example with ``copy.deepcopy``; a
    training merges the 20,757 examples several times (a fifth of loading the NLU data). Same
    merge, copies made by pickle."""
    from rasa.shared.nlu.training_data import util
    from rasa.shared.nlu.training_data.training_data import TrainingData

    def merge(self, *others):
        training_examples = _pickled_copy(self.training_examples)
        entity_synonyms = self.entity_synonyms.copy()
        regex_features = _pickled_copy(self.regex_features)
        lookup_tables = _pickled_copy(self.lookup_tables)
        responses = _pickled_copy(self.responses)
        for other in others:
            if not other:
                continue
            training_examples.extend(_pickled_copy(other.training_examples))
            regex_features.extend(_pickled_copy(other.regex_features))
            lookup_tables.extend(_pickled_copy(other.lookup_tables))
            for text, synonym in other.entity_synonyms.items():
                util.check_duplicate_synonym(entity_synonyms, text, synonym, "merging training data")
            entity_synonyms.update(other.entity_synonyms)
            responses.update(other.responses)
        return TrainingData(training_examples, entity_synonyms, regex_features, lookup_tables, responses)

    TrainingData.merge = merge


def load_nlu_files_once() -> None:
    """Rasa's importers read and validate every NLU file again for each ``get_nlu_data`` call (twice
    per training: 7.2 s of CPU each for our 23,411 examples, mostly ruamel's pure-Python YAML parser
    and schema checks). Within one process, files unchanged since (same size and mtime) are read once;
    each caller gets its own copy."""
    import os

    from rasa.shared.importers import utils

    original = utils.training_data_from_paths
    cache: dict = {}

    def training_data_from_paths(paths, language):
        paths = list(paths)
        stats = [(os.stat(p).st_mtime_ns, os.stat(p).st_size) if os.path.exists(p) else None for p in paths]
        key = (tuple(str(p) for p in paths), language, tuple(stats))
        if key not in cache:
            cache.clear()
            cache[key] = original(paths, language)
        return _pickled_copy(cache[key])

    utils.training_data_from_paths = training_data_from_paths


def derived_training_data_fingerprints() -> None:
    """Rasa's training cache fingerprints each node's output after it runs; for ``TrainingData`` that
    hashes every message and its features (83 of 342 profiled seconds of an 8-language training,
    23,000 examples). A node's output is a function of its fingerprint key (its class, config and
    inputs' fingerprints: what the cache already assumes when it reuses a key's output), so the key
    itself names that output. Same cache hits for unchanged inputs, same model."""
    from rasa.engine.training import hooks
    from rasa.engine.training.components import PrecomputedValueProvider
    from rasa.shared.nlu.training_data.training_data import TrainingData

    original = hooks.TrainingHook.on_after_node

    def on_after_node(self, node_name, execution_context, config, output, input_hook_data):
        if not isinstance(output, TrainingData) or self._pruned_schema.nodes[node_name].uses == PrecomputedValueProvider:
            return original(self, node_name, execution_context, config, output, input_hook_data)
        key = input_hook_data["fingerprint_key"]
        self._cache.cache_output(fingerprint_key=key, output=output, output_fingerprint=_derived_fingerprint(key),
                                 model_storage=self._model_storage)
        return None

    hooks.TrainingHook.on_after_node = on_after_node


_training_tuned = False


def tune_rasa_training() -> None:
    """Apply the training patches above once (``bot/training.py``); like ``tune_rasa``, they change
    how Rasa trains, never what it learns."""
    global _training_tuned
    if not _training_tuned:
        fast_training_data_merge()
        load_nlu_files_once()
        derived_training_data_fingerprints()
        sanitized_examples_keep_fingerprints()
        derived_training_data_input_fingerprints()
        _training_tuned = True


def sanitized_examples_keep_fingerprints() -> None:
    """``TrainingData(...)`` drops duplicate examples by their fingerprint (a hash of the message's data
    and features), after setting each example's intent to itself stripped; ``Message.set`` forgets the
    cached fingerprint even when the value is unchanged, so every ``TrainingData`` built during a
    training hashed every example and its feature matrices again (145 times for the 8 languages, ~45
    profiled seconds). Here an intent or response that is already stripped is left alone, so the
    fingerprint cached since the message last changed (``set`` and ``add_features`` still reset it)
    is used: the same examples, in the same order, the same duplicates dropped."""
    from collections import OrderedDict

    from rasa.shared.nlu.constants import INTENT, RESPONSE
    from rasa.shared.nlu.training_data.training_data import TrainingData

    def sanitize_examples(examples):
        for example in examples:
            for name in (INTENT, RESPONSE):
                value = example.get(name)
                if value and value.strip() != value:
                    example.set(name, value.strip())
        return list(OrderedDict.fromkeys(examples))

    TrainingData.sanitize_examples = staticmethod(sanitize_examples)


def _derived_fingerprint(fingerprint_key: str) -> str:
    """The fingerprint of a node's ``TrainingData`` output: named by the node's fingerprint key (hex, as
    ``TrainingData.__hash__`` reads fingerprints)."""
    import hashlib

    return hashlib.md5(f"derived-{fingerprint_key}".encode()).hexdigest()


def derived_training_data_input_fingerprints() -> None:
    """The next node's fingerprint key hashed that same ``TrainingData`` again as its input: every
    example and its feature matrices, for each node (~38 of 192 s of an 8-language training under
    py-spy, after the duplicate check's share was gone). A ``TrainingData`` a node returned (nodes
    featurize it in place and return it: the last node to return it names its content) now
    fingerprints as that node's output, the value the training cache stores for it (see
    ``derived_training_data_fingerprints``), so the keys of this run are those a later run's
    fingerprint pass computes from the cache. Any other ``TrainingData`` is hashed as before."""
    import weakref

    from rasa.engine.training import hooks
    from rasa.engine.training.components import PrecomputedValueProvider
    from rasa.shared.nlu.training_data.training_data import TrainingData

    outputs: dict = {}  # id(output) -> (weak reference, fingerprint); (TrainingData hashes by content)
    after_node = hooks.TrainingHook.on_after_node
    content_fingerprint = TrainingData.fingerprint

    def on_after_node(self, node_name, execution_context, config, output, input_hook_data):
        result = after_node(self, node_name, execution_context, config, output, input_hook_data)
        if isinstance(output, TrainingData) and self._pruned_schema.nodes[node_name].uses != PrecomputedValueProvider:
            for stale in [k for k, (ref, _) in outputs.items() if ref() is None]:
                del outputs[stale]
            outputs[id(output)] = (weakref.ref(output), _derived_fingerprint(input_hook_data["fingerprint_key"]))
        return result

    def fingerprint(self):
        reference, value = outputs.get(id(self), (None, None))
        return value if reference is not None and reference() is self else content_fingerprint(self)

    hooks.TrainingHook.on_after_node = on_after_node
    TrainingData.fingerprint = fingerprint


if __name__ == "__main__":  # python -m crossdesk.compat skops-types: write SKOPS_TRUSTED_TYPES_FILE
    import json
    import sys

    if sys.argv[1:] != ["skops-types"]:
        sys.exit("usage: python -m crossdesk.compat skops-types")
    target = Path(__file__).with_name(SKOPS_TRUSTED_TYPES_FILE)
    target.write_text(json.dumps(skops_trusted_type_names(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {target}")
