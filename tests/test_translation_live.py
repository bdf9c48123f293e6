"""Translation inside the running server: long-tail shoppers, agents in another language, failing providers.

The tests with a working provider come first: the failing ones open the server's circuit breaker.

The server runs deep-translator's real LibreTranslate client against a fake
LibreTranslate on 127.0.0.1 (``[<target>] <text>`` answers).
"""

import asyncio
import time

import pytest

from tests.browser import chromium, needs_chromium, open_page, screenshot
from tests.support import AgentClient, ServerProcess, Shopper, add_agent, login
from harness.translation_server import FakeLibreTranslate

ITALIAN = "quanto tempo ci vuole per la spedizione in Germania?"


@pytest.fixture(scope="module")
def provider():
    phrasebook = {("en", ITALIAN): "how long does shipping to Germany take?"}
    with FakeLibreTranslate("ok", phrasebook) as fake:
        yield fake


@pytest.fixture(scope="module")
def translating_server(model_path, tmp_path_factory, provider):
    env = {"CROSSDESK_TRANSLATOR": "libre", "CROSSDESK_TRANSLATOR_URL": provider.url,
           "CROSSDESK_TRANSLATOR_TIMEOUT": "0.5", "CROSSDESK_PROTECTED_TERMS": "Sakura Select"}
    server = ServerProcess(tmp_path_factory.mktemp("var"), model_path, env=env).start()
    add_agent(server.var_dir, "aiko", "aiko-password-1", languages="ja")
    yield server
    server.stop()


@pytest.fixture
def mode(provider):
    yield lambda name: setattr(provider, "mode", name)
    provider.mode = "ok"


async def test_long_tail_shopper_gets_the_answer_in_their_language(translating_server, provider):
    shopper = Shopper(translating_server.url)
    await shopper.connect()
    reply = await shopper.ask(ITALIAN)
    # The fake provider translated the question to English for the NLU and the answer back to Italian.
    assert provider.seen(ITALIAN)
    assert reply["text"].startswith("[it] ") and "Germany" in reply["text"] and reply["language"] == "it"
    assert not reply.get("untranslated")
    await shopper.close()


@needs_chromium
async def test_console_shows_original_and_translation_and_previews_the_reply(translating_server):
    shopper = Shopper(translating_server.url)
    await shopper.connect()
    await shopper.ask("Bonjour, je voudrais parler à quelqu'un")
    async with chromium() as browser:
        context = await browser.new_context(locale="ja-JP")
        page = await open_page(context, translating_server.url + "/console")
        await page.fill("#login-form [name=username]", "aiko")
        await page.fill("#login-form [name=password]", "aiko-password-1")
        await page.click("#login-form button[type=submit]")
        await page.locator(f"#queue li[data-id='{shopper.session_id}'] button.claim").click()
        view = page.locator(f".conversation[data-id='{shopper.session_id}']")
        pair = view.locator(".msg.shopper .pair").first
        await pair.wait_for(timeout=10000)
        assert await pair.locator(".original").inner_text() == "Bonjour, je voudrais parler à quelqu'un"
        assert (await pair.locator(".translated").inner_text()).startswith("[ja] Bonjour")
        reply = view.locator("textarea.reply-text")
        await reply.fill("少々お待ちください")
        await reply.press("Enter")
        preview = view.locator("textarea.preview")
        await preview.wait_for()
        assert await preview.input_value() == "[fr] 少々お待ちください"
        await preview.fill("Un instant, s'il vous plaît")  # the agent may edit the translation
        await preview.press("Enter")
        _, delivered = await shopper.expect("bot_uttered", where=lambda m: m.get("sender") == "agent")
        assert delivered["text"] == "Un instant, s'il vous plaît"
        sent = view.locator(".msg.agent .pair")
        await sent.wait_for()
        assert "少々お待ちください" in await sent.inner_text()
        await screenshot(page, "console-translation")
        await view.locator("button.handback").click()
    await shopper.close()


async def test_agent_sees_translations_and_previews_replies(translating_server, provider):
    token = login(translating_server.url, "aiko", "aiko-password-1")[1]["token"]
    agent = AgentClient(translating_server.url, token)
    agent.client.on("agent:translation", agent._recorder("agent:translation"), namespace="/agent")
    hello = await agent.connect()
    assert hello["translator"] is True
    shopper = Shopper(translating_server.url)
    await shopper.connect()
    await shopper.ask("Je veux parler à un conseiller, s'il vous plaît")
    claimed = await agent.call("claim", {"conversation_id": shopper.session_id})
    assert claimed["ok"] and claimed["conversation"]["language"] == "fr"
    _, backlog = await agent.expect("agent:translation")
    assert backlog["translation"]["text"].startswith("[ja] ")

    await shopper.say("Mon colis n'est pas arrivé, numéro #A10234, mail jean@example.com")
    _, relayed = await agent.expect("agent:shopper_message")
    assert relayed["message"]["text"].startswith("Mon colis")  # the original arrives first
    _, translated = await agent.expect("agent:translation",
                                       where=lambda t: t["message_id"] == relayed["message"]["id"])
    text = translated["translation"]["text"]
    assert text.startswith("[ja] ") and "#A10234" in text and "jean@example.com" not in text
    assert not provider.seen("jean@example.com")  # masked before it left

    preview = await agent.call("translate", {"conversation_id": shopper.session_id, "text": "確認します"})
    assert preview["translation"] == {"text": "[fr] 確認します", "language": "fr", "translated": True, "error": None}
    sent = await agent.call("send", {"conversation_id": shopper.session_id, "text": "[fr] 確認します",
                                     "original": "確認します"})
    assert sent["ok"]
    _, delivered = await shopper.expect("bot_uttered", where=lambda m: m.get("sender") == "agent")
    assert delivered["text"] == "[fr] 確認します"
    bundle = (await agent.call("claim", {"conversation_id": shopper.session_id}))  # already mine: refused
    assert bundle["ok"] is False
    await agent.call("resolve", {"conversation_id": shopper.session_id, "outcome": "answered"})
    await shopper.close()
    await agent.close()


async def claimed_by_aiko(server, request: str) -> tuple[AgentClient, Shopper]:
    """A French shopper who asked for a person (``request``), claimed by the Japanese agent aiko."""
    token = login(server.url, "aiko", "aiko-password-1")[1]["token"]
    agent = AgentClient(server.url, token)
    await agent.connect()
    shopper = Shopper(server.url)
    await shopper.connect()
    await shopper.ask(request)
    assert (await agent.call("claim", {"conversation_id": shopper.session_id}))["ok"]
    return agent, shopper


async def test_a_waiting_preview_does_not_hold_up_the_agents_reply(translating_server, mode):
    """Agent events run concurrently: a reply sent while a preview waits on the provider goes at once.

    (One hanging call: the circuit breaker stays closed for the tests below.)
    """
    agent, shopper = await claimed_by_aiko(translating_server, "Je veux parler à un humain tout de suite")
    mode("hang")
    preview = asyncio.ensure_future(agent.call("translate", {"conversation_id": shopper.session_id,
                                                             "text": "少々お待ちください、確認中です"}))
    await asyncio.sleep(0.05)  # the preview is with the provider
    sent = await agent.call("send", {"conversation_id": shopper.session_id, "text": "Un instant, je vérifie"})
    assert sent["ok"] and not preview.done()
    _, delivered = await shopper.expect("bot_uttered", where=lambda m: m.get("sender") == "agent")
    assert delivered["text"] == "Un instant, je vérifie"
    assert (await preview)["translation"]["translated"] is False  # the budget ran out: the draft as written
    await agent.call("resolve", {"conversation_id": shopper.session_id})
    await shopper.close()
    await agent.close()


@pytest.mark.parametrize("failure", ["rate_limited", "error", "hang"])
async def test_failing_provider_keeps_bot_replies_under_a_second(translating_server, mode, failure):
    mode(failure)
    shopper = Shopper(translating_server.url)
    await shopper.connect()
    started = time.monotonic()
    reply = await shopper.ask(f"{ITALIAN} grazie mille ({failure})")  # not in the translation cache
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"{failure}: reply took {elapsed:.2f}s"
    # No guess in a language the bot can't read: it says so, and offers a person.
    assert not reply["text"].startswith("[it]") and "can't answer in your language" in reply["text"]
    await shopper.close()


async def test_agent_still_gets_every_message_when_the_provider_hangs(translating_server, mode):
    agent, shopper = await claimed_by_aiko(translating_server, "Je veux parler à un humain")
    mode("hang")
    texts = [f"message numéro {n} pour le service client" for n in range(5)]
    for text in texts:
        assert (await shopper.say(text))["ok"]
    received = []
    for _ in texts:
        _, message = await agent.expect("agent:shopper_message", timeout=5)
        received.append(message["message"]["text"])
    assert received == texts
    await agent.call("resolve", {"conversation_id": shopper.session_id})
    await shopper.close()
    await agent.close()

