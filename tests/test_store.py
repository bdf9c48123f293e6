"""The conversation store's group commit, on a real SQLite file and a real PostgreSQL server."""

import asyncio

import pytest

from handoff.store import NewMessage, SQLStore
from handoff.store.group_commit import GroupCommit


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path}/crossdesk.db"


@pytest.fixture
def store(store_url):
    store = SQLStore(store_url)
    store.ensure_conversation("c1")
    yield store
    store.close()


async def test_messages_arriving_together_share_one_commit_and_keep_their_order(store, store_url):
    writer = GroupCommit(store)
    results = await asyncio.gather(*(writer.add(NewMessage("c1", "shopper", f"m{i}", client_id=f"id{i}"))
                                     for i in range(10)))
    assert writer.batches == 1
    assert [stored.text for stored, created in results] == [f"m{i}" for i in range(10)]
    assert all(created for _, created in results)
    reopened = SQLStore(store_url)  # committed: another connection sees them
    assert [m.text for m in reopened.transcript("c1")] == [f"m{i}" for i in range(10)]
    reopened.close()


async def test_a_repeated_client_id_in_one_batch_returns_the_original_and_the_rest_commit(store):
    writer = GroupCommit(store)
    first, again, other = await asyncio.gather(
        writer.add(NewMessage("c1", "shopper", "hello", client_id="same")),
        writer.add(NewMessage("c1", "shopper", "hello", client_id="same")),
        writer.add(NewMessage("c1", "shopper", "next", client_id="other")))
    assert first[1] and not again[1] and other[1]
    assert again[0].id == first[0].id
    assert [m.text for m in store.transcript("c1")] == ["hello", "next"]


async def test_a_message_that_fails_in_a_batch_fails_alone_and_the_writer_keeps_working(store):
    writer = GroupCommit(store)
    kept, failed = await asyncio.gather(
        writer.add(NewMessage("c1", "shopper", "kept")),
        writer.add(NewMessage("c1", "shopper", None, client_id="x")),  # text is required
        return_exceptions=True)
    assert isinstance(failed, Exception)
    assert kept[1] and [m.text for m in store.transcript("c1")] == ["kept"]  # the other message is stored
    stored, created = await writer.add(NewMessage("c1", "shopper", "later"))
    assert created and [m.text for m in store.transcript("c1")] == ["kept", "later"]
