"""After a crash: answer the shopper messages that were stored and acknowledged but never answered.

A shopper message is acknowledged once it is stored; the bot answers it
afterwards. A process killed in between leaves it in the transcript with no
answer, and a resend of the same ``message_id`` is (rightly) a duplicate, so
nothing would ever answer it. At start the server finds those messages and
answers them, in order, once.

"Answered" means ``SQLStore.record_turn`` recorded what the bot understood of
the message (it writes the understanding and the replies in one
transaction). Only messages written while the bot had the conversation count:
messages a human was handling were relayed, never meant for the bot.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from typing import Awaitable, Callable, Optional

from handoff.scaleout import sharing
from handoff.store import SQLStore, StoredMessage

logger = logging.getLogger(__name__)
BOT_STATES = ("bot", "resolved")  # states in which a shopper message goes to the bot (resolved: it reopens)


def unanswered(store: SQLStore, up_to_id: Optional[int] = None) -> list[StoredMessage]:
    """Shopper messages of conversations the bot has that the bot never answered, oldest first.

    Only messages up to ``up_to_id`` (the newest one when this process started): those stored since are
    answered by the normal path, and taking them here too would answer them twice.
    """
    candidates, steps = store.shopper_messages_without_understanding(("bot",))
    if up_to_id is not None:
        candidates = [m for m in candidates if m.id <= up_to_id]
    timelines: dict[str, tuple[list[float], list[str]]] = {}
    for step in steps:  # in id order, so each timeline is in time order
        times, states = timelines.setdefault(step["conversation_id"], ([], []))
        times.append(step["created_at"])
        states.append(step["to_state"])
    return [m for m in candidates if _state_at(timelines.get(m.conversation_id), m.created_at) in BOT_STATES]


def _state_at(timeline, when: float):
    """The conversation's state at time ``when`` (from its transitions)."""
    if not timeline:
        return None
    times, states = timeline
    index = bisect.bisect_right(times, when) - 1
    return states[max(index, 0)]


async def answer_unanswered(store: SQLStore, answer: Callable[[StoredMessage], Awaitable[None]],
                            ready: Optional[Callable[[], Awaitable[None]]] = None,
                            up_to_id: Optional[int] = None, settle: float = 0.0) -> int:
    """Answer every unanswered message (in order per conversation) and log one summary line.

    ``ready`` (the bot's ``wait_ready``) is awaited before the messages are
    listed: listed at start and answered once the model is loaded, a message
    erased meanwhile (the retention purge at start, an admin's erasure) would
    be answered all the same, re-creating its conversation.

    ``answer`` runs the bot on a stored message and emits its replies to the
    session's room (a shopper who reconnected sees them; one who has not finds
    them in the history). Each is started in order before any of them awaits,
    so the per-conversation lock keeps them in order, ahead of anything the
    shopper sends after the restart.

    ``settle``: seconds to wait before listing (several processes: a message
    stored just before this one started may be in another process's hands).
    """
    started = time.monotonic()
    if ready is not None:
        try:
            await ready()
        except Exception:  # (the bot logged why); the messages stay stored, the next start tries again
            logger.exception("recovery: the bot is not available; nothing answered")
            return 0
    if settle:  # other processes are answering messages stored before this one started: let them finish
        await asyncio.sleep(settle)
    loop = asyncio.get_running_loop()
    pending = await loop.run_in_executor(None, unanswered, store, up_to_id)
    if not pending:
        logger.info("recovery: no stored shopper message was left unanswered")
        return 0
    tasks = [asyncio.ensure_future(answer(message)) for message in pending]
    await asyncio.gather(*tasks)
    logger.info("recovery: answered %d shopper message(s) left unanswered by the last run, in %d conversation(s),"
                " in %.1f s (model load included)", len(pending), len({m.conversation_id for m in pending}), time.monotonic() - started)
    return len(pending)


def setup_recovery(app) -> None:
    """Start answering what the last run left unanswered once the server is up (in the background)."""

    @app.listener("before_server_start")
    async def note_last_message(app, loop):
        # Before any socket is accepted: what the last run stored ends here.
        app.ctx.recovery_up_to = app.ctx.store.last_message_id()

    @app.listener("after_server_start")
    async def start_recovery(app, loop):
        ready = getattr(app.ctx.bot, "wait_ready", None)  # (test doubles of the bot load nothing)
        app.ctx.recovery = asyncio.ensure_future(
            answer_unanswered(app.ctx.store, app.ctx.shopper.answer_stored, ready, app.ctx.recovery_up_to,
                              settle=sharing(app.ctx.settings).recovery_settle))

    @app.listener("before_server_stop")
    async def stop_recovery(app, loop):
        app.ctx.recovery.cancel()  # what is left stays stored and unanswered: the next start picks it up
