"""Our language codes and each provider's code for them: the one place they are mapped.

Our codes are the ones the bot uses (``crossdesk.languages``): lower-case ISO 639-1, except
``zh-CN`` and ``zh-TW``. A language missing from a provider's table is not sent to it
(``unsupported_language``); deep-translator's own lists are not consulted because some
are stale (LibreTranslate: 17 languages in deep-translator 1.11.4, no Traditional Chinese).
"""

from __future__ import annotations

from typing import Mapping, Optional

from crossdesk.languages import KNOWN

LANGUAGES = KNOWN
"""Every code we may pass: authored languages, then the long tail the detector answers."""

_ALIASES = {"zh": "zh-CN", "zh-hans": "zh-CN", "zh-sg": "zh-CN", "zh-hant": "zh-TW", "zh-hk": "zh-TW",
            "zh-mo": "zh-TW", "iw": "he", "nb": "no", "nn": "no", "in": "id"}


def _same(*codes: str) -> dict[str, str]:
    return {code: code for code in codes}


GOOGLE = {**_same(*LANGUAGES), "he": "iw"}
"""Google Translate (deep-translator's ``GoogleTranslator``): our codes, Hebrew as ``iw``."""

LIBRE = {
    **_same("en", "ja", "ko", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "fi", "pl", "cs",
            "tr", "id", "vi", "ro", "hu", "ru", "uk", "bg", "ar", "fa", "ur", "he", "hi", "th", "el"),
    "zh-CN": "zh", "zh-TW": "zt", "no": "nb",
}
"""LibreTranslate as self-hosted servers (Argos models) name languages."""

LIBRE_HAN_SCRIPT = {"zh-CN": "zh-Hans", "zh-TW": "zh-Hant"}
"""Overrides for newer LibreTranslate servers (libretranslate.com) that use BCP 47 script tags."""

DEEPL = {
    **_same("en", "ja", "ko", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "fi", "pl", "cs",
            "tr", "id", "ro", "hu", "ru", "uk", "bg", "el"),
    "zh-CN": "zh",
}
"""DeepL: deep-translator's list plus Korean. No Traditional Chinese (``zh`` is Simplified)."""

MICROSOFT = {**_same(*LANGUAGES), "zh-CN": "zh-hans", "zh-TW": "zh-hant", "no": "nb"}
"""Microsoft Translator, lower-cased as deep-translator keeps them."""

PROVIDERS: dict[str, Mapping[str, str]] = {
    "google": GOOGLE, "libre": LIBRE, "deepl": DEEPL, "microsoft": MICROSOFT,
}


def normalise(code: Optional[str]) -> str:
    """Our code for a code as detectors and browsers write it (``zh-tw``, ``pt-BR``, ``iw``)."""
    raw = (code or "").strip().replace("_", "-")
    lowered = raw.lower()
    if lowered in ("zh-cn", "zh-tw"):
        return lowered[:3] + lowered[3:].upper()
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    if lowered.startswith("zh-"):
        return "zh-TW" if any(p in ("hant", "tw", "hk", "mo") for p in lowered.split("-")) else "zh-CN"
    return lowered.split("-")[0]


def provider_code(provider: str, code: str, overrides: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The provider's code for one of ours, or None when the provider lacks the language.

    Args:
        provider: ``google``, ``libre``, ``deepl`` or ``microsoft``.
        code: our language code (see ``normalise``).
        overrides: our code -> provider code, replacing table entries (e.g. ``LIBRE_HAN_SCRIPT``).
    """
    if overrides and code in overrides:
        return overrides[code]
    return PROVIDERS.get(provider, {}).get(code)
