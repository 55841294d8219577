"""`vivid` commands for annotation: the Label Studio server, routing, pulling, codings."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import typer

labelstudio = typer.Typer(help="Run and set up the local Label Studio server.",
                          no_args_is_help=True)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _clean(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the annotation layer's user-facing errors into one line and exit code 1."""

    @wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        from annotation.client import LabelStudioError
        from corpus.codebook import CodebookError

        try:
            return fn(*args, **kwargs)
        except (LabelStudioError, CodebookError, ValueError) as exc:
            _fail(str(exc))

    return run


def _report(messages: list[str], error: str | None) -> None:
    for m in messages:
        typer.echo(f"note: {m}")
    if error:
        _fail(error)


@labelstudio.command("start")
@_clean
def ls_start(timeout: float = typer.Option(600, help="Seconds to wait for /health.")) -> None:
    """Start Label Studio on LABEL_STUDIO_URL (loopback) and wait until it answers."""
    from annotation import server

    info = server.start(timeout=timeout)
    typer.echo(f"Label Studio is running at {info.url} (pid {info.pid}, data {info.data_dir})")


@labelstudio.command("stop")
@_clean
def ls_stop() -> None:
    """Stop the Label Studio server started from this data dir."""
    from annotation import server

    typer.echo("Label Studio stopped" if server.stop() else "Label Studio was not running")


@labelstudio.command("status")
@_clean
def ls_status() -> None:
    """Say whether the server runs and answers; exit 1 when it does not."""
    from annotation import server

    info = server.status()
    if info.running and info.healthy:
        typer.echo(f"running at {info.url} (pid {info.pid}), healthy")
    elif info.running:
        typer.echo(f"running at {info.url} (pid {info.pid}) but /health does not answer")
        raise typer.Exit(1)
    else:
        typer.echo(f"not running (data {info.data_dir})")
        raise typer.Exit(1)


@labelstudio.command("setup")
@_clean
def ls_setup() -> None:
    """Create or update the coders' and adjudication projects from the codebook."""
    from annotation.client import connect
    from annotation.config import setup_projects
    from corpus.codebook import load_codebook
    from corpus.settings import get_settings

    s = get_settings()
    done = setup_projects(connect(), load_codebook(s.codebook_path), s.label_studio_project)
    for title in done.created:
        typer.echo(f"created project {title!r}")
    for title in done.updated:
        typer.echo(f"updated the labelling config of {title!r} (annotations kept)")
    if not done.created and not done.updated:
        typer.echo("projects are up to date with the codebook")


@_clean
def enqueue(file: Path = typer.Argument(..., help="`vivid suggest` output (JSON Lines).")
            ) -> None:
    """Queue the candidate passages of a suggestions file for routing."""
    from annotation.outbox import enqueue_suggestions

    items = []
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        _fail(f"{file}: cannot read: {exc.strerror}")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            _fail(f"{file}, line {n}: not valid JSON ({exc.msg})")
    try:
        queued = enqueue_suggestions(items)
    except ValueError as exc:
        _fail(f"{file}: {exc}")
    typer.echo(f"{len(items)} suggestion(s) stored, {queued} passage(s) newly queued")


@_clean
def route(order: str = typer.Option("uncertain", help="uncertain | report"),
          overlap: float = typer.Option(0.2, help="Fraction of tasks given to >= 2 coders."),
          coders: int = typer.Option(2, help="Coders per overlapping task."),
          batch_size: int = typer.Option(50, help="Tasks per import request."),
          limit: int | None = typer.Option(None, help="Push at most this many.")) -> None:
    """Push pending suggestions to Label Studio as pre-filled tasks (safe to re-run)."""
    from annotation.routing import route as do_route

    r = do_route(order=order, overlap=overlap, coders=coders, batch_size=batch_size,
                 limit=limit)
    typer.echo(f"pushed {r.pushed} task(s) ({r.overlapped} for several coders); "
               f"adopted {r.adopted}, already there {r.already}, re-queued {r.requeued}, "
               f"duplicates removed {r.duplicates_removed}; {r.pending} still pending")
    _report(r.messages, r.error)


@_clean
def pull(page_size: int = typer.Option(100, help="Tasks per page."),
         reconcile: bool = typer.Option(True, help="Reconcile codings afterwards.")) -> None:
    """Fetch coders' annotations, store them and reconcile them into codings."""
    from annotation.pull import pull as do_pull
    from annotation.reconcile import reconcile as do_reconcile

    r = do_pull(page_size=page_size)
    typer.echo(f"read {r.tasks_read} task(s): {r.new} new, {r.updated} updated, "
               f"{r.unchanged} unchanged annotation(s), {r.cancelled} skipped")
    for label in r.unknown_labels:
        typer.echo(f"unknown label: {label}")
    if r.error:
        _report(r.messages, r.error)
    if reconcile:
        c = do_reconcile()
        typer.echo(f"codings: {c.confirmed} confirmed, {c.needs_adjudication} need "
                   f"adjudication ({c.adjudication_tasks} sent), {c.pending} pending")
        _report(r.messages + c.messages, c.error)
    else:
        _report(r.messages, None)


@_clean
def codings(out: Path | None = typer.Option(None, help="Write JSON Lines here."),
            include_not_vivid: bool = typer.Option(False, "--all",
                                                   help="Also confirmed non-examples.")
            ) -> None:
    """The confirmed codings (the collated dataset) with their provenance."""
    from annotation.reconcile import dataset_rows

    rows = dataset_rows(include_not_vivid=include_not_vivid)
    text = "".join(json.dumps(r, default=str, ensure_ascii=False) + "\n" for r in rows)
    if out:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"{len(rows)} confirmed coding(s) written to {out}")
    else:
        typer.echo(text, nl=False)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.add_typer(labelstudio, name="labelstudio")
    app.command("enqueue")(enqueue)
    app.command("route")(route)
    app.command("pull")(pull)
    app.command("codings")(codings)
