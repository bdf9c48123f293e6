"""Training in the background, the quality gate, the live swap and rollback, on a real server.

The content is a temporary copy of the repository's (English and French only, so a training takes
seconds, not minutes); the repository's own files are never edited.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from bot import training
from tests.support import ROOT, ServerProcess, Shopper, add_agent, login

LANGUAGES = ("en", "fr")
PER_INTENT = 25  # examples kept per intent and language: a training takes seconds on an idle machine
pytestmark = pytest.mark.timeout(900)  # (trainings on a machine shared by many test runs)
PASSWORD = "correct horse battery"
NEW_PHRASE = "zorblat frimble"  # no intent knows it before we add it to bot_challenge
NEW_EXAMPLES = [NEW_PHRASE, f"{NEW_PHRASE} please", f"is this a {NEW_PHRASE}", f"{NEW_PHRASE}??", f"the {NEW_PHRASE} thing"]


def copy_content(target: Path) -> Path:
    """The training inputs of the repository, for English and French, in ``target``."""
    (target / "bot").mkdir(parents=True)
    (target / "data" / "nlu").mkdir(parents=True)
    shutil.copy(ROOT / "config.yml", target / "config.yml")
    shutil.copy(ROOT / "bot" / "domain.yml", target / "bot" / "domain.yml")
    shutil.copytree(ROOT / "bot" / "responses", target / "bot" / "responses")
    shutil.copy(ROOT / "data" / "rules.yml", target / "data" / "rules.yml")
    for language in LANGUAGES:
        (target / "data" / "nlu" / language).mkdir()
        for path in (ROOT / "data" / "nlu" / language).glob("*.yml"):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            for item in data.get("nlu") or []:
                if "intent" in item:
                    kept = [line for line in item["examples"].splitlines() if line.strip()][:PER_INTENT]
                    item["examples"] = "\n".join(kept) + "\n"
            (target / "data" / "nlu" / language / path.name).write_text(yaml.safe_dump(data, allow_unicode=True),
                                                                        encoding="utf-8")
    return target


def add_examples(content: Path, intent: str, examples: list[str]) -> str:
    """Add examples to the topic file that holds ``intent`` (as the studio does); the file's old text."""
    path = content / "data" / "nlu" / "en" / "conversation.yml"
    before = path.read_text(encoding="utf-8")
    data = yaml.safe_load(before)
    data["nlu"].append({"intent": intent, "examples": "".join(f"- {e}\n" for e in examples)})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return before


def mislabel(content: Path, language: str) -> None:
    """Every example of ``language`` moved to the next intent (a broken bulk edit)."""
    for path in (content / "data" / "nlu" / language).glob("*.yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        items = [i for i in data.get("nlu") or [] if "intent" in i]
        names = [i["intent"] for i in items]
        for item, name in zip(items, names[1:] + names[:1]):
            item["intent"] = name
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def api(url: str, path: str, token: str, method: str = "GET") -> tuple[int, dict]:
    request = urllib.request.Request(url + path, method=method, data=b"" if method == "POST" else None,
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_job(url: str, token: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, body = api(url, "/api/studio/training", token)
        if body["job"]["state"] in ("live", "rejected", "failed"):
            return body["job"]
        time.sleep(1)
    raise AssertionError(f"training did not finish: {body}")


def answer_texts(intent_response: str) -> set[str]:
    data = yaml.safe_load((ROOT / "bot" / "responses" / "en.yml").read_text(encoding="utf-8"))
    return {v["text"] for v in data["responses"][intent_response]}


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """A server on a model trained from the en+fr content copy; a content user and an agent."""
    content = copy_content(tmp_path_factory.mktemp("content"))
    var = tmp_path_factory.mktemp("var")
    first = training.model_path(var / "models", training.content_fingerprint(content))
    subprocess.run([sys.executable, "-m", "bot", "train", "--content-dir", str(content), "--output", str(first)],
                   cwd=ROOT, check=True, capture_output=True, env={**os.environ, "CROSSDESK_VAR_DIR": str(var)})
    add_agent(var, "carla", PASSWORD, role="content")
    add_agent(var, "andy", PASSWORD, role="agent")
    server = ServerProcess(var, first, env={"CROSSDESK_CONTENT_DIR": str(content)}).start(timeout=600)
    tokens = {name: login(server.url, name, PASSWORD)[1]["token"] for name in ("carla", "andy")}
    yield {"server": server, "content": content, "first": first, "tokens": tokens, "var": var}
    server.stop()


def test_an_agent_cannot_train_or_switch_models(studio):
    url, token = studio["server"].url, studio["tokens"]["andy"]
    for method, path in (("POST", "/api/studio/training"), ("GET", "/api/studio/training"),
                         ("GET", "/api/studio/models"), ("POST", f"/api/studio/models/{studio['first'].name}/activate")):
        status, body = api(url, path, token, method)
        assert (status, body["error"]) == (403, "forbidden"), (path, body)


async def test_a_new_example_goes_live_while_a_shopper_keeps_talking_and_rollback_undoes_it(studio):
    url, token, content = studio["server"].url, studio["tokens"]["carla"], studio["content"]
    challenge = answer_texts("utter_bot_challenge")
    before = None
    shopper = Shopper(url)
    await shopper.connect(locale="en")
    try:
        assert (await shopper.ask(NEW_PHRASE))["text"] not in challenge

        before = add_examples(content, "bot_challenge", NEW_EXAMPLES)
        status, body = api(url, "/api/studio/training", token, "POST")
        assert status == 202 and body["job"]["state"] in ("queued", "training"), body
        status, body = api(url, "/api/studio/training", token, "POST")
        assert (status, body["error"]) == (409, "training_running")

        # Through training, gate and swap the shopper keeps talking: every message answered once.
        thanks = answer_texts("utter_thank")
        sent = 0
        while api(url, "/api/studio/training", token)[1]["job"]["state"] not in ("live", "rejected", "failed"):
            assert (await shopper.ask("thank you"))["text"] in thanks
            sent += 1
            await asyncio.sleep(0.6)  # (the socket's message rate limit: 2 per second)
        job = wait_job(url, token)
        assert job["state"] == "live", job["log"]
        assert job["gate"]["ok"] and set(job["gate"]["languages"]) == set(LANGUAGES)
        assert sent > 0
        with pytest.raises((TimeoutError, asyncio.TimeoutError)):
            await shopper.expect("bot_uttered", timeout=3)  # nothing answered twice

        assert (await shopper.ask(NEW_PHRASE))["text"] in challenge
        _, listed = api(url, "/api/studio/models", token)
        assert [m["name"] for m in listed["models"] if m["live"]] == [job["model"]]
        assert studio["first"].name in [m["name"] for m in listed["models"]]

        status, body = api(url, f"/api/studio/models/{studio['first'].name}/activate", token, "POST")
        assert (status, body) == (200, {"ok": True, "model": studio["first"].name})
        assert (await shopper.ask(NEW_PHRASE))["text"] not in challenge
        assert (studio["var"] / "models" / "LIVE").read_text().strip() == studio["first"].name
    finally:
        await shopper.close()
        if before is not None:
            (content / "data" / "nlu" / "en" / "conversation.yml").write_text(before, encoding="utf-8")


def test_the_gate_rejects_a_mislabelled_language_and_the_live_model_stays(studio):
    url, token, content = studio["server"].url, studio["tokens"]["carla"], studio["content"]
    _, before = api(url, "/api/studio/models", token)
    saved = content / "fr-saved"
    shutil.copytree(content / "data" / "nlu" / "fr", saved)
    try:
        mislabel(content, "fr")
        assert api(url, "/api/studio/training", token, "POST")[0] == 202
        job = wait_job(url, token)
        assert job["state"] == "rejected", job["log"]
        assert not job["gate"]["ok"]
        fall = {lang: score["live"] - score["candidate"] for lang, score in job["gate"]["languages"].items()}
        # fr is named, by far: its score collapses (0.86 -> 0.10 when measured). English shares words with
        # the moved French examples and can fall a little too (0.03 with 25 examples per intent).
        assert not job["gate"]["languages"]["fr"]["ok"] and fall["fr"] > 0.5 and fall["en"] < 0.1, job["gate"]
        _, after = api(url, "/api/studio/models", token)
        assert after == before  # the candidate is gone, the same model is live
    finally:
        shutil.rmtree(content / "data" / "nlu" / "fr")
        shutil.move(saved, content / "data" / "nlu" / "fr")


def test_unknown_model_is_refused(studio):
    status, body = api(studio["server"].url, "/api/studio/models/crossdesk-nope.tar.gz/activate",
                       studio["tokens"]["carla"], "POST")
    assert (status, body["error"]) == (404, "unknown_model")
