"""The studio's content editing, in-process: round-trip YAML, git authorship, concurrent edits, bad input."""

from __future__ import annotations

import threading

import pytest

from handoff.store import SQLStore
from handoff.studio import yamlfiles
from handoff.studio.content import ContentError, ContentFiles, Editor
from handoff.studio.coverage import coverage
from handoff.studio.inbox import reason_for
from tests.studio_content import copy_content, git

MAYA = Editor(7, "maya", "Maya Sato")
KEN = Editor(8, "ken", "Ken Ito")


@pytest.fixture
def content(tmp_path):
    root = copy_content(tmp_path / "content", git=True)
    store = SQLStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield ContentFiles(root, store.engine, tmp_path / "locks")
    store.close()


def changed_lines(root) -> list[str]:
    """The +/- lines of the last commit's diff (without the file headers)."""
    diff = git(root, "show", "--format=", "--unified=0", "HEAD")
    return [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_every_content_file_loads_and_dumps_back_byte_for_byte(content):
    for folder in ("data/nlu", "bot/responses", "data/store"):
        for path in sorted((content.root / folder).rglob("*.yml")):
            assert yamlfiles.dumps(yamlfiles.load(path)) == path.read_text(encoding="utf-8"), path


def test_an_added_example_is_one_added_line_committed_as_the_staff_member(content):
    change = content.add_example(MAYA, "shipping_time", "en", "how long does the parcel take to reach Peru")
    assert change["path"] == "data/nlu/en/shipping.yml"
    assert changed_lines(content.root) == ["+    - how long does the parcel take to reach Peru"]
    author = git(content.root, "log", "-1", "--format=%an <%ae>|%s").strip()
    assert author == "Maya Sato <maya@studio.crossdesk.invalid>|studio: add example of shipping_time (en): " \
                     "how long does the parcel take to reach Peru"
    assert change["commit"] == git(content.root, "rev-parse", "HEAD").strip()
    [recorded] = content.changes()
    assert (recorded["username"], recorded["agent_id"], recorded["kind"]) == ("maya", 7, "example")


def test_edits_of_an_answer_and_a_fact_change_exactly_their_lines(content):
    old = content.responses("de")["utter_return_policy"][0]["text"]
    content.set_answer(KEN, "de", "utter_return_policy", 0, old.replace("{return_days}", "{return_days} (!)"))
    minus, plus = changed_lines(content.root)
    assert minus.startswith("-  - text: ") and plus.startswith("+  - text: ") and "(!)" in plus
    content.set_fact(KEN, "destinations", ["destinations", "DE", "days_max"], 9)
    assert changed_lines(content.root) == ["-    days_max: 7", "+    days_max: 9"]
    content.set_fact(KEN, "destinations", ["destinations", "DE", "payment_methods"], ["Visa", "PayPal"])
    assert changed_lines(content.root) == [
        "-    payment_methods: [Visa, Mastercard, PayPal, Klarna, Apple Pay, Google Pay]",
        "+    payment_methods: [Visa, PayPal]"]


def test_two_staff_saving_the_same_file_at_once_keep_both_changes(content):
    texts = [f"parcel question number {i} from {who.username}" for i in range(6) for who in (MAYA, KEN)]
    errors = []

    def add(who, text):
        try:
            content.add_example(who, "shipping_time", "en", text)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=add, args=(MAYA if "maya" in t else KEN, t)) for t in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    saved = {e["text"] for e in content.examples("shipping_time", "en")}
    assert set(texts) <= saved
    assert git(content.root, "status", "--porcelain").strip() == ""
    assert len(git(content.root, "log", "--format=%h").split()) == 1 + len(texts)


@pytest.mark.parametrize("call, code", [
    (lambda c: c.add_example(MAYA, "shipping_time", "en", "   "), "empty_example"),
    (lambda c: c.add_example(MAYA, "shipping_tiem", "en", "when does it come"), "unknown_intent"),
    (lambda c: c.add_example(MAYA, "shipping_time", "xx", "when does it come"), "unknown_language"),
    (lambda c: c.add_example(MAYA, "shipping_time", "en", "delivery time"), "duplicate_example"),
    (lambda c: c.add_example(MAYA, "shipping_time", "en", "two\nlines"), "invalid_example"),
    (lambda c: c.add_example(MAYA, "shipping_time", "en", "nul \x00 byte"), "invalid_example"),
    (lambda c: c.set_answer(MAYA, "en", "utter_return_policy", 0, "Within {return_days}\x00 days"), "invalid_answer"),
    (lambda c: c.add_example(MAYA, "shipping_cost", "en", "delivery time"), "example_collision"),
    (lambda c: c.set_answer(MAYA, "en", "utter_return_policy", 0, "Returns within {return_days days."),
     "broken_placeholder"),
    (lambda c: c.set_answer(MAYA, "en", "utter_return_policy", 0, "Returns within {days} days."),
     "unknown_placeholder"),
    (lambda c: c.set_answer(MAYA, "en", "utter_return_policy", 0, "Returns are free."), "missing_placeholder"),
    (lambda c: c.set_answer(MAYA, "en", "utter_nope", 0, "Hi"), "unknown_answer"),
    (lambda c: c.set_fact(MAYA, "destinations", ["destinations", "DE", "days_min"], "four"), "invalid_fact"),
    (lambda c: c.set_fact(MAYA, "destinations", ["destinations", "DE", "days_min"], 30), "invalid_fact"),
    (lambda c: c.set_fact(MAYA, "destinations", ["destinations", "DE", "currency"], "euro"), "invalid_fact"),
    (lambda c: c.set_fact(MAYA, "destinations", ["destinations", "ZZ", "days_min"], 3), "invalid_fact"),
    (lambda c: c.set_fact(MAYA, "policies", ["tracking_url"], "javascript:alert(1)"), "invalid_fact"),
])
def test_bad_input_is_refused_with_a_clear_error_and_changes_nothing(content, call, code):
    before = git(content.root, "rev-parse", "HEAD")
    with pytest.raises(ContentError) as refused:
        call(content)
    assert refused.value.code == code and refused.value.message
    assert git(content.root, "status", "--porcelain").strip() == ""
    assert git(content.root, "rev-parse", "HEAD") == before
    assert content.changes() == []


def test_coverage_flags_exactly_what_make_check_finds(content):
    from bot import datacheck

    path = content.root / "data" / "nlu" / "ko" / "payment.yml"
    data = yamlfiles.load(path)
    item = next(i for i in data["nlu"] if i["intent"] == "payment_currency")
    taken = datacheck.load_nlu(content.nlu_dir / "ko")["payment_methods"][0]  # now an example of two intents
    item["examples"] = yamlfiles.examples_block(yamlfiles.examples_of(item["examples"])[:3] + [taken])
    yamlfiles.write(path, data)
    report = datacheck.run_checks(content.nlu_dir, content.responses_dir)
    matrix = coverage(content.root)
    thin = {(f["language"], f["intent"]) for f in report.findings if f["kind"] == "thin"}
    collisions = {(f["language"], f["intent"]) for f in report.findings if f["kind"] == "collision"}
    assert ("ko", "payment_currency") in thin
    assert thin == {(lang, intent) for intent, row in matrix["cells"].items() for lang, cell in row.items()
                    if cell["thin"]}
    flagged = {(lang, intent) for intent, row in matrix["cells"].items() for lang, cell in row.items()
               if cell["collisions"]}
    assert collisions and collisions <= flagged
    assert matrix["cells"]["payment_currency"]["ko"]["examples"] == len(
        datacheck.load_nlu(content.nlu_dir / "ko")["payment_currency"])
    assert matrix["errors"] == report.errors and matrix["warnings"] == report.warnings
    assert matrix["cells"]["shipping_time"]["ja"]["answer"] == "present"


def test_the_inbox_takes_fallbacks_out_of_scope_low_confidence_and_handoffs():
    assert reason_for({"intent": "nlu_fallback", "confidence": 0.2}, 0.5) == ("fallback", None)
    assert reason_for({"intent": "out_of_scope", "confidence": 0.9}, 0.5) == ("out_of_scope", None)
    assert reason_for({"intent": "shipping_time", "confidence": 0.4}, 0.5) == ("low_confidence", None)
    assert reason_for({"intent": "request_human", "confidence": 0.9, "handoff": "request_human"}, 0.5) == (
        "handoff", "request_human")
    assert reason_for({"intent": "shipping_time", "confidence": 0.9}, 0.5) is None
    assert reason_for({"metadata": {}}, 0.5) is None  # not answered by the bot (an agent had it)


def test_inbox_items_survive_a_new_inbox_and_go_with_their_conversation_on_erasure(tmp_path):
    from handoff.store.privacy import PrivacyStore
    from handoff.studio.inbox import ReviewInbox

    store = SQLStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.ensure_conversation("s" * 20)
    message, _ = store.add_message("s" * 20, "shopper", "the thing with the stuff")
    store.record_turn("s" * 20, message.id, {"intent": "nlu_fallback", "confidence": 0.2, "entities": []}, "en", [])
    assert ReviewInbox(store.engine, 0.5).items()["total"] == 1
    assert ReviewInbox(store.engine, 0.5).items()["items"][0]["text"] == "the thing with the stuff"  # a new process
    counts = PrivacyStore(store, None).delete(["s" * 20])
    assert counts["review_items"] == 1
    assert ReviewInbox(store.engine, 0.5).items()["total"] == 0
    store.close()


def test_an_edited_or_deleted_example_changes_only_its_line(content):
    content.edit_example(MAYA, "shipping_time", "en", "delivery time", "delivery time please")
    assert changed_lines(content.root) == ["-    - delivery time", "+    - delivery time please"]
    content.delete_example(KEN, "shipping_time", "en", "eta?")
    assert changed_lines(content.root) == ["-    - eta?"]
    texts = [e["text"] for e in content.examples("shipping_time", "en")]
    assert "delivery time please" in texts and "eta?" not in texts and "delivery time" not in texts


def test_an_answer_missing_in_a_language_can_be_written_and_coverage_then_shows_it_present(content):
    path = content.responses_dir / "ko.yml"
    data = yamlfiles.load(path)
    del data["responses"]["utter_return_policy"]
    yamlfiles.write(path, data)
    assert coverage(content.root)["cells"]["return_policy"]["ko"]["answer"] == "missing"
    with pytest.raises(ContentError) as refused:
        content.set_answer(MAYA, "ko", "utter_return_policy", 1, "{return_days}일 이내에 반품할 수 있습니다.")
    assert refused.value.code == "invalid_index"
    content.set_answer(MAYA, "ko", "utter_return_policy", 0, "{return_days}일 이내에 반품할 수 있습니다.")
    assert content.responses("ko")["utter_return_policy"] == [{"text": "{return_days}일 이내에 반품할 수 있습니다."}]
    assert coverage(content.root)["cells"]["return_policy"]["ko"]["answer"] == "present"
    assert changed_lines(content.root)[-2:] == ["+  utter_return_policy:", '+  - text: "{return_days}일 이내에 반품할 수 있습니다."']
