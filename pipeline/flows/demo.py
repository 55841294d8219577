"""`vivid demo`: from a fresh clone to suggestions waiting in Label Studio.

Start Label Studio, train the model from the seed data if the registry has none, ingest
the sample reports and say where to look. Every step finds what an earlier run did and
leaves it alone, so a second run changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.settings import PROJECT_ROOT, get_settings, reset_settings

SAMPLES = PROJECT_ROOT / "corpus" / "samples"
Say = Callable[[str], None]


@dataclass
class DemoResult:
    url: str
    username: str
    password: str
    project: str
    model_version: str | None
    trained: bool
    ingest: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def ensure_credentials(env_file: Path | None = None) -> list[str]:
    """Give Label Studio an admin password and API token if none is configured.

    They are written to ``.env`` (never committed) so later runs and commands reuse them.
    """
    s = get_settings()
    missing = {}
    if not s.label_studio_password:
        missing["LABEL_STUDIO_PASSWORD"] = secrets.token_urlsafe(12)
    if not s.label_studio_token or len(s.label_studio_token) < 6:
        missing["LABEL_STUDIO_USER_TOKEN"] = secrets.token_hex(20)
    if not missing:
        return []
    env_file = env_file or Path(".env")
    text = env_file.read_text(encoding="utf-8") if env_file.exists() else ""
    lines = [ln for ln in text.splitlines() if ln.split("=", 1)[0].strip() not in missing]
    lines += [f"{k}={v}" for k, v in missing.items()]
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reset_settings()
    return [f"wrote {', '.join(missing)} to {env_file.resolve()}"]


def sample_folder(say: Say) -> Path:
    """corpus/samples when its PDFs are there; otherwise render them from the specs once."""
    if sorted(SAMPLES.glob("*.pdf")):
        return SAMPLES
    from corpus.synth import load_spec, render_spec

    out = get_settings().data_dir / "samples"
    for spec in sorted((SAMPLES / "specs").glob("*.json")):
        pdf = out / f"{spec.stem}.pdf"
        if not pdf.exists():
            say(f"rendering {pdf.name}")
            render_spec(load_spec(spec), pdf)
    return out


def ensure_model(say: Say) -> tuple[str | None, bool]:
    """(current version, whether it was trained now)."""
    from models.promotion import current_version

    version = current_version()
    if version:
        return version, False
    from models.promotion import _version_of
    from models.train import train

    say("training the model from the seed data (about a minute)")
    return _version_of(train()), True


def store_counts() -> dict[str, int]:
    from sqlalchemy import func, select

    from corpus.store.db import session_scope
    from corpus.store.schema import OutboxItem, Passage, Report, Suggestion, Task

    with session_scope() as s:
        def n(q: Any) -> int:
            return int(s.scalar(q) or 0)

        return {
            "reports": n(select(func.count()).select_from(Report)),
            "passages": n(select(func.count()).select_from(Passage)),
            "candidates": n(select(func.count(func.distinct(Suggestion.passage_id)))
                            .where(Suggestion.selected.is_(True))),
            "tasks": n(select(func.count()).select_from(Task)),
            "waiting": n(select(func.count()).select_from(OutboxItem)
                         .where(OutboxItem.status == "pending")),
        }


def run_demo(say: Say, task_runner: Any = None) -> DemoResult:
    from annotation import server
    from pipeline.flows.ingest import ingest_flow

    notes = ensure_credentials()
    for n in notes:
        say(n)
    s = get_settings()
    say(f"starting Label Studio at {s.label_studio_url} (first start: a minute or two)")
    server.start()
    version, trained = ensure_model(say)
    folder = sample_folder(say)
    say(f"ingesting {folder}")
    flow_fn = ingest_flow.with_options(task_runner=task_runner) if task_runner else ingest_flow
    summary = flow_fn(inbox=str(folder))
    return DemoResult(url=s.label_studio_url, username=s.label_studio_username,
                      password=s.label_studio_password or "", project=s.label_studio_project,
                      model_version=summary.get("model_version") or version, trained=trained,
                      ingest=summary, counts=store_counts(), notes=notes)
