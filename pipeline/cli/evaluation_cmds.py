"""`vivid` commands for evaluation: `vivid agreement` and `vivid collate`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from corpus.codebook import CodebookError, load_codebook
from corpus.settings import get_settings


def _fmt(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.3f}"


def _est(e) -> str:  # noqa: ANN001 - an agreement.Estimate or None
    if e is None or not math.isfinite(e.value):
        return "–"
    if math.isfinite(e.low):
        return f"{e.value:.3f} [{e.low:.2f}, {e.high:.2f}]"
    return f"{e.value:.3f}"


def _fail(message: str) -> None:
    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False,
                               soft_wrap=True)
    raise typer.Exit(1)


def _agreement_tables(console: Console, report, model, top_codes: int) -> None:  # noqa: ANN001
    summary = Table(title=f"Inter-coder agreement ({report.source}: {report.n_units} units, "
                    f"{report.n_coders} coders; 95% CI: {report.n_boot} bootstrap "
                    "resamples of units)", title_justify="left")
    for col in ("field", "distance", "units", "1 coder", "coders", "% agree", "Cohen κ",
                "Fleiss κ", "Kripp. α"):
        summary.add_column(col, justify="left" if col in ("field", "distance") else "right",
                           no_wrap=True)
    for f in report.fields:
        summary.add_row(f.field, f.distance, str(f.n_units), str(f.n_single),
                        str(f.n_coders), _est(f.percent), _est(f.kappa),
                        _est(f.fleiss) if f.fleiss else "n/a", _est(f.alpha))
    console.print(summary)
    console.print("  units: coded by 2+ coders (measured); 1 coder: counted, excluded; "
                  "Cohen κ: mean of coder pairs; α: nominal, MASI distance for sets",
                  highlight=False)
    for note in report.notes + [f"{f.field}: Fleiss' κ n/a, {f.fleiss_note}"
                                for f in report.fields if f.fleiss_note]:
        console.print(f"  note: {note}", highlight=False)

    for f in report.fields:
        coders, matrix = f.kappa_matrix()
        if len(coders) < 3:
            continue
        t = Table(title=f"{f.field}: pairwise Cohen's κ", title_justify="left")
        t.add_column("")
        for c in coders:
            t.add_column(c, justify="right")
        for c, row in zip(coders, matrix, strict=True):
            t.add_row(c, *[_fmt(v) for v in row])
        console.print(t)

    codes = Table(title=f"Per-code agreement (κ, code present vs absent; top {top_codes} "
                  "codes per field by use)", title_justify="left")
    for col in ("field", "code", "units", "ratings", "κ", "% agreement"):
        codes.add_column(col, justify="left" if col in ("field", "code") else "right")
    for f in report.fields:
        for c in f.per_code[:top_codes]:
            codes.add_row(f.field, c.code, str(c.n_units), str(c.n_ratings), _fmt(c.kappa),
                          _fmt(c.percent))
    console.print(codes)

    if model is None:
        return
    t = Table(title=f"Model vs coders ({', '.join(model.model_versions) or 'no model'}: "
              f"{model.n_matched} of {model.n_confirmed} confirmed codings have a "
              "suggestion)", title_justify="left")
    for col in ("field", "accepted", "units", "κ model", "α model", "2+ coders",
                "κ coders", "α coders"):
        t.add_column(col, justify="left" if col == "field" else "right", no_wrap=True)
    for f in model.fields:
        acc = "–" if not math.isfinite(f.acceptance) else \
            f"{f.acceptance:.0%} of {f.n_suggested}"
        t.add_row(f.field, acc, str(f.n_units), _est(f.kappa_model), _est(f.alpha_model),
                  str(f.n_coder_units), _est(f.kappa_coders), _est(f.alpha_coders))
    console.print(t)
    console.print("  model: suggestion vs confirmed coding; coders: coder vs coder on the "
                  "same units", highlight=False)
    for c in model.calibration:
        console.print(f"  calibration {c.name}: n={c.n}, ECE={_fmt(c.ece())}",
                      highlight=False)


def agreement(
    from_file: Path | None = typer.Option(
        None, "--from-file", help="A coding file (.csv or .xlsx): one row per unit x coder "
        "with columns unit, coder and the fields; default: the store's annotations."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    out: Path | None = typer.Option(None, "--out", help="Also write JSON, CSV tables and "
                                    "the reliability diagram into this folder."),
    boot: int = typer.Option(1000, "--boot", min=0, help="Bootstrap resamples for the CIs."),
    seed: int | None = typer.Option(None, "--seed", help="Bootstrap seed (fixed default)."),
    top_codes: int = typer.Option(10, "--top-codes", min=1,
                                  help="Codes per field in the per-code table."),
) -> None:
    """Inter-coder agreement per field, and the model's suggestions against coders."""
    from sqlalchemy.exc import SQLAlchemyError

    from evaluation.agreement import SEED, AgreementError, write_report
    from evaluation.agreement import agreement as compute
    from evaluation.collate import CollateError
    from evaluation.model_vs_coders import from_store
    from evaluation.sources import CodingFileError, ratings_from_file, ratings_from_store

    seed = SEED if seed is None else seed
    try:
        codebook = load_codebook(get_settings().codebook_path)
        ratings = ratings_from_file(from_file, codebook) if from_file else ratings_from_store()
        report = compute(ratings, codebook, n_boot=boot, seed=seed)
        model = None
        if from_file is None:
            model = from_store(n_boot=boot, seed=seed)
            model = model if model.n_matched else None
        if out is not None:
            written = write_report(out, report, model)
    except (CodingFileError, AgreementError, CollateError, CodebookError) as exc:
        _fail(str(exc))
    except SQLAlchemyError as exc:
        _fail(f"cannot read the store: {str(exc).splitlines()[0]}")
    if as_json:
        typer.echo(json.dumps({"agreement": report.to_dict(),
                               "model": model.to_dict() if model else None}, indent=2))
    else:
        console = Console()
        if not console.is_terminal:  # piped or captured: wide enough for the CIs
            console = Console(width=150)
        _agreement_tables(console, report, model, top_codes)
    if out is not None and not as_json:
        typer.echo(f"wrote {len(written)} files to {out}")


def collate(
    out: Path = typer.Option(..., "--out", help="Folder for the map, briefings, exports "
                             "and plots (replaced as a whole only when all succeeded)."),
) -> None:
    """The analysts' products from the confirmed codings in the store."""
    from sqlalchemy.exc import SQLAlchemyError

    from evaluation.collate import CollateError
    from evaluation.collate import collate as run

    try:
        written = run(out)
    except (CollateError, CodebookError) as exc:
        _fail(str(exc))
    except SQLAlchemyError as exc:
        _fail(f"cannot read the store: {str(exc).splitlines()[0]}")
    briefings = sum(1 for p in written if p.parent.name == "briefings" and p.suffix == ".md")
    typer.echo(f"wrote {len(written)} files to {out}: care_pathway_map.html/.csv, "
               f"{briefings} topic briefings, confirmed_codings.csv/.xlsx/.parquet, "
               "3 plots")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("agreement")(agreement)
    app.command("collate")(collate)
