"""Answers and store facts saved in the studio take effect in the running server at once.

Neither is part of the trained model: the NLG reads its responses from a
dict and the fact actions read a shared ``StoreFacts``. Reloading replaces the
dict and the facts' fields (each one assignment, so a turn running meanwhile
sees either the old or the new value, never half a file). A model swapped in
later loads the same files from disk. Only this process is reloaded: with
several server processes each one picks the change up at its next restart.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from crossdesk.store_facts import StoreFacts
from bot.nlg import SYSTEM_SUBDIR, MultilingualNLG, load_responses

logger = logging.getLogger(__name__)


def bot_agent(bot: Any) -> Any:
    """The engine's loaded Rasa agent, or None while it loads (or for a test double)."""
    return getattr(bot, "_agent", None) if getattr(bot, "ready", False) else None


def nlgs(app_ctx: Any) -> list[MultilingualNLG]:
    """Every NLG the server answers with: the bot's and the one for notices and canned answers."""
    found = [getattr(app_ctx, "texts", None), getattr(bot_agent(app_ctx.bot), "nlg", None)]
    return list({id(n): n for n in found if isinstance(n, MultilingualNLG)}.values())


def reload_responses(app_ctx: Any, directory: Path) -> int:
    """Load ``directory``'s responses into every NLG; how many were updated."""
    responses = load_responses(Path(directory))
    system = load_responses(Path(directory) / SYSTEM_SUBDIR)
    targets = nlgs(app_ctx)
    for nlg in targets:
        nlg.responses = responses
        nlg.system = system
    return len(targets)


def reload_facts(app_ctx: Any, directory: Path) -> int:
    """Load ``directory``'s store facts into the server's ``StoreFacts`` (``app.ctx.facts``); how many were updated.

    ``create_app`` hands that one object to the canned answers and to the bot's in-process actions,
    so updating it in place reaches both.
    """
    facts = getattr(app_ctx, "facts", None)
    if facts is None:
        return 0
    fresh = StoreFacts.from_dir(Path(directory))
    facts.destinations, facts.default = fresh.destinations, fresh.default
    facts.not_shipped, facts.policies = fresh.not_shipped, fresh.policies
    return 1
