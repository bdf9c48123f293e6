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
from typing import Any, Callable, Iterator, Mapping, Optional

WRITTEN_FOR: Mapping[str, str] = {
    "python-socketio": "5.8.0",  # InlineEvents, RefusableEvents, UndecodablePacketsClose, NoBinaryScan, room_call
    "python-engineio": "4.4.1",  # engine_server_class (CheckedWebSocket, background tasks)
    "sanic": "21.12.2",  # sanic_protocol (SafeUrlHttp)
    "requests": "2.34.2",  # install_request_timeout
    "deep-translator": "1.11.4",  # FixedLanguageList
    "rasa": "3.6.21",  # tune_rasa, run_graphs_in_order, run_prediction_loop, KnownNewEvents; the model components
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
        skops_trusted_types_precomputed()
        _rasa_tuned = True


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
        self._cache.cache_output(fingerprint_key=key, output=output, output_fingerprint=f"derived-{key}",
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
        _training_tuned = True


if __name__ == "__main__":  # python -m crossdesk.compat skops-types: write SKOPS_TRUSTED_TYPES_FILE
    import json
    import sys
    from pathlib import Path

    if sys.argv[1:] != ["skops-types"]:
        sys.exit("usage: python -m crossdesk.compat skops-types")
    target = Path(__file__).with_name(SKOPS_TRUSTED_TYPES_FILE)
    target.write_text(json.dumps(skops_trusted_type_names(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {target}")
