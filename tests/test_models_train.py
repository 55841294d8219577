"""Training, the registry round trip and the `vivid train` contract, with bad data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from typer.testing import CliRunner

from corpus.settings import reset_settings
from models.examples import ExampleError, current_codebook, load_examples
from models.registry import (
    CARD_FILE,
    MODEL_FILE,
    RegistryError,
    current_version,
    list_versions,
    load_model,
    save_model,
)
from models.suggesters import fit_model
from models.train import check_training_set, prepare_all
from pipeline.cli import app
from tests.fixtures_models import small_training_set

CODEBOOK = Path(__file__).resolve().parents[1] / "corpus" / "data" / "codebook.yaml"


def test_model_card_and_files(trained_model):
    card = json.loads((trained_model.registry / trained_model.version / CARD_FILE).read_text())
    cb = current_codebook()
    assert card["version"] == trained_model.version == current_version()
    assert card["codebook_version"] == cb.version and card["codebook_sha256"] == cb.sha256
    assert len(card["training_data_sha256"]) == 64 and card["created"]
    ex = card["examples"]
    assert ex["vivid"]["true"] + ex["vivid"]["false"] == ex["total"]
    assert set(ex["stage"]) == set("ABCDEFG")
    for key in ("vivid_recall", "stage_top1", "pairing_f1_directed", "reasons_micro_f1"):
        assert 0.0 <= card["cv_metrics"][key] <= 1.0
    size = (trained_model.registry / trained_model.version / MODEL_FILE).stat().st_size
    assert size < 8_000_000


def _small_model(data: Path):
    cb = current_codebook()
    ex = load_examples([data])[:120]
    preps = prepare_all(ex, cb)
    return ex, preps, fit_model(ex, preps, cb.stage_ids, cb.issue_ids, cb.reason_ids,
                                group_ids=cb.group_ids)


def test_registry_round_trip_gives_the_same_scores(trained_model, tmp_path, monkeypatch):
    monkeypatch.setenv("VIVID_REGISTRY_DIR", str(tmp_path / "reg"))
    reset_settings()
    ex, preps, model = _small_model(trained_model.data)
    card = save_model(model, codebook=current_codebook(), data_files=[trained_model.data],
                      data_sha="0" * 64, counts={"total": len(ex)}, cv_metrics={},
                      cv_headline={}, train_seconds=1.0, version="rt")
    assert card.version == "rt" and list_versions() == ["rt"] and current_version() == "rt"
    loaded, card2 = load_model("rt")
    a, b = model.scores(preps[:20]), loaded.scores(preps[:20])
    assert np.allclose(a.vivid, b.vivid) and np.allclose(a.stage, b.stage)
    assert np.allclose(a.reasons, b.reasons) and a.pairs == b.pairs
    assert card2["version"] == "rt"
    with pytest.raises(RegistryError, match="already exists"):
        save_model(model, codebook=current_codebook(), data_files=[], data_sha="",
                   counts={}, cv_metrics={}, cv_headline={}, train_seconds=0, version="rt")


def test_load_errors_are_clear(trained_model, tmp_path, monkeypatch):
    with pytest.raises(RegistryError, match=r"'nope' not found .*available: test-model"):
        load_model("nope")
    monkeypatch.setenv("VIVID_REGISTRY_DIR", str(tmp_path / "empty"))
    reset_settings()
    with pytest.raises(RegistryError, match="no trained model .* run `vivid train`"):
        load_model()


def test_model_from_another_codebook_version_is_refused(trained_model, tmp_path, monkeypatch):
    other = tmp_path / "codebook.yaml"
    other.write_text(CODEBOOK.read_text().replace("\nversion: 1\n", "\nversion: 2\n"))
    monkeypatch.setenv("VIVID_CODEBOOK", str(other))
    reset_settings()
    with pytest.raises(RegistryError, match="trained on codebook version '1' but the "
                                            "codebook in force is version '2'"):
        load_model()


def test_untrusted_or_corrupt_model_file_is_refused(trained_model):
    from sklearn.preprocessing import FunctionTransformer

    path = trained_model.registry / trained_model.version / MODEL_FILE
    sio.dump({"format": 1, "f": FunctionTransformer(func=os.system)}, path)
    with pytest.raises(RegistryError, match="refusing to load untrusted types: .*system"):
        load_model()
    path.write_bytes(b"not a zip file")
    with pytest.raises(RegistryError, match="not a readable skops file"):
        load_model()


def test_training_set_missing_a_stage_is_refused(tmp_path):
    data = small_training_set(tmp_path / "t.jsonl", per_stage=4, negatives=6)
    kept = [line for line in data.read_text().splitlines() if '"stage": "C"' not in line]
    data.write_text("\n".join(kept) + "\n")
    ex = load_examples([data])
    with pytest.raises(ExampleError, match=r"missing stage\(s\) C \(0\)"):
        check_training_set(ex, current_codebook(), str(data))


# --- `vivid train` --------------------------------------------------------------------
def test_cli_train_creates_a_version_and_prints_metrics(trained_model, tmp_path):
    data = small_training_set(tmp_path / "small.jsonl", per_stage=8, negatives=20)
    res = CliRunner().invoke(app, ["train", "--data", str(data), "--out", "cli-v"])
    assert res.exit_code == 0, res.output
    assert "trained model cli-v" in res.output and "stage_top1" in res.output
    assert "pairing_f1_directed" in res.output
    assert set(list_versions()) == {"test-model", "cli-v"} and current_version() == "cli-v"


@pytest.mark.parametrize("problem,needle", [
    ("unknown_stage", r"bad.jsonl:2: example '.*': unknown stage id 'Z'"),
    ("unknown_pairing", r"bad.jsonl:2: example '.*': unknown pairing id 'school>aliens'"),
    ("duplicate", "duplicate id"),
    ("missing_stage", r"missing stage\(s\) D \(0\)"),
    ("no_file", "cannot read"),
])
def test_cli_train_bad_data(trained_model, tmp_path, problem, needle):
    data = small_training_set(tmp_path / "bad.jsonl", per_stage=4, negatives=6)
    lines = data.read_text().splitlines()
    rec = json.loads(lines[1])
    if problem == "unknown_stage":
        rec["stage"] = "Z"
        lines[1] = json.dumps(rec)
    elif problem == "unknown_pairing":
        rec["pairings"] = ["school>aliens"]
        lines[1] = json.dumps(rec)
    elif problem == "duplicate":
        lines.append(lines[0])
    elif problem == "missing_stage":
        lines = [x for x in lines if '"stage": "D"' not in x]
    elif problem == "no_file":
        data = tmp_path / "missing.jsonl"
    if problem != "no_file":
        data.write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(app, ["train", "--data", str(data)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    import re

    assert re.search(needle, res.stderr), res.stderr
    assert list_versions() == ["test-model"]  # nothing half-written
