"""Answers and store facts saved in the studio take effect in the running server at once.

Neither is part of the trained model: the NLG reads its responses from a
dict and the fact actions read a shared ``StoreFacts``. Reloading replaces the
dict and the facts' fields (each one assignment, so a turn running meanwhile
sees either the old or the new value, never half a file). A model swapped in
later answers with the same objects. Only this process is reloaded: with
several server processes each one picks the change up at its next restart.
"""

from __future__ import annotations

from pathlib import Path

from crossdesk.store_facts import StoreFacts
from bot.nlg import SYSTEM_SUBDIR, MultilingualNLG, load_responses


def reload_responses(texts: MultilingualNLG, directory: Path) -> None:
    """Load ``directory``'s responses into the server's answers (``app.ctx.texts``).

    ``create_app`` hands that one object to the bot (every model, also one swapped
    in later), the notices and the canned answers, so replacing its dicts reaches all.
    """
    responses = load_responses(Path(directory))
    system = load_responses(Path(directory) / SYSTEM_SUBDIR)
    texts.responses, texts.system = responses, system


def reload_facts(facts: StoreFacts, directory: Path) -> None:
    """Load ``directory``'s store facts into the server's ``StoreFacts`` (``app.ctx.facts``).

    ``create_app`` hands that one object to the canned answers and to the bot's in-process actions,
    so updating it in place reaches both.
    """
    fresh = StoreFacts.from_dir(Path(directory))
    facts.destinations, facts.default = fresh.destinations, fresh.default
    facts.not_shipped, facts.policies = fresh.not_shipped, fresh.policies
