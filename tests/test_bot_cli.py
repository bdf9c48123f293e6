"""``python -m bot parse``: the server's NLU path, JSON lines on stdout only."""

import json
import subprocess
import sys

from tests.support import ROOT


def parse(model_path, lines: str) -> list[dict]:
    """Run ``python -m bot parse`` on ``lines``; every stdout line must be JSON."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", "parse", "--model", str(model_path)], input=lines, cwd=ROOT,
        capture_output=True, text=True, timeout=180, env={"RASA_TELEMETRY_ENABLED": "false", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_parse_prints_one_json_object_per_line(model_path):
    lines = "hello\n\nドイツまで何日かかりますか\nwhere is my order #A10234\n運費多少錢\nこんにちは、配送は何日かかりますか\n"
    rows = parse(model_path, lines)  # nothing but JSON on stdout
    assert [r["text"] for r in rows] == ["hello", "ドイツまで何日かかりますか", "where is my order #A10234", "運費多少錢",
                                         "こんにちは、配送は何日かかりますか"]
    assert all(set(r) == {"text", "language", "intent", "confidence", "entities"} for r in rows)
    assert [r["language"] for r in rows] == ["en", "ja", "en", "zh-TW", "ja"]
    assert rows[0]["intent"] == "greet"
    assert rows[1]["intent"] == "shipping_time"
    assert {"entity": "country", "value": "DE", "start": 0, "end": 3} in rows[1]["entities"]
    assert rows[2]["intent"] == "order_tracking"
    assert any(e["entity"] == "order_id" and e["value"] == "A10234" for e in rows[2]["entities"])
    assert rows[3]["language"] == "zh-TW"
    assert rows[4]["intent"] == "shipping_time"  # a greeting before the question does not make it a greeting


def test_thanks_yes_no_or_bye_before_a_question_do_not_take_it_over(model_path):
    expected = {
        "thanks, and where is my parcel?": "order_tracking",
        "merci, et ma commande est où ?": "order_tracking",
        "danke! wie lange dauert der versand nach österreich?": "shipping_time",
        "감사합니다 그런데 배송비 얼마예요?": "shipping_cost",
        "yes please, can I pay with paypal?": "payment_methods",
        "no, I want to talk to a person": "request_human",
        "bye, actually one more thing: do you ship to brazil?": "shipping_destinations",
    }
    rows = parse(model_path, "\n".join(expected) + "\n")
    assert {r["text"]: r["intent"] for r in rows} == expected


def test_can_this_be_shipped_is_told_from_where_do_you_ship(model_path):
    expected = {
        "향수 배송 가능해요?": "prohibited_items", "캐나다 배송 가능해요?": "shipping_destinations",
        "라이터 배송 가능해요?": "prohibited_items", "슬로베니아 배송 가능해요?": "shipping_destinations",
        "versendet ihr parfum?": "prohibited_items", "versendet ihr nach kanada?": "shipping_destinations",
        "can you ship perfume?": "prohibited_items", "do you ship to canada?": "shipping_destinations",
    }
    rows = parse(model_path, "\n".join(expected) + "\n")
    assert {r["text"]: r["intent"] for r in rows} == expected
