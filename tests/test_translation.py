"""TranslationService against a real (fake) LibreTranslate server through deep-translator."""

from __future__ import annotations

import asyncio
import time

import pytest
from deep_translator.constants import DEEPL_LANGUAGE_TO_CODE, GOOGLE_LANGUAGES_TO_CODES

from handoff.settings import Settings
from handoff.translation import Translation, TranslationService
from handoff.translation.breaker import CircuitBreaker
from handoff.translation.languages import DEEPL, GOOGLE, LANGUAGES, LIBRE, normalise, provider_code
from handoff.translation.privacy import protect, restore
from harness.translation_server import FakeLibreTranslate, down_url, fake_translation

TIMEOUT = 0.3
CARD = "4242 4242 4242 4242"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake():
    server = FakeLibreTranslate().start()
    yield server
    server.stop()


@pytest.fixture
async def make_service():
    """Builds services (libre, 0.3 s timeout by default) and closes them after the test."""
    services: list[TranslationService] = []

    def make(url: str, **options) -> TranslationService:
        options = {"provider": "libre", "timeout": TIMEOUT, "workers": 4, **options}
        service = TranslationService(url=url, **options)
        services.append(service)
        return service

    yield make
    for service in services:
        await service.close()


def queries(fake: FakeLibreTranslate) -> list[str]:
    return [r["params"]["q"] for r in fake.translate_requests]


# --- translating ---------------------------------------------------------------------------

async def test_translates_with_provider_codes(fake, make_service):
    service = make_service(fake.url)

    traditional = await service.translate("Where is my parcel?", "en", "zh-TW")
    simplified = await service.translate("Where is my parcel?", "en", "zh-cn")
    english = await service.translate("荷物はどこですか", "ja", "en")

    assert traditional == Translation(text="[zt] Where is my parcel?", original="Where is my parcel?",
                                      source="en", target="zh-TW", translated=True, error=None)
    assert (simplified.text, simplified.target) == ("[zh] Where is my parcel?", "zh-CN")
    assert english.text == "[en] 荷物はどこですか"
    sent = [(r["params"]["source"], r["params"]["target"]) for r in fake.translate_requests]
    assert sent == [("en", "zt"), ("en", "zh"), ("ja", "en")]


async def test_from_settings(fake):
    settings = Settings(translator="libre", translator_url=fake.url.rstrip("/"), translator_timeout=TIMEOUT,
                        translator_workers=2, protected_terms="Crossdesk, Acme Pay")
    service = TranslationService.from_settings(settings)
    try:
        result = await service.translate("Crossdesk and acme pay rock", "en", "fr")
    finally:
        await service.close()

    assert result.text == "[fr] Crossdesk and acme pay rock"
    assert queries(fake) == ["[#1] and [#2] rock"]


async def test_cache_answers_the_second_time_without_a_request(fake, make_service):
    service = make_service(fake.url)

    first = await service.translate("How much is shipping?", "en", "ja")
    second = await service.translate("How much is shipping?", "en", "ja")

    assert first == second and first.translated
    assert len(fake.translate_requests) == 1


async def test_cache_is_keyed_by_masked_text_and_keeps_each_readers_mask(fake, make_service):
    service = make_service(fake.url)

    first = await service.translate(f"card {CARD} declined", "en", "ja")
    second = await service.translate("card 5555 5555 5555 4444 declined", "en", "ja")

    assert first.text == "[ja] card **** **** **** 4242 declined"
    assert second.text == "[ja] card **** **** **** 4444 declined"
    assert queries(fake) == ["card [#1] declined"]


async def test_failures_are_not_cached(fake, make_service):
    service = make_service(fake.url)
    fake.mode = "error"
    assert (await service.translate("hello", "en", "de")).error == "unavailable"
    fake.mode = "ok"

    result = await service.translate("hello", "en", "de")

    assert result.text == "[de] hello"
    assert len(fake.translate_requests) == 2


# --- when it does not translate --------------------------------------------------------------

async def test_provider_none_is_disabled():
    service = TranslationService.from_settings(Settings())
    try:
        result = await service.translate("hello", "en", "ja")
    finally:
        await service.close()
    assert (result.text, result.translated, result.error) == ("hello", False, "disabled")


@pytest.mark.parametrize("text, source, target, error", [
    ("hello", "en", "en", "same_language"),
    ("你好", "zh-tw", "zh-TW", "same_language"),
    ("   ", "en", "ja", None),
    ("", "en", "ja", None),
    ("hello", "en", "mk", "unsupported_language"),
    ("hello", "xx", "en", "unsupported_language"),
])
async def test_not_sent(fake, make_service, text, source, target, error):
    service = make_service(fake.url)

    result = await service.translate(text, source, target)

    assert (result.text, result.translated, result.error) == (text, False, error)
    assert fake.translate_requests == []


@pytest.mark.parametrize("mode, error", [
    ("down", "unavailable"), ("rate_limited", "rate_limited"), ("error", "unavailable"), ("hang", "timeout"),
])
async def test_provider_failure_gives_the_original_within_the_timeout(fake, make_service, mode, error):
    if mode == "down":
        service = make_service(down_url())
    else:
        fake.mode = mode
        service = make_service(fake.url)

    started = time.perf_counter()
    result = await service.translate("Where is my order?", "en", "ja")
    elapsed = time.perf_counter() - started

    assert (result.text, result.translated, result.error) == ("Where is my order?", False, error)
    assert elapsed < 1.0
    if mode != "down":
        assert len(fake.translate_requests) == 1


async def test_all_workers_stuck_is_busy_at_once_and_workers_come_back(fake, make_service):
    fake.mode = "hang"
    service = make_service(fake.url, workers=2, breaker=CircuitBreaker(failures=100))

    async def timed(text: str):
        started = time.perf_counter()
        result = await service.translate(text, "en", "ja")
        return result, time.perf_counter() - started

    results = await asyncio.gather(timed("one"), timed("two"), timed("three"))

    assert [r.error for r, _ in results] == ["timeout", "timeout", "busy"]
    assert results[2][1] < 0.1
    assert len(fake.translate_requests) == 2
    # deep-translator sets no HTTP timeout; the service's own frees the stuck threads.
    fake.mode = "ok"
    await asyncio.sleep(TIMEOUT + 0.3)
    assert (await service.translate("four", "en", "ja")).text == "[ja] four"


async def test_close_does_not_wait_for_stuck_calls(fake, make_service):
    fake.mode = "hang"
    service = make_service(fake.url, timeout=5)
    call = asyncio.create_task(service.translate("hello", "en", "ja"))
    await asyncio.sleep(0.1)

    started = time.perf_counter()
    await service.close()

    assert time.perf_counter() - started < 0.1
    call.cancel()


# --- circuit breaker ----------------------------------------------------------------------------

async def test_breaker_opens_after_failures_and_recovers_after_cooldown(fake, make_service):
    clock = Clock()
    service = make_service(fake.url, breaker=CircuitBreaker(failures=3, cooldown=10, clock=clock))
    fake.mode = "error"

    errors = [(await service.translate(f"message {i}", "en", "ja")).error for i in range(5)]

    assert errors == ["unavailable"] * 3 + ["circuit_open"] * 2
    assert len(fake.translate_requests) == 3

    fake.mode = "ok"
    clock.now += 9
    assert (await service.translate("still open", "en", "ja")).error == "circuit_open"
    clock.now += 1
    recovered = await service.translate("trial", "en", "ja")
    after = await service.translate("after", "en", "ja")

    assert (recovered.text, after.text) == ("[ja] trial", "[ja] after")
    assert len(fake.translate_requests) == 5


async def test_failed_trial_opens_the_breaker_again(fake, make_service):
    clock = Clock()
    service = make_service(fake.url, breaker=CircuitBreaker(failures=2, cooldown=10, clock=clock))
    fake.mode = "rate_limited"
    for i in range(2):
        await service.translate(f"m{i}", "en", "ja")
    clock.now += 10

    trial = await service.translate("trial", "en", "ja")
    next_one = await service.translate("next", "en", "ja")

    assert (trial.error, next_one.error) == ("rate_limited", "circuit_open")
    assert len(fake.translate_requests) == 3


async def test_a_cancelled_trial_does_not_wedge_the_breaker(fake, make_service):
    clock = Clock()
    service = make_service(fake.url, timeout=5, breaker=CircuitBreaker(failures=1, cooldown=10, clock=clock))
    fake.mode = "error"
    await service.translate("fails", "en", "ja")
    clock.now += 10
    fake.mode = "hang"
    trial = asyncio.create_task(service.translate("trial", "en", "ja"))
    await asyncio.sleep(0.1)
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    fake.mode = "ok"

    result = await service.translate("next", "en", "ja")

    assert result.text == "[ja] next"


async def test_closed_service_does_not_call_the_provider(fake, make_service):
    service = make_service(fake.url)
    await service.close()

    result = await service.translate("hello", "en", "ja")

    assert (result.text, result.error) == ("hello", "unavailable")
    assert fake.translate_requests == []


def test_breaker_half_open_lets_one_trial_through():
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown=5, clock=clock)
    breaker.failure()
    assert (breaker.state, breaker.allow()) == ("open", False)
    clock.now += 5
    assert breaker.state == "half_open"
    assert [breaker.allow(), breaker.allow()] == [True, False]
    breaker.success()
    assert (breaker.state, breaker.allow()) == ("closed", True)


# --- privacy ----------------------------------------------------------------------------------

async def test_private_data_never_reaches_the_provider_and_the_reader_sees_masks(fake, make_service):
    service = make_service(fake.url)
    text = (f"My card {CARD} was charged twice, mail me at john.doe@example.com "
            "or call +81 90-1234-5678, (555) 123-4567 or 090-1234-5678")

    result = await service.translate(text, "en", "ja")

    assert result.text == ("[ja] My card **** **** **** 4242 was charged twice, mail me at j***@example.com "
                           "or call ***-***-5678, ***-***-4567 or ***-***-5678")
    for secret in (CARD, "4242424242424242", "john.doe", "example.com", "90-1234", "1234-5678",
                   "123-4567", "555"):
        assert not fake.seen(secret), secret
    digits = "".join(ch for ch in queries(fake)[0] if ch.isdigit())
    assert "4242" not in digits and "5678" not in digits


async def test_order_ids_and_terms_travel_as_tokens_and_come_back_verbatim(fake, make_service):
    service = make_service(fake.url, protected_terms=["Crossdesk", "Acme Pay"])
    text = "注文#A10234とA10235、4501-22871はcrossdeskのACME PAYで払いました"

    result = await service.translate(text, "ja", "en")

    assert result.text == "[en] " + text
    sent = queries(fake)[0]
    for kept in ("A10234", "A10235", "4501-22871", "crossdesk", "ACME PAY"):
        assert kept not in sent and not fake.seen(kept)
    assert sent == "注文[#3]と[#4]、[#5]は[#1]の[#2]で払いました"


def test_protect_and_restore_roundtrip():
    text = "Card 4111-1111-1111-1111, order #A10234, Crossdesk, x@y.io, literal [#1]"
    masked, restore_map = protect(text, ["crossdesk"])

    assert "4111" not in masked and "A10234" not in masked and "x@y.io" not in masked
    assert restore(masked, restore_map) == ("Card **** **** **** 1111, order #A10234, Crossdesk, "
                                            "x***@y.io, literal [#1]")


def test_tokens_survive_what_providers_do_to_them():
    masked, restore_map = protect("pay 4242424242424242 for #A10234", [])
    assert masked == "pay [#1] for [#2]"

    mangled = "[ja] 支払い ［＃１］ for [# 2]"

    assert restore(mangled, restore_map) == "[ja] 支払い **** **** **** 4242 for #A10234"
    assert restore(fake_translation(masked, "fr"), restore_map) == "[fr] pay **** **** **** 4242 for #A10234"


@pytest.mark.parametrize("text", [
    "4242 4242 4242 4241 is not a card (Luhn)",
    "shipped 2024-05-12, total 1,299 yen, 3 items",
    "call me at 555-1234",
])
def test_leaves_non_private_numbers_alone(text):
    masked, restore_map = protect(text, [])
    assert restore(masked, restore_map) == text
    assert "****" not in restore(masked, restore_map)


@pytest.mark.parametrize("text, reader_sees", [
    ("カードは４２４２　４２４２　４２４２　４２４２です", "カードは**** **** **** ４２４２です"),
    ("電話は０９０－１２３４－５６７８まで", "電話は***-***-５６７８まで"),
    ("携帯09012345678に電話ください", "携帯***-***-5678に電話ください"),
    ("call +1 (555) 123-4567 or +447911123456", "call ***-***-4567 or ***-***-3456"),
    ("amex 3782 822463 10005", "amex **** **** **** 0005"),
    ("メールはjohn@example.comまで", "メールはj***@example.comまで"),
])
def test_masks_the_ways_shoppers_write_them(text, reader_sees):
    masked, restore_map = protect(text, [])
    assert not any(ch.isdigit() for ch in masked.replace("[#1]", "").replace("[#2]", ""))
    assert "@" not in masked
    assert restore(masked, restore_map) == reader_sees


def test_card_next_to_a_phone_number():
    masked, restore_map = protect(f"{CARD} 090-1234-5678", [])
    assert restore(masked, restore_map) == "**** **** **** 4242 ***-***-5678"


# --- other providers, with requests faked (nothing may reach the internet) ---------------------

class FakeResponse:
    def __init__(self, payload=None, text: str = "", status_code: int = 200):
        self.payload, self.text, self.status_code = payload, text, status_code

    def json(self):
        return self.payload

    def close(self) -> None:
        pass


@pytest.fixture
def provider_calls(monkeypatch):
    """Replaces requests.get/post with fakes answering as Google, DeepL and Microsoft do."""
    calls: list[tuple[str, str, dict]] = []

    def get(url, params=None, **kwargs):
        calls.append(("GET", url, dict(params or {})))
        if "deepl" in url:
            return FakeResponse({"translations": [{"text": f"[{params['target_lang']}] {params['text']}"}]})
        if "google" in url:
            return FakeResponse(text=f'<div class="result-container">[{params["tl"]}] {params["q"]}</div>')
        raise AssertionError(f"unexpected GET {url}")

    def post(url, params=None, json=None, **kwargs):
        calls.append(("POST", url, dict(params or {})))
        if "microsofttranslator" in url:
            return FakeResponse([{"translations": [{"text": f"[{params['to']}] {json[0]['text']}", "to": "x"}]}])
        raise AssertionError(f"unexpected POST {url}")

    monkeypatch.setattr("requests.get", get)
    monkeypatch.setattr("requests.post", post)
    return calls


@pytest.mark.parametrize("provider, key, target, code, url", [
    ("google", "", "he", "iw", "https://translate.google.com/m"),
    ("google", "", "zh-TW", "zh-TW", "https://translate.google.com/m"),
    ("deepl", "secret:fx", "zh-CN", "zh", "https://api-free.deepl.com/v2/translate"),
    ("deepl", "secret", "ko", "ko", "https://api.deepl.com/v2/translate"),
    ("microsoft", "secret", "zh-TW", "zh-hant", "https://api.cognitive.microsofttranslator.com/translate"),
])
async def test_other_providers_get_their_codes(provider_calls, provider, key, target, code, url):
    service = TranslationService(provider, key=key, timeout=TIMEOUT, workers=1, protected_terms=["Crossdesk"])
    try:
        result = await service.translate("Crossdesk card 4242 4242 4242 4242", "en", target)
    finally:
        await service.close()

    assert result.text == f"[{code}] Crossdesk card **** **** **** 4242"
    assert [(method, sent.split("?")[0]) for method, sent, _ in provider_calls] == [
        ("GET" if provider != "microsoft" else "POST", url)]
    assert "4242" not in str(provider_calls)


# --- languages --------------------------------------------------------------------------------

def test_language_tables():
    assert set(GOOGLE.values()) <= set(GOOGLE_LANGUAGES_TO_CODES.values())
    assert set(DEEPL.values()) - set(DEEPL_LANGUAGE_TO_CODE.values()) == {"ko"}
    assert set(LIBRE) <= set(LANGUAGES) and LIBRE["zh-TW"] == "zt"
    assert provider_code("libre", "zh-TW", {"zh-TW": "zh-Hant"}) == "zh-Hant"
    assert provider_code("deepl", "zh-TW") is None
    assert provider_code("google", "he") == "iw"


@pytest.mark.parametrize("raw, ours", [
    ("zh-tw", "zh-TW"), ("zh-cn", "zh-CN"), ("zh", "zh-CN"), ("zh-Hant-HK", "zh-TW"),
    ("pt-BR", "pt"), ("iw", "he"), ("EN", "en"), ("ja", "ja"),
])
def test_normalise(raw, ours):
    assert normalise(raw) == ours


def test_misconfiguration_fails_early():
    with pytest.raises(ValueError):
        TranslationService("yandex")
    with pytest.raises(ValueError):
        TranslationService("deepl")
