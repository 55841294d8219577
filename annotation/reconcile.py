"""Reconcile coders' annotations into codings; only confirmed codings form the dataset.

Per passage, each coder's latest non-skipped annotation counts:

- fewer coders than the task asks for (an overlap task) -> ``pending``;
- one coder, or several who agree -> ``confirmed`` (basis ``single`` / ``agreement``);
- coders who disagree, or a coder who is unsure -> ``needs_adjudication``: the passage
  goes to the adjudication project in Label Studio with each coder's version as a
  prediction, and the adjudicator's annotation confirms it (basis ``adjudicated``).

Agreement means the same answer on every field: vivid; and, for a vivid example, stage,
issue, the set of pairings and the set of reasons. Notes are free text and not compared.
The codings are derived data: reconciling again from the same annotations gives the
same rows, so it is safe to run after every pull.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from annotation.client import LS, LabelStudioError, connect
from annotation.config import Coded, adjudication_title, ensure_project, to_results
from annotation.outbox import _codebook
from annotation.routing import task_data
from corpus.settings import get_settings
from corpus.store.db import session_scope
from corpus.store.schema import Annotation, Coding, Passage, Report, Suggestion, Task

CONTENT = ("stage", "issue", "pairings", "reasons")


@dataclass
class ReconcileResult:
    confirmed: int = 0
    needs_adjudication: int = 0
    pending: int = 0
    adjudication_tasks: int = 0  # created in Label Studio by this run
    messages: list[str] = field(default_factory=list)
    error: str | None = None


def _coded(a: Annotation) -> Coded:
    return Coded(vivid=a.vivid, stage=a.stage, pairings=list(a.pairings or []), issue=a.issue,
                 issue_note=a.issue_note, reasons=list(a.reasons or []), note=a.note)


def _key(a: Annotation) -> tuple:
    if a.vivid != "yes":
        return (a.vivid,)
    return ("yes", a.stage, tuple(sorted(a.pairings or [])), a.issue,
            tuple(sorted(a.reasons or [])))


def _order(a: Annotation) -> tuple[datetime, int]:
    """Latest first by edit time (naive UTC: SQLite drops the zone), then by LS id."""
    t = a.updated_at or a.created_at
    if t is None:
        return datetime.min, a.ls_annotation_id
    return _naive(t), a.ls_annotation_id


def _naive(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def _latest(anns: list[Annotation], role: str) -> dict[str, Annotation]:
    out: dict[str, Annotation] = {}
    for a in anns:
        if a.role != role or a.was_cancelled:
            continue
        if a.coder not in out or _order(a) > _order(out[a.coder]):
            out[a.coder] = a
    return out


def disagreement(coders: dict[str, Annotation]) -> dict[str, Any]:
    """Per field, each coder's value, for the fields where they differ."""
    out: dict[str, Any] = {}
    values = {c: _coded(a).fields() for c, a in coders.items()}
    vivid = {c: v["vivid"] for c, v in values.items()}
    if len(set(vivid.values())) > 1 or "unsure" in vivid.values():
        out["vivid"] = vivid
    if all(v == "yes" for v in vivid.values()):
        for name in CONTENT:
            seen = {c: v[name] for c, v in values.items()}
            if len({str(x) for x in seen.values()}) > 1:
                out[name] = seen
    return out


def describe(dis: dict[str, Any]) -> str:
    """One line for the adjudicator: where the coders differ."""
    parts = []
    for name, seen in dis.items():
        if not isinstance(seen, dict):
            continue
        shown = "; ".join(f"{c}: {', '.join(v) if isinstance(v, list) else v or '-'}"
                          for c, v in sorted(seen.items()))
        parts.append(f"{name} ({shown})")
    return "Coders disagree on " + " | ".join(parts) if parts else "Coders disagree"


def _decide(anns: list[Annotation], want: int) -> tuple[str, str | None, Annotation | None,
                                                         dict[str, Annotation], dict]:
    coders = _latest(anns, "coder")
    adjudicators = _latest(anns, "adjudicator")
    final = max(adjudicators.values(), key=_order, default=None)
    dis = disagreement(coders) if len(coders) > 1 else {}
    if final is not None and final.vivid in ("yes", "no") and not final.unknown_labels:
        return "confirmed", "adjudicated", final, coders, dis
    if not coders:
        return "pending", None, None, coders, dis
    if len(coders) < want:
        return "pending", None, None, coders, dis
    unknown = {c: list(a.unknown_labels) for c, a in coders.items() if a.unknown_labels}
    if unknown:  # a label the codebook lacks is decided by a person, never dropped
        return "needs_adjudication", None, None, coders, dict(dis, unknown_labels=unknown)
    keys = {_key(a) for a in coders.values()}
    first = next(iter(sorted(coders.items())))[1]
    if len(keys) == 1 and first.vivid in ("yes", "no"):
        return "confirmed", "single" if len(coders) == 1 else "agreement", first, coders, dis
    if not dis:
        dis = {"vivid": {c: a.vivid for c, a in coders.items()}}
    return "needs_adjudication", None, None, coders, dis


def _apply(c: Coding, status: str, basis: str | None, final: Annotation | None,
           counted: list[Annotation], dis: dict, adjudicator: str | None) -> None:
    c.status, c.basis = status, basis
    yes = final is not None and final.vivid == "yes"
    c.vivid = None if final is None else yes
    c.stage = final.stage if yes else None
    c.issue = final.issue if yes else None
    c.pairings = sorted(final.pairings or []) if yes else []
    c.reasons = sorted(final.reasons or []) if yes else []
    notes = [a.issue_note for a in counted if a.issue_note]
    c.issue_note = "\n".join(dict.fromkeys(notes)) if yes and notes else None
    c.coders = sorted({a.coder for a in counted if a.role == "coder"})
    c.disagreement = dict(dis, **({"adjudicator": adjudicator} if adjudicator else {}))
    times = [a.created_at for a in counted if a.created_at]
    c.first_annotated_at = min(times, key=_naive) if times else None
    ends = [a.updated_at or a.created_at for a in counted if a.updated_at or a.created_at]
    c.confirmed_at = max(ends, key=_naive) if status == "confirmed" and ends else None


def reconcile(url: str | None = None, *, ls: LS | None = None,
              push_adjudication: bool = True) -> ReconcileResult:
    """Recompute every passage's coding from the stored annotations and send the ones
    needing adjudication to the adjudication project (when a server is given/reachable)."""
    res = ReconcileResult()
    to_adjudicate: list[tuple[str, str]] = []
    with session_scope(url) as session:
        anns = session.scalars(select(Annotation).order_by(Annotation.id)).all()
        by_passage: dict[str, list[Annotation]] = {}
        for a in anns:
            by_passage.setdefault(a.passage_id, []).append(a)
        for pid, group in by_passage.items():
            passage = session.get(Passage, pid)
            task = session.get(Task, pid)
            want = task.overlap if task and task.overlap else 1
            status, basis, final, coders, dis = _decide(group, want)
            counted = list(coders.values()) + ([final] if basis == "adjudicated" else [])
            coding = session.get(Coding, pid)
            if coding is None:
                if status == "pending" and not coders:
                    continue
                coding = Coding(passage_id=pid, report_id=passage.report_id)
                session.add(coding)
            _apply(coding, status, basis, final, counted, dis,
                   final.coder if basis == "adjudicated" else None)
            coding.page_start, coding.page_end = passage.page_start, passage.page_end
            coding.start_char, coding.end_char = passage.start_char, passage.end_char
            coding.model_version = (task.model_version if task else None) or _version(
                session, pid)
            if status == "confirmed":
                res.confirmed += 1
            elif status == "needs_adjudication":
                res.needs_adjudication += 1
                to_adjudicate.append((pid, describe(dis)))
            else:
                res.pending += 1
    if push_adjudication and to_adjudicate:
        try:
            res.adjudication_tasks = _push_adjudication(url, ls or connect(), to_adjudicate)
        except LabelStudioError as exc:
            res.error = (f"{exc}; the codings are stored, the adjudication tasks go out on the "
                         "next `vivid pull`")
    return res


def _version(session, pid: str) -> str | None:
    sug = session.scalars(select(Suggestion).where(Suggestion.passage_id == pid)
                          .order_by(Suggestion.id.desc())).first()
    return sug.model_version if sug else None


def _push_adjudication(url: str | None, ls: LS, items: list[tuple[str, str]]) -> int:
    """Create the missing adjudication tasks, one per passage, each coder's version shown
    as a prediction named after the coder."""
    codebook = _codebook()
    title = get_settings().label_studio_project
    project_id = ensure_project(ls, codebook, adjudication_title(title), adjudication=True,
                                strict=False)
    have = {str((t.data or {}).get("passage_id")) for t in ls.iter_tasks(project_id)}
    tasks = []
    with session_scope(url) as session:
        for pid, line in items:
            if pid in have:
                continue
            passage = session.get(Passage, pid)
            report = session.get(Report, passage.report_id)
            task = session.get(Task, pid)
            anns = session.scalars(select(Annotation).where(Annotation.passage_id == pid)
                                   .order_by(Annotation.id)).all()
            data = task_data(passage, report, codebook, task.model_version if task else None,
                             0.0, 1)
            data["disagreement"] = line
            preds = [{"model_version": f"coder {coder}",
                      "result": to_results(_coded(a), codebook)}
                     for coder, a in sorted(_latest(list(anns), "coder").items())]
            tasks.append({"data": data, "predictions": preds})
    if tasks:
        ls.call(ls.sdk.projects.import_tasks, project_id, request=tasks,
                doing=f"creating adjudication tasks in {adjudication_title(title)!r}",
                request_options={"max_retries": 0})
    return len(tasks)


def dataset_rows(url: str | None = None, include_not_vivid: bool = False) -> list[dict]:
    """The collated dataset: confirmed codings (vivid examples unless asked otherwise),
    each with its provenance."""
    out = []
    with session_scope(url) as session:
        rows = session.execute(
            select(Coding, Passage, Report).join(Passage, Passage.id == Coding.passage_id)
            .join(Report, Report.id == Coding.report_id)
            .where(Coding.status == "confirmed")
            .order_by(Report.id, Passage.ordinal)).all()
        for c, p, r in rows:
            if not c.vivid and not include_not_vivid:
                continue
            out.append({
                "passage_id": c.passage_id, "report_id": c.report_id,
                "report": r.title or r.filename, "report_file": r.filename,
                "page_start": c.page_start, "page_end": c.page_end,
                "start_char": c.start_char, "end_char": c.end_char,
                "heading": p.heading, "section_type": p.section_type, "text": p.text,
                "vivid": c.vivid, "stage": c.stage, "pairings": list(c.pairings or []),
                "issue": c.issue, "issue_note": c.issue_note,
                "reasons": list(c.reasons or []), "basis": c.basis,
                "coders": list(c.coders or []),
                "adjudicator": (c.disagreement or {}).get("adjudicator"),
                "model_version": c.model_version,
                "first_annotated_at": c.first_annotated_at, "confirmed_at": c.confirmed_at,
            })
    return out
