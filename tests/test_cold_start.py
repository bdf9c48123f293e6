"""Cold start (issue #21): the model unpacked once and kept, and imports the first reply does not need."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from crossdesk import unpacked_models
from crossdesk.unpacked_models import CACHE_DIR, MANIFEST, TEMPORARY_PREFIX, entry_name, unpacked
from tests.support import ROOT

ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
FILES = {"metadata.json": b'{"model": 1}', "components/a/weights.bin": b"w" * 5000,
         "components/b/vocabulary.json": b'["ship", "pay"]'}


def _archive(folder: Path, name: str = "crossdesk-0123.tar.gz", files: dict = FILES) -> Path:
    path = folder / name
    with tarfile.open(path, "w:gz") as tar:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


class Unpacker:
    """Unpacks with tarfile and counts how often it was asked to."""

    def __init__(self):
        self.calls = 0

    def __call__(self, archive: Path, target: Path) -> None:
        self.calls += 1
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(target)


def _contents(directory: Path) -> dict:
    return {path.relative_to(directory).as_posix(): path.read_bytes()
            for path in directory.rglob("*") if path.is_file() and path.name != MANIFEST}


def test_an_archive_is_unpacked_once_and_later_loads_read_the_kept_directory(tmp_path):
    archive, unpack = _archive(tmp_path), Unpacker()
    first = unpacked(archive, unpack)
    second = unpacked(archive, unpack)
    assert first == second == tmp_path / CACHE_DIR / entry_name(archive)
    assert unpack.calls == 1
    assert _contents(first) == FILES
    assert [path.name for path in (tmp_path / CACHE_DIR).iterdir()] == [first.name]  # no temporary left


def test_workers_find_the_model_unpacked_by_the_supervisor_and_unpack_nothing(tmp_path):
    """``serve --workers N`` unpacks once before starting its workers (each unpacked for itself:
    2 workers took 10.4 s to all answer instead of ~5); a member outside the folder is refused."""
    from handoff.workers import unpack_once

    archive, unpack = _archive(tmp_path), Unpacker()
    unpack_once(str(archive))
    assert _contents(unpacked(archive, unpack)) == FILES
    assert unpack.calls == 0  # the worker's load reads the supervisor's copy
    hostile = _archive(tmp_path, "crossdesk-evil.tar.gz", {"../outside.txt": b"x"})
    with pytest.raises(Exception, match="traversal"):  # as Rasa's own unpacking refuses it
        unpack_once(str(hostile))
    assert not (tmp_path.parent / "outside.txt").exists()
    assert [p.name for p in (tmp_path / CACHE_DIR).iterdir()] == [entry_name(archive)]


def test_an_unpack_that_failed_halfway_leaves_nothing_a_later_load_would_read(tmp_path):
    archive = _archive(tmp_path)

    def half(archive_path, target):
        (target / "metadata.json").write_bytes(b'{"mod')
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        unpacked(archive, half)
    assert list((tmp_path / CACHE_DIR).iterdir()) == []
    unpack = Unpacker()
    assert _contents(unpacked(archive, unpack)) == FILES and unpack.calls == 1


UNPACK_THEN_HANG = """
import sys, tarfile, time
from pathlib import Path
from crossdesk.unpacked_models import unpacked
def unpack(archive, target):
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.getmember("components/a/weights.bin")
        tar.extract(member, target)
    (target / "components" / "a" / "weights.bin").write_bytes(b"w" * 100)  # half written
    Path(sys.argv[2]).write_text("half")
    time.sleep(60)
unpacked(Path(sys.argv[1]), unpack)
"""


def test_a_process_killed_while_unpacking_leaves_a_model_the_next_start_unpacks_whole(tmp_path):
    archive, marker = _archive(tmp_path), tmp_path / "half-done"
    process = subprocess.Popen([sys.executable, "-c", UNPACK_THEN_HANG, str(archive), str(marker)], cwd=ROOT, env=ENV)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the unpacking process never got halfway"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    leftovers = list((tmp_path / CACHE_DIR).iterdir())
    assert [path.name.startswith(TEMPORARY_PREFIX) for path in leftovers] == [True]
    unpack = Unpacker()
    directory = unpacked(archive, unpack)
    assert unpack.calls == 1 and _contents(directory) == FILES
    assert leftovers[0].exists()  # (young: maybe another process still unpacking) ...
    old = time.time() - unpacked_models.STALE_TEMPORARY_SECONDS - 60
    os.utime(leftovers[0], (old, old))
    assert unpacked_models.prune(tmp_path) == leftovers  # ... removed once it is old
    assert [path.name for path in (tmp_path / CACHE_DIR).iterdir()] == [directory.name]


@pytest.mark.parametrize("damage", ["truncated file", "missing file", "extra file", "no manifest", "bad manifest"])
def test_a_damaged_kept_directory_is_unpacked_again(tmp_path, damage):
    archive = _archive(tmp_path)
    directory = unpacked(archive, Unpacker())
    if damage == "truncated file":
        (directory / "components" / "a" / "weights.bin").write_bytes(b"w" * 10)
    elif damage == "missing file":
        (directory / "components" / "b" / "vocabulary.json").unlink()
    elif damage == "extra file":
        (directory / "components" / "b" / "stray.tmp").write_bytes(b"x")
    elif damage == "no manifest":
        (directory / MANIFEST).unlink()
    else:
        (directory / MANIFEST).write_text('{"files": {"metadata', encoding="utf-8")
    unpack = Unpacker()
    again = unpacked(archive, unpack)
    assert unpack.calls == 1 and again == directory and _contents(again) == FILES


def test_a_rewritten_or_deleted_archive_drops_its_kept_directory(tmp_path):
    archive = _archive(tmp_path)
    old = unpacked(archive, Unpacker())
    os.utime(archive, ns=(time.time_ns(), archive.stat().st_mtime_ns + 1_000_000_000))  # retrained, same name
    new = unpacked(archive, Unpacker())
    assert new != old and not old.exists() and _contents(new) == FILES
    other = unpacked(_archive(tmp_path, "crossdesk-4567.tar.gz"), Unpacker())
    archive.unlink()
    assert unpacked_models.prune(tmp_path) == [new]
    assert [path.name for path in (tmp_path / CACHE_DIR).iterdir()] == [other.name]


MESSAGES = ["hi", "how long does shipping to Germany take?", "配送にどのくらいかかりますか", "can I pay with PayPal?",
            "where is my parcel? order #A10234", "ありがとう", "quelle est votre politique de retour ?", "bye"]

LOAD_FOUR_WAYS = """
import asyncio, json, shutil, sys, tarfile
from pathlib import Path
from bot.engine import build_agent
from crossdesk import compat
from crossdesk.unpacked_models import CACHE_DIR
archive, messages = Path(sys.argv[1]), json.loads(sys.argv[2])
extractions = []
extractall = tarfile.TarFile.extractall
def counted(self, *args, **kwargs):
    extractions.append(1)
    return extractall(self, *args, **kwargs)
tarfile.TarFile.extractall = counted
def parses():
    agent = build_agent(str(archive))
    async def parse_all():
        return [await agent.parse_message(text) for text in messages]
    results = asyncio.run(parse_all())
    return [[r["intent"]["name"], round(r["intent"]["confidence"], 12), r.get("entities"), r.get("language")]
            for r in results]
def rasa_unpacking():  # Rasa's own unpacking into its temporary directory
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    ours = LocalModelStorage.from_model_archive
    LocalModelStorage.from_model_archive = classmethod(compat._unpacking_original)
    try:
        return parses()
    finally:
        LocalModelStorage.from_model_archive = ours
out = {}
out["first"], out["first_extractions"] = parses(), len(extractions)
out["kept"], out["kept_extractions"] = parses(), len(extractions)
out["rasa"] = rasa_unpacking()
[entry] = [p for p in (archive.parent / CACHE_DIR).iterdir()]
biggest = max((p for p in entry.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
biggest.write_bytes(biggest.read_bytes()[: biggest.stat().st_size // 2])  # damaged: half of the largest file
before = len(extractions)
out["rebuilt"], out["rebuilt_extractions"] = parses(), len(extractions) - before
out["unpacked_mb"] = round(sum(p.stat().st_size for p in entry.rglob("*") if p.is_file()) / 1e6)
print(json.dumps(out, ensure_ascii=False))
"""


def test_the_model_predicts_the_same_loaded_from_the_kept_directory_as_unpacked_by_rasa(model_path, tmp_path):
    archive = tmp_path / model_path.name
    archive.write_bytes(model_path.read_bytes())
    done = subprocess.run([sys.executable, "-c", LOAD_FOUR_WAYS, str(archive), json.dumps(MESSAGES)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["first_extractions"] == 1  # unpacked once into the kept directory ...
    assert result["kept_extractions"] == 1  # ... and the second load did not unpack
    assert result["rebuilt_extractions"] == 1  # the damaged directory was unpacked again
    assert result["first"] == result["kept"] == result["rebuilt"] == result["rasa"]
    assert [parse[0] for parse in result["kept"]][:2] == ["greet", "shipping_time"]


LAZY_MODULES = """
import asyncio, sys
from crossdesk import compat
compat.lazy_rasa_modules()
import rasa.nlu.test, rasa.core.processor, rasa.core.agent
light = [name for name in ("matplotlib", "apscheduler", "pkg_resources") if name in sys.modules]
from rasa.core import jobs
import rasa.utils.plotting as plotting
plot = plotting.plot_confusion_matrix.__name__
async def schedule():
    scheduler = await jobs.scheduler()
    running = scheduler.running
    jobs.kill_scheduler()
    return running
print(light, plot, "matplotlib" in sys.modules, asyncio.run(schedule()), "apscheduler" in sys.modules)
"""


def test_rasas_plotting_and_scheduler_modules_load_only_when_used_and_then_work():
    done = subprocess.run([sys.executable, "-c", LAZY_MODULES], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["[]", "plot_confusion_matrix", "True", "True", "True"]


STDLIB_DISTUTILS = """
import sys
from crossdesk import compat
first, again = compat.stdlib_distutils(), compat.stdlib_distutils()
import sanic, sanic.server.loop
print(first, again, "setuptools" in sys.modules, sanic.server.loop.strtobool("yes"), sanic.server.loop.strtobool("no"),
      sys.modules["distutils.util"].__file__.startswith(sys.base_prefix))
"""


def test_sanic_gets_distutils_from_the_standard_library_without_importing_setuptools():
    done = subprocess.run([sys.executable, "-W", "error::DeprecationWarning:distutils", "-c", STDLIB_DISTUTILS],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["True", "False", "False", "1", "0", "True"]


STORE_CLIENTS = """
import sys
from crossdesk import compat
with compat.rasa_store_clients_deferred() as deferred:
    import rasa.core.tracker_store as tracker_store
light = [name for name in ("boto3", "pymongo", "boto3.dynamodb.conditions", "pymongo.collection") if name in sys.modules]
condition = tracker_store.Key("sender_id").eq("shopper-1")  # what DynamoTrackerStore.retrieve builds
from boto3.dynamodb.conditions import ConditionBase, Key
print(deferred, light, isinstance(condition, ConditionBase), condition.get_expression()["values"][1],
      type(condition.get_expression()["values"][0]) is Key, "pymongo" in sys.modules)
"""


def test_rasas_tracker_store_module_imports_boto3_and_pymongo_only_when_a_store_of_theirs_needs_them():
    done = subprocess.run([sys.executable, "-c", STORE_CLIENTS], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["True", "[]", "True", "shopper-1", "True", "False"]


SAME_DOMAIN = """
import json, sys, tarfile, tempfile
from pathlib import Path
from crossdesk import compat
with tempfile.TemporaryDirectory() as tmp:
    with tarfile.open(sys.argv[1], "r:gz") as tar:
        tar.extractall(tmp)
    [directory] = [p for p in (Path(tmp) / "components").iterdir() if p.name.startswith("domain_provider")]
    ours = compat._domain_from_model_directory(directory)
    light = "pkg_resources" not in sys.modules
    from rasa.shared.core.domain import Domain
    rasas = Domain.from_path(directory)  # validated against the schema (imports pkg_resources)
print(json.dumps({"light": light, "same": ours.as_dict() == rasas.as_dict(), "fingerprint": ours.fingerprint() == rasas.fingerprint(),
                  "intents": len(ours.intents), "responses": len(ours.responses)}))
"""


def test_the_models_domain_read_without_revalidation_is_the_domain_rasa_reads(model_path):
    done = subprocess.run([sys.executable, "-c", SAME_DOMAIN, str(model_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["light"] and result["same"] and result["fingerprint"], result
    assert result["intents"] > 10, result


def test_the_collector_runs_less_while_the_server_starts_then_as_before_with_full_collections_on_a_timer():
    import asyncio
    import gc
    import threading
    from types import SimpleNamespace

    from bot.engine import BotEngine
    from handoff.__main__ import STARTUP_GC_THRESHOLD, fewer_collections_while_starting
    from handoff.collector import NEVER

    before = gc.get_threshold()
    loading = threading.Event()
    engine = BotEngine(lambda: loading.wait(30) and object())
    try:
        previous, restore = fewer_collections_while_starting()
        assert gc.get_threshold() == STARTUP_GC_THRESHOLD and previous == before

        async def start():
            tasks = []
            app = SimpleNamespace(ctx=SimpleNamespace(bot=engine), add_task=lambda c: tasks.append(asyncio.ensure_future(c)))
            engine.start()
            await restore(app, asyncio.get_running_loop())
            await asyncio.sleep(0.3)
            still_loading = gc.get_threshold()
            loading.set()
            for _ in range(300):  # (the pacing task runs until the server stops)
                if gc.get_threshold() != STARTUP_GC_THRESHOLD:
                    break
                await asyncio.sleep(0.1)
            loaded = gc.get_threshold()
            for task in tasks:
                task.cancel()
            return still_loading, loaded

        assert asyncio.run(start()) == (STARTUP_GC_THRESHOLD, (before[0], before[1], NEVER))
    finally:
        loading.set()
        gc.set_threshold(*before)
        engine.stop()
        gc.unfreeze()  # (the engine froze this test process's objects after its "load")


SERVER_IMPORTS = """
import sys
from crossdesk.compat import stdlib_distutils
stdlib_distutils()
import handoff.app
print(sorted(name for name in ("deep_translator", "bs4", "setuptools", "matplotlib", "tensorflow") if name in sys.modules))
"""


def test_the_server_module_imports_no_translation_provider_library_nor_setuptools():
    done = subprocess.run([sys.executable, "-c", SERVER_IMPORTS], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["[]"]
