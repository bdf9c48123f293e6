"""Latency that machine translation adds per message, against the fake LibreTranslate server.

Rows: deep-translator called directly (the provider round trip alone), then
``TranslationService`` with a cold cache (masking, thread pool, breaker, the same round
trip) and with a warm one (masking and a cache hit). Loopback only; every loop is bounded.
``python -m bench.translation [N]``
"""

from __future__ import annotations

import asyncio
import sys
import time

from deep_translator import LibreTranslator

from bench.common import MESSAGES, percentile
from handoff.translation import TranslationService
from harness.translation_server import FakeLibreTranslate


def _texts(n: int) -> list[str]:
    """N distinct shopper messages (some with an order id, a card or an e-mail)."""
    extras = ["", " card 4242 4242 4242 4242", " mail john@example.com", " call +81 90-1234-5678"]
    return [f"{MESSAGES[i % len(MESSAGES)]}{extras[i % len(extras)]} ({i})" for i in range(n)]


def _figures(seconds: list[float]) -> dict:
    return {"p50": percentile(seconds, 50) * 1000, "p99": percentile(seconds, 99) * 1000}


def _direct(url: str, text: str) -> float:
    """Seconds for a fresh LibreTranslator call, as the service makes it, without the service."""
    started = time.perf_counter()
    translator = LibreTranslator(api_key="none", custom_url=url)
    translator.source, translator.target = "en", "ja"
    translator.translate(text)
    return time.perf_counter() - started


async def _through(service: TranslationService, text: str) -> float:
    started = time.perf_counter()
    result = await service.translate(text, "en", "ja")
    elapsed = time.perf_counter() - started
    if not result.translated:
        raise RuntimeError(f"not translated: {result.error}")
    return elapsed


async def measure(n: int = 200) -> dict:
    """p50/p99 in ms per message: ``direct``, ``cold`` and ``warm``, plus ``added`` (cold - direct).

    Direct and cold calls alternate message by message, after a warm-up, so drift hits both.
    """
    texts = _texts(n)
    with FakeLibreTranslate() as fake:
        service = TranslationService("libre", url=fake.url, timeout=2.0, workers=8,
                                     protected_terms=["Crossdesk"], cache_size=2 * n)
        try:
            for text in _texts(20):
                _direct(fake.url, "warm-up " + text)
                await _through(service, "warm-up " + text)
            before = len(fake.translate_requests)
            direct, cold = [], []
            for text in texts:
                direct.append(_direct(fake.url, text))
                cold.append(await _through(service, text))
            warm = [await _through(service, text) for text in texts]
            requests = len(fake.translate_requests) - before - n  # the service's, not the direct calls'
        finally:
            await service.close()
    figures = {"direct": _figures(direct), "cold": _figures(cold), "warm": _figures(warm)}
    figures["added"] = {q: figures["cold"][q] - figures["direct"][q] for q in ("p50", "p99")}
    return {"messages": n, "provider_requests": requests, **figures}


def table(figures: dict) -> str:
    """The figures as a small text table."""
    rows = [("deep-translator direct", "direct"), ("service, cache cold", "cold"),
            ("service, cache warm", "warm"), ("added by service (cold)", "added")]
    lines = [f"{figures['messages']} messages x 2 passes; {figures['provider_requests']} service requests "
             "reached the provider",
             f"{'':<26}{'p50 ms':>9}{'p99 ms':>9}"]
    lines += [f"{label:<26}{figures[key]['p50']:>9.2f}{figures[key]['p99']:>9.2f}" for label, key in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(asyncio.run(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 200))))
