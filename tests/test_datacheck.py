"""``python -m bot check`` finds what content staff must fix."""

from bot.datacheck import run_checks


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_reports_missing_language_thin_intents_collisions_and_placeholders(tmp_path):
    nlu, responses = tmp_path / "nlu", tmp_path / "responses"
    write(nlu / "en" / "shipping.yml", 'version: "3.1"\nnlu:\n- intent: shipping_time\n  examples: |\n'
          + "".join(f"    - how long {i}\n" for i in range(20)) + "- intent: shipping_cost\n  examples: |\n"
          "    - how long 3\n    - shipping fee\n")
    write(nlu / "ja" / "other.yml", 'version: "3.1"\nnlu: []\n')
    write(responses / "en.yml", "responses:\n  utter_shipping_time:\n  - text: '{country} in {days_max} days'\n")
    write(responses / "ja.yml", "responses:\n  utter_shipping_time:\n  - text: '{country}まで{days}日'\n")
    report = run_checks(nlu, responses, languages=["en", "ja", "ko"])
    text = "\n".join(report.errors + report.warnings)
    assert not report.ok
    assert "ko: no training data" in text and "ko: no responses" in text
    assert "ja: topic file shipping.yml missing" in text
    assert "en: 'how long 3' is an example of both shipping_time and shipping_cost" in text
    assert "en: intent shipping_cost has 2 examples" in text
    assert "en: intent greet has no examples" in text
    assert "ja: response utter_shipping_time placeholders ['country', 'days'] differ from en" in text


def test_the_shipped_content_passes_the_checks_the_studio_gate_runs():
    """The studio refuses every training while the repository's own data has an error (an example listed
    under two intents made every "add to intent" end in "rejected by the quality gate")."""
    report = run_checks()
    assert report.ok, report.errors
