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

import yaml
from rasa.core.nlg.generator import NaturalLanguageGenerator
from rasa.shared.core.trackers import DialogueStateTracker

from bot.language import AUTHORED

RESPONSES_DIR = Path(__file__).resolve().parent / "responses"
FALLBACK_LANGUAGE = "en"

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
            data = yaml.safe_load(handle) or {}
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
    """Picks the response variation in the conversation's language."""

    def __init__(self, endpoint_config: Any = None, domain: Any = None, responses: Optional[dict] = None):
        if responses is None:
            from handoff.settings import Settings

            responses = load_responses(Settings.from_env().responses_dir or RESPONSES_DIR)
        self.responses = responses

    def variations(self, utter_action: str, language: str) -> List[dict]:
        """The variations of a response in a language, English as fallback."""
        for lang in (language, FALLBACK_LANGUAGE):
            found = self.responses.get(lang, {}).get(utter_action)
            if found:
                return found
        return []

    async def generate(
        self,
        utter_action: Text,
        tracker: DialogueStateTracker,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        """Render ``utter_action`` in the language slot's language."""
        language = kwargs.get("language") or tracker.get_slot("language") or FALLBACK_LANGUAGE
        if language not in AUTHORED and utter_action == "utter_default":
            return {"text": UNSUPPORTED_LANGUAGE_TEXT, "language": FALLBACK_LANGUAGE}
        options = self.variations(utter_action, language)
        if not options:
            return None
        values = {**tracker.current_slot_values(), **kwargs}
        message = render(random.choice(options), values)
        message["language"] = language if language in self.responses else FALLBACK_LANGUAGE
        return message
