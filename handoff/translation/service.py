"""Machine translation for the agent console, never slower than ``translator_timeout``.

deep-translator is blocking and its translators are not thread-safe, so each call builds a
new translator and runs in a bounded thread pool. A call that is slow, refused or failing
gives back the original text with an error code; it never raises.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Mapping, Optional

import requests

from crossdesk import compat
from handoff import metrics
from handoff.translation.breaker import CircuitBreaker
from handoff.translation.languages import MICROSOFT, normalise, provider_code
from handoff.translation.privacy import protect, restore

logger = logging.getLogger(__name__)

PROVIDERS = ("none", "google", "libre", "deepl", "microsoft")
DISABLED, SAME_LANGUAGE, UNSUPPORTED = "disabled", "same_language", "unsupported_language"
TIMEOUT, RATE_LIMITED, UNAVAILABLE = "timeout", "rate_limited", "unavailable"
CIRCUIT_OPEN, BUSY = "circuit_open", "busy"
LIBRE_NO_KEY = "none"
"""deep-translator's LibreTranslator refuses an empty key; servers without keys ignore this one."""


@dataclass(frozen=True)
class Translation:
    """A message for a reader in another language.

    Attributes:
        text: the translation, or the original when not translated.
        original: the message as written.
        source, target: our language codes.
        translated: whether ``text`` is a provider's translation.
        error: why not translated: None, ``disabled``, ``same_language``,
            ``unsupported_language``, ``timeout``, ``rate_limited``, ``unavailable``,
            ``circuit_open`` or ``busy``.
    """

    text: str
    original: str
    source: str
    target: str
    translated: bool = False
    error: Optional[str] = None


class _Cache:
    """A small LRU of provider answers (masked text in, masked text out)."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[tuple, str] = OrderedDict()

    def get(self, key: tuple) -> Optional[str]:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: tuple, value: str) -> None:
        if self.size <= 0:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


# deep-translator calls requests without a timeout, so a provider that never answers would
# hold a worker thread (and interpreter exit, which joins pool threads) forever. Requests
# made from our worker threads get the service's timeout instead; other callers are untouched
# (``compat.install_request_timeout``).
_worker = threading.local()


def _worker_timeout() -> Optional[float]:
    return getattr(_worker, "timeout", None)


@functools.lru_cache(maxsize=None)
def _microsoft_class() -> type:
    """MicrosoftTranslator without its per-instance download of the language list.

    Its constructor fetches the list (no timeout, no key) on every instance; our
    ``languages.MICROSOFT`` table is the list we use instead.
    """
    from deep_translator import MicrosoftTranslator

    return type("_Microsoft", (compat.FixedLanguageList, MicrosoftTranslator),
                {"fixed_languages": {code: code for code in MICROSOFT.values()}, "__module__": __name__})


def _deep_translator(name: str, **options) -> object:
    # deep-translator (with BeautifulSoup) is imported on the first translation, in a worker thread, not at
    # the server's start: 0.15 s of it (issue #21), and stores without a provider never need it.
    import deep_translator

    return getattr(deep_translator, name)(**options)


def _factories(url: str, key: str, region: Optional[str]) -> dict[str, Callable[[], object]]:
    """Per provider, a function building a fresh deep-translator instance."""
    libre_url = url.rstrip("/") + "/" if url else None  # deep-translator appends "translate"
    return {
        "google": lambda: _deep_translator("GoogleTranslator"),
        "libre": lambda: _deep_translator("LibreTranslator", api_key=key or LIBRE_NO_KEY, custom_url=libre_url),
        "deepl": lambda: _deep_translator("DeeplTranslator", api_key=key, use_free_api=key.endswith(":fx")),
        "microsoft": lambda: _microsoft_class()(api_key=key, region=region),
    }


def classify(exc: BaseException) -> str:
    """Our error code for an exception from a provider call."""
    if isinstance(exc, (asyncio.TimeoutError, requests.Timeout)):
        return TIMEOUT
    from deep_translator.exceptions import (
        InvalidSourceOrTargetLanguage,
        LanguageNotSupportedException,
        MicrosoftAPIerror,
        ServerException,
        TooManyRequests,
    )

    if isinstance(exc, TooManyRequests):
        return RATE_LIMITED
    if isinstance(exc, ServerException) and str(exc) == ServerException.errors[429]:
        return RATE_LIMITED
    if isinstance(exc, MicrosoftAPIerror) and "429" in exc.api_message:
        return RATE_LIMITED
    if isinstance(exc, (LanguageNotSupportedException, InvalidSourceOrTargetLanguage)):
        return UNSUPPORTED
    return UNAVAILABLE


class TranslationService:
    """Translates messages between shoppers and agents through one provider.

    Args:
        provider: ``none``, ``google``, ``libre``, ``deepl`` or ``microsoft``.
        url: endpoint (LibreTranslate server); unused by the other providers.
        key: API key (required by ``deepl`` and ``microsoft``; DeepL free keys end in ``:fx``).
        timeout: seconds before the original text is used instead.
        workers: threads for provider calls; beyond them a call is ``busy`` at once.
        protected_terms: names never translated (case-insensitive).
        cache_size: translations kept (LRU); 0 disables the cache.
        breaker: circuit breaker; defaults to 5 failures and a 30 s cooldown.
        region: Microsoft resource region, when the resource needs one.
        language_overrides: our code -> provider code, over ``languages`` (e.g. ``LIBRE_HAN_SCRIPT``).
    """

    def __init__(self, provider: str = "none", url: str = "", key: str = "", timeout: float = 2.0,
                 workers: int = 8, protected_terms: Iterable[str] = (), cache_size: int = 1024,
                 breaker: Optional[CircuitBreaker] = None, region: Optional[str] = None,
                 language_overrides: Optional[Mapping[str, str]] = None):
        if provider not in PROVIDERS:
            raise ValueError(f"unknown translator {provider!r}; use one of {', '.join(PROVIDERS)}")
        if provider in ("deepl", "microsoft") and not key:
            raise ValueError(f"the {provider} translator needs translator_key")
        self.provider = provider
        self.timeout = timeout
        self.protected_terms = list(protected_terms)
        self.breaker = breaker or CircuitBreaker()
        self.language_overrides = language_overrides
        self._cache = _Cache(cache_size)
        self._build = _factories(url, key, region).get(provider)
        self._slots = threading.BoundedSemaphore(max(1, workers))
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="translator")
        self._closed = False
        compat.install_request_timeout(_worker_timeout)

    @classmethod
    def from_settings(cls, settings, **overrides) -> "TranslationService":
        """A service configured by ``Settings`` (``translator*`` and ``protected_terms``)."""
        options = dict(provider=settings.translator, url=settings.translator_url,
                       key=settings.translator_key, timeout=settings.translator_timeout,
                       workers=settings.translator_workers,
                       protected_terms=settings.protected_term_list,
                       region=settings.translator_region or None)
        return cls(**{**options, **overrides})

    async def translate(self, text: str, source: str, target: str) -> Translation:
        """``text`` in ``target``, or the original with the reason it was not translated."""
        source, target = normalise(source), normalise(target)
        result = Translation(text=text, original=text, source=source, target=target)
        codes = self._codes(source, target)
        unsent = self._unsent(result, codes)
        if unsent is not None:
            return unsent
        masked, restore_map = protect(text, self.protected_terms)
        key = (self.provider, source, target, masked)
        answer = self._cache.get(key)
        if answer is None:
            started = time.perf_counter()
            answer, error = await self._call(masked, *codes)
            metrics.translation(self.provider, error, time.perf_counter() - started)
            if error:
                return replace(result, error=error)
            self._cache.put(key, answer)
        return replace(result, text=restore(answer, restore_map), translated=True)

    def clear_cache(self) -> None:
        """Forget every cached translation (after a shopper's data was erased)."""
        self._cache = _Cache(self._cache.size)

    async def close(self) -> None:
        """Stop the pool; calls still stuck on a provider are abandoned, not awaited."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _codes(self, source: str, target: str) -> tuple[Optional[str], Optional[str]]:
        return (provider_code(self.provider, source, self.language_overrides),
                provider_code(self.provider, target, self.language_overrides))

    def _unsent(self, result: Translation, codes: tuple) -> Optional[Translation]:
        """The answer for a message not sent to the provider, or None to send it."""
        if self.provider == "none":
            return replace(result, error=DISABLED)
        if result.source == result.target:
            return replace(result, error=SAME_LANGUAGE)
        if not result.original.strip():
            return result
        if None in codes:
            return replace(result, error=UNSUPPORTED)
        return None

    async def _call(self, masked: str, source: str, target: str) -> tuple[Optional[str], Optional[str]]:
        """(answer, None) or (None, error) from the provider, within the timeout."""
        if self._closed:
            return None, UNAVAILABLE
        if not self._slots.acquire(blocking=False):
            return None, BUSY
        if not self.breaker.allow():
            self._slots.release()
            return None, CIRCUIT_OPEN
        future = self._pool.submit(self._blocking_translate, masked, source, target)
        future.add_done_callback(lambda _: self._slots.release())
        try:
            answer = await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except asyncio.CancelledError:
            self.breaker.cancel()  # our caller gave up: no verdict on the provider
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes an error code
            return None, self._failed(exc)
        self.breaker.success()
        return answer, None

    def _failed(self, exc: BaseException) -> str:
        error = classify(exc)
        if error == UNSUPPORTED:
            self.breaker.cancel()  # the provider answered; the language pair is the problem
        else:
            self.breaker.failure()
        logger.warning("translation via %s failed: %s (%s)", self.provider, error, type(exc).__name__)
        return error

    def _blocking_translate(self, masked: str, source: str, target: str) -> str:
        """One provider call in a worker thread, with a fresh translator."""
        _worker.timeout = self.timeout
        translator = self._build()
        # Set codes after building: deep-translator's own lists are stale (see languages.py).
        translator.source, translator.target = source, target
        answer = translator.translate(masked)
        if not isinstance(answer, str):
            raise ValueError("the provider gave no translation")
        return answer

