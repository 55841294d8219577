"""`vivid parse`: outline, --json, --store, and bad files reported one line each."""

from __future__ import annotations

import json

import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from corpus.document import ParsedReport
from corpus.store import Report, session_scope
from pipeline.cli import corpus_cmds


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _main() -> None:
        """Sub-commands always (as in the real `vivid` app)."""

    corpus_cmds.register(app)
    return app


def test_parse_prints_metadata_and_outline(make_pdf):
    result = CliRunner().invoke(_app(), ["parse", str(make_pdf(contents_page=True))])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Serious Case Review: Child A" in out
    assert "Westmoor Safeguarding Children Partnership" in out
    assert "2019-05-14" in out
    lines = [ln.split() for ln in out.splitlines()]
    assert ["methodology", "2.1", "Terms", "of", "reference", "3", "1"] in lines
    assert any(ln[:3] == ["recommendations", "8", "Recommendations"] for ln in lines)


def test_bad_files_are_reported_and_the_rest_still_parsed(make_pdf, bad_inputs):
    good = make_pdf()
    args = ["parse", str(bad_inputs["not_pdf"]), str(good), str(bad_inputs["directory"]),
            str(bad_inputs["image_only"])]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 1
    errors = result.stderr.strip().splitlines()
    assert errors == [
        f"error: {bad_inputs['not_pdf']}: not a PDF (no %PDF header)",
        f"error: {bad_inputs['directory']}: is a directory, not a PDF file",
        f"error: {bad_inputs['image_only']}: no text layer — OCR needed"]
    assert good.name in result.stdout and "Traceback" not in result.output


def test_json_prints_the_whole_parsed_report(make_pdf):
    result = CliRunner().invoke(_app(), ["parse", "--json", str(make_pdf()),
                                         str(make_pdf(heading_style="bold"))])
    assert result.exit_code == 0, result.output
    reports = [ParsedReport.model_validate(json.loads(line))
               for line in result.stdout.splitlines()]
    assert len(reports) == 2 and reports[0].id != reports[1].id
    assert reports[0].passages and reports[0].sections and reports[0].text


def test_store_writes_each_report_once(make_pdf, db_url):
    path = make_pdf()
    runner = CliRunner()
    first = runner.invoke(_app(), ["parse", "--store", str(path)])
    again = runner.invoke(_app(), ["parse", "--store", str(path)])
    assert first.exit_code == again.exit_code == 0
    assert "stored" in first.stdout and "already in the store" in again.stdout
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(Report)) == 1
