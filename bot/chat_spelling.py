"""Chat spelling, written out as the training examples spell it: a short table per language, not a spell checker.

The tokenizer (``bot.components.CrossdeskTokenizer``) puts the written-out form in each token's
lemma, which is what the featurizers count, for the training examples and for shoppers' messages
alike: "pls cancel" and "please cancel" give the same n-grams, and so do "cam i pay" and "can i pay".
The tokenizer does not know a message's language (it is detected later), so one word has one
meaning across all tables: an abbreviation two languages read differently ("pq": porque /
pourquoi) or a short form that is a word elsewhere ("y" is Spanish "and", French elision leaves
"d", "l", "j") is left out. ``tests/test_robustness.py`` checks that the tables agree.

This file is a training input (``bot/training.py`` fingerprints it): a change here needs a retrain.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

# Whole words (lower case, as the tokenizer splits them: "can't" is "can" + "t", so "cant" is "can t").
WORDS: Dict[str, Dict[str, str]] = {
    "en": {
        "pls": "please", "plz": "please", "plse": "please", "pleas": "please", "pleaze": "please",
        "thx": "thanks", "thnx": "thanks", "thanx": "thanks", "tnx": "thanks", "ty": "thank you",
        "u": "you", "ur": "your",  # ("im" is German "in dem": left out)
        "r": "are", "wat": "what", "wut": "what", "whats": "what s",
        "hw": "how", "abt": "about", "bc": "because", "cuz": "because", "coz": "because",
        "cant": "can t", "dont": "don t", "didnt": "didn t", "doesnt": "doesn t", "isnt": "isn t",
        "wont": "won t", "havent": "haven t", "hasnt": "hasn t", "wasnt": "wasn t",
        "ive": "i ve", "wheres": "where s", "hows": "how s", "wanna": "want to", "gonna": "going to",
        "gimme": "give me", "cud": "could", "cld": "could", "wud": "would", "shud": "should",
        "tmrw": "tomorrow", "tmr": "tomorrow", "2day": "today", "b4": "before", "rn": "right now",
        "pkg": "package", "pckg": "package", "addy": "address", "msg": "message", "sry": "sorry",
        "srry": "sorry", "idk": "i don t know", "lmk": "let me know", "asap": "as soon as possible",
        "canu": "can you", "cani": "can i", "uhelp": "you help",
    },
    "fr": {
        "svp": "s il vous plaît", "stp": "s il te plaît", "slvp": "s il vous plaît",
        "mrc": "merci", "mci": "merci", "bcp": "beaucoup", "qd": "quand", "cmt": "comment",
        "jai": "j ai", "jveux": "je veux", "chui": "je suis", "dsl": "désolé", "tjrs": "toujours",
        "pcq": "parce que", "ajd": "aujourd hui", "auj": "aujourd hui",
        "rdv": "rendez vous", "pr": "pour", "ds": "dans", "koi": "quoi", "kan": "quand",
    },
    "de": {
        "bitteschön": "bitte", "nich": "nicht", "nix": "nichts",
        "gibts": "gibt es", "gehts": "geht es", "hab": "habe", "kannste": "kannst du",
        "vllt": "vielleicht", "evtl": "eventuell", "wg": "wegen", "mfg": "mit freundlichen grüßen",
        "lg": "liebe grüße", "dnk": "danke", "bzgl": "bezüglich",
    },
    "es": {
        "porfa": "por favor", "porfis": "por favor", "xfa": "por favor", "xfavor": "por favor",
        "q": "que", "k": "que", "xq": "porque", "porq": "porque", "tb": "también", "tmb": "también",
        "tbn": "también", "grax": "gracias", "grs": "gracias", "ola": "hola",
        "dnd": "dónde", "tdv": "todavía", "tdvia": "todavía", "cdo": "cuándo", "pa": "para", "nd": "nada", "bn": "bien", "msj": "mensaje",
    },
    "ko": {
        "ㄳ": "감사합니다", "ㄳㄳ": "감사합니다", "ㄱㅅ": "감사합니다", "ㄱㅅㄱㅅ": "감사합니다", "ㅈㅅ": "죄송합니다",
        "ㅇㅇ": "네", "ㅇㅋ": "오케이", "ㄴㄴ": "아니요", "ㅎㅇ": "안녕하세요", "ㅂㅂ": "안녕히 계세요",
        "ㅂㅇ": "안녕히 계세요",
    },
}

# Before a given next word only: "cam i" is "can i", "cam" alone is a camera.
BEFORE_NEXT: Dict[str, Dict[Tuple[str, frozenset], str]] = {
    "en": {
        ("cam", frozenset({"i", "you", "u", "we", "it", "my"})): "can",
        ("cn", frozenset({"i", "you", "u", "we", "it", "my"})): "can",
        ("hoe", frozenset({"long", "much", "many", "do", "can", "to", "soon"})): "how",
        ("wen", frozenset({"will", "is", "does", "do", "can", "are"})): "when",
    },
}

# Inside a run of CJK characters (Chinese and Japanese write without spaces: no whole words to match).
SUBSTRINGS: Dict[str, Dict[str, str]] = {
    "zh-CN": {"肿么": "怎么", "神马": "什么", "木有": "没有", "介个": "这个", "酱紫": "这样子", "桑心": "伤心"},
    "zh-TW": {"醬子": "這樣子", "偶要": "我要", "母湯": "不行"},
    "ja": {"あざす": "ありがとうございます", "あざっす": "ありがとうございます", "おなしゃす": "お願いします",
           "よろです": "よろしくお願いします"},
}


def _merged_words() -> Dict[str, str]:
    merged: Dict[str, str] = {}
    for table in WORDS.values():
        merged.update(table)
    return merged


ALL_WORDS = _merged_words()
ALL_BEFORE_NEXT = {key: value for table in BEFORE_NEXT.values() for key, value in table.items()}
ALL_SUBSTRINGS = {key: value for table in SUBSTRINGS.values() for key, value in table.items()}


def written_out(word: str, next_word: Optional[str] = None) -> str:
    """``word`` (lower case) as the training examples would spell it; unchanged when no table has it."""
    if word in ALL_WORDS:
        return ALL_WORDS[word]
    for (short, nexts), full in ALL_BEFORE_NEXT.items():
        if word == short and next_word in nexts:
            return full
    if any(short in word for short in ALL_SUBSTRINGS):
        for short, full in ALL_SUBSTRINGS.items():
            word = word.replace(short, full.lower())
    return word
