"""Custom Rasa NLU components: a CJK-aware tokenizer, entities, language.

Registered with Rasa's ``DefaultV1Recipe`` and referenced from ``config.yml``
by module path (``bot.components.CrossdeskTokenizer`` ...).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import language as lang_detect
from bot.countries import Gazetteer

# A token is a run of Latin/Cyrillic/... word characters, a run of CJK characters (kana/Han:
# no spaces; the character n-grams see the words inside), or a Hangul word (Korean uses spaces).
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9d"
_HANGUL = r"\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f"
_TOKEN = re.compile(rf"[{_CJK}]+|[{_HANGUL}]+|[^\W{_CJK}{_HANGUL}]+", re.UNICODE)
_ORDER_ID = re.compile(r"(?<![\w#])#?(?:[A-Z]{1,3}-?\d{4,}|\d{4,}(?:-\d{3,})*)(?![\w-])")

COUNTRY_MARK = "\ua66e"  # ꙮ: a word character no language we handle uses
LANGUAGE_ENTITY = "language"
UNSUPPORTED_LANGUAGE_INTENT = "nlu_fallback"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class CrossdeskTokenizer(Tokenizer):
    """Splits text on non-word characters and script changes; a run of CJK characters is one token.

    Rasa's WhitespaceTokenizer refuses ja/zh and its emoji regex swallows CJK;
    this one keeps every script. The character n-gram featurizer (1-4) then sees
    CJK words in their order (送料 as a bigram, not 送 and 料 apart).
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Tokenizer options shared with Rasa's tokenizers."""
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    def __init__(self, config: Dict[Text, Any], gazetteer: Optional[Gazetteer] = None):
        super().__init__(config)
        self._gazetteer = gazetteer or Gazetteer.from_file()

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """Tokens with their offsets in the original text.

        A token's lemma (what the featurizers count) has country names replaced
        by one mark, so "<country> 배송 가능?" (where do you ship) is told from
        "<product> 배송 가능?" (can this be shipped) for countries the examples never named.
        """
        text = message.get(attribute) or ""
        countries = self._gazetteer.find(text) if attribute == TEXT else []
        tokens = [_token(m, countries) for m in _TOKEN.finditer(text)]
        if not tokens:
            tokens = [Token(text or "_", 0)]
        return self._apply_token_pattern(tokens)


def _token(match: re.Match, countries: list) -> Token:
    word = match.group(0)
    lemma = word
    for country in reversed(countries):  # (from the end, so earlier offsets stay valid)
        start, end = country.start - match.start(), country.end - match.start()
        if end <= 0 or start >= len(word):
            continue
        if start < 0 or end > len(word):  # a name of several words ("united states"): each word is the mark
            lemma = COUNTRY_MARK
            break
        lemma = lemma[:start] + COUNTRY_MARK + lemma[end:]
    return Token(word.lower(), match.start(), lemma=lemma.lower())


class _Untrained(GraphComponent):
    """A component built from its config alone that learns nothing from training data."""

    def __init__(self, config: Dict[Text, Any]):
        self._config = config

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        """Creates the component from its config."""
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Nothing to learn."""
        return training_data


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class StoreEntityExtractor(_Untrained, EntityExtractorMixin):
    """Extracts ``country`` (ISO alpha-2 via the gazetteer) and ``order_id``.

    The gazetteer is read when the model loads, so editing
    ``data/store/countries.yml`` needs a restart, not a retrain.
    """

    def __init__(self, config: Dict[Text, Any], gazetteer: Optional[Gazetteer] = None):
        super().__init__(config)
        self._gazetteer = gazetteer or Gazetteer.from_file()

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds country and order id entities."""
        for message in messages:
            text = message.get(TEXT) or ""
            entities = [
                {"entity": "country", "value": m.code, "start": m.start, "end": m.end,
                 "confidence_entity": 1.0, "extractor": "StoreEntityExtractor"}
                for m in self._gazetteer.find(text)
            ]
            entities += [
                {"entity": "order_id", "value": m.group(0).lstrip("#"), "start": m.start(),
                 "end": m.end(), "confidence_entity": 1.0, "extractor": "StoreEntityExtractor"}
                for m in _ORDER_ID.finditer(text)
            ]
            message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageDetector(_Untrained, EntityExtractorMixin):
    """Sets a ``language`` entity (filling the ``language`` slot).

    Reads the conversation's current language (``metadata.language``) and the
    browser locale (``metadata.locale``) that the server passes with each
    message, so the language is sticky. Put it after the intent classifiers:
    a message in a language we don't author (and can't translate) becomes
    ``nlu_fallback`` instead of a confident FAQ answer.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """``authored``: languages the bot answers natively."""
        return {"authored": list(lang_detect.AUTHORED)}

    def __init__(self, config: Dict[Text, Any]):
        super().__init__(config)
        self._authored = set(config.get("authored") or lang_detect.AUTHORED)
        lang_detect.warm_up()

    def process(self, messages: List[Message]) -> List[Message]:
        """Detects each message's language."""
        for message in messages:
            metadata = message.get("metadata") or {}
            if not isinstance(metadata, dict):
                metadata = {}
            previous = metadata.get("language") if isinstance(metadata.get("language"), str) else None
            locale = metadata.get("locale") if isinstance(metadata.get("locale"), str) else None
            text = message.get(TEXT) or ""
            if text.startswith("/"):  # a button payload: keep the conversation's language
                chosen, detection = previous or lang_detect.normalise_locale(locale) or "en", None
            else:
                chosen, detection = lang_detect.choose_language(text, previous, locale)
            entity = {
                "entity": LANGUAGE_ENTITY, "value": chosen, "start": 0, "end": 0,
                "confidence_entity": detection.confidence if detection else None,
                "extractor": "LanguageDetector",
            }
            message.set(ENTITIES, message.get(ENTITIES, []) + [entity], add_to_output=True)
            if chosen not in self._authored and not metadata.get("translated"):
                self._mark_unsupported(message)
        return messages

    @staticmethod
    def _mark_unsupported(message: Message) -> None:
        intent = message.get(INTENT) or {}
        ranking = message.get(INTENT_RANKING_KEY) or []
        confidence = 1.0 - float(intent.get("confidence") or 0.0)
        fallback = {"name": UNSUPPORTED_LANGUAGE_INTENT, "confidence": confidence}
        message.set(INTENT, fallback, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [fallback] + ranking, add_to_output=True)


def language_of(parse_data: Dict[Text, Any]) -> Optional[str]:
    """The language entity's value in a parse result."""
    for entity in parse_data.get(ENTITIES) or []:
        if entity.get("entity") == LANGUAGE_ENTITY:
            return entity.get("value")
    return None
