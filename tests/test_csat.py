"""CSAT over real sockets: asked after an agent resolves, in the shopper's language, once per resolution."""

import asyncio

import pytest

from tests.support import AgentClient, ServerProcess, Shopper, add_agent, login

REQUEST = "crossdesk:rating_request"


@pytest.fixture(scope="module")
def csat_server(model_path, tmp_path_factory):
    """A server of its own: the last test restarts it."""
    process = ServerProcess(tmp_path_factory.mktemp("csat"), model_path).start()
    add_agent(process.var_dir, "mei", "mei-password-1", languages="ja,en")
    yield process
    process.stop()


def token(server) -> str:
    return login(server.url, "mei", "mei-password-1")[1]["token"]


def recording(shopper: Shopper) -> Shopper:
    shopper.client.on(REQUEST, shopper._recorder(REQUEST))
    return shopper


async def resolved_conversation(server, text="こんにちは", locale="ja", plain_too=False):
    """A shopper whose conversation an agent took over and resolved; (shopper, agent, plain tab or None)."""
    shopper = recording(Shopper(server.url))
    await shopper.connect(locale=locale)
    await shopper.ask(text)
    plain = None
    if plain_too:  # a rasa-webchat-like tab of the same session
        plain = recording(Shopper(server.url))
        await plain.connect(session_id=shopper.session_id, extensions=None)
    agent = AgentClient(server.url, token(server))
    await agent.connect()
    assert (await agent.call("claim", {"conversation_id": shopper.session_id}))["ok"]
    assert (await agent.call("resolve", {"conversation_id": shopper.session_id}))["ok"]
    return shopper, agent, plain


async def rate(shopper: Shopper, payload) -> dict:
    return await shopper.client.call("crossdesk:rating", payload, timeout=15)


async def test_the_shopper_is_asked_in_their_language_and_plain_rasa_tabs_are_not(csat_server):
    shopper, agent, plain = await resolved_conversation(csat_server, plain_too=True)
    _, request = await shopper.expect(REQUEST)
    assert request["language"] == "ja" and "評価" in request["text"] and request["submit"] == "評価を送信"
    assert isinstance(request["resolution_id"], int) and request["scale"] == "5段階中{n}"
    # The plain tab gets the agent-left notice in Rasa's shape, and never the rating request.
    _, left = await plain.expect("bot_uttered")
    assert set(left) == {"text"}
    with pytest.raises((TimeoutError, asyncio.TimeoutError)):
        await plain.expect(REQUEST, timeout=1.5)
    for client in (shopper, plain, agent):
        await client.close()


async def test_ratings_are_validated_and_only_one_per_resolution_counts(csat_server):
    shopper, agent, _ = await resolved_conversation(csat_server, "hello", "en")
    _, request = await shopper.expect(REQUEST)
    assert request["language"] == "en" and "1 (poor) to 5 (excellent)" in request["text"]
    resolution = request["resolution_id"]
    for bad, code in ((0, "invalid_rating"), (6, "invalid_rating"), (4.5, "invalid_rating"), (True, "invalid_rating"),
                      ("5", "invalid_rating"), (None, "invalid_rating")):
        ack = await rate(shopper, {"resolution_id": resolution, "rating": bad})
        assert ack == {"ok": False, "error": code, "message": ack["message"]}, bad
    ack = await rate(shopper, {"resolution_id": resolution, "rating": 4, "comment": "x" * 1001})
    assert ack["error"] == "invalid_comment"
    ack = await rate(shopper, {"resolution_id": resolution + 10_000, "rating": 4})
    assert ack["error"] == "invalid_resolution"
    assert (await rate(shopper, {"resolution_id": resolution, "rating": 5, "comment": " quick and kind "}))["ok"]
    second = await rate(shopper, {"resolution_id": resolution, "rating": 1})
    assert second["ok"] is False and second["error"] == "already_rated"
    for client in (shopper, agent):
        await client.close()


async def test_another_session_cannot_rate_someone_elses_resolution(csat_server):
    shopper, agent, _ = await resolved_conversation(csat_server, "hello", "en")
    _, request = await shopper.expect(REQUEST)
    stranger = Shopper(csat_server.url)
    await stranger.connect()
    ack = await rate(stranger, {"resolution_id": request["resolution_id"], "rating": 1})
    assert ack["ok"] is False and ack["error"] == "invalid_resolution"
    for client in (shopper, stranger, agent):
        await client.close()


async def test_a_reload_asks_again_until_rated_and_ratings_survive_a_restart(csat_server):
    shopper, agent, _ = await resolved_conversation(csat_server, "hello", "en")
    await shopper.expect(REQUEST)
    await shopper.close()
    again = recording(Shopper(csat_server.url))
    await again.connect(session_id=shopper.session_id)
    _, request = await again.expect(REQUEST)  # not rated yet: the reloaded widget asks again
    assert (await rate(again, {"resolution_id": request["resolution_id"], "rating": 3}))["ok"]
    await again.close()
    await agent.close()

    csat_server.stop()
    csat_server.start()
    back = recording(Shopper(csat_server.url))
    await back.connect(session_id=shopper.session_id)
    await back.expect("crossdesk:history")
    with pytest.raises((TimeoutError, asyncio.TimeoutError)):
        await back.expect(REQUEST, timeout=1.5)  # rated: never asked again
    ack = await rate(back, {"resolution_id": request["resolution_id"], "rating": 5})
    assert ack["error"] == "already_rated"  # the stored rating outlived the restart
    await back.close()


# -- CSAT figures (#18) over the known history of tests/kpi_history.py, on SQLite and PostgreSQL --------------

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def kpi_store(request, tmp_path_factory):
    import contextlib

    from handoff.store import SQLStore
    from tests.kpi_history import seed
    from tests.test_kpis import postgres

    with contextlib.ExitStack() as stack:
        url = (f"sqlite:///{tmp_path_factory.mktemp('csat-kpis') / 'crossdesk.db'}" if request.param == "sqlite"
               else stack.enter_context(postgres()))
        store = SQLStore(url)
        seed(store)
        yield store
        store.close()


def test_csat_average_and_distribution_by_language_and_by_agent(kpi_store):
    from handoff import kpis
    from tests.test_kpis import TOKYO_DAY

    report = kpis.compute(kpi_store.engine, kpis.parse_window(TOKYO_DAY))
    by_id = {c["id"]: c for c in report["charts"]}
    languages = by_id["csat_by_language"]
    assert languages["columns"] == ["language", "ratings", "average", "satisfied_pct", "r1", "r2", "r3", "r4", "r5"]
    # c7's 1 was given the evening before (Tokyo): not in the day.
    assert languages["rows"] == [["(all)", 4, 4.0, 75.0, 0, 1, 0, 1, 2],
                                 ["ko", 2, 4.5, 100.0, 0, 0, 0, 1, 1],
                                 ["fr", 1, 2.0, 0.0, 0, 1, 0, 0, 0],
                                 ["ja", 1, 5.0, 100.0, 0, 0, 0, 0, 1]]
    assert by_id["csat_by_agent"]["rows"] == [["Aiko", 1, 5.0, 100.0, 0, 0, 0, 0, 1],
                                              ["Ben", 3, 3.67, 66.7, 0, 1, 0, 1, 1]]
    assert "csat" not in report["pending"]
    csv_text = kpis.chart_csv(by_id["csat_by_agent"])
    assert csv_text.splitlines()[2] == "Ben,3,3.67,66.7,0,1,0,1,1"
    previous_evening = kpis.compute(kpi_store.engine, kpis.parse_window({**TOKYO_DAY, "from": "2026-03-02",
                                                                           "to": "2026-03-02"}))
    assert {c["id"]: c for c in previous_evening["charts"]}["csat_by_language"]["rows"] == [
        ["(all)", 1, 1.0, 0.0, 1, 0, 0, 0, 0], ["en", 1, 1.0, 0.0, 1, 0, 0, 0, 0]]
