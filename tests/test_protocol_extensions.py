"""Opting in to Crossdesk's extensions, and Rasa's exact ``bot_uttered`` shapes for those who don't (in-process)."""

import pytest

from handoff import protocol


@pytest.mark.parametrize("value, version", [(None, 0), (False, 0), (0, 0), (True, 1), (1, 1), (7, 1)])
def test_session_request_opts_in_with_a_version_or_a_boolean(value, version):
    data = {"session_id": None} if value is None else {"session_id": None, "extensions": value}
    assert protocol.parse_session_request(data).extensions == version


def test_a_session_request_without_the_key_is_rasa_protocol_only():
    assert protocol.parse_session_request(None).extensions == 0
    assert protocol.parse_session_request({"session_id": None}).extensions == 0  # what rasa-webchat sends


@pytest.mark.parametrize("value", ["yes", -1, 1.5, [1], {"v": 1}])
def test_a_malformed_extensions_value_is_refused_clearly(value):
    with pytest.raises(protocol.ProtocolError) as raised:
        protocol.parse_session_request({"extensions": value})
    assert raised.value.code == "invalid_extensions"


def ours(message: dict) -> dict:
    [payload] = protocol.bot_uttered_payloads({"language": "en", **message}, 7, 1.0)
    return payload


def test_a_text_answer_is_just_text_for_rasa_clients():
    assert protocol.rasa_payloads(ours({"text": "Hi"})) == [{"text": "Hi"}]


def test_buttons_go_with_their_text_as_rasa_quick_replies():
    payload = ours({"text": "Topics?", "buttons": [{"title": "Shipping", "payload": "/shipping_time"}]})
    assert protocol.rasa_payloads(payload) == [{"text": "Topics?", "quick_replies": [
        {"content_type": "text", "title": "Shipping", "payload": "/shipping_time"}]}]


def test_text_image_and_custom_are_separate_payloads_in_rasas_order():
    payload = ours({"text": "Look", "image": "https://shop.example/a.png", "custom": {"kind": "card"}})
    assert protocol.rasa_payloads(payload) == [
        {"text": "Look"}, {"custom": {"kind": "card"}},
        {"attachment": {"type": "image", "payload": {"src": "https://shop.example/a.png"}}}]


def test_agent_and_system_messages_are_just_text_for_rasa_clients():
    agent = {"id": 9, "sender": "agent", "text": "Hello, Yuki here", "language": "en", "ts": 1.0,
             "name": "Yuki", "event": None}
    system = {**agent, "sender": "system", "text": "Yuki joined", "name": None, "event": "utter_agent_joined"}
    assert protocol.rasa_payloads(agent) == [{"text": "Hello, Yuki here"}]
    assert protocol.rasa_payloads(system) == [{"text": "Yuki joined"}]


def test_untranslated_flag_and_extension_keys_never_reach_rasa_clients():
    payload = ours({"text": "Bonjour", "translation": {"translated": False}})
    assert payload["untranslated"] is True
    assert protocol.rasa_payloads(payload) == [{"text": "Bonjour"}]
