"""`vivid pull`: bring coders' and adjudicators' annotations into the store.

Tasks are read page by page with their annotations; each annotation is mapped back to
codebook ids and upserted by its Label Studio id, so re-running changes nothing and an
annotation edited in Label Studio (a skipped task annotated later, a corrected coding)
replaces the stored version. Every page is committed on its own: a pull interrupted by
an outage keeps what it read, and the next run completes it. Labels the codebook does
not know are stored with the annotation and reported, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from annotation.client import LS, PAGE_SIZE, LabelStudioError, connect
from annotation.config import Coded, accepted, adjudication_title, from_results, prefill
from annotation.outbox import _codebook
from corpus.codebook import Codebook
from corpus.settings import get_settings
from corpus.store.db import session_scope
from corpus.store.schema import Annotation, Passage, Suggestion, Task


@dataclass
class PullResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    cancelled: int = 0  # skipped tasks (kept, but never counted as a coding)
    tasks_read: int = 0
    unknown_labels: list[str] = field(default_factory=list)  # "annotation N (passage): label"
    messages: list[str] = field(default_factory=list)
    error: str | None = None


def _when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _shown(session, passage_id: str, model_version: str | None) -> Coded | None:
    """What the task pre-filled: the routed suggestion, rebuilt from the store."""
    q = select(Suggestion).where(Suggestion.passage_id == passage_id)
    if model_version:
        q = q.where(Suggestion.model_version == model_version)
    sug = session.scalars(q.order_by(Suggestion.id.desc())).first()
    return prefill(sug.payload)[0] if sug is not None else None


def _store_page(url: str | None, ls: LS, tasks: list[Any], role: str, codebook: Codebook,
                res: PullResult) -> None:
    with session_scope(url) as session:
        for task in tasks:
            data = task.data or {}
            pid = str(data.get("passage_id") or "")
            anns = [a if isinstance(a, dict) else a.dict() for a in (task.annotations or [])]
            if not anns:
                continue
            if not pid or session.get(Passage, pid) is None:
                res.messages.append(f"task {task.id} has {len(anns)} annotation(s) but no "
                                    f"passage known to the store ({pid or 'no passage_id'}): "
                                    "not stored")
                continue
            stored_task = session.get(Task, pid)
            version = data.get("model_version") or (stored_task.model_version
                                                    if stored_task else None)
            shown = _shown(session, pid, version) if role == "coder" else None
            for a in anns:
                coded = from_results(a.get("result"), codebook)
                cancelled = bool(a.get("was_cancelled"))
                row = session.scalars(select(Annotation).where(
                    Annotation.ls_annotation_id == int(a["id"]))).first()
                updated_at = _when(a.get("updated_at"))
                if row is not None and row.updated_at is not None and updated_at is not None \
                        and _same_instant(row.updated_at, updated_at) \
                        and row.was_cancelled == cancelled:
                    res.unchanged += 1
                    continue
                if row is None:
                    row = Annotation(ls_annotation_id=int(a["id"]))
                    session.add(row)
                    res.new += 1
                else:
                    res.updated += 1
                row.ls_task_id, row.passage_id, row.role = int(task.id), pid, role
                row.coder = ls.email(a.get("completed_by"))
                row.vivid, row.stage, row.issue = coded.vivid, coded.stage, coded.issue
                row.pairings, row.reasons = coded.pairings, coded.reasons
                row.issue_note, row.note = coded.issue_note, coded.note
                row.unknown_labels = coded.unknown
                row.was_cancelled = cancelled
                row.accepted = accepted(coded, shown) if shown and not cancelled else {}
                row.lead_time = a.get("lead_time")
                row.created_at, row.updated_at = _when(a.get("created_at")), updated_at
                if cancelled:
                    res.cancelled += 1
                for label in coded.unknown:
                    res.unknown_labels.append(f"annotation {a['id']} by {row.coder} "
                                              f"(passage {pid}): {label}")


def _same_instant(a: datetime, b: datetime) -> bool:
    if a.tzinfo is None or b.tzinfo is None:  # SQLite returns naive UTC datetimes
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return a == b


def pull(url: str | None = None, *, ls: LS | None = None,
         page_size: int = PAGE_SIZE) -> PullResult:
    """Fetch every annotation of the coders' and the adjudication project into the store."""
    codebook = _codebook()
    res = PullResult()
    title = get_settings().label_studio_project
    try:
        ls = ls or connect()
        for name, role in ((title, "coder"), (adjudication_title(title), "adjudicator")):
            project = ls.find_project(name)
            if project is None:
                if role == "coder":
                    res.messages.append(f"no project {name!r} in Label Studio yet: run "
                                        "`vivid labelstudio setup` and `vivid route`")
                continue
            for items in ls.task_pages(project.id, with_annotations=True,
                                       page_size=page_size):
                res.tasks_read += len(items)
                _store_page(url, ls, items, role, codebook, res)
    except LabelStudioError as exc:
        res.error = (f"{exc}; {res.new + res.updated} annotation(s) stored before that, "
                     "run `vivid pull` again to complete")
    return res
