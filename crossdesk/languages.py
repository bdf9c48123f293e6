"""The languages Crossdesk knows, by what it does with them: the one place each list is written.

Codes are lower-case ISO 639-1, except ``zh-CN`` and ``zh-TW``.
"""

from __future__ import annotations

AUTHORED = ("en", "ja", "zh-CN", "zh-TW", "ko", "fr", "de", "es")
"""Languages with hand-written training data and responses: the bot answers them natively."""

WIDGET = AUTHORED + ("ar", "he")
"""Languages of the widget's own strings (``widget/crossdesk.js``, ``STRINGS``); ar and he are right-to-left."""

KNOWN = AUTHORED + (
    "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs", "tr", "id", "vi", "ro", "hu",
    "ru", "uk", "bg", "mk", "ar", "fa", "ur", "he", "hi", "th", "el",
)
"""Every code the detector may answer and a translator may be asked for: authored, then the long tail."""
