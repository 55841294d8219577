"""Model registry: ``<models_dir>/<version>/`` holding ``model.skops`` and ``model_card.json``.

``models_dir`` comes from settings (``VIVID_REGISTRY_DIR``, default ``models/registry``).
A ``current`` file names the version `vivid suggest` uses by default. Models are stored
with skops and loaded only if every type in the file is on the explicit trusted list
below (never pickle); a model trained on another codebook version is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import skops.io as sio
from pydantic import BaseModel, ConfigDict

from corpus.codebook import Codebook
from corpus.settings import get_settings
from models.examples import current_codebook
from models.suggesters import VividModel

MODEL_FILE = "model.skops"
CARD_FILE = "model_card.json"
CURRENT = "current"
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# Every type a saved model may contain, beyond what skops trusts by default.
TRUSTED_TYPES = [
    "builtins.float",
    "builtins.int",
    "numpy.dtype",
    "numpy.float32",
    "numpy.float64",
    "numpy.int64",
    "sklearn.feature_extraction._dict_vectorizer.DictVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.linear_model._logistic.LogisticRegression",
]


class RegistryError(RuntimeError):
    """A model that cannot be saved or loaded; the message says why and what to do."""


class ModelCard(BaseModel):
    """What a model is and how well it did in cross-validation (``model_card.json``)."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())
    version: str
    created: str
    codebook_version: str
    codebook_sha256: str
    training_data_sha256: str
    data_files: list[str]
    examples: dict[str, Any]
    cv_metrics: dict[str, float]
    cv_details: dict[str, Any] = {}
    thresholds: dict[str, Any] = {}
    calibration: dict[str, float] = {}
    params: dict[str, Any] = {}
    train_seconds: float = 0.0
    model_file: str = MODEL_FILE
    model_sha256: str = ""
    libraries: dict[str, str] = {}


def registry_dir() -> Path:
    return Path(get_settings().models_dir)


def list_versions() -> list[str]:
    root = registry_dir()
    if not root.is_dir():
        return []
    found = [p.name for p in root.iterdir() if (p / CARD_FILE).is_file()]
    return sorted(found, key=_version_key)


def _version_key(name: str) -> tuple:
    m = re.fullmatch(r"v(\d+)", name)
    return (0, int(m.group(1)), "") if m else (1, 0, name)


def next_version() -> str:
    nums = [int(v[1:]) for v in list_versions() if re.fullmatch(r"v\d+", v)]
    return f"v{max(nums, default=0) + 1}"


def current_version() -> str | None:
    pointer = registry_dir() / CURRENT
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8").strip()
        return name or None
    versions = list_versions()
    return versions[-1] if versions else None


def set_current(version: str) -> None:
    if version not in list_versions():
        raise RegistryError(f"model version {version!r} not found in {registry_dir()}")
    _atomic_write(registry_dir() / CURRENT, version + "\n")


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _libraries() -> dict[str, str]:
    import sklearn
    import skops
    import spacy

    return {"scikit-learn": sklearn.__version__, "skops": skops.__version__,
            "spacy": spacy.__version__}


def save_model(model: VividModel, *, codebook: Codebook, data_files: list[Path],
               data_sha: str, counts: dict, cv_metrics: dict, cv_headline: dict,
               train_seconds: float, version: str | None = None, make_current: bool = True
               ) -> ModelCard:
    """Write a new version (never overwrites one) and point ``current`` at it."""
    version = version or next_version()
    if not _VERSION.match(version) or version == CURRENT:
        raise RegistryError(f"{version!r} is not a valid model version name (letters, "
                            "digits, '.', '_' or '-')")
    root = registry_dir()
    target = root / version
    if target.exists():
        raise RegistryError(f"model version {version!r} already exists in {root}")
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{version}."))
    sio.dump(model.state(), tmp / MODEL_FILE, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    card = ModelCard(
        version=version, created=datetime.now(UTC).isoformat(timespec="seconds"),
        codebook_version=codebook.version, codebook_sha256=codebook.sha256,
        training_data_sha256=data_sha, data_files=[str(f) for f in data_files], examples=counts,
        cv_metrics=cv_headline, cv_details=cv_metrics,
        thresholds=model.state()["thresholds"], calibration=model.calibration.as_dict(),
        params=model.params.as_dict(), train_seconds=round(train_seconds, 2),
        model_sha256=hashlib.sha256((tmp / MODEL_FILE).read_bytes()).hexdigest(),
        libraries=_libraries())
    (tmp / CARD_FILE).write_text(card.model_dump_json(indent=2), encoding="utf-8")
    os.replace(tmp, target)
    if make_current:
        set_current(version)
    return card


def load_card(version: str | None = None) -> ModelCard:
    name = version or current_version()
    root = registry_dir()
    if name is None:
        raise RegistryError(f"no trained model in {root}: run `vivid train` first")
    path = root / name / CARD_FILE
    if not path.is_file():
        known = ", ".join(list_versions()) or "none"
        raise RegistryError(f"model version {name!r} not found in {root} (available: {known})")
    try:
        return ModelCard.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise RegistryError(f"{path}: unreadable model card: {exc}") from None


def check_codebook(card: ModelCard, codebook: Codebook) -> None:
    if str(card.codebook_version) != str(codebook.version):
        raise RegistryError(
            f"model {card.version!r} was trained on codebook version "
            f"{card.codebook_version!r} but the codebook in force is version "
            f"{codebook.version!r}: retrain with `vivid train`")


def load_model(version: str | None = None) -> tuple[VividModel, dict]:
    """The named (or current) model and its card, after the codebook and type checks."""
    card = load_card(version)
    codebook = current_codebook()
    check_codebook(card, codebook)
    path = registry_dir() / card.version / MODEL_FILE
    if not path.is_file():
        raise RegistryError(f"{path}: model file missing")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # corrupted or not a skops file
        raise RegistryError(f"{path}: not a readable skops file ({exc})") from None
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise RegistryError(f"{path}: refusing to load untrusted types: {', '.join(unknown)}")
    state = sio.load(path, trusted=untrusted)
    model = VividModel.from_state(state)
    used = set(model.stage_ids) | set(model.issue_ids) | set(model.reason_ids)
    missing = used - set(codebook.stage_ids + codebook.issue_ids + codebook.reason_ids)
    if missing:
        raise RegistryError(f"model {card.version!r} uses ids missing from the codebook: "
                            f"{', '.join(sorted(missing))}: retrain with `vivid train`")
    return model, card.model_dump()
