"""`vivid` commands that run the Prefect flows: ingest, sync, retrain, report, serve, demo.

Each runs one flow against the configured Prefect API (or a local one started for the
run), shows rich progress on stderr and ends with a summary on stdout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

out = Console()
err = Console(stderr=True)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


class _Display:
    """Turns flow progress events into a rich progress bar (reports) or a spinner (steps)."""

    def __init__(self, progress: Progress, title: str) -> None:
        self.progress = progress
        self.task = progress.add_task(title, total=None)
        self.title = title

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        if event == "total":
            self.progress.update(self.task, total=data["n"] or None,
                                 description=f"{self.title}: {data['n']} report(s) found")
        elif event == "report":
            self.progress.update(self.task, advance=1,
                                 description=f"{self.title}: {data['label']} {data['status']}")
        elif event in ("step", "parsing"):
            what = data.get("name") or f"parsing {data['n']} new report(s)"
            self.progress.update(self.task, description=f"{self.title}: {what}")


@contextmanager
def _running(title: str, verbose: bool) -> Iterator[None]:
    """Prefect API for the run, quiet Prefect console logs, and the progress display."""
    from pipeline.flows import progress
    from pipeline.flows.runtime import prefect_api, quiet_console

    if not verbose:
        quiet_console()
    with ExitStack() as stack:
        with err.status(f"{title}: connecting to Prefect"):
            try:
                stack.enter_context(prefect_api())
            except RuntimeError as exc:
                _fail(f"cannot start a local Prefect server ({exc}); set PREFECT_API_URL "
                      "to a running one")
        bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                       MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True)
        stack.enter_context(bar)
        stack.enter_context(progress.listening(_Display(bar, title)))
        yield


def _counts_table(title: str, row: dict[str, Any]) -> Table:
    t = Table(title=title, title_justify="left")
    for k in row:
        t.add_column(k, justify="right")
    t.add_row(*[str(v) for v in row.values()])
    return t


def _notes(items: list[str], label: str, style: str) -> None:
    for item in items:
        out.print(f"[{style}]{label}:[/] {item}", highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------- commands
def ingest(
    inbox: Path | None = typer.Option(None, "--inbox", help="Folder of report PDFs "
                                      "(default: VIVID_INBOX)."),
    feed: str | None = typer.Option(None, "--feed", help="Feed file or http(s) URL: a JSON "
                                    "or CSV manifest of report URLs with titles and dates "
                                    "(default: VIVID_FEED)."),
    task_runner: str = typer.Option("thread", "--task-runner", help="thread, or dask to "
                                    "parse in parallel processes (VIVID_DASK_ADDRESS: an "
                                    "existing cluster)."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Workers of the local "
                                       "Dask cluster or thread pool."),
    route: bool = typer.Option(True, "--route/--no-route", help="Push the candidates to "
                               "Label Studio at the end."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's log lines."),
) -> None:
    """Ingest new reports: parse, store, suggest and route them to Label Studio."""
    from pipeline.flows.ingest import ingest_flow
    from pipeline.flows.runtime import TASK_RUNNERS, make_task_runner

    if task_runner not in TASK_RUNNERS:
        _fail(f"--task-runner must be one of {', '.join(TASK_RUNNERS)}, not {task_runner!r}")
    if inbox is not None and not inbox.is_dir():
        _fail(f"{inbox}: inbox folder does not exist")
    with _running("ingest", verbose):
        runner = make_task_runner(task_runner, workers)
        summary = ingest_flow.with_options(task_runner=runner)(
            inbox=str(inbox) if inbox else None, feed=feed, route=route)
    print_ingest(summary)
    if summary["failed"] or summary["problems"]:
        raise typer.Exit(1)


def print_ingest(summary: dict[str, Any]) -> None:
    out.print(_counts_table("Ingest", {
        "new": summary["new"], "skipped": summary["skipped"], "failed": summary["failed"],
        "passages": summary["passages"], "candidates": summary["candidates"],
        "tasks routed": summary["routed"]}))
    out.print(f"model: {summary['model_version'] or 'none'}", highlight=False)
    _notes([f"{r['label']}: {r['reason']}" for r in summary["reports"]
            if r["status"] == "failed"], "failed", "red")
    _notes(summary["problems"], "problem", "red")
    _notes(summary["notes"], "note", "yellow")


def sync(
    route: bool = typer.Option(True, "--route/--no-route", help="First push suggestions "
                               "still waiting in the outbox."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's log lines."),
) -> None:
    """Pull annotations from Label Studio, reconcile them and write the dataset."""
    from pipeline.flows.sync import sync_flow

    with _running("sync", verbose):
        summary = sync_flow(route=route)
    p, r, d = summary["pull"], summary["reconcile"], summary["dataset"]
    out.print(_counts_table("Sync", {
        "routed": summary["routed"], "annotations new": p.get("new", "-"),
        "updated": p.get("updated", "-"), "confirmed": r.get("confirmed", "-"),
        "needs adjudication": r.get("needs_adjudication", "-"),
        "waiting 2nd coder": r.get("pending", "-"), "dataset rows": d.get("rows", "-")}))
    if d.get("path"):
        out.print(f"dataset: {d['path']}", highlight=False)
    _notes(p.get("unknown_labels") or [], "unknown label", "yellow")
    _notes(summary["problems"], "problem", "red")
    if summary["problems"]:
        raise typer.Exit(1)


def retrain(
    margin: float | None = typer.Option(None, "--margin", min=0.0, help="Largest drop "
                                        "allowed in any field (default 0.02)."),
    holdout: float | None = typer.Option(None, "--holdout", min=0.01, max=0.99,
                                         help="Share of confirmed codings held out."),
    seed: int | None = typer.Option(None, "--seed", help="Fixes the held-out split."),
    primary: str | None = typer.Option(None, "--primary", help="mean (of the fields) or "
                                       "vivid, stage, pairing, issue, reasons."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's log lines."),
) -> None:
    """Train a challenger on seed + confirmed codings; promote it only if it is better."""
    from models.examples import ExampleError
    from models.promotion import PromotionError
    from pipeline.flows.retrain import retrain_flow

    try:
        with _running("retrain", verbose):
            d = retrain_flow(margin=margin, holdout_fraction=holdout, seed=seed,
                             primary=primary)
    except (PromotionError, ExampleError) as exc:
        _fail(str(exc))
    print_decision(d)


def print_decision(d: dict[str, Any]) -> None:
    ch, champ = d.get("challenger_card"), d.get("champion_card")
    if ch:
        t = Table(title=f"Held-out confirmed codings: {ch['n']} ({ch['n_vivid']} vivid)",
                  title_justify="left")
        for col in ("field", f"current {d.get('champion') or '-'}",
                    f"challenger {d['challenger']}"):
            t.add_column(col, justify="left" if col == "field" else "right")
        for f in list(ch["fields"]) + ["primary"]:
            a = (champ or {}).get("fields", {}).get(f) if f != "primary" else \
                (champ or {}).get("primary")
            b = ch["fields"].get(f) if f != "primary" else ch["primary"]
            t.add_row(f, "-" if a is None else f"{a:.4f}", f"{b:.4f}")
        out.print(t)
    verdict = "[green]promoted[/]" if d["promoted"] else "[yellow]not promoted[/]"
    out.print(f"challenger {d.get('challenger') or '-'}: {verdict} - {d['reason']}",
              highlight=False, soft_wrap=True)
    out.print(f"current model: {d.get('current') or 'none'}", highlight=False)


def report(
    out_dir: Path | None = typer.Option(None, "--out", help="Folder for the outputs "
                                        "(default: <data dir>/reports/<date>)."),
    boot: int = typer.Option(1000, "--boot", min=0, help="Bootstrap resamples."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's log lines."),
) -> None:
    """Agreement and collation from the store, as the weekly report flow does."""
    from pipeline.flows.report import report_flow

    with _running("report", verbose):
        res = report_flow(out_dir=str(out_dir) if out_dir else None, n_boot=boot)
    agr, col = res["agreement"], res["collation"]
    if agr.get("fields"):
        t = Table(title=f"Agreement ({agr['units']} units, {agr['coders']} coders)",
                  title_justify="left")
        for col_name in ("field", "units", "% agreement", "Cohen κ", "Krippendorff α"):
            t.add_column(col_name, justify="left" if col_name == "field" else "right")
        for f in agr["fields"]:
            t.add_row(f["field"], str(f["units"]), *[
                "-" if f[k] is None else f"{f[k]:.3f}" for k in ("percent", "kappa", "alpha")])
        out.print(t)
    _notes([n for n in (agr.get("note"), col.get("note")) if n], "note", "yellow")
    out.print(f"outputs: {res['folder']} ({len(agr.get('files', [])) + len(col.get('files', []))}"
              " files)", highlight=False)
    _notes(res["problems"], "problem", "red")
    if res["problems"]:
        raise typer.Exit(1)


def serve(
    limit: int | None = typer.Option(None, "--limit", min=1, help="Most flow runs at once."),
) -> None:
    """Serve ingest, sync, retrain and report on their cron schedules (Ctrl-C stops)."""
    from pipeline.flows.serve import build_deployments, schedules, serve_all

    try:
        build_deployments()
    except ValueError as exc:
        _fail(str(exc))
    from prefect.settings import PREFECT_API_URL

    for s in schedules():
        out.print(f"vivid-{s.name:8} {s.cron:15} {s.description}", highlight=False)
    if not PREFECT_API_URL.value():
        err.print("note: PREFECT_API_URL is not set, so a private Prefect server runs for as "
                  "long as this command (no UI); for a UI or a team, start `prefect server "
                  "start` and set PREFECT_API_URL (see docs/operations.md)", highlight=False)
    serve_all(limit=limit)


def demo(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's log lines."),
) -> None:
    """Start Label Studio, train if needed, ingest the sample reports, say where to look."""
    from annotation.client import LabelStudioError
    from models.examples import ExampleError
    from pipeline.flows.demo import run_demo

    say: Callable[[str], None] = lambda m: err.print(f"[dim]demo:[/] {m}", highlight=False)  # noqa: E731
    try:
        with _running("demo", verbose):
            res = run_demo(say)
    except (LabelStudioError, ExampleError) as exc:
        _fail(str(exc))
    print_ingest(res.ingest)
    c = res.counts
    out.print()
    out.print("[bold]Label Studio is ready[/]")
    for label, value in (("URL", res.url), ("login", res.username),
                         ("password", res.password), ("project", res.project),
                         ("model", res.model_version or "none"),
                         ("in the store", f"{c['reports']} reports, {c['passages']} "
                                          f"passages, {c['candidates']} candidates"),
                         ("in Label Studio", f"{c['tasks']} tasks "
                                             f"({c['waiting']} still waiting to be routed)")):
        out.print(f"  {label:16} {value}", highlight=False)
    out.print("  stop it with    vivid labelstudio stop", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    for name, fn in (("ingest", ingest), ("sync", sync), ("retrain", retrain),
                     ("report", report), ("serve", serve), ("demo", demo)):
        app.command(name)(fn)
