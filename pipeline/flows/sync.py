"""The ``sync`` flow: coders' work from Label Studio into the collated dataset.

route what still waits in the outbox (network) -> pull annotations (network: retries,
limited) -> reconcile into codings (confirmed / needs adjudication) -> write the dataset
of confirmed codings with provenance. Every step is idempotent, so an interrupted run is
completed by the next one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from corpus.settings import get_settings
from pipeline.flows import progress
from pipeline.flows.ingest import _error, _md, _transient, check_labelstudio, route_task
from pipeline.flows.runtime import limited, network_retry_options

DATASET_FILE = "confirmed_codings.jsonl"


@task(name="pull-annotations", tags=["network", "labelstudio"])
def pull_task() -> dict[str, Any]:
    """Fetch every annotation into the store (paged; each page committed on its own)."""
    from annotation.pull import pull

    with limited("labelstudio"):
        res = pull()
    check_labelstudio(res.error)
    return {"new": res.new, "updated": res.updated, "unchanged": res.unchanged,
            "cancelled": res.cancelled, "tasks_read": res.tasks_read,
            "unknown_labels": list(res.unknown_labels), "messages": list(res.messages)}


@task(name="reconcile", tags=["database"])
def reconcile_task() -> dict[str, Any]:
    """Recompute codings from the annotations; disagreements go to adjudication."""
    from annotation.reconcile import reconcile

    with limited("database"):
        res = reconcile()
    return {"confirmed": res.confirmed, "needs_adjudication": res.needs_adjudication,
            "pending": res.pending, "adjudication_tasks": res.adjudication_tasks,
            "messages": list(res.messages), "error": res.error}


@task(name="write-dataset", tags=["database"])
def dataset_task(folder: str) -> dict[str, Any]:
    """The confirmed codings with provenance as JSON Lines (replaced whole, atomically)."""
    from annotation.reconcile import dataset_rows

    with limited("database"):
        rows = dataset_rows(include_not_vivid=True)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out, suffix=".part")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
    path = out / DATASET_FILE
    os.replace(tmp, path)
    return {"path": str(path), "rows": len(rows),
            "vivid": sum(1 for r in rows if r.get("vivid")),
            "reports": len({r["report_id"] for r in rows})}


@dataclass
class SyncSummary:
    routed: int = 0
    pull: dict[str, Any] = field(default_factory=dict)
    reconcile: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def markdown(self) -> str:
        p, r, d = self.pull, self.reconcile, self.dataset
        lines = ["# Sync", "",
                 "| routed | annotations new | updated | skipped tasks | confirmed "
                 "| needs adjudication | waiting for 2nd coder | dataset rows | vivid |",
                 "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
                 f"| {self.routed} | {p.get('new', '-')} | {p.get('updated', '-')} "
                 f"| {p.get('cancelled', '-')} | {r.get('confirmed', '-')} "
                 f"| {r.get('needs_adjudication', '-')} | {r.get('pending', '-')} "
                 f"| {d.get('rows', '-')} | {d.get('vivid', '-')} |", ""]
        if d.get("path"):
            lines += [f"Dataset: `{d['path']}`", ""]
        unknown = p.get("unknown_labels") or []
        if unknown:
            lines += ["## Labels the codebook does not know", ""]
            lines += [f"- {_md(u)}" for u in unknown] + [""]
        if self.problems:
            lines += ["## Problems", ""] + [f"- {_md(x)}" for x in self.problems]
        return "\n".join(lines)


@flow(name="vivid-sync", log_prints=False)
def sync_flow(route: bool = True) -> dict[str, Any]:
    """Pull -> reconcile -> dataset; returns the counts (also a markdown artifact)."""
    log = get_run_logger()
    summary = SyncSummary()
    retry = network_retry_options(_transient)
    if route:
        progress.emit("step", name="routing waiting suggestions")
        state = route_task.with_options(**retry)(return_state=True)
        if state.is_completed():
            summary.routed = state.result()["pushed"]
        else:
            summary.problems.append(f"route: {_error(state)}")
    progress.emit("step", name="pulling annotations")
    state = pull_task.with_options(**retry)(return_state=True)
    if state.is_completed():
        summary.pull = state.result()
    else:  # reconcile what earlier pulls stored; the next run completes the pull
        summary.problems.append(f"pull: {_error(state)}")
    progress.emit("step", name="reconciling")
    state = reconcile_task(return_state=True)
    if state.is_completed():
        summary.reconcile = state.result()
        if summary.reconcile.get("error"):
            summary.problems.append(f"reconcile: {summary.reconcile['error']}")
    else:
        summary.problems.append(f"reconcile: {_error(state)}")
    progress.emit("step", name="writing the dataset")
    state = dataset_task(str(get_settings().data_dir / "dataset"), return_state=True)
    if state.is_completed():
        summary.dataset = state.result()
    else:
        summary.problems.append(f"dataset: {_error(state)}")
    create_markdown_artifact(summary.markdown(), key="vivid-sync",
                             description="Annotations pulled, codings reconciled, dataset")
    for p in summary.problems:
        log.warning(p)
    return summary.as_dict()
