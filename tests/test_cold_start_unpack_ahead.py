"""Cold start (issue #21), session 11: no server start unpacks a model that training just made.

In-process: real archives, the real ``crossdesk.unpacked_models``; Rasa's training and the gate's scoring are
replaced by writers of a small real archive (both take minutes and are covered by their own tests).
"""

from __future__ import annotations

import argparse
import tarfile
from pathlib import Path

from bot import training
from crossdesk.unpacked_models import CACHE_DIR, entry_name, is_complete, unpack_in_background, unpacked
from tests.test_cold_start import Unpacker, _archive, _contents

FILES = {"metadata.json": b'{"model": 1}', "components/a/weights.bin": b"w" * 50_000,
         "components/b/vocabulary.json": b'["ship", "pay"]'}


def _write_archive(path: Path, files: dict = FILES) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return _archive(path.parent, path.name, files)


def test_a_model_trained_at_start_is_unpacked_before_it_goes_live_so_the_load_unpacks_nothing(tmp_path, monkeypatch):
    """``make run`` / ``serve`` train a model when the inputs changed: its first start took 5.1 s, the
    next ones 3.8-4.6 s (the load unpacked the 39 MB archive); now training unpacks it."""
    live_when_kept = []

    def rasa_training(target, *_args, **_kwargs):
        _write_archive(target)

    def set_live(models_dir, model):
        live_when_kept.append(is_complete(Path(models_dir) / CACHE_DIR / entry_name(model)))
        set_live_model(models_dir, model)

    set_live_model = training.set_live_model
    monkeypatch.setattr(training, "train", rasa_training)
    monkeypatch.setattr(training, "set_live_model", set_live)
    model = training.ensure_model(tmp_path)
    assert live_when_kept == [True]  # (a running server following LIVE finds it unpacked too)
    load = Unpacker()
    assert _contents(unpacked(model, load)) == FILES
    assert load.calls == 0


def test_a_model_that_cannot_be_unpacked_at_training_is_still_trained_and_live(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(training, "train", lambda target, *a, **k: target.write_bytes(b"not an archive"))
    model = training.ensure_model(tmp_path)
    assert training.live_model(tmp_path) == model
    assert "not unpacked ahead" in capsys.readouterr().err


def _gate_args(tmp_path: Path, output: Path) -> argparse.Namespace:
    return argparse.Namespace(content_dir=str(tmp_path / "content"), models_dir=str(tmp_path / "models"),
                              output=str(output), live=None, gate=True, gate_margin=0.02, keep=5)


def test_the_studios_model_is_unpacked_by_its_training_job_only_if_the_gate_passes(tmp_path, monkeypatch):
    """The server swaps to a model the training child wrote: the child unpacks it (beside the live server, on
    the other core), so the server's swap loads the kept copy instead of unpacking 39 MB itself."""
    from bot import __main__ as bot_main
    from bot import gate

    monkeypatch.setattr(training, "train_content", lambda content, target: _write_archive(target))
    for verdict, name in ((True, "crossdesk-aaaa.tar.gz"), (False, "crossdesk-bbbb.tar.gz")):
        monkeypatch.setattr(gate, "run_gate", lambda *a, ok=verdict, **k: {"ok": ok, "languages": {}})
        target = tmp_path / "models" / name
        assert bot_main.train_and_gate(_gate_args(tmp_path, target)) == (0 if verdict else 1)
    load = Unpacker()
    assert _contents(unpacked(tmp_path / "models" / "crossdesk-aaaa.tar.gz", load)) == FILES and load.calls == 0
    assert not (tmp_path / "models" / CACHE_DIR / entry_name(tmp_path / "models" / "crossdesk-bbbb.tar.gz")).exists()


def test_a_load_waits_for_the_background_unpack_and_does_not_unpack_again(tmp_path):
    """A model never unpacked (copied in, or trained by an older release) is unpacked by a child process
    while the server imports; the bot's load then reads that copy."""
    archive = _write_archive(tmp_path / "crossdesk-0123.tar.gz")
    process = unpack_in_background(archive)
    assert process is not None
    load = Unpacker()
    directory = unpacked(archive, load)  # (right away: waits for the child)
    assert load.calls == 0 and _contents(directory) == FILES and process.returncode == 0
    assert unpack_in_background(archive) is None  # kept: no child at the next start
    assert [p.name for p in (tmp_path / CACHE_DIR).iterdir()] == [entry_name(archive)]


def test_a_failed_background_unpack_leaves_the_load_to_unpack_and_report(tmp_path):
    archive = tmp_path / "crossdesk-0123.tar.gz"
    archive.write_bytes(b"not an archive")
    process = unpack_in_background(archive)
    load = Unpacker()
    try:
        unpacked(archive, load)
    except tarfile.ReadError:
        pass  # (Rasa's load reports the same error)
    assert process.returncode == 1 and load.calls == 1
