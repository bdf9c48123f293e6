"""Custom Rasa NLU components: a CJK-aware tokenizer, entities, language.

Registered with Rasa's ``DefaultV1Recipe`` and referenced from ``config.yml``
by module path (``bot.components.CrossdeskTokenizer`` ...).
"""

from __future__ import annotations

import random
import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ENTITIES, FEATURE_TYPE_SENTENCE, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import language as lang_detect
from bot.chat_spelling import written_out
from bot.intent_classifier import SAMPLE_WEIGHT
from bot.typos import TYPO_COPY, with_typos
from crossdesk.languages import AUTHORED
from crossdesk.store_facts import Gazetteer, PaymentMethods
from crossdesk.words import CJK, HANGUL, MAX_ANSWER_WORDS, TOKEN, answer_words

# Order ids: "SS-10482", "A10234", "#4501-22871". The boundaries are ASCII, not \w: CJK text
# runs into an id without spaces ("注文番号SS-10482の荷物"). Digits alone are an id unless a unit or
# currency sign makes them an amount or a date ("¥20000", "20000円", "2024年").
_ORDER_ID = re.compile(
    r"(?<![0-9A-Za-z#])#?[A-Z]{1,3}-?\d{4,}(?![0-9A-Za-z-])"
    r"|(?<![0-9A-Za-z#¥$€£₩.,-])#?\d{4,}(?:-\d{3,})*(?![0-9A-Za-z-]|[.,]\d|[円年月日個件元块塊원년월일개])"
)

COUNTRY_MARK = "\ua66e"  # ꙮ: a word character no language we handle uses
LANGUAGE_ENTITY = "language"
UNSUPPORTED_LANGUAGE_INTENT = "nlu_fallback"
NOT_UNDERSTOOD_INTENT = "nlu_fallback"

# A message that is little more than an order id or a country is an answer to "send me your
# order number" / "which country?", which the classifier (trained on questions) cannot place.
# With other words than the entity, out_of_scope is a placement too (see ``_unplaced``).
UNPLACED_INTENTS = ("nlu_fallback",)
OFF_TOPIC_INTENT = "out_of_scope"
UNSURE_CONFIDENCE = 0.5  # "オーストラリアです" (Australia, it is): affirm at 0.37
ANSWER_INTENTS = {"order_id": "order_tracking", "country": "shipping_destinations"}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class CrossdeskTokenizer(Tokenizer):
    """Splits text into the words of ``crossdesk.words.TOKEN``; a run of CJK characters is one token.

    Rasa's WhitespaceTokenizer refuses ja/zh and its emoji regex swallows CJK;
    this one keeps every script. The character n-gram featurizers (``config.yml``)
    then see CJK words in their order (送料 as a bigram, not 送 and 料 apart).
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
        tokens = _third_parties(_written_out([_token(m, countries) for m in TOKEN.finditer(text)]))
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


# Other companies a shopper may ask us about (other shops and marketplaces, airlines, banks, food
# delivery, streaming): one mark in the lemma, so "the return policy at Zara" and "ユニクロの返品" share
# a feature the off-topic examples teach across languages, as COUNTRY_MARK does for countries. Names
# the shop's own answers use are left out (Amazon Pay, Revolut cards, 楽天ペイ, 쿠팡페이, WhatsApp), and so are banks:
# "mi débito es de BBVA, lo aceptan?" is a payment question (the fixed split lost it with BBVA as the mark).
THIRD_PARTY_MARK = "\ua66d"  # ꙭ: like COUNTRY_MARK, a word character no language we handle uses
THIRD_PARTY_WORDS = frozenset({
    "adidas", "airbnb", "aldi", "aliexpress", "argos", "asda", "asos", "auchan", "blablacar", "boulanger",
    "carrefour", "cdiscount", "conforama", "costco", "currys", "darty", "decathlon", "deliveroo", "disney",
    "doordash", "easyjet", "ebay", "emirates", "etsy", "expedia", "flixbus", "fnac", "glovo", "gmarket", "iberia",
    "ikea", "instagram", "kaufland", "kiabi", "klm", "lazada", "leboncoin", "leclerc", "lidl", "lieferando",
    "lufthansa", "lyft", "mcdonalds", "mediamarkt", "mercadona", "mercari", "morrisons", "musinsa", "netflix", "nike",
    "ocado", "otto", "ouigo", "pccomponentes", "primark", "renfe", "rossmann", "ryanair", "sainsburys", "sephora",
    "shein", "shopee", "sncf", "spotify", "starbucks", "strava", "taobao", "tchibo", "temu", "tesco", "trainline",
    "transavia", "uber", "uniqlo", "vinted", "vueling", "walmart", "wallapop", "wolt", "zalando", "zara",
    "zozotown"})
THIRD_PARTY_BEFORE = {"amazon": frozenset({"pay"}), "rakuten": frozenset({"pay"}), "coupang": frozenset({"pay"})}
"""Names that are the mark unless one of these words follows (Amazon Pay is one of our payment methods)."""
THIRD_PARTY_CJK = ("ユニクロ", "無印良品", "メルカリ", "ヨドバシ", "ビックカメラ", "しまむら", "イケア", "ナイキ",
                   "コストコ", "优衣库", "優衣庫", "无印良品", "淘宝", "天猫", "京东", "拼多多", "美团", "饿了么", "滴滴",
                   "家乐福", "屈臣氏", "开市客", "蝦皮", "家樂福", "好市多", "全聯", "華航", "長榮", "유니클로", "무신사",
                   "이케아", "코스트코", "나이키", "대한항공", "아시아나", "이마트", "다이소")


def _third_parties(tokens: List[Token]) -> List[Token]:
    """Other companies' names in each lemma replaced by ``THIRD_PARTY_MARK``."""
    for token, following in zip(tokens, tokens[1:] + [None]):
        lemma = token.lemma
        if lemma in THIRD_PARTY_WORDS or (
                lemma in THIRD_PARTY_BEFORE and (following is None or following.lemma not in THIRD_PARTY_BEFORE[lemma])):
            token.lemma = THIRD_PARTY_MARK
        elif not lemma.isascii():
            for name in THIRD_PARTY_CJK:
                if name in lemma:
                    token.lemma = lemma = lemma.replace(name, THIRD_PARTY_MARK)
    return tokens


def _written_out(tokens: List[Token]) -> List[Token]:
    """Chat spelling in each lemma written out as the training examples spell it ("pls" -> "please",
    "cam i" -> "can i"; ``bot/chat_spelling.py``); the token's text and offsets stay as typed."""
    for token, following in zip(tokens, tokens[1:] + [None]):
        token.lemma = written_out(token.lemma, following.lemma if following else None)
    return tokens


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


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class TypoCopies(_Untrained):
    """Adds weighted noisy copies (1-2 seeded character edits, ``bot.typos``) of the training examples of a script.

    A Japanese message is one run of characters: an edited character changes every character n-gram that
    covers it, a large part of a short message's, and half of the ja typo misses of the fixed split fell
    under the fallback threshold. Trained on copies with such edits as well, the classifier relies on more
    of each intent's n-grams. Each copy is marked ``TYPO_COPY`` (the featurizer learns its vocabulary from
    the examples alone, so a copy's new n-grams are unknown, as a shopper's are) and weighs ``weight`` in
    the fit (``SAMPLE_WEIGHT``; the idf and the class balance are the examples'). Put it right after the
    tokenizer. Config: ``pattern`` (an example with a match is copied; kana: Japanese), ``copies`` per
    example, ``weight``, ``seed``. Messages to parse are left alone.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Four copies, each weighing a quarter, of each example with kana (docs/pipeline.md, session 12)."""
        return {"pattern": "[\u3040-\u30ff]", "copies": 4, "weight": 0.25, "seed": 0}

    def __init__(self, config: Dict[Text, Any], tokenizer: Optional[CrossdeskTokenizer] = None):
        super().__init__(config)
        self._tokenizer = tokenizer or CrossdeskTokenizer(CrossdeskTokenizer.get_default_config())

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """The training data with the tokenized copies after its examples (the input is left as it was)."""
        pattern = re.compile(self._config["pattern"])
        copies = [self._copy(example, number) for example in training_data.intent_examples
                  if pattern.search(example.get(TEXT) or "") for number in range(self._config["copies"])]
        self._tokenizer.process(copies)
        augmented = TrainingData()
        augmented.__dict__.update({k: v for k, v in training_data.__dict__.items() if not k.startswith("_lazy_")})
        augmented.training_examples = training_data.training_examples + copies
        return augmented

    def _copy(self, example: Message, number: int) -> Message:
        text = example.get(TEXT)
        noisy = with_typos(text, random.Random(f"{self._config['seed']}|{number}|{text}"))
        return Message(data={TEXT: noisy, INTENT: example.get(INTENT), TYPO_COPY: True,
                             SAMPLE_WEIGHT: self._config["weight"]})

    def process(self, messages: List[Message]) -> List[Message]:
        """Messages to parse are left alone."""
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class StoreEntityExtractor(_Untrained, EntityExtractorMixin):
    """Extracts ``country`` (ISO alpha-2 via the gazetteer), ``order_id`` and ``payment_method``.

    The gazetteers are read when the model loads, so editing ``data/store/countries.yml``
    or ``payment_methods.yml`` needs a restart, not a retrain.
    """

    def __init__(self, config: Dict[Text, Any], gazetteer: Optional[Gazetteer] = None,
                 payment_methods: Optional[PaymentMethods] = None):
        super().__init__(config)
        self._gazetteer = gazetteer or Gazetteer.from_file()
        self._payment_methods = payment_methods or PaymentMethods.from_file()

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds country, order id and payment method entities; places answers (see ``_place_answer``)."""
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
            entities += [
                {"entity": "payment_method", "value": m.code, "start": m.start, "end": m.end,
                 "confidence_entity": 1.0, "extractor": "StoreEntityExtractor"}
                for m in self._payment_methods.find(text)
            ]
            message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
            _place_answer(message, text, entities)
        return messages


def _distinctive(entity: Dict[Text, Any]) -> bool:
    """Whether an entity alone says what it is: "1234" may be a PIN or a year (our data has it as
    out_of_scope), "SS-20991" and "4501-22871" are order ids."""
    value = str(entity.get("value") or "")
    return entity["entity"] != "order_id" or not value.isdigit() or len(value) >= 6


def _unplaced(intent: Dict[Text, Any]) -> bool:
    """Whether the classifier could not place a short message with other words than the entity: not
    understood, or a shop intent under ``UNSURE_CONFIDENCE``. ``out_of_scope`` is a placement, however
    unsure: "flights to Japan", "visa for Thailand?" were shipping answers (out_of_scope 0.13-0.56 first)."""
    name = intent.get("name")
    return name != OFF_TOPIC_INTENT and (name in UNPLACED_INTENTS or float(intent.get("confidence") or 0) < UNSURE_CONFIDENCE)


def _place_answer(message: Message, text: str, entities: List[Dict[Text, Any]]) -> None:
    """Turn a short message the classifier could not place (or placed unsurely), holding an
    order id or a country, into the intent that answers with it (a bare order id into
    ``order_tracking``). A message that is the entity alone is placed whatever the classifier guessed.
    """
    kinds = [kind for kind in ANSWER_INTENTS if any(e["entity"] == kind for e in entities)]
    if len(kinds) != 1 or not all(_distinctive(e) for e in entities if e["entity"] == kinds[0]):
        return
    words = answer_words(text, [e for e in entities if e["entity"] == kinds[0]])
    if len(words) > MAX_ANSWER_WORDS or (words and not _unplaced(message.get(INTENT) or {})):
        return
    placed = {"name": ANSWER_INTENTS[kinds[0]], "confidence": 1.0}
    ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != placed["name"]]
    message.set(INTENT, placed, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [placed] + ranking, add_to_output=True)


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
        return {"authored": list(AUTHORED)}

    def __init__(self, config: Dict[Text, Any]):
        super().__init__(config)
        self._authored = set(config.get("authored") or AUTHORED)
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


# Where a message splits into sentences: after . ! ? ; : (and their full-width forms), at a line
# break, after 。！？；： without a space. "No. 4501" splits too, harmlessly: each part is only a
# candidate. A colon introduces the question ("one more thing: do you ship to Brazil?"); "10:30" and
# "https://" have no space after theirs.
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|(?<=[。！？；：])|\n+")
_CLAUSE_END = re.compile(r"(?<=[,])\s+|(?<=[，、])")
SENTENCE_OF = "sentence_of"
"""Key of a sentence part's message: the ``id`` of the message it was cut from."""
NOT_CHOSEN_FROM_SENTENCES = {"greet", "goodbye", "thank", "affirm", "deny", "out_of_scope"}
SMALL_TALK = NOT_CHOSEN_FROM_SENTENCES - {"out_of_scope"}


def sentences(text: str, clauses: bool = False) -> List[str]:
    """The sentences of ``text`` (with ``clauses``, also split at commas) that hold a word character."""
    parts = [p for p in _SENTENCE_END.split(text) if p]
    if clauses:
        parts = [c for p in parts for c in _CLAUSE_END.split(p) if c]
    return [p.strip() for p in parts if TOKEN.search(p)]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceSplitter(_Untrained):
    """Adds each sentence of a message of several sentences as a message of its own, after the message.

    The featurizers and the intent classifier then see each sentence too, in the same batch;
    ``SentenceIntentChooser`` (after the classifier) picks from them and removes them. Put it right
    after the tokenizer. Training examples are left alone. Config: ``clauses`` (also split at commas).
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Sentences only by default."""
        return {"clauses": False}

    def __init__(self, config: Dict[Text, Any], tokenizer: Optional[CrossdeskTokenizer] = None):
        super().__init__(config)
        self._tokenizer = tokenizer or CrossdeskTokenizer(CrossdeskTokenizer.get_default_config())

    def process(self, messages: List[Message]) -> List[Message]:
        """The messages, each followed by its sentences (tokenized) when it has two or more."""
        result = []
        for message in messages:
            result.append(message)
            text = message.get(TEXT)
            if not isinstance(text, str) or text.startswith("/") or message.get(SENTENCE_OF) is not None:
                continue
            parts = sentences(text, self._config.get("clauses", False))
            if len(parts) < 2:
                continue
            for part in parts:
                sentence = Message(data={TEXT: part, SENTENCE_OF: id(message)})
                self._tokenizer.process([sentence])
                result.append(sentence)
        return result


_QUESTION_END = re.compile(r"[?？]\s*$")


def _story_taken_for_off_topic(candidates: List[Message], shop_floor: Optional[float]) -> bool:
    """Whether the off-topic sentences among ``candidates`` are story, not the request: some shop sentence is
    at least ``shop_floor`` confident, and no off-topic sentence is a question unless a sure shop one is too.

    Stories and courtesies around a question are often off-topic to the classifier ("I bought a couple of
    things for my sister's birthday." out_of_scope 0.9): they declined 200 of 717 en long test rows of the
    fixed split (docs/pipeline.md, session 10). "My parcel came yesterday. Who won the match last night?"
    is still declined: its off-topic sentence is the question.
    """
    if shop_floor is None:
        return False
    sure_shop = [p for p in candidates if p.get(INTENT)["name"] != "out_of_scope"
                 and float(p.get(INTENT)["confidence"] or 0.0) >= shop_floor]
    off_topic = [p for p in candidates if p.get(INTENT)["name"] == "out_of_scope"]
    if not sure_shop or not off_topic:
        return False
    asked = lambda parts: any(_QUESTION_END.search(p.get(TEXT) or "") for p in parts)  # noqa: E731
    return not (asked(off_topic) and not asked(sure_shop))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class SentenceIntentChooser(_Untrained):
    """Answers the most confident answerable sentence of a long message when the whole is unsure.

    Context around a question ("I ordered a jacket last week. It's too small. Can I swap it?",
    "お世話になっております。…？よろしくお願いします。") dilutes the question's n-grams; alone, the
    question is classified as a short message is. Put it right after the intent classifier (before
    ``FallbackClassifier``). Config: ``unsure`` (below this confidence of the whole message, a surer
    sentence wins), ``sentence_floor`` (a whole message taken for a greeting, thanks or out-of-scope
    gives way to a sentence with a shop intent at least this confident), ``decline_floor`` (an
    off-topic sentence competes only from this confidence on: a story sentence the classifier finds
    vaguely off-topic, "I'm usually between an S and an M.", must not decline the question after it),
    ``outweigh`` (a sentence at least this much surer than the whole wins even when the whole looks
    sure: one-against-the-rest confidences make a story sentence's guess look sure, "I ordered last
    week. Can I pay with PayPal?" was shipping_time 0.70 with the question alone payment_methods 0.99),
    ``shop_floor`` (an off-topic sentence that is not a question, "My neighbour recommended your shop
    last month.", does not compete with a shop sentence at least this confident; ``None``: it does).
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Measured on ``data/eval/robust_dev.tsv`` (docs/pipeline.md)."""
        return {"unsure": 0.6, "sentence_floor": 0.6, "decline_floor": 0.5, "outweigh": 0.25, "shop_floor": None}

    def process(self, messages: List[Message]) -> List[Message]:
        """Each message's intent, from a sentence when that is surer; the sentence messages removed."""
        parts: Dict[int, List[Message]] = {}
        for message in messages:
            if message.get(SENTENCE_OF) is not None:
                parts.setdefault(message.get(SENTENCE_OF), []).append(message)
        whole = [m for m in messages if m.get(SENTENCE_OF) is None]
        for message in whole:
            self._choose(message, parts.get(id(message), []))
        if parts:
            messages[:] = whole  # (Rasa reads the first message of the list it passed in)
        return messages

    def _choose(self, message: Message, parts: List[Message]) -> None:
        intent = message.get(INTENT) or {}
        confidence = float(intent.get("confidence") or 0.0)
        # A sentence that is off-topic ("…. Anyway, what's the weather tomorrow?") competes too: when
        # it is the surest, the message is declined rather than answered from its story.
        answerable = [p for p in parts if (p.get(INTENT) or {}).get("name") not in SMALL_TALK and (
            p.get(INTENT)["name"] != "out_of_scope" or float(p.get(INTENT)["confidence"] or 0.0)
            >= self._config["decline_floor"])]
        if _story_taken_for_off_topic(answerable, self._config.get("shop_floor")):
            answerable = [p for p in answerable if p.get(INTENT)["name"] != "out_of_scope"]
        if not answerable:
            return
        best = max(answerable, key=lambda p: float((p.get(INTENT) or {}).get("confidence") or 0.0))
        surest = float(best.get(INTENT)["confidence"] or 0.0)
        unsure = confidence < self._config["unsure"] and surest > confidence
        outweighed = surest - confidence >= self._config["outweigh"]
        not_a_question = intent.get("name") in NOT_CHOSEN_FROM_SENTENCES and surest >= self._config["sentence_floor"]
        if unsure or outweighed or not_a_question:
            message.set(INTENT, best.get(INTENT), add_to_output=True)
            message.set(INTENT_RANKING_KEY, best.get(INTENT_RANKING_KEY), add_to_output=True)


_PHRASE_SCRIPTS = re.compile(f"[{CJK}{HANGUL}]")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class UnknownWordsFallback(_Untrained):
    """A message none of whose words the model learnt, taken for off-topic only unsurely, is not understood.

    Such a message ("blorf quengel wumm") is classified from character n-grams alone, and those resemble
    whatever the off-topic examples hold: more off-topic examples made it ``out_of_scope`` 0.113 (over the
    0.1 fallback) and the shopper was told we don't handle that instead of "Sorry, I didn't get that."
    Put it after ``SentenceIntentChooser``, before ``FallbackClassifier``. Config: ``word_block`` (which of
    the message's sparse sentence feature blocks, in pipeline order, holds its word counts: the first block
    of ``BatchNgramFeaturizer``), ``below`` (an ``out_of_scope`` confidence from which the message is
    declined all the same). A shop intent is left alone: a misspelt question ("wher iz mi parcle") has no
    known word either, and its character n-grams are what places it. So is a message with CJK or Hangul: its
    "words" are whole runs and eojeols, often unseen in a clear question (at 0.2, 79 off-topic ja/zh/ko test
    rows of the fixed split would have fallen back).
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The word counts are the first block; measured in docs/pipeline.md (session 11, round 2)."""
        return {"word_block": 0, "below": 0.2}

    def process(self, messages: List[Message]) -> List[Message]:
        """``nlu_fallback`` for each unsure off-topic message with no known word."""
        for message in messages:
            intent = message.get(INTENT) or {}
            confidence = float(intent.get("confidence") or 0.0)
            if intent.get("name") == "out_of_scope" and confidence < self._config["below"] \
                    and not _PHRASE_SCRIPTS.search(message.get(TEXT) or "") \
                    and known_words(message, self._config["word_block"]) == 0:
                fallback = {"name": NOT_UNDERSTOOD_INTENT, "confidence": 1.0 - confidence}
                message.set(INTENT, fallback, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [fallback] + (message.get(INTENT_RANKING_KEY) or []),
                            add_to_output=True)
        return messages


def known_words(message: Message, word_block: int = 0) -> Optional[int]:
    """How many of the message's words are in the model's word vocabulary (non-zero columns of its sentence
    feature block ``word_block``); ``None`` when the message has no such block (not featurized)."""
    blocks = [f for f in message.features
              if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE and f.is_sparse()]
    if word_block >= len(blocks):
        return None
    return int(blocks[word_block].features.nnz)
