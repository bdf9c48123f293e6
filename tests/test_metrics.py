"""``GET /metrics`` on a real server: Prometheus text that parses, with the samples a support day produces."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import AgentClient, ServerProcess, Shopper, add_agent, login

TOKEN = "metrics-token-for-tests"


@pytest.fixture(scope="module")
def metrics_server(model_path, tmp_path_factory):
    process = ServerProcess(tmp_path_factory.mktemp("metrics"), model_path,
                            env={"CROSSDESK_METRICS_TOKEN": TOKEN}).start()
    add_agent(process.var_dir, "mia", "mia-password-1")
    yield process
    process.stop()


def scrape(url: str, token: str = TOKEN) -> tuple[int, str]:
    request = urllib.request.Request(url + "/metrics", headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(text: str) -> dict:
    """``{(sample name, sorted labels): value}`` from the Prometheus text parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_need_the_token_when_one_is_set(metrics_server):
    assert scrape(metrics_server.url, token=None)[0] == 401
    assert scrape(metrics_server.url, token="wrong-token")[0] == 401
    assert scrape(metrics_server.url)[0] == 200


async def test_a_shopper_exchange_and_a_handoff_show_up_in_the_metrics(metrics_server):
    url = metrics_server.url
    before = samples(scrape(url)[1])
    agent = AgentClient(url, login(url, "mia", "mia-password-1")[1]["token"])
    await agent.connect()
    shopper = Shopper(url)
    await shopper.connect()
    await shopper.ask("How long does shipping to Germany take?")
    await shopper.ask("I want to talk to a real person")
    await agent.expect("agent:queue", where=lambda q: any(
        e["conversation_id"] == shopper.session_id for e in q["queue"]))
    claimed = await agent.call("claim", {"conversation_id": shopper.session_id})
    assert claimed["ok"]
    # Queue pushes are coalesced (at most one per 0.1 s): the gauge is set by the push after the claim.
    await agent.expect("agent:queue", where=lambda q: not any(
        e["conversation_id"] == shopper.session_id for e in q["queue"]))
    assert (await agent.call("send", {"conversation_id": shopper.session_id, "text": "Hi, Mia here"}))["ok"]
    assert not (await agent.call("claim", {"conversation_id": "no-such-conversation"}))["ok"]
    assert not (await shopper.say(""))["ok"]  # an empty message is refused: an error by code

    after = samples(scrape(url)[1])
    delta = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)  # noqa: E731
    assert delta("crossdesk_messages_total", direction="in", sender="shopper", language="en") == 2
    # Messages the shopper is sent: the shipping answer; asking for a person sends only the queue notice
    # (system), the bot's own "I'll connect you" is dropped, so neither stored nor counted.
    assert delta("crossdesk_messages_total", direction="out", sender="bot", language="en") == 1
    assert delta("crossdesk_messages_total", direction="out", sender="system", language="en") == 2  # queued, joined
    assert delta("crossdesk_messages_total", direction="out", sender="agent", language="en") == 1
    assert delta("crossdesk_bot_reply_seconds_count") == 2
    assert delta("crossdesk_bot_reply_seconds_sum") > 0
    assert delta("crossdesk_handoffs_total", trigger="request_human") == 1
    assert delta("crossdesk_queue_wait_seconds_count") == 1
    assert value(after, "crossdesk_queue_length") == 0  # claimed: the queue pushed after the claim is empty
    assert value(after, "crossdesk_agents_online") == 1
    assert value(after, "crossdesk_sockets_connected", namespace="/") >= 1
    assert value(after, "crossdesk_sockets_connected", namespace="/agent") == 1
    assert delta("crossdesk_errors_total", code="not_found") == 1
    assert delta("crossdesk_errors_total", code="empty_message") == 1

    await shopper.close()
    await agent.close()
    for _ in range(50):  # disconnects are handled asynchronously
        gone = samples(scrape(url)[1])
        if value(gone, "crossdesk_sockets_connected", namespace="/agent") == 0:
            break
        await asyncio.sleep(0.1)
    assert value(gone, "crossdesk_agents_online") == 0
