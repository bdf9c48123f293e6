"""The bot engine: a Rasa ``Agent`` running on its own thread and event loop.

Rasa runs NLU, policies, the SQL tracker store and our in-process actions
synchronously inside its coroutines. On the server's event loop that would
stall every socket while a message is processed; here those stalls happen on
a dedicated thread and the server awaits the result. Every shopper message
still goes through Rasa's ``MessageProcessor`` (NLU, slots, policies, actions,
tracker store), so rules and transcripts stay true.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, ContextManager, Dict, List, Optional

from bot import language
from bot.loader_pacing import ShopperFirst
from crossdesk import compat

logger = logging.getLogger(__name__)

SESSION_EVENTS = 60
"""Start a new Rasa session (slots carried over) once the current one holds this many events.

The policies featurise every event of the session for every prediction (RulePolicy:
``Domain.states_for_tracker_history``, ~0.02 ms per event, three times a turn) and a custom
action gets the whole session as JSON, so a reply at message 500 of one conversation took
6x message 1's time (16 -> 100 ms in-process; 85 -> 317 ms through a loaded server). A turn adds 5-7 events: 60 is ~10 turns, far
more than any rule or action looks back (one turn)."""


@dataclass
class BotReply:
    """What the bot made of one shopper message."""

    language: Optional[str]
    intent: Optional[str]
    confidence: Optional[float]
    entities: List[dict]
    messages: List[dict] = field(default_factory=list)
    paused: bool = False


def release_free_memory() -> None:
    """Give the heap's free memory back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    Loading the model and the language tables frees far more than it keeps (archive buffers,
    JSON and msgpack decoding); glibc keeps the freed pages, so the process looked 36 MB larger
    at rest than it was (401 -> 365 MB measured after start).
    """
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _freeze_warm_up() -> None:
    """After the background language warm-up: its tables live for good, so freeze them like the model
    (out of every later full collection's scan: ~39,000 objects, 27,000 of them lists, ~20 ms of each
    full collection), then give the freed heap back."""
    gc.collect()
    gc.freeze()
    release_free_memory()


def _free(models: List[Any]) -> None:
    """Drop the last references to ``models`` and give the freed heap back to the system: without
    the trim the process grew ~5 MB per swap (RSS 223 -> 423 MB after 40 studio swaps)."""
    models.clear()
    release_free_memory()


def _collector_class():
    from rasa.core.channels.channel import CollectingOutputChannel

    class FullCollector(CollectingOutputChannel):
        """Keeps every key of a bot message (incl. the NLG's ``language``)."""

        @classmethod
        def name(cls) -> str:
            return "socketio"  # responses may be channel-specific; we speak socket.io

        async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
            self.messages.append(dict(message))

    return FullCollector


def configure_rasa_logging(level: int = logging.WARNING) -> None:
    """Silence Rasa's debug logging (structlog formats every parse otherwise)."""
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    from bot import quiet_expected_warnings

    configure_logging_and_warnings(level)
    configure_structlog(level)
    quiet_expected_warnings()


def build_agent(model_path: str, tracker_db_url: Optional[str] = None, responses_dir: Optional[str] = None,
                action_endpoint: Any = None, lock_store: Any = None, tracker_cache_size: int = 5000,
                avoid_tensorflow: bool = True, nlg: Any = None):
    """Load the trained model with our tracker store and NLG.

    Args:
        model_path: the trained model (``.tar.gz``).
        tracker_db_url: Rasa's tracker store (SQLAlchemy URL); None keeps conversations in memory
            (``python -m bot parse``).
        responses_dir: the answers per language (default ``bot/responses``).
        action_endpoint: where custom actions run, a Rasa ``EndpointConfig``; the server passes
            ``actions.inprocess.InProcessActionEndpoint()`` (the bot never imports the actions).
            None: no custom actions (parsing only).
        lock_store: e.g. Rasa's ``RedisLockStore``, replacing Rasa's in-memory locks when several
            processes share conversations (with ``bot.turn_locks.RedisTurnLocks`` the tracker cache
            stays valid: the lock tells the engine when another process changed a tracker).
        avoid_tensorflow: keep TensorFlow out of the process (``compat.tensorflow_avoided``: our
            pipeline never uses it; a model that does fails to load, saying so).
        nlg: the ``MultilingualNLG`` to answer with instead of one read from ``responses_dir``
            (the server passes its own, so answers reloaded by the studio reach the bot too).
    """
    args = (model_path, tracker_db_url, responses_dir, action_endpoint, lock_store, tracker_cache_size, nlg)
    compat.lazy_rasa_channels()  # (Rasa imports the package for UserMessage; we use none of its channels)
    compat.lazy_rasa_modules()  # (matplotlib and apscheduler: for plots and reminders we never use)
    if not avoid_tensorflow:
        return _build_agent(*args)
    with compat.tensorflow_avoided():
        return _build_agent(*args)


def _build_agent(model_path: str, tracker_db_url: Optional[str], responses_dir: Optional[str],
                 action_endpoint: Any, lock_store: Any, tracker_cache_size: int, nlg: Any):
    with compat.rasa_store_clients_deferred():  # (boto3 and pymongo, for tracker stores we do not use)
        from rasa.core.agent import Agent
    from sqlalchemy.engine.url import make_url

    from bot.nlg import MultilingualNLG
    from bot.tracker_store import CachingSQLTrackerStore

    configure_rasa_logging()
    compat.tune_rasa()
    tracker_store = None
    if tracker_db_url:
        url = make_url(tracker_db_url)
        tracker_store = CachingSQLTrackerStore(
            dialect=url.drivername.split("+")[0], host=url.host, port=url.port,
            db=url.database, username=url.username, password=url.password, cache_size=tracker_cache_size,
        )
    if nlg is None:
        nlg = MultilingualNLG.from_dir(responses_dir) if responses_dir else MultilingualNLG()
    return Agent.load(
        model_path,
        generator=nlg,
        tracker_store=tracker_store,
        lock_store=lock_store,
        action_endpoint=action_endpoint,
    )


def build_agent_like(model_path: str, previous: Any):
    """Load another model with the running agent's tracker store, lock store, NLG and action endpoint.

    Sharing them keeps the trackers' cache and each conversation's lock across a swap, and the
    answers (which the studio reloads in place) are the same object.
    """
    from rasa.core.agent import Agent

    store = shared_tracker_store(previous)
    live_domain = store.domain
    try:
        with compat.tensorflow_avoided():
            # Rasa's Agent sets the store's domain to the one it is given (None by default), then to the
            # new model's: the live model kept answering meanwhile with trackers built without slots
            # ("Tried to set non existent slot"), and a tracker cached then never got them back.
            return Agent.load(model_path, domain=live_domain, generator=previous.nlg, tracker_store=store,
                              lock_store=previous.lock_store, action_endpoint=previous.action_endpoint)
    finally:
        store.domain = live_domain  # the new model's domain is set when it goes live (BotEngine._switch)


def shared_tracker_store(agent: Any) -> Any:
    """Our tracker store inside the agent's (Rasa wraps it in a ``FailSafeTrackerStore``)."""
    store = agent.tracker_store
    return getattr(store, "_tracker_store", store)


SWAP_SWITCH_INTERVAL = 0.0005  # s; Python's default is 0.005


@contextlib.contextmanager
def gil_shared_often(interval: float = SWAP_SWITCH_INTERVAL):
    """While a model loads in a worker thread (1.4 s of mostly pure-Python unpacking and
    deserializing), the server's loop and the bot thread wait for the GIL up to the switch
    interval each time they need it again, many times per reply; a tenth of the default
    hands it over ten times as often. The previous interval comes back after."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, interval))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


class BotEngine:
    """Owns the bot thread; ``handle`` and ``parse`` are awaitable from any loop.

    Args:
        agent_factory: builds the Rasa agent (called on the bot thread).
        turn_locks: the lock store shared with other processes (``bot.turn_locks.RedisTurnLocks``), if any:
            the engine drops a cached tracker it says another process may have changed.
    """

    def __init__(self, agent_factory: Callable[[], Any], session_events: int = SESSION_EVENTS,
                 awaiting_answer: Optional[Callable[[Any], Optional[str]]] = None,
                 reload_factory: Callable[[str, Any], Any] = None, turn_locks: Any = None):
        self._agent_factory = agent_factory
        self._reload_factory = reload_factory or build_agent_like
        self.session_events = session_events
        # ``(tracker with .events as dicts) -> topic or None``: the bot's last message waits for an
        # answer (the app passes ``actions.actions.pending_topic``; the bot never imports the actions).
        self.awaiting_answer = awaiting_answer or (lambda tracker: None)
        self._agent = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._ready = threading.Event()
        self._error: Optional[BaseException] = None
        self.load_seconds: Optional[float] = None
        self._shoppers_first = ShopperFirst()  # a swap's loading yields to the messages being answered
        if turn_locks is not None:
            turn_locks.subscribe_stale(self.forget_tracker)

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        """Start the thread and begin loading the model (returns at once)."""
        self._thread = threading.Thread(target=self._run, name="crossdesk-bot", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        started = time.perf_counter()
        try:
            with language.warm_up_postponed() as warm_up:  # runs once the model answers (0.5-1 s of CPU)
                self._agent = self._agent_factory()
            self._collector = _collector_class()
            # Rasa + TensorFlow leave millions of long-lived objects; freezing them
            # keeps full garbage collections from stalling every socket (~100+ ms).
            gc.collect()
            gc.freeze()
            release_free_memory()
            self.load_seconds = time.perf_counter() - started
            logger.info("bot model loaded in %.1f s", self.load_seconds)
        except BaseException as error:  # reported through wait_ready
            logger.exception("bot model failed to load")
            self._error = error
        self._ready.set()
        if self._error is None:
            warm_up.start(then=_freeze_warm_up)
            self._loop.run_forever()

    @property
    def ready(self) -> bool:
        """True once the model is loaded."""
        return self._ready.is_set() and self._error is None

    @property
    def error(self) -> Optional[BaseException]:
        """The load error, if loading failed."""
        return self._error

    async def wait_ready(self, timeout: Optional[float] = None) -> None:
        """Wait (without blocking the caller's loop) until the model is loaded."""
        if self.ready:
            return
        loaded = await asyncio.get_running_loop().run_in_executor(None, self._ready.wait, timeout)
        if not loaded:
            raise TimeoutError("bot model still loading")
        if self._error is not None:
            raise RuntimeError(f"bot model failed to load: {self._error}")

    def stop(self) -> None:
        """Stop the bot loop (pending work is dropped; messages are already stored)."""
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)

    async def swap(self, model_path: str) -> float:
        """Serve ``model_path`` from the next message on; the seconds its loading took.

        The new agent loads in a worker thread next to the live one (messages keep being
        answered meanwhile, and the loader waits while one is: :class:`ShopperFirst`), then
        replaces it on the bot loop between two coroutine steps: a message already being handled
        finishes on the old model (it holds its processor), every later one gets the new model,
        so none is lost or answered twice.
        """
        await self.wait_ready()
        started, loop = time.perf_counter(), asyncio.get_running_loop()
        previous = [self._agent]  # after the switch the only reference to the old model (see below)
        with gil_shared_often():
            agent = await loop.run_in_executor(None, self._shoppers_first.run, self._reload_factory, model_path,
                                               previous[0])
        await self._submit(self._switch(agent))
        seconds = time.perf_counter() - started
        logger.info("model loaded beside the live one in %.2f s, %.2f s of it waiting for replies",
                    seconds, self._shoppers_first.waited)
        # Freeing the old model is one uninterruptible cascade of deallocations (9 ms quiet, up to
        # 60 ms on a busy machine, holding the GIL); on a worker thread, between replies, it stalls no
        # shopper whose reply is being made.
        await loop.run_in_executor(None, self._shoppers_first.run, _free, previous)
        return seconds

    async def _switch(self, agent: Any) -> None:
        self._agent = agent
        shared_tracker_store(agent).domain = agent.domain  # (trackers rebuilt from now on get its slots)
        # The new model's objects join the frozen ones, out of the collector's reach. No full
        # collection: it stopped every thread for 0.14-0.35 s (shoppers' replies during a swap) to
        # find 107 objects in cycles; the old model is freed by reference counting (RSS after three
        # swaps: +1 MB without collecting, the same with).
        gc.freeze()

    # -- work ----------------------------------------------------------------
    async def _submit(self, coroutine: Awaitable) -> Any:
        await self.wait_ready()
        future: Future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return await asyncio.wrap_future(future)

    def answering(self) -> ContextManager[None]:
        """Mark a shopper's message as being worked on outside the engine too (stored, answered,
        delivered): a swap's loading waits meanwhile (:class:`ShopperFirst`)."""
        return self._shoppers_first.answering()

    async def handle(self, text: str, sender_id: str, metadata: Optional[dict] = None) -> BotReply:
        """Run one shopper message through Rasa; return the parse and bot messages."""
        with self._shoppers_first.answering():
            return await self._submit(self._handle(text, sender_id, metadata or {}))

    async def parse(self, text: str, metadata: Optional[dict] = None) -> dict:
        """NLU only (no tracker): the parse result Rasa would log for ``text``."""
        with self._shoppers_first.answering():
            return await self._submit(self._parse(text, metadata or {}))

    async def _parse(self, text: str, metadata: dict) -> dict:
        from rasa.core.channels.channel import UserMessage

        return await self._agent.processor.parse_message(UserMessage(text, metadata=metadata))

    async def _handle(self, text: str, sender_id: str, metadata: dict) -> BotReply:
        # Mirrors MessageProcessor.handle_message (Rasa 3.6.21, pinned) but keeps
        # the parse result, which that method does not return.
        from rasa.core.channels.channel import UserMessage
        output = self._collector()
        message = UserMessage(text, output, sender_id, metadata=metadata, input_channel="socketio")
        processor = self._agent.processor
        async with self._agent.lock_store.lock(sender_id):
            try:
                was_paused = await self._before_turn(sender_id, output)
                tracker = await processor.log_message(message, should_save_tracker=False)
                if was_paused and not tracker.is_paused():
                    # Rasa started a session (session_expiration_time, when the domain
                    # sets one, passed), which unpauses: the agent still has it.
                    from rasa.shared.core.events import ConversationPaused
                    tracker.update(ConversationPaused())
                parse = tracker.latest_message.parse_data
                paused = tracker.is_paused()
                if not paused:
                    tracker = await processor.run_action_extract_slots(output, tracker)
                    await compat.run_prediction_loop(processor, output, tracker)
                await processor.save_tracker(tracker)
            except Exception:
                _forget_cached_tracker(self._agent.tracker_store, sender_id)
                raise
        return _reply_from(parse, output.messages, paused or tracker.is_paused())

    async def _before_turn(self, sender_id: str, output: Any) -> bool:
        """Roll a long session over (see :data:`SESSION_EVENTS`); True if the bot is paused."""
        processor = self._agent.processor
        tracker = await processor.tracker_store.retrieve(sender_id)
        if tracker is None:
            return False
        if tracker.is_paused():
            return True
        if _session_length(tracker, self.session_events) >= self.session_events and _may_start_session(tracker, self.awaiting_answer):
            await _start_session(processor, output, tracker)
        return False

    def forget_tracker(self, sender_id: str) -> None:
        """Drop a conversation's cached tracker (its rows were erased); callable from any thread.

        Runs on the bot loop after the work already submitted, before what comes next.
        """
        if self.ready and self._loop is not None:
            self._loop.call_soon_threadsafe(_forget_cached_tracker, self._agent.tracker_store, sender_id)

    async def erase_tracker(self, sender_id: str) -> None:
        """Delete a conversation's tracker, cached and stored, once no turn of it is running.

        A turn that was running when the rows were deleted elsewhere saves its
        tracker again at its end; erasing under the conversation's lock, after
        it, removes that copy too.
        """
        if self.ready:
            await self._submit(self._erase(sender_id))

    async def _erase(self, sender_id: str) -> None:
        async with self._agent.lock_store.lock(sender_id):
            store = self._agent.tracker_store
            for candidate in (store, getattr(store, "_tracker_store", None)):  # (maybe wrapped, as above)
                if hasattr(candidate, "erase"):
                    candidate.erase(sender_id)

    async def run_on_tracker(self, sender_id: str, events: List[Any]) -> None:
        """Append Rasa events (e.g. ConversationPaused) to a conversation."""
        await self._submit(self._append(sender_id, events))

    async def _append(self, sender_id: str, events: List[Any]) -> None:
        processor = self._agent.processor
        async with self._agent.lock_store.lock(sender_id):
            tracker = await processor.get_tracker(sender_id)
            for event in events:
                tracker.update(event)
            await processor.save_tracker(tracker)


def _session_length(tracker: Any, limit: int) -> int:
    """Events since the tracker's latest session start, counted up to ``limit``.

    (Our store keeps only the current session; an in-memory store keeps them all.)
    """
    count = 0
    for event in reversed(tracker.events):
        if count >= limit or event.type_name == "session_started":
            break
        count += 1
    return count


def _may_start_session(tracker: Any, awaiting_answer: Callable[[Any], Optional[str]]) -> bool:
    """False while a form runs or the bot's last message waits for an answer ("which country?").

    The actions read the bot's previous message to understand a short answer; a new
    session would hide it.
    """
    if tracker.active_loop_name:
        return False
    tail = [event.as_dict() for event in list(tracker.events)[-20:]]
    return awaiting_answer(_EventsView(tail)) is None


class _EventsView:
    """The part of a rasa_sdk ``Tracker`` that ``pending_topic`` reads: its events, as dicts."""

    def __init__(self, events: List[dict]):
        self.events = events


async def _start_session(processor: Any, output: Any, tracker: Any) -> None:
    """Append Rasa's session start (``action_session_start`` carries the slots over) and save it."""
    from rasa.core.actions.action import action_for_name_or_text
    from rasa.shared.core.constants import ACTION_SESSION_START_NAME
    from rasa.shared.core.events import ActionExecuted, SlotSet

    action = action_for_name_or_text(ACTION_SESSION_START_NAME, processor.domain, processor.action_endpoint)
    events = await action.run(output, processor.nlg, tracker, processor.domain)
    # Rasa's action carries over every SlotSet of the session, repeats included, so each
    # session would start longer than the last (21, 31, 39, ... 61 events measured): keep
    # the last value of each slot, in place.
    last = {event.key: index for index, event in enumerate(events) if isinstance(event, SlotSet)}
    events = [e for i, e in enumerate(events) if not isinstance(e, SlotSet) or last[e.key] == i]
    tracker.update_with_events([ActionExecuted(ACTION_SESSION_START_NAME)] + events, processor.domain)
    await processor.save_tracker(tracker)  # the store keeps only the new session in memory


def _forget_cached_tracker(store: Any, sender_id: str) -> None:
    # Agent may wrap our store in Rasa's FailSafeTrackerStore.
    for candidate in (store, getattr(store, "_tracker_store", None)):
        if hasattr(candidate, "forget"):
            candidate.forget(sender_id)


def _reply_from(parse: dict, messages: List[dict], paused: bool) -> BotReply:
    from bot.components import language_of

    intent = parse.get("intent") or {}
    entities = [e for e in parse.get("entities") or [] if e.get("entity") != "language"]
    return BotReply(
        language=language_of(parse),
        intent=intent.get("name"),
        confidence=intent.get("confidence"),
        entities=entities,
        messages=messages,
        paused=paused,
    )
