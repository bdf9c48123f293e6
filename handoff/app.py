"""The application factory: wires settings, store, bot and namespaces."""

from __future__ import annotations

import functools
import itertools
import logging
from pathlib import Path
from typing import Optional

from sanic import Sanic, response

from actions.actions import pending_topic
from actions.inprocess import InProcessActionEndpoint, build_executor
from bot.engine import BotEngine, build_agent
from bot.nlg import MultilingualNLG
from crossdesk.paths import WIDGET_DIR
from crossdesk.store_facts import StoreFacts
from handoff.admin_api import setup_privacy
from handoff.agent_notifier import SocketAgentNotifier
from handoff.attachment_api import setup_attachments
from handoff.api import error_response, setup_api
from handoff.audit import AuditLog
from handoff.console_api import setup_console
from handoff.http_errors import setup_http_errors
from handoff.interpreting import Interpreter
from handoff.translation import TranslationService
from handoff.business_hours import BusinessHours
from handoff.conversations import ConversationCache, ConversationService
from handoff.csat import Satisfaction, request_rating
from handoff.delivery import deliver
from handoff.desk_notes import Identities
from handoff.desk_notes_api import setup_desk_notes
from handoff.handoffs import HandoffService
from handoff.kpi_api import setup_kpis
from handoff.lifecycle import Lifecycle
from handoff.recovery import setup_recovery
from handoff.queue_position import QueueAnnouncer, to_session
from handoff.routing import Router, Routing
from handoff.team_api import Team, setup_team
from handoff.metrics_api import setup_metrics
from handoff.model_updates import ModelUpdates
from handoff.model_updates_api import setup_model_updates
from handoff.namespaces.agent import AgentNamespace
from handoff.namespaces.shopper import ShopperNamespace
from handoff import scaleout
from handoff.security_headers import setup_security_headers
from handoff.sessions import setup_sessions
from handoff.settings import Settings
from handoff.socket_server import SocketServer
from handoff.static_files import setup_static
from handoff.studio.api import setup_studio
from handoff.ticket_api import TicketDesk, setup_tickets
from handoff.store import SQLStore
from handoff.store.agents import AgentStore
from handoff.store.desk_notes import DeskNotesStore
from handoff.throttle import LoginLimiter

logger = logging.getLogger(__name__)
_app_ids = itertools.count()
# Sanic's loggers: ``Sanic()`` sets them to INFO with handlers of their own, so the root level
# (CROSSDESK_LOG_LEVEL) does not reach them; its websockets log "connection open" on sanic.error
# at INFO for every socket.
SANIC_LOGGERS = ("sanic.root", "sanic.error", "sanic.access")


def default_bot(settings: Settings, model_path: Path, facts: Optional[StoreFacts] = None,
                texts: Optional[MultilingualNLG] = None) -> BotEngine:
    """The Rasa engine for a model, with the tracker store from settings and the actions in-process.

    ``facts`` (the store facts the actions answer from) and ``texts`` (the answers) are the
    server's own objects, which the studio reloads in place.
    """
    locks = scaleout.lock_store(settings.redis_url)  # (None alone: Rasa's in-memory locks)
    return BotEngine(lambda: build_agent(str(model_path), settings.tracker_db_url, str(settings.responses_path),
                                         nlg=texts, action_endpoint=InProcessActionEndpoint(build_executor(facts)),
                                         lock_store=locks, tracker_cache_size=scaleout.sharing(settings).tracker_cache),
                     awaiting_answer=pending_topic, turn_locks=locks)


def create_app(settings: Settings, store: Optional[SQLStore] = None, bot: Optional[BotEngine] = None,
               model_path: Optional[Path] = None, login_limiter: Optional[LoginLimiter] = None) -> Sanic:
    """Build the server.

    Args:
        settings: configuration (``Settings.from_env()``).
        store: conversation store; defaults to SQL at ``settings.database_url``.
        bot: bot engine; defaults to Rasa with ``model_path``.
        model_path: trained model used when ``bot`` is not given.
        login_limiter: login throttling; defaults to in-memory limits from settings.
    """
    app = Sanic(f"crossdesk_{next(_app_ids)}")
    for name in SANIC_LOGGERS:  # (after Sanic(), which resets them)
        logging.getLogger(name).setLevel(settings.log_level)
    app.config.RESPONSE_TIMEOUT = 30
    app.ctx.settings = settings
    app.ctx.store = store or SQLStore(settings.database_url)
    # The store facts answers are filled from; one object, reloaded in place by the studio.
    app.ctx.facts = facts = StoreFacts.from_dir(settings.content_path / "data" / "store")
    # The answers: one object for the bot, notices and canned answers, reloaded in place by the studio.
    texts = app.ctx.texts = MultilingualNLG.from_dir(settings.responses_path)
    if bot is None:
        if model_path is None:
            raise ValueError("create_app needs a bot or a model_path")
        bot = default_bot(settings, model_path, facts, texts)
    app.ctx.bot = bot
    sio = SocketServer(
        async_mode="sanic",
        cors_allowed_origins=settings.origins,
        max_http_buffer_size=settings.max_payload_bytes,
        logger=False,
        engineio_logger=False,
        client_manager=scaleout.client_manager(settings),  # in memory when alone, Redis when scaled out
    )
    sio.attach(app, socketio_path="socket.io")
    app.ctx.sio = sio
    app.ctx.agents = AgentStore(app.ctx.store, token_ttl=settings.agent_token_ttl_seconds)
    app.ctx.login_limiter = login_limiter or LoginLimiter.from_settings(settings)
    app.ctx.translator = TranslationService.from_settings(settings)
    interpreter = Interpreter(app.ctx.translator, budget=settings.translator_timeout)
    app.ctx.audit = AuditLog(app.ctx.store)
    # Collaborators in dependency order; each gets what it uses at construction.
    conversations = ConversationCache()  # rows the shopper side reads; dropped on every transition
    # Who is online (in memory, or shared through Redis); the agent namespace listens to its changes.
    app.ctx.presence = presence = scaleout.presence(settings)
    lifecycle = Lifecycle(app.ctx.store, bot, texts, presence.available_count, on_change=conversations.forget,
                          hours=BusinessHours.from_settings(settings))
    app.ctx.satisfaction = satisfaction = Satisfaction(app.ctx.store, texts)
    notifier = SocketAgentNotifier(sio, presence)
    routing = Routing(Router(settings.routing_widen_seconds, settings.agent_max_conversations), presence,
                      app.ctx.agents, app.ctx.store.agent_loads, auto_assign=settings.auto_assign)
    positions = QueueAnnouncer(app.ctx.store, functools.partial(to_session, sio), presence.available_count)
    handoffs = HandoffService(app.ctx.store, lifecycle, notifier, functools.partial(deliver, sio),
                              app.ctx.agents, audit=app.ctx.audit, interpreter=interpreter,
                              ask_rating=functools.partial(request_rating, sio, satisfaction),
                              routing=routing, positions=positions)
    app.ctx.desk_notes = desk_notes = DeskNotesStore(app.ctx.store)  # notes, tags, macros, customer links
    service = ConversationService(app.ctx.store, bot, interpreter, lifecycle=lifecycle, conversations=conversations,
                                  cached_conversations=scaleout.sharing(settings).conversation_cache,
                                  identities=Identities(desk_notes, settings.identity_secret))
    app.ctx.handoffs = handoffs
    tickets = TicketDesk(settings, app.ctx.store, notifier, handoffs, presence, app.ctx.agents, interpreter)

    def stopping() -> bool:  # (the app's flag: setup_lifecycle)
        return app.ctx.stopping

    app.ctx.shopper = ShopperNamespace(service, settings, handoffs=handoffs, satisfaction=satisfaction,
                                       tickets=tickets, stopping=stopping)
    app.ctx.agent = agent_ns = AgentNamespace(handoffs, app.ctx.agents, settings, interpreter, presence=presence,
                                              stopping=stopping)
    sio.register_namespace(app.ctx.shopper)
    sio.register_namespace(app.ctx.agent)
    setup_origin_check(app, settings)
    setup_http_errors(app)
    setup_routes(app)
    setup_api(app)
    setup_console(app, handoffs, texts, app.ctx.facts)
    setup_desk_notes(app, desk_notes, handoffs, app.ctx.facts, interpreter)
    setup_privacy(app, service, handoffs)
    setup_studio(app)
    setup_attachments(app)
    setup_kpis(app)
    setup_model_updates(app, ModelUpdates(settings, bot, model_path))
    setup_tickets(app, tickets)
    setup_team(app, Team(app.ctx.agents, presence, handoffs.load, agent_ns.sessions.sweep))
    setup_metrics(app, settings.metrics_token)
    setup_lifecycle(app)
    setup_sessions(app)
    setup_security_headers(app)
    setup_recovery(app)
    scaleout.setup_presence(app)
    logging.getLogger("sanic.error").addFilter(_ClosedWebsocketFilter())
    return app


def setup_origin_check(app: Sanic, settings: Settings) -> None:
    """Refuse cross-origin HTTP requests from origins not in ``CROSSDESK_ALLOWED_ORIGINS``.

    (Socket.IO connections are checked by python-socketio with the same list.)
    """
    allowed = settings.origins

    @app.on_request
    async def check_origin(request):
        origin = request.headers.get("origin")
        if not origin or allowed == "*" or origin in allowed:
            return None
        if origin == f"{request.scheme}://{request.host}":
            return None
        return error_response(403, "origin_not_allowed", f"origin {origin} is not allowed")


def setup_routes(app: Sanic) -> None:
    """Demo storefront, static files and health."""

    @app.get("/")
    async def storefront(request):
        return await response.file(WIDGET_DIR / "examples" / "storefront.html")

    @app.get("/health")
    async def health(request):
        bot = request.app.ctx.bot
        status = "ok" if bot.ready else "error" if bot.error else "loading"
        return response.json({"status": status, "bot_load_seconds": bot.load_seconds},
                             status=200 if status != "error" else 503)

    setup_static(app)  # /widget/*, /console/static/*, /favicon.ico: gzip, ETag, Cache-Control


class _ClosedWebsocketFilter(logging.Filter):
    """Drop Sanic's error for a finished engine.io websocket.

    python-engineio's Sanic driver returns no response once a websocket
    closes; Sanic logs that as an error although nothing went wrong.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return "Invalid response type None" not in str(error or record.getMessage())


def setup_lifecycle(app: Sanic) -> None:
    """Start the bot with the server; drain and close on stop."""

    @app.listener("before_server_start")
    async def start_bot(app, loop):
        app.ctx.bot.start()

    # Set when the stop begins: HTTP requests are refused, and the namespaces take a socket's
    # disconnect for the server going down, not for a shopper or an agent leaving.
    app.ctx.stopping = False
    # After the stop listeners Sanic waits this long for open connections to
    # close. Socket.IO's websockets never close by themselves: with its default
    # (15 s) SIGTERM took 19 s. Then it closes them (clients reconnect).
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = 1.0

    @app.on_request
    async def refuse_while_stopping(request):
        # Sanic closes its listening socket only after the stop listeners; until
        # then a reconnecting widget would bring new work to a stopping server.
        if request.app.ctx.stopping:
            return error_response(503, "shutting_down", "the server is restarting; try again in a moment")

    @app.listener("before_server_stop")
    async def drain(app, loop):
        app.ctx.stopping = True
        seconds = app.ctx.settings.shutdown_drain_seconds
        left = await app.ctx.shopper.drain(seconds)
        app.ctx.handoffs.close()
        app.ctx.agent.close()
        if left:
            logger.warning("stopping: %d bot answers still queued after %g s, left for after the restart "
                           "(their messages are stored)", left, seconds)

    @app.listener("after_server_stop")
    async def close(app, loop):
        app.ctx.bot.stop()
        await app.ctx.translator.close()
        app.ctx.store.close()
