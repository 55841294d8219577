"""A model trained once per test session, for every area's tests.

``trained_model_session`` trains on a fixed, stratified subset of the seed set into a
session temp registry (about ten seconds). The function-scoped ``trained_model`` copies
that registry into the test's own tmp dir and exports ``VIVID_REGISTRY_DIR`` there (the
autouse ``isolated_env`` fixture resets settings per test), so a test may train, move
the ``current`` pointer or break files without touching other tests.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from corpus.settings import reset_settings

SEED = Path(__file__).resolve().parent.parent / "models" / "data" / "seed_examples.jsonl"
VERSION = "test-model"


@dataclass(frozen=True)
class TrainedModel:
    registry: Path  # the registry dir (exported as VIVID_REGISTRY_DIR)
    version: str
    card: dict
    data: Path  # the JSON Lines it was trained on


def small_training_set(path: Path, per_stage: int = 16, negatives: int = 50) -> Path:
    """A fixed subset of the seed set: the first ``per_stage`` of each stage + negatives."""
    by: dict[str, list[str]] = defaultdict(list)
    for line in SEED.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        key = rec.get("stage") or "-"
        if len(by[key]) < (per_stage if key != "-" else negatives):
            by[key].append(line)
    path.write_text("\n".join(x for lines in by.values() for x in lines) + "\n",
                    encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def trained_model_session(tmp_path_factory) -> TrainedModel:
    root = tmp_path_factory.mktemp("model-registry")
    data = small_training_set(root.parent / "model-train.jsonl")
    registry = root / "registry"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VIVID_REGISTRY_DIR", str(registry))
        reset_settings()
        from models.train import train

        card = train([data], out_version=VERSION)
    reset_settings()
    return TrainedModel(registry=registry, version=card.version, card=card.model_dump(),
                        data=data)


@pytest.fixture
def trained_model(trained_model_session, tmp_path, monkeypatch) -> TrainedModel:
    """The session's model in this test's own registry copy (VIVID_REGISTRY_DIR set)."""
    registry = tmp_path / "registry"
    shutil.copytree(trained_model_session.registry, registry)
    monkeypatch.setenv("VIVID_REGISTRY_DIR", str(registry))
    reset_settings()
    return TrainedModel(registry=registry, version=trained_model_session.version,
                        card=trained_model_session.card, data=trained_model_session.data)
