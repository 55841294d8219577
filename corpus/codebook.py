"""The coding scheme, loaded and validated from one place.

Every other module asks :func:`load_codebook` for stages, groups, issues, reasons and
section types, so that ids are checked once and a broken codebook is refused up front.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_CODEBOOK = Path(__file__).parent / "data" / "codebook.yaml"


class CodebookError(ValueError):
    """The codebook file is unreadable or inconsistent."""


class _Code(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    id: str = Field(min_length=1)
    label: str = ""


class Stage(_Code):
    definition: str = ""


class Group(_Code):
    aliases: list[str] = Field(default_factory=list)


class Issue(_Code):
    stage: str | None = None


class ReasonCategory(_Code):
    pass


class Reason(_Code):
    category: str


class SectionType(_Code):
    pass


class Codebook(BaseModel):
    """Validated codebook: unique ids per list, no dangling references."""

    model_config = ConfigDict(frozen=True)
    version: str
    stages: list[Stage]
    groups: list[Group]
    issues: list[Issue]
    reason_categories: list[ReasonCategory]
    reasons: list[Reason]
    section_types: list[SectionType]
    sha256: str = ""

    @model_validator(mode="after")
    def _check_ids(self) -> Codebook:
        problems: list[str] = []
        for name in ("stages", "groups", "issues", "reason_categories", "reasons",
                     "section_types"):
            counts = Counter(c.id for c in getattr(self, name))
            dup = sorted(i for i, n in counts.items() if n > 1)
            if dup:
                problems.append(f"duplicate {name} ids: {', '.join(dup)}")
        stage_ids = {s.id for s in self.stages}
        for issue in self.issues:
            if issue.stage is not None and issue.stage not in stage_ids:
                problems.append(f"issue {issue.id!r} refers to unknown stage {issue.stage!r}")
        cat_ids = {c.id for c in self.reason_categories}
        for reason in self.reasons:
            if reason.category not in cat_ids:
                problems.append(
                    f"reason {reason.id!r} refers to unknown category {reason.category!r}")
        if "other" not in {i.id for i in self.issues}:
            problems.append("issues must include 'other'")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # --- lookups -------------------------------------------------------------------
    @property
    def stage_ids(self) -> list[str]:
        return [s.id for s in self.stages]

    @property
    def group_ids(self) -> list[str]:
        return [g.id for g in self.groups]

    @property
    def issue_ids(self) -> list[str]:
        return [i.id for i in self.issues]

    @property
    def reason_ids(self) -> list[str]:
        return [r.id for r in self.reasons]

    @property
    def section_type_ids(self) -> list[str]:
        return [t.id for t in self.section_types]

    def is_pairing(self, pairing: str) -> bool:
        """True for a directed pairing ``sender>receiver`` of known group ids."""
        sender, sep, receiver = pairing.partition(">")
        groups = set(self.group_ids)
        return bool(sep) and sender in groups and receiver in groups

    def label(self, kind: str, code_id: str) -> str:
        for code in getattr(self, kind):
            if code.id == code_id:
                return code.label
        raise KeyError(f"unknown {kind} id {code_id!r}")


def parse_codebook(text: str, source: str = "<codebook>") -> Codebook:
    """Parse and validate codebook YAML text; errors name the source and the bad ids."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CodebookError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise CodebookError(f"{source}: expected a mapping at the top level")
    raw = dict(raw)
    raw["version"] = str(raw.get("version", ""))
    raw["sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    try:
        return Codebook.model_validate(raw)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            msgs.append(f"{loc}: {err['msg']}" if loc else err["msg"])
        raise CodebookError(f"{source}: invalid codebook: {'; '.join(msgs)}") from None


@lru_cache(maxsize=8)
def load_codebook(path: str | Path | None = None) -> Codebook:
    """Load the project's codebook (or the file at ``path``), cached per path."""
    file = Path(path) if path else DEFAULT_CODEBOOK
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CodebookError(f"{file}: cannot read codebook: {exc.strerror}") from exc
    return parse_codebook(text, source=str(file))
