"""Validation of shopper payloads (the rules every socket event goes through)."""

import pytest

from handoff import protocol


def test_accepts_a_plain_rasa_user_uttered():
    parsed = protocol.parse_user_uttered({"message": " hi ", "session_id": "a" * 32}, 2000)
    assert parsed.text == "hi" and parsed.session_id == "a" * 32 and parsed.metadata == {}


def test_accepts_rasa_webchat_custom_data_as_metadata():
    parsed = protocol.parse_user_uttered({"message": "hi", "customData": {"language": "ja"}}, 2000)
    assert parsed.metadata == {"language": "ja"}


@pytest.mark.parametrize("payload, code", [
    (None, "invalid_payload"),
    ("hi", "invalid_payload"),
    ({}, "invalid_message"),
    ({"message": 42}, "invalid_message"),
    ({"message": "   "}, "empty_message"),
    ({"message": "x" * 2001}, "message_too_long"),
    ({"message": "hi", "session_id": "../../etc"}, "invalid_session_id"),
    ({"message": "hi", "session_id": 7}, "invalid_session_id"),
    ({"message": "hi", "message_id": "x" * 65}, "invalid_message_id"),
    ({"message": "hi", "metadata": "nope"}, "invalid_metadata"),
    ({"message": "hi", "metadata": {"blob": "x" * 5000}}, "metadata_too_large"),
])
def test_rejects_malformed_user_uttered(payload, code):
    with pytest.raises(protocol.ProtocolError) as raised:
        protocol.parse_user_uttered(payload, 2000)
    assert raised.value.code == code


def test_new_session_ids_are_unguessable():
    ids = {protocol.new_session_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and protocol.SESSION_ID_RE.match(i) for i in ids)


def test_buttons_become_rasa_quick_replies():
    [payload] = protocol.bot_uttered_payloads(
        {"text": "Hi", "buttons": [{"title": "Shipping", "payload": "/shipping_time"}], "language": "en"}, 7, 1.0)
    assert payload["text"] == "Hi"
    assert payload["quick_replies"] == [{"content_type": "text", "title": "Shipping", "payload": "/shipping_time"}]
    assert payload["id"] == 7 and payload["language"] == "en"
