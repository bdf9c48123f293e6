"""``python -m bot parse``: the server's NLU path, JSON lines on stdout only."""

import json
import subprocess
import sys

from tests.support import ROOT


def test_parse_prints_one_json_object_per_line(model_path):
    lines = "hello\n\nドイツまで何日かかりますか\nwhere is my order #A10234\n運費多少錢\nこんにちは、配送は何日かかりますか\n"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "parse", "--model", str(model_path)], input=lines, cwd=ROOT,
        capture_output=True, text=True, timeout=180, env={"RASA_TELEMETRY_ENABLED": "false", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in result.stdout.splitlines()]  # nothing but JSON on stdout
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
