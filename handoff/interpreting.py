"""Machine translation in the conversation: shopper <-> agent, and long-tail languages for the bot.

Wraps :class:`~handoff.translation.TranslationService` with the decisions of
*when* to translate. Nothing here ever raises or waits past its budget: when a
translation fails the original text goes through, flagged as untranslated.
"""

from __future__ import annotations

import asyncio
from typing import Optional

from bot.language import choose_language
from crossdesk.languages import AUTHORED
from handoff.translation import Translation, TranslationService

PIVOT = "en"  # the language the bot reads when it has no content in the shopper's


def as_data(translation: Translation) -> dict:
    """The stored/sent form of a translation (``{text, language, translated, error}``)."""
    return {"text": translation.text, "language": translation.target, "translated": translation.translated,
            "error": translation.error}


class Interpreter:
    """Decides what to translate, for whom, within which time budget.

    Args:
        service: the translation service (provider ``none`` turns everything off).
        budget: seconds one bot turn may spend translating (in and out together).
    """

    def __init__(self, service: TranslationService, budget: float):
        self.service = service
        self.budget = budget

    @property
    def enabled(self) -> bool:
        """Whether a provider is configured."""
        return self.service.provider != "none"

    async def _within(self, seconds: float, text: str, source: str, target: str) -> Translation:
        if seconds <= 0:
            return Translation(text, text, source, target, False, "timeout")
        try:
            return await asyncio.wait_for(self.service.translate(text, source, target), seconds)
        except asyncio.TimeoutError:
            return Translation(text, text, source, target, False, "timeout")

    # -- agents -------------------------------------------------------------
    async def for_agent(self, text: str, source: Optional[str], agent_languages: list[str]) -> Optional[dict]:
        """A shopper (or bot) message in the agent's first language; None when no translation is needed."""
        if not self.enabled or not source or not agent_languages or source in agent_languages:
            return None
        return as_data(await self.service.translate(text, source, agent_languages[0]))

    async def agent_reply(self, text: str, agent_language: str, shopper_language: Optional[str]) -> dict:
        """The preview of an agent's reply in the shopper's language."""
        target = shopper_language or agent_language
        return as_data(await self.service.translate(text, agent_language, target))

    # -- the bot --------------------------------------------------------------
    def long_tail_language(self, text: str, previous: Optional[str], locale: Optional[str]) -> Optional[str]:
        """The shopper's language when the bot has no content in it (and we can translate), else None."""
        if not self.enabled or text.startswith("/"):
            return None
        language, _ = choose_language(text, previous, locale)
        return language if language not in AUTHORED else None

    async def bot_input(self, text: str, language: str) -> Translation:
        """The shopper's message in the pivot language, for the NLU."""
        return await self._within(self.budget, text, language, PIVOT)

    async def bot_output(self, messages: list[dict], language: str, remaining: float) -> list[dict]:
        """The bot's messages (texts and button titles) in the shopper's language, all at once."""
        async def one(message: dict) -> dict:
            out = dict(message)
            if message.get("text"):
                result = await self._within(remaining, message["text"], PIVOT, language)
                out.update(text=result.text, language=language if result.translated else PIVOT,
                           translation={"text": message["text"], "language": PIVOT, "translated": result.translated,
                                        "error": result.error})
            buttons = message.get("buttons") or []
            titles = await asyncio.gather(*(self._within(remaining, b.get("title", ""), PIVOT, language)
                                            for b in buttons))
            if buttons:
                out["buttons"] = [{**b, "title": t.text} for b, t in zip(buttons, titles)]
            return out

        return list(await asyncio.gather(*(one(m) for m in messages)))
