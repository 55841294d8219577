"""`vivid` commands for models: train, suggest, suggest-report, evaluate-model.

Thin wrappers: the work is in models.train, models.suggest, models.evaluate. User errors
are one line on stderr and a non-zero exit; `suggest` keeps going past a bad input line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

import typer


def _fail(msg: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {msg}", err=True)
    return typer.Exit(code)


def _load_suggester(version: str | None):
    from models.registry import RegistryError
    from models.suggest import Suggester

    try:
        return Suggester.load(version)
    except RegistryError as exc:
        raise _fail(str(exc)) from None


def train_cmd(
    data: list[Path] = typer.Option(None, "--data", help="JSON Lines of coded examples, or "
                                    "sample-report spec JSON (repeatable; default: the seed "
                                    "set, the dev set and the sample specs)"),
    out: str = typer.Option(None, "--out", help="version name (default: next vN)"),
) -> None:
    """Train a new model version on coded examples and print its cross-validated metrics."""
    from models.examples import ExampleError
    from models.registry import RegistryError, registry_dir
    from models.train import train

    try:
        card = train(list(data) if data else None, out_version=out)
    except (ExampleError, RegistryError) as exc:
        raise _fail(str(exc)) from None
    ex = card.examples
    typer.echo(f"trained model {card.version} in {card.train_seconds:.1f} s on {ex['total']} "
               f"examples ({ex['vivid']['true']} vivid) -> {registry_dir() / card.version}")
    typer.echo("cross-validated metrics (5-fold):")
    for k, v in card.cv_metrics.items():
        typer.echo(f"  {k:28s} {v:.3f}")


def _open_input(path: Path | None) -> TextIO:
    if path is None:
        return sys.stdin
    if path.is_dir():
        raise _fail(f"{path}: is a directory, not a JSON Lines file")
    try:
        return path.open(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise _fail(f"{path}: cannot read: {exc.strerror}") from None


def suggest_cmd(
    input: Path = typer.Option(None, "--input", help="JSON Lines file (default: stdin)"),
    model: str = typer.Option(None, "--model", help="model version (default: current)"),
) -> None:
    """Suggest codes for passages: one JSON line out per JSON line in, same order."""
    stream = _open_input(input)
    suggester = _load_suggester(model)
    where = str(input) if input else "stdin"
    errors = 0
    batch: list[tuple[int, object]] = []

    def flush() -> None:
        nonlocal errors
        results = suggester.suggest([item for _, item in batch])
        for (n, _), res in zip(batch, results, strict=True):
            if "error" in res:
                errors += 1
                typer.echo(f"{where}:{n}: {res['error']} (id {res.get('id')!r})", err=True)
            sys.stdout.write(json.dumps(res, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        batch.clear()

    for n, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            flush()
            errors += 1
            typer.echo(f"{where}:{n}: not valid JSON ({exc.msg})", err=True)
            sys.stdout.write(json.dumps({"id": None, "error": f"line {n}: not valid JSON "
                                         f"({exc.msg})"}) + "\n")
            continue
        batch.append((n, item))
        if len(batch) >= 64:
            flush()
    if batch:
        flush()
    if errors:
        raise typer.Exit(1)


def suggest_report_cmd(
    report: Path = typer.Argument(..., help="a report PDF"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    model: str = typer.Option(None, "--model", help="model version (default: current)"),
    show_all: bool = typer.Option(False, "--all", help="list every passage, not only "
                                  "the candidate vivid examples"),
) -> None:
    """Candidate vivid examples of one report with their suggested codes."""
    try:
        from corpus.parse import parse_report
    except ImportError:
        raise _fail("report parsing is not available (corpus.parse is missing)") from None
    from corpus.document import ReportError

    suggester = _load_suggester(model)
    try:
        parsed = parse_report(report)
    except ReportError as exc:
        raise _fail(str(exc)) from None
    items = [{"id": p.id, "text": p.text,
              "context": {"heading": p.heading or "", "section_type": p.section_type}}
             for p in parsed.passages]
    results = suggester.suggest(items)
    rows, skipped = [], []
    for p, res in zip(parsed.passages, results, strict=True):
        if "error" in res:
            skipped.append({"passage_id": p.id, "page": p.page_start, "error": res["error"]})
            continue
        if not (show_all or res["vivid"]["selected"]):
            continue
        rows.append({"passage_id": p.id, "number": p.number, "page": p.page_start,
                     "heading": p.heading, "section_type": p.section_type, "text": p.text,
                     "suggestions": res})
    if as_json:
        typer.echo(json.dumps({"report": {"id": parsed.id, "filename": parsed.filename,
                                          "title": parsed.title},
                               "model_version": suggester.version,
                               "passages": len(parsed.passages), "candidates": rows,
                               "skipped": skipped},
                              ensure_ascii=False, indent=2))
        return
    _print_report_table(parsed, rows, suggester.version)


def _print_report_table(parsed, rows: list[dict], version: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{parsed.title or parsed.filename}: {len(rows)} candidate vivid "
                  f"examples of {len(parsed.passages)} passages (model {version})",
                  show_lines=True)
    for col, kw in (("page", {"justify": "right"}), ("section", {}),
                    ("passage", {"ratio": 4}), ("vivid", {"justify": "right"}),
                    ("stage", {}), ("pairings", {}), ("issue", {}), ("reasons", {})):
        table.add_column(col, **kw)
    for r in rows:
        s = r["suggestions"]
        text = r["text"] if len(r["text"]) <= 300 else r["text"][:297] + "..."
        stage = ", ".join(f"{x['id']} {x['score']:.2f}" for x in s["stage"][:2])
        pairs = "\n".join(f"{x['id']} {x['score']:.2f}" for x in s["pairings"] if x["selected"])
        issue = f"{s['issue'][0]['id']} {s['issue'][0]['score']:.2f}"
        reasons = "\n".join(f"{x['id']} {x['score']:.2f}" for x in s["reasons"] if x["selected"])
        table.add_row(str(r["page"]), f"{r['heading'] or ''}\n[dim]{r['section_type']}[/dim]",
                      text, f"{s['vivid']['score']:.2f}", stage, pairs, issue, reasons)
    Console().print(table)


def evaluate_model_cmd(
    data: list[Path] = typer.Option(..., "--data", help="JSON Lines of coded examples"),
    model: str = typer.Option(None, "--model", help="model version (default: current)"),
    out: Path = typer.Option(None, "--out", help="directory for metrics.json and the "
                             "confusion matrix PNG (default: <data dir>/model-eval/<version>)"),
) -> None:
    """Per-field metrics of a model's suggestions on coded examples."""
    from corpus.settings import get_settings
    from models.evaluate import evaluate_predictions, headline, write_report
    from models.examples import ExampleError, load_examples

    suggester = _load_suggester(model)
    try:
        examples = load_examples(data, suggester.codebook)
    except ExampleError as exc:
        raise _fail(str(exc)) from None
    preds = suggester.suggest([{"id": e.id, "text": e.text, "context": e.context}
                               for e in examples])
    keep = [i for i, p in enumerate(preds) if "error" not in p]
    for p in preds:
        if "error" in p:
            typer.echo(f"skipped {p['id']!r}: {p['error']}", err=True)
    if not keep:
        raise _fail("no example could be scored")
    gold = [examples[i] for i in keep]
    metrics = evaluate_predictions(gold, [preds[i] for i in keep],
                                   suggester.codebook.stage_ids, suggester.codebook.reason_ids)
    metrics["model_version"] = suggester.version
    metrics["data"] = [str(d) for d in data]
    out_dir = out or get_settings().data_dir / "model-eval" / suggester.version
    files = write_report(metrics, out_dir)
    typer.echo(f"model {suggester.version} on {len(gold)} examples "
               f"({sum(e.vivid for e in gold)} vivid):")
    for k, v in headline(metrics).items():
        typer.echo(f"  {k:28s} {v:.3f}")
    typer.echo("wrote " + ", ".join(str(f) for f in files))


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("train")(train_cmd)
    app.command("suggest")(suggest_cmd)
    app.command("suggest-report")(suggest_report_cmd)
    app.command("evaluate-model")(evaluate_model_cmd)
