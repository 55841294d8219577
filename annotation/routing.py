"""`vivid route`: send pending outbox items to Label Studio as pre-filled tasks.

Idempotent by passage id. Before pushing, the run reconciles the store with what the
server already holds: tasks the server has but the store does not know (a push whose
reply was lost) are adopted, duplicates are removed, tasks deleted on the server are
re-queued. Items then go out in batches; each batch is recorded in the store only after
the server accepted it, so a push interrupted half way resumes without duplicates.

Order: ``uncertain`` (most uncertain suggestion first) or ``report`` (report by report,
in reading order). Label Studio serves tasks in the order they were imported
(sequential sampling), so the push order is the order coders see.

Overlap: Label Studio Community cannot assign a task to named users, so overlap uses
its own mechanism: a task's ``overlap`` is the number of distinct coders it needs before
it counts as done, and the labelling stream keeps offering it to other coders until
then. The project keeps ``maximum_annotations = 1`` (so Label Studio never reshuffles a
cohort itself) and every k-th pushed task, k = 1/fraction, gets ``overlap = coders``;
the task data carries the same number (``overlap``) for filtering in the Data Manager.
"""

from __future__ import annotations

import math
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, inspect, select

from annotation.client import LS, LabelStudioError, connect
from annotation.config import prefill, setup_projects, to_results
from annotation.outbox import _codebook
from corpus.codebook import Codebook
from corpus.settings import get_settings
from corpus.store.db import session_scope
from corpus.store.schema import OutboxItem, Passage, Report, Suggestion, Task

ORDERS = ("uncertain", "report")
DEFAULT_OVERLAP = 0.2
DEFAULT_CODERS = 2
BATCH_SIZE = 50
OVERLAP_WORKERS = 4


@dataclass
class RouteResult:
    pushed: int = 0
    overlapped: int = 0
    adopted: int = 0  # tasks found on the server that the store did not know yet
    already: int = 0  # pending items whose passage already had a task
    requeued: int = 0  # tasks deleted on the server, queued again
    duplicates_removed: int = 0
    pending: int = 0  # still waiting after this run
    project_id: int | None = None
    messages: list[str] = field(default_factory=list)
    error: str | None = None  # set when the run stopped early (server went away)


def wants_overlap(index: int, fraction: float) -> bool:
    """Whether the task at 0-based position ``index`` in the project is double-coded:
    spreads ``fraction`` of all tasks evenly (every fifth for 0.2)."""
    if fraction <= 0:
        return False
    return math.floor((index + 1) * fraction + 1e-9) > math.floor(index * fraction + 1e-9)


def _page(p: Passage) -> str:
    if p.page_end and p.page_end != p.page_start:
        return f"{p.page_start}\u2013{p.page_end}"
    return str(p.page_start)


def task_data(p: Passage, r: Report, codebook: Codebook, model_version: str | None,
              priority: float, overlap: int) -> dict[str, Any]:
    """What a task carries: the passage, its context line and its provenance."""
    try:
        kind = codebook.label("section_types", p.section_type)
    except KeyError:
        kind = p.section_type
    heading = f"{p.number + ' ' if p.number else ''}{p.heading or '(no heading)'}"
    return {
        "text": p.text,
        "title": r.title or r.filename,
        "context": f"Section: {heading} \u00b7 {kind} \u00b7 page {_page(p)}",
        "passage_id": p.id, "report_id": r.id, "report_file": r.filename,
        "heading": p.heading or "", "section_type": p.section_type,
        "page": _page(p), "page_start": p.page_start, "page_end": p.page_end,
        "start_char": p.start_char, "end_char": p.end_char,
        "model_version": model_version or "", "priority": priority, "overlap": overlap,
    }


def prediction(payload: dict[str, Any], codebook: Codebook, priority: float) -> dict[str, Any]:
    """The pre-fill: a result for every field, scored; the prediction's own score is the
    model's confidence (1 - uncertainty), so LS's score column sorts like our order."""
    coded, scores = prefill(payload)
    return {"model_version": str(payload.get("model_version")),
            "score": round(1.0 - priority, 6), "result": to_results(coded, codebook, scores)}


def _server_tasks(ls: LS, project_id: int) -> dict[str, list[Any]]:
    by_passage: dict[str, list[Any]] = defaultdict(list)
    for t in ls.iter_tasks(project_id):
        pid = (t.data or {}).get("passage_id")
        if pid:
            by_passage[str(pid)].append(t)
    return by_passage


def _reconcile_with_server(ls: LS, project_id: int, url: str | None, res: RouteResult) -> None:
    """Make the store agree with the server before anything is pushed."""
    on_server = _server_tasks(ls, project_id)
    now = datetime.now(UTC)
    with session_scope(url) as session:
        # every task the store knows: one in another project (deleted, or the project was
        # renamed) is as good as deleted here and goes out again
        tasks = {t.passage_id: t for t in session.scalars(select(Task)).all()}
        known_passages = set(session.scalars(select(Passage.id).where(
            Passage.id.in_(list(on_server)))).all()) if on_server else set()
        for pid, found in on_server.items():
            found.sort(key=lambda t: t.id)
            mine = tasks.get(pid)
            keep = next((t for t in found if mine and t.id == mine.ls_task_id), found[0])
            for extra in found:
                if extra.id == keep.id:
                    continue
                if (extra.total_annotations or 0) + (extra.cancelled_annotations or 0):
                    res.messages.append(f"passage {pid} has two tasks with annotations "
                                        f"({keep.id}, {extra.id}); both kept, pull reads both")
                    continue
                ls.call(ls.sdk.tasks.delete, str(extra.id), doing=f"removing duplicate task "
                        f"{extra.id}")
                res.duplicates_removed += 1
            if pid not in known_passages:
                res.messages.append(f"task {keep.id} is for passage {pid}, unknown to the "
                                    "store: left alone")
                continue
            _free_task_id(session, keep.id, pid)
            if mine is None:
                data = keep.data or {}
                session.add(Task(passage_id=pid, ls_project_id=project_id, ls_task_id=keep.id,
                                 model_version=data.get("model_version") or None,
                                 overlap=int(data.get("overlap") or keep.overlap or 1),
                                 assigned=[], status="open",
                                 pushed_at=now))
                res.adopted += 1
            elif (mine.ls_task_id, mine.ls_project_id, mine.status) != (keep.id, project_id,
                                                                       "open"):
                mine.ls_task_id, mine.ls_project_id, mine.status = keep.id, project_id, "open"
            want = mine.overlap if mine else int((keep.data or {}).get("overlap") or 1)
            if int(keep.overlap or 1) != want:  # an interrupted run set data but not overlap
                ls.call(ls.sdk.tasks.update, str(keep.id), overlap=want,
                        doing=f"setting the overlap of task {keep.id}")
        session.flush()
        for pid, t in tasks.items():
            if pid in on_server or t.status == "deleted" or inspect(t).deleted:
                continue
            t.status = "deleted"
            where = "was deleted in Label Studio" if t.ls_project_id == project_id else \
                f"belongs to project {t.ls_project_id}, not {project_id}"
            item = session.scalars(select(OutboxItem).where(
                OutboxItem.passage_id == pid)).first()
            if item is not None:
                item.status, item.last_error = "pending", f"task {t.ls_task_id} {where}"
                res.requeued += 1
                res.messages.append(f"task {t.ls_task_id} (passage {pid}) {where}: "
                                    "queued again")
        for item in session.scalars(select(OutboxItem).where(
                OutboxItem.status == "pending")).all():
            t = session.get(Task, item.passage_id)
            if t is not None and t.status == "open":
                item.status, item.sent_at = "sent", item.sent_at or now
                res.already += 1


def _pending(url: str | None, order: str, limit: int | None) -> list[tuple]:
    with session_scope(url) as session:
        q = (select(OutboxItem, Suggestion, Passage, Report)
             .join(Suggestion, Suggestion.id == OutboxItem.suggestion_id)
             .join(Passage, Passage.id == OutboxItem.passage_id)
             .join(Report, Report.id == Passage.report_id)
             .where(OutboxItem.status == "pending"))
        if order == "report":
            q = q.order_by(Report.year, Report.id, Passage.ordinal, OutboxItem.id)
        else:
            q = q.order_by(OutboxItem.priority.desc(), OutboxItem.id)
        if limit:
            q = q.limit(limit)
        return list(session.execute(q).all())


def route(url: str | None = None, *, ls: LS | None = None, order: str = "uncertain",
          overlap: float = DEFAULT_OVERLAP, coders: int = DEFAULT_CODERS,
          batch_size: int = BATCH_SIZE, limit: int | None = None) -> RouteResult:
    """Push pending outbox items as tasks with predictions; safe to re-run at any time."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    if not 0.0 <= overlap <= 1.0:
        raise ValueError(f"overlap must be a fraction between 0 and 1, not {overlap}")
    if coders < 2:
        raise ValueError("an overlapping task needs at least 2 coders")
    codebook = _codebook()
    res = RouteResult()
    try:
        ls = ls or connect()
        setup = setup_projects(ls, codebook, get_settings().label_studio_project,
                               strict=False)
        res.messages.extend(setup.refused)
        project_id = res.project_id = setup.project_id
        _reconcile_with_server(ls, project_id, url, res)
        rows = _pending(url, order, limit)
        with session_scope(url) as session:
            index = session.scalar(select(func.count()).select_from(Task).where(
                Task.ls_project_id == project_id)) or 0
        latest_version = None
        for start in range(0, len(rows), max(1, batch_size)):
            batch = rows[start:start + batch_size]
            tasks, wanted = [], []
            for item, sug, passage, report in batch:
                n = coders if wants_overlap(index, overlap) else 1
                index += 1
                wanted.append(n)
                tasks.append({"data": task_data(passage, report, codebook, sug.model_version,
                                                item.priority, n),
                              "predictions": [prediction(sug.payload, codebook, item.priority)]})
            try:
                reply = ls.call(ls.sdk.projects.import_tasks, project_id, request=tasks,
                                return_task_ids=True, doing="importing tasks",
                                request_options={"max_retries": 0})  # no blind re-post
                ids = list(reply.task_ids or [])
                if len(ids) != len(tasks):
                    raise LabelStudioError(f"Label Studio created {len(ids)} tasks for a batch "
                                           f"of {len(tasks)}: the next run reconciles them")
                _set_overlaps(ls, [(t, n) for t, n in zip(ids, wanted, strict=True) if n > 1])
            except LabelStudioError as exc:
                _record_failure(url, [r[0].id for r in batch], str(exc))
                res.error = (f"{exc}; {res.pushed} task(s) pushed in this run, the rest stay "
                             "in the outbox: run `vivid route` again")
                break
            _record_batch(url, project_id, batch, ids, wanted)
            res.pushed += len(ids)
            res.overlapped += sum(1 for n in wanted if n > 1)
            latest_version = batch[-1][1].model_version
        # the labelling stream pre-fills from the predictions of the project's version
        if latest_version and res.error is None:
            try:
                ls.call(ls.sdk.projects.update, project_id, model_version=latest_version,
                        doing="setting the project's model version")
            except LabelStudioError as exc:
                res.messages.append(f"the project's model version stays as it was: {exc}")
    except LabelStudioError as exc:
        res.error = str(exc)
    with session_scope(url) as session:
        res.pending = session.scalar(select(func.count()).select_from(OutboxItem).where(
            OutboxItem.status == "pending")) or 0
    return res


def _set_overlaps(ls: LS, todo: list[tuple[int, int]]) -> None:
    """Set each task's overlap; a few requests at a time (each costs the server a
    Data Manager query, so they dominate a push when run one by one)."""
    def one(item: tuple[int, int]) -> None:
        task_id, n = item
        ls.call(ls.sdk.tasks.update, str(task_id), overlap=n,
                doing=f"setting the overlap of task {task_id}")

    with ThreadPoolExecutor(max_workers=OVERLAP_WORKERS) as pool:
        list(pool.map(one, todo))  # re-raises the first failure


def _free_task_id(session, task_id: int, passage_id: str) -> None:
    """Label Studio on SQLite reuses the id of a deleted last task: forget the stale row
    of another passage that still holds it (that passage is queued again anyway)."""
    for stale in session.scalars(select(Task).where(Task.ls_task_id == task_id,
                                                    Task.passage_id != passage_id)).all():
        item = session.scalars(select(OutboxItem).where(
            OutboxItem.passage_id == stale.passage_id)).first()
        if item is not None:
            item.status = "pending"
            item.last_error = f"task {task_id} was deleted; its id now belongs to another task"
        session.delete(stale)
    session.flush()


def _record_batch(url: str | None, project_id: int, batch: list[tuple], ids: list[int],
                  wanted: list[int]) -> None:
    now = datetime.now(UTC)
    with session_scope(url) as session:
        for (item, sug, passage, _), task_id, n in zip(batch, ids, wanted, strict=True):
            _free_task_id(session, task_id, passage.id)
            t = session.get(Task, passage.id)
            if t is None:
                session.add(Task(passage_id=passage.id, ls_project_id=project_id,
                                 ls_task_id=task_id, model_version=sug.model_version,
                                 overlap=n, assigned=[], status="open", pushed_at=now))
            else:  # a re-push after the task was deleted on the server
                t.ls_project_id, t.ls_task_id, t.status = project_id, task_id, "open"
                t.model_version, t.overlap, t.pushed_at = sug.model_version, n, now
            row = session.get(OutboxItem, item.id)
            row.status, row.sent_at, row.attempts = "sent", now, (row.attempts or 0) + 1
            row.last_error = None


def _record_failure(url: str | None, item_ids: list[int], error: str) -> None:
    with session_scope(url) as session:
        for item_id in item_ids:
            row = session.get(OutboxItem, item_id)
            row.attempts, row.last_error = (row.attempts or 0) + 1, error[:500]
