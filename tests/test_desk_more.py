"""The agent desk's remaining pieces of issue #19 over the real app (in-process, fake bot), through the console API:
editing and deleting private notes (own ones; an admin any), kept in the audit log, and an earlier conversation
of a verified customer that another agent handled, read from the customer panel."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request

import pytest
import pytest_asyncio

from tests.inprocess import closed, served, until

pytestmark = pytest.mark.asyncio(loop_scope="module")
SECRET = "desk-more-identity-secret"


def sign(customer_id: str) -> str:
    return hmac.new(SECRET.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(tmp_path_factory):
    async with served(tmp_path_factory.mktemp("desk-more"), identity_secret=SECRET) as running:
        yield running


def api(desk, token: str, method: str, path: str, body=None) -> tuple[int, dict]:
    """One console API call: (status, JSON)."""
    request = urllib.request.Request(desk.url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def call(desk, *args, **kwargs):
    import asyncio

    return await asyncio.get_running_loop().run_in_executor(None, lambda: api(desk, *args, **kwargs))


async def claimed(desk, username: str, **say):
    """A shopper who asked for a person, claimed by ``username``: (shopper, agent client)."""
    shopper = await desk.shopper()
    assert (await shopper.say("I want a human", **say))["ok"]
    await until(lambda: desk.app.ctx.store.get_conversation(shopper.session_id).state == "waiting")
    agent, _ = await desk.agent(username)
    ack = await agent.call("claim", {"conversation_id": shopper.session_id})
    assert ack["ok"], ack
    return shopper, agent


async def test_an_agent_edits_and_deletes_their_own_note_not_anothers_an_admin_any_and_the_audit_keeps_who_when(desk):
    writer, other, admin = (desk.agent_token("desk19-writer"), desk.agent_token("desk19-other"),
                            desk.agent_token("desk19-admin", role="admin"))
    shopper, agent = await claimed(desk, "desk19-writer")
    cid = shopper.session_id
    _, first = await call(desk, writer, "POST", f"/api/conversations/{cid}/notes", {"text": "Offered 10% voucher"})
    _, second = await call(desk, writer, "POST", f"/api/conversations/{cid}/notes", {"text": "Call back Monday"})
    first, second = first["note"], second["note"]

    status, edited = await call(desk, writer, "PUT", f"/api/conversations/{cid}/notes/{first['id']}",
                                {"text": "Offered 15% voucher"})
    assert status == 200 and edited["note"]["text"] == "Offered 15% voucher"
    assert edited["note"]["created_at"] == first["created_at"] and edited["note"]["author"] == first["author"]
    # Another agent (who may read it: it was handed to them) may not change it.
    other_client, _ = await desk.agent("desk19-other")
    ack = await agent.call("transfer", {"conversation_id": cid,
                                        "agent_id": desk.app.ctx.agents.by_username("desk19-other").id})
    assert ack["ok"], ack
    assert (await call(desk, other, "GET", f"/api/conversations/{cid}/desk"))[0] == 200
    status, error = await call(desk, other, "PUT", f"/api/conversations/{cid}/notes/{first['id']}", {"text": "x"})
    assert (status, error["error"]) == (403, "forbidden")
    assert (await call(desk, other, "DELETE", f"/api/conversations/{cid}/notes/{first['id']}"))[0] == 403
    assert (await call(desk, admin, "DELETE", f"/api/conversations/{cid}/notes/{second['id']}"))[0] == 200
    status, error = await call(desk, writer, "PUT", f"/api/conversations/{cid}/notes/{second['id']}", {"text": "y"})
    assert (status, error["error"]) == (404, "not_found")
    assert (await call(desk, writer, "PUT", f"/api/conversations/{cid}/notes/{first['id']}", {"text": " "}))[1][
        "error"] == "invalid_note"
    status, deleted = await call(desk, writer, "DELETE", f"/api/conversations/{cid}/notes/{first['id']}")
    assert status == 200 and deleted["notes"] == []

    _, panel = await call(desk, admin, "GET", f"/api/conversations/{cid}/desk")
    assert panel["notes"] == []
    changes = [(e["agent"], e["details"]["change"], e["details"]["note_id"])
               for e in desk.app.ctx.audit.entries(action="note_changed") if e["target"] == cid]
    assert changes == [("desk19-writer", "deleted", first["id"]), ("desk19-admin", "deleted", second["id"]),
                       ("desk19-writer", "edited", first["id"])]  # (newest first), each with its time
    await closed(shopper, agent, other_client)


async def test_an_earlier_conversation_another_agent_handled_is_readable_from_the_customer_panel(desk):
    first_agent, second_agent = desk.agent_token("desk19-early"), desk.agent_token("desk19-late")
    user = {"id": "cust-77", "name": "Mia", "email": "mia@example.com"}
    earlier, agent1 = await claimed(desk, "desk19-early", metadata={"user": {**user, "hash": sign("cust-77")}})
    assert (await agent1.call("send", {"conversation_id": earlier.session_id, "text": "Your refund is on its way"}))["ok"]
    assert (await agent1.call("resolve", {"conversation_id": earlier.session_id, "outcome": "refund"}))["ok"]
    forged, agent2 = await claimed(desk, "desk19-late", metadata={"user": {**user, "hash": "0" * 64}})
    later, agent3 = await claimed(desk, "desk19-late", metadata={"user": {**user, "hash": sign("cust-77")}})

    _, panel = await call(desk, second_agent, "GET", f"/api/conversations/{later.session_id}/desk")
    assert [c["conversation_id"] for c in panel["customer"]["earlier"]] == [earlier.session_id]
    status, _ = await call(desk, second_agent, "GET", f"/api/conversations/{earlier.session_id}")
    assert status == 403  # not theirs: the plain transcript read stays refused
    status, bundle = await call(desk, second_agent, "GET",
                                f"/api/conversations/{later.session_id}/earlier/{earlier.session_id}")
    assert status == 200 and bundle["read_only"] is True and bundle["state"] == "resolved"
    assert "Your refund is on its way" in [m["text"] for m in bundle["transcript"]]
    reads = [e for e in desk.app.ctx.audit.entries(action="read_transcript") if e["target"] == earlier.session_id]
    assert reads[0]["agent"] == "desk19-late" and reads[0]["details"]["via"] == "customer_history"

    # Only through a verified link: not from the forged conversation, not any conversation by id.
    for path in (f"/api/conversations/{forged.session_id}/earlier/{earlier.session_id}",
                 f"/api/conversations/{later.session_id}/earlier/{forged.session_id}",
                 f"/api/conversations/{later.session_id}/earlier/{later.session_id}",
                 f"/api/conversations/{later.session_id}/earlier/not-a-session"):
        assert (await call(desk, second_agent, "GET", path))[0] == 404, path
    # And only for an agent who may read the current conversation.
    assert (await call(desk, first_agent, "GET",
                       f"/api/conversations/{later.session_id}/earlier/{earlier.session_id}"))[0] == 403
    await closed(earlier, forged, later, agent1, agent2, agent3)
