"""`vivid` commands for corpus: `vivid parse REPORT.pdf... [--json] [--store]`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from corpus.document import ParsedReport


def _outline(report: ParsedReport, console: Console) -> None:
    counts: dict[str, int] = {}
    for p in report.passages:
        counts[p.section_id or ""] = counts.get(p.section_id or "", 0) + 1
    published = report.published.isoformat() if report.published else report.year
    console.print(f"[bold]{report.filename}[/bold]  {report.page_count} pages, "
                  f"{len(report.sections)} sections, {len(report.passages)} passages, "
                  f"{len(report.footnotes)} footnotes")
    for label, value in (("title", report.title), ("board", report.board),
                         ("author", report.author), ("published", published),
                         ("sha256", report.id)):
        console.print(f"  {label:9} {value if value not in (None, '') else '-'}")
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for col, kw in (("type", {}), ("heading", {"overflow": "fold"}),
                    ("pages", {"justify": "right"}), ("passages", {"justify": "right"})):
        table.add_column(col, **kw)
    for s in report.sections:
        label = (f"{s.number} {s.heading}" if s.number else s.heading) or (
            "(no headings found)" if s.type == "unknown" else "(before the first heading)")
        pages = str(s.page_start) if s.page_start == s.page_end else \
            f"{s.page_start}-{s.page_end}"
        table.add_row(s.type, "  " * (s.level - 1) + label, pages, str(counts.get(s.id, 0)))
    console.print(table)


def parse(
    reports: list[Path] = typer.Argument(..., help="report PDFs", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="print each parsed report as one "
                                 "JSON line (the whole ParsedReport)"),
    store: bool = typer.Option(False, "--store", help="also write it to the store"),
) -> None:
    """Parse SCR report PDFs: metadata and section outline (type, heading, pages, passages)."""
    from corpus.ingest import iter_ingest

    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    console = Console(highlight=False, soft_wrap=False)
    failed = 0
    results = iter_ingest(reports, store=store)
    while True:
        try:
            result = next(results, None)
        except SQLAlchemyError as exc:  # the store, not the report, failed: stop here
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            print(f"error: store: {type(exc).__name__}: {first}", file=sys.stderr)
            raise typer.Exit(code=1) from None
        if result is None:
            break
        if result.error or result.report is None:
            failed += 1
            print(f"error: {result.error}", file=sys.stderr, flush=True)
            continue
        if as_json:
            sys.stdout.write(result.report.model_dump_json() + "\n")
            sys.stdout.flush()
        else:
            _outline(result.report, console)
            if store:
                console.print("  stored" if result.stored else "  already in the store")
            console.print()
    if failed:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("parse")(parse)
