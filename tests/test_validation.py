"""Validation matches docs/protocol.md exactly, and one bad message can't fail anyone else's (in-process)."""

import asyncio

import pytest

from handoff import plain_json, protocol
from handoff.store import NewMessage, SQLStore
from handoff.store.group_commit import GroupCommit

SESSION = "s" * 32


def nested(levels: int) -> dict:
    """``{"a": {"a": ... {}}}`` with ``levels`` objects (the outer one included)."""
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def refused(payload) -> str:
    with pytest.raises(protocol.ProtocolError) as raised:
        protocol.parse_user_uttered(payload, 2000)
    return raised.value.code


@pytest.mark.parametrize("metadata", [
    {"blob": b"\x00\x01"},  # a binary Socket.IO packet puts bytes in the payload
    {"user": {"name": b"Ann"}},
    {"page": [b"x"]},
    {"score": float("nan")},  # ujson reads NaN and 1e999; json.dumps would write NaN, which is not JSON
    {"score": float("inf")},
    {"text": "\ud83d"},  # half an emoji
    {"\ud83d": 1},
    nested(plain_json.MAX_DEPTH + 1),
    nested(900),  # deeper than the interpreter's recursion limit allows json.dumps to go
    [], 0, "", "x", False, 1.5,  # the protocol says object
])
def test_metadata_that_is_not_a_plain_json_object_is_refused(metadata):
    assert refused({"message": "hi", "metadata": metadata}) == "invalid_metadata"
    assert refused({"message": "hi", "customData": metadata}) == "invalid_metadata"


def test_metadata_nested_to_the_limit_is_accepted():
    metadata = nested(plain_json.MAX_DEPTH)
    assert protocol.parse_user_uttered({"message": "hi", "metadata": metadata}, 2000).metadata == metadata


def test_the_widgets_metadata_is_accepted():
    metadata = {"locale": "ja-JP", "page": "/products/jacket?size=M",
                "user": {"id": "42", "name": "Ann", "email": "ann@example.com"}}
    assert protocol.parse_user_uttered({"message": "hi", "metadata": metadata}, 2000).metadata == metadata


@pytest.mark.parametrize("metadata, code", [
    ({"locale": {"lang": "en"}}, "invalid_locale"),  # was an SQLite error and no ack
    ({"locale": 7}, "invalid_locale"),
    ({"locale": "x" * 36}, "invalid_locale"),
    ({"locale": "en\x00"}, "invalid_locale"),
    ({"page": 7}, "invalid_metadata"),
    ({"page": "/" * 2049}, "invalid_metadata"),
    ({"user": "ann"}, "invalid_metadata"),
    ({"user": {"name": 7}}, "invalid_metadata"),
    ({"user": {"email": "x" * 201}}, "invalid_metadata"),
])
def test_known_metadata_fields_have_their_documented_types(metadata, code):
    assert refused({"message": "hi", "metadata": metadata}) == code


@pytest.mark.parametrize("payload, code", [
    ({"message": "hi\x00there"}, "invalid_message"),  # PostgreSQL text cannot hold NUL
    ({"message": "hi", "session_id": "a" * 32 + "\n"}, "invalid_session_id"),  # "$" matched before a newline
    ({"message": "hi", "message_id": "m-1\n"}, "invalid_message_id"),
    ({"message": True}, "invalid_message"),
])
def test_text_and_ids_are_exact(payload, code):
    assert refused(payload) == code


def test_conversation_ids_with_a_trailing_newline_are_refused():
    with pytest.raises(protocol.ProtocolError) as raised:
        protocol.parse_conversation_ref({"conversation_id": "a" * 32 + "\n"})
    assert raised.value.code == "invalid_conversation_id"


async def test_a_message_that_cannot_be_stored_fails_alone_in_its_group(tmp_path):
    store = SQLStore(f"sqlite:///{tmp_path / 'crossdesk.db'}")
    store.ensure_conversation(SESSION)
    writer = GroupCommit(store)
    good = [NewMessage(SESSION, "shopper", f"message {i}", client_id=f"m-{i}") for i in range(5)]
    bad = NewMessage(SESSION, "shopper", "bad", data={"metadata": {"blob": b"\xff"}})  # json.dumps fails
    results = await asyncio.gather(*(writer.add(m) for m in good[:2] + [bad] + good[2:]), return_exceptions=True)
    assert writer.batches == 1  # they really were one group
    assert isinstance(results[2], TypeError)
    ok = results[:2] + results[3:]
    assert all(created for _, created in ok)
    assert [m.text for m in store.transcript(SESSION)] == [f"message {i}" for i in range(5)]
    assert [m.client_id for m, _ in ok] == [f"m-{i}" for i in range(5)]
    store.close()
