"""The model is retrained exactly when its inputs change."""

from bot import training


def test_fingerprint_changes_with_training_data_only(tmp_path, monkeypatch):
    nlu = tmp_path / "nlu" / "en"
    nlu.mkdir(parents=True)
    (nlu / "shipping.yml").write_text("version: '3.1'\nnlu: []\n")
    monkeypatch.setattr(training, "ROOT", tmp_path)
    monkeypatch.setattr(training, "CONFIG", tmp_path / "config.yml")
    monkeypatch.setattr(training, "DOMAIN", tmp_path / "domain.yml")
    monkeypatch.setattr(training, "RULES", tmp_path / "rules.yml")
    for name in ("config.yml", "domain.yml", "rules.yml"):
        (tmp_path / name).write_text(name)
    before = training.fingerprint(training.training_inputs(tmp_path / "nlu"))
    assert training.fingerprint(training.training_inputs(tmp_path / "nlu")) == before
    (tmp_path / "responses.yml").write_text("responses are not a training input")
    assert training.fingerprint(training.training_inputs(tmp_path / "nlu")) == before
    (nlu / "shipping.yml").write_text("version: '3.1'\nnlu: [changed]\n")
    assert training.fingerprint(training.training_inputs(tmp_path / "nlu")) != before


def test_up_to_date_model_is_not_retrained(tmp_path, monkeypatch, capsys):
    digest = training.fingerprint(training.training_inputs())
    (tmp_path / f"crossdesk-{digest}.tar.gz").write_bytes(b"model")
    monkeypatch.setattr(training, "train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained")))
    assert training.ensure_model(tmp_path).name == f"crossdesk-{digest}.tar.gz"
    assert "up to date" in capsys.readouterr().out
