"""Multilingual responses, read from ``bot/responses/<lang>.yml``.

Rasa loads this class from ``endpoints.yml`` (``nlg: type: bot.nlg.MultilingualNLG``).
Responses are not part of the trained model, so staff can edit answers
without retraining; the server reloads them at start.
"""

from __future__ import annotations

import random
import string
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.core.nlg.generator import NaturalLanguageGenerator
from rasa.shared.core.trackers import DialogueStateTracker

from bot.language import normalise_locale
from crossdesk import yaml_files
from crossdesk.languages import AUTHORED
from crossdesk.paths import RESPONSES_DIR

SYSTEM_SUBDIR = "system"  # system texts in languages the widget speaks but the bot has no content in
FALLBACK_LANGUAGE = "en"
UNSUPPORTED_LANGUAGE_RESPONSE = "utter_unsupported_language"

UNSUPPORTED_LANGUAGE_TEXT = (
    "Sorry, I can't answer in your language yet. I can help in English, 日本語, "
    "简体中文, 繁體中文, 한국어, Français, Deutsch and Español — or connect you with "
    "a person."
)


def load_responses(directory: Path = RESPONSES_DIR) -> Dict[str, Dict[str, List[dict]]]:
    """Every language's responses: ``{lang: {utter_name: [variation, ...]}}``."""
    catalogue: Dict[str, Dict[str, List[dict]]] = {}
    for path in sorted(Path(directory).glob("*.yml")):
        with open(path, encoding="utf-8") as handle:
            data = yaml_files.safe_load(handle) or {}
        catalogue[path.stem] = data.get("responses") or {}
    return catalogue


def placeholders(text: str) -> set[str]:
    """The ``{names}`` a response text expects."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


class _KeepMissing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(variation: dict, values: Dict[str, Any]) -> dict:
    """Fill a variation's placeholders; unknown ones stay visible, never crash."""
    out = {k: v for k, v in variation.items() if k in ("buttons", "image", "custom", "attachment")}
    text = variation.get("text")
    if text is not None:
        safe = _KeepMissing({k: v for k, v in values.items() if v is not None})
        try:
            out["text"] = text.format_map(safe)
        except (ValueError, IndexError):
            out["text"] = text
    return out


class MultilingualNLG(NaturalLanguageGenerator):
    """Picks the response variation in the conversation's language.

    A conversation in a language the bot has no content in (and no translator
    for) gets its responses in the widget's language (the browser locale the
    widget sends) when there is text in it, else in English: the apology, "talk
    to a person" and the handoff notices exist in every language the widget
    speaks (``bot/responses/system/<lang>.yml`` for those without content).
    """

    def __init__(self, endpoint_config: Any = None, domain: Any = None, responses: Optional[dict] = None,
                 system: Optional[dict] = None):
        if responses is None or system is None:  # built by Rasa from endpoints.yml (plain `rasa run`)
            directory = RESPONSES_DIR
            responses = load_responses(directory) if responses is None else responses
            system = load_responses(directory / SYSTEM_SUBDIR) if system is None else system
        self.responses = responses
        self.system = system

    @classmethod
    def from_dir(cls, directory: Path) -> "MultilingualNLG":
        """Responses from ``directory`` (and its ``system/`` folder)."""
        return cls(responses=load_responses(Path(directory)), system=load_responses(Path(directory) / SYSTEM_SUBDIR))

    def own_variations(self, utter_action: str, language: str) -> List[dict]:
        """The variations of a response written in ``language`` (no fallback)."""
        return (self.responses.get(language, {}).get(utter_action)
                or self.system.get(language, {}).get(utter_action) or [])

    def variations(self, utter_action: str, language: str) -> List[dict]:
        """The variations of a response in a language, English as fallback."""
        return self.own_variations(utter_action, language) or self.own_variations(utter_action, FALLBACK_LANGUAGE)

    def reply_language(self, utter_action: str, language: Optional[str], locale: Optional[str]) -> str:
        """The language to utter ``utter_action`` in: the conversation's, else the widget's, else English."""
        for candidate in (language, normalise_locale(locale)):
            if candidate and self.own_variations(utter_action, candidate):
                return candidate
        return FALLBACK_LANGUAGE

    async def generate(
        self,
        utter_action: Text,
        tracker: DialogueStateTracker,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        """Render ``utter_action`` in the language slot's language."""
        language = kwargs.get("language") or tracker.get_slot("language") or FALLBACK_LANGUAGE
        if language not in AUTHORED:
            if utter_action == "utter_default":
                utter_action = UNSUPPORTED_LANGUAGE_RESPONSE
            metadata = getattr(tracker.latest_message, "metadata", None) or {}
            language = self.reply_language(utter_action, language, metadata.get("locale"))
            if not self.own_variations(utter_action, language) and utter_action == UNSUPPORTED_LANGUAGE_RESPONSE:
                return {"text": UNSUPPORTED_LANGUAGE_TEXT, "language": FALLBACK_LANGUAGE}
        options = self.variations(utter_action, language)
        if not options:
            return None
        values = {**tracker.current_slot_values(), **kwargs}
        message = render(random.choice(options), values)
        message["language"] = language if self.own_variations(utter_action, language) else FALLBACK_LANGUAGE
        return message
