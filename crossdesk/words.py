"""How Crossdesk splits a message into words: the NLU tokenizer and the actions count the same words.

This file is a training input (``bot/training.py`` fingerprints it): the tokenizer's pattern
changes what the model learns.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Text

# A token is a run of word characters outside CJK and Hangul (Latin, Cyrillic, digits...), a
# run of CJK characters (kana/Han/halfwidth katakana, written without spaces: one token for the
# whole run, whose words the character n-gram featurizers see), or a run of Hangul (Korean puts
# spaces between words, so a run is a word).
CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9d"
HANGUL = r"\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f"
TOKEN = re.compile(rf"[{CJK}]+|[{HANGUL}]+|[^\W{CJK}{HANGUL}]+", re.UNICODE)

MAX_ANSWER_WORDS = 3
"""Most words besides an entity in a message that answers the bot's question with it:
"it's SS-20991", "注文番号は SS-20991 です", "to Australia please"."""


def answer_words(text: str, entities: List[Dict[Text, Any]]) -> List[str]:
    """The words of ``text`` outside its entities (a CJK run counts as one word)."""
    spans = sorted((e["start"], e["end"]) for e in entities if e.get("end", 0) > e.get("start", 0))
    rest, position = [], 0
    for start, end in spans:
        rest.append(text[position:start])
        position = max(position, end)
    rest.append(text[position:])
    return TOKEN.findall(" ".join(rest))
