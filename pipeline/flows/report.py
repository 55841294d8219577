"""The ``report`` flow: inter-coder agreement and the analysts' collation, from the store.

Writes ``<data dir>/reports/<date>/agreement`` and ``.../collation`` and publishes the
agreement table as a markdown artifact. Either part can have nothing to say yet (no
double-coded passage, no confirmed coding): that is noted, not a failure.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from corpus.settings import get_settings
from pipeline.flows import progress
from pipeline.flows.ingest import _error, _md
from pipeline.flows.runtime import limited


def _value(est: Any) -> float | None:
    v = getattr(est, "value", None)
    return None if v is None or not math.isfinite(v) else round(float(v), 4)


@task(name="agreement", tags=["database"])
def agreement_task(out_dir: str, n_boot: int) -> dict[str, Any]:
    """Agreement per field (and model vs coders) from the store's annotations."""
    from evaluation.agreement import AgreementError, agreement, write_report
    from evaluation.model_vs_coders import from_store
    from evaluation.sources import ratings_from_store

    with limited("database"):
        ratings = ratings_from_store()
        try:
            report = agreement(ratings, n_boot=n_boot)
        except AgreementError as exc:
            return {"note": str(exc), "fields": [], "files": []}
        model = from_store(n_boot=n_boot)
    files = write_report(out_dir, report, model if model.n_matched else None)
    return {"note": "", "units": report.n_units, "coders": report.n_coders,
            "files": [str(f) for f in files],
            "fields": [{"field": f.field, "units": f.n_units, "percent": _value(f.percent),
                        "kappa": _value(f.kappa), "alpha": _value(f.alpha)}
                       for f in report.fields]}


@task(name="collate", tags=["database"])
def collate_task(out_dir: str) -> dict[str, Any]:
    """The care-pathway map, topic briefings, exports and plots."""
    from evaluation.collate import CollateError, collate

    with limited("database"):
        try:
            files = collate(out_dir)
        except CollateError as exc:
            return {"note": str(exc), "files": []}
    return {"note": "", "files": [str(f) for f in files], "folder": out_dir}


def report_markdown(agr: dict[str, Any], col: dict[str, Any], problems: list[str]) -> str:
    lines = ["# Agreement and collation", ""]
    if agr.get("fields"):
        lines += [f"{agr['units']} units, {agr['coders']} coders", "",
                  "| field | units (2+ coders) | % agreement | Cohen κ | Krippendorff α |",
                  "|---|---:|---:|---:|---:|"]
        for f in agr["fields"]:
            lines.append(" | ".join(["", f["field"], str(f["units"])] + [
                "-" if f[k] is None else f"{f[k]:.3f}" for k in ("percent", "kappa", "alpha")]
            ).strip() + " |")
        lines.append("")
    elif agr.get("note"):
        lines += [f"Agreement: {_md(agr['note'])}", ""]
    if col.get("files"):
        lines += [f"Collation: {len(col['files'])} files in `{col['folder']}`", ""]
    elif col.get("note"):
        lines += [f"Collation: {_md(col['note'])}", ""]
    lines += [f"- problem: {_md(p)}" for p in problems]
    return "\n".join(lines)


@flow(name="vivid-report", log_prints=False)
def report_flow(out_dir: str | None = None, n_boot: int = 1000) -> dict[str, Any]:
    """Agreement + collation on the store into a dated folder; returns what was written."""
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    out = Path(out_dir) if out_dir else get_settings().data_dir / "reports" / day
    problems: list[str] = []
    progress.emit("step", name="agreement")
    state = agreement_task(str(out / "agreement"), n_boot, return_state=True)
    agr = state.result() if state.is_completed() else {}
    if not state.is_completed():
        problems.append(f"agreement: {_error(state)}")
    progress.emit("step", name="collation")
    state = collate_task(str(out / "collation"), return_state=True)
    col = state.result() if state.is_completed() else {}
    if not state.is_completed():
        problems.append(f"collation: {_error(state)}")
    create_markdown_artifact(report_markdown(agr, col, problems), key="vivid-report",
                             description="Inter-coder agreement and collation outputs")
    for p in problems:
        get_run_logger().warning(p)
    return {"folder": str(out), "agreement": agr, "collation": col, "problems": problems}
