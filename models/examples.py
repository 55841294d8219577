"""Coded examples in JSON Lines: one format for seed data, dev data and confirmed codings.

Each line is ``{"id", "text", "vivid", "stage", "pairings", "issue", "issue_note",
"reasons", "source"}`` with codebook ids. The loader checks every record against the
codebook so that a typo in a code is refused with the file, the line and the id, instead
of silently becoming a new label.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from corpus.codebook import Codebook, load_codebook
from corpus.settings import get_settings

SEED_FILE = Path(__file__).parent / "data" / "seed_examples.jsonl"
DEV_FILE = Path(__file__).parent / "data" / "vivid_dev.jsonl"
SPEC_DIR = Path(__file__).resolve().parent.parent / "corpus" / "samples" / "specs"


class ExampleError(ValueError):
    """A coded-example file or record that cannot be used; the message names where."""


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    vivid: bool
    stage: str | None = None
    pairings: tuple[str, ...] = ()
    issue: str | None = None
    issue_note: str = ""
    reasons: tuple[str, ...] = ()
    source: str = ""
    context: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def to_json(self) -> dict:
        out = asdict(self)
        out["pairings"] = list(self.pairings)
        out["reasons"] = list(self.reasons)
        if not self.context:
            out.pop("context")
        return out


def current_codebook() -> Codebook:
    """The codebook in force (``VIVID_CODEBOOK`` or the project's own)."""
    return load_codebook(get_settings().codebook_path)


def default_training_files() -> list[Path]:
    """The seed training set shipped with the project."""
    if SEED_FILE.exists():
        return [SEED_FILE]
    raise ExampleError(f"{SEED_FILE}: no seed training data found")


def default_training_sources() -> list[Path]:
    """What `vivid train` learns from by default: the seed set, the real dev examples and
    the sample-report specs (whole reports: hard negatives with section context)."""
    extra = [DEV_FILE] if DEV_FILE.exists() else []
    return default_training_files() + extra + sample_spec_files()


def sample_spec_files() -> list[Path]:
    """The sample-report specs: whole reports with planted, coded vivid examples."""
    return sorted(SPEC_DIR.glob("*.json")) if SPEC_DIR.is_dir() else []


def spec_records(path: Path) -> list[tuple[str, dict]]:
    """(where, record) for each paragraph or bullet list of a sample-report spec: planted
    vivid blocks carry their codes, every other block is a non-vivid passage in context."""
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExampleError(f"{path}: not a readable report spec ({exc})") from None
    out: list[tuple[str, dict]] = []

    def walk(sections: list, trail: str) -> None:
        for si, sec in enumerate(sections):
            here = f"{trail}{si + 1}."
            ctx = {"heading": str(sec.get("heading") or ""),
                   "section_type": str(sec.get("type") or "")}
            for bi, block in enumerate(sec.get("blocks") or []):
                text = block.get("text") or " ".join(block.get("items") or [])
                if block.get("kind") not in ("para", "bullets") or not text.strip():
                    continue
                rec = {"id": f"{path.stem}:{here}{bi + 1}", "text": text, "vivid": False,
                       "context": ctx, "source": f"sample spec {path.name}"}
                if isinstance(block.get("vivid"), dict):
                    rec.update(block["vivid"], vivid=True)
                out.append((f"{path}: section {here.rstrip('.')} block {bi + 1}", rec))
            walk(sec.get("subsections") or [], here)

    walk(spec.get("sections") or [], "")
    return out


def _str_list(rec: dict, key: str, where: str) -> tuple[str, ...]:
    value = rec.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ExampleError(f"{where}: {key!r} must be a list of strings")
    return tuple(value)


def parse_record(rec: object, where: str, codebook: Codebook) -> Example:
    """Validate one decoded record; ``where`` is ``file:line`` for messages."""
    if not isinstance(rec, dict):
        raise ExampleError(f"{where}: expected a JSON object")
    rid = rec.get("id")
    if not isinstance(rid, str | int) or str(rid).strip() == "":
        raise ExampleError(f"{where}: missing or empty 'id'")
    rid = str(rid)
    at = f"{where}: example {rid!r}"
    text = rec.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ExampleError(f"{at}: empty or missing 'text'")
    vivid = rec.get("vivid")
    if not isinstance(vivid, bool):
        raise ExampleError(f"{at}: 'vivid' must be true or false")
    stage, issue = rec.get("stage"), rec.get("issue")
    pairings = _str_list(rec, "pairings", at)
    reasons = _str_list(rec, "reasons", at)
    if stage is not None and stage not in codebook.stage_ids:
        raise ExampleError(f"{at}: unknown stage id {stage!r}")
    if issue is not None and issue not in codebook.issue_ids:
        raise ExampleError(f"{at}: unknown issue id {issue!r}")
    for p in pairings:
        if not codebook.is_pairing(p):
            raise ExampleError(f"{at}: unknown pairing id {p!r} (expected sender>receiver "
                               "with codebook group ids)")
    for r in reasons:
        if r not in codebook.reason_ids:
            raise ExampleError(f"{at}: unknown reason id {r!r}")
    if len(set(pairings)) != len(pairings) or len(set(reasons)) != len(reasons):
        raise ExampleError(f"{at}: repeated pairing or reason")
    if vivid and (stage is None or issue is None or not pairings):
        raise ExampleError(f"{at}: a vivid example needs a stage, an issue and a pairing")
    if not vivid and (stage is not None or issue is not None or pairings or reasons):
        raise ExampleError(f"{at}: a non-vivid example must have no stage, issue, "
                           "pairings or reasons")
    context = rec.get("context") or {}
    if not isinstance(context, dict):
        raise ExampleError(f"{at}: 'context' must be an object")
    return Example(id=rid, text=text, vivid=vivid, stage=stage, pairings=pairings,
                   issue=issue, issue_note=str(rec.get("issue_note") or ""),
                   reasons=reasons, source=str(rec.get("source") or ""),
                   context={k: str(v) for k, v in context.items() if v is not None})


def load_examples(paths: Iterable[str | Path], codebook: Codebook | None = None
                  ) -> list[Example]:
    """Read and validate coded examples from JSON Lines files; ids must be unique overall."""
    codebook = codebook or current_codebook()
    out: list[Example] = []
    seen: dict[str, str] = {}
    for path in paths:
        path = Path(path)
        if path.suffix == ".json":  # a sample-report spec
            for where, rec in spec_records(path):
                ex = parse_record(rec, where, codebook)
                if ex.id in seen:
                    raise ExampleError(f"{where}: duplicate id {ex.id!r} (first at "
                                       f"{seen[ex.id]})")
                seen[ex.id] = where
                out.append(ex)
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ExampleError(f"{path}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ExampleError(f"{path}: not UTF-8 text") from None
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ExampleError(f"{where}: not valid JSON ({exc.msg})") from None
            ex = parse_record(rec, where, codebook)
            if ex.id in seen:
                raise ExampleError(f"{where}: duplicate id {ex.id!r} (first at {seen[ex.id]})")
            seen[ex.id] = where
            out.append(ex)
    if not out:
        raise ExampleError(f"{', '.join(str(p) for p in paths) or '(no files)'}: no examples")
    return out


def data_sha256(paths: Sequence[str | Path]) -> str:
    """SHA-256 over the bytes of the files, in order: identifies the training data."""
    digest = hashlib.sha256()
    for path in paths:
        data = Path(path).read_bytes()
        digest.update(f"{len(data)}:".encode())
        digest.update(data)
    return digest.hexdigest()
