"""Per-field metrics, `vivid evaluate-model` and `vivid suggest-report`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from models.evaluate import (
    expected_calibration_error,
    pairing_metrics,
    reasons_metrics,
)
from models.examples import DEV_FILE, Example, current_codebook
from pipeline.cli import app


def test_calibration_error():
    assert expected_calibration_error([0.8] * 10, [True] * 8 + [False] * 2) == pytest.approx(0)
    assert expected_calibration_error([0.9] * 10, [False] * 10) == pytest.approx(0.9)


def _ex(pairings=(), reasons=()):
    return Example(id="x", text="t", vivid=True, stage="A", pairings=tuple(pairings),
                   issue="other", reasons=tuple(reasons))


def test_pairing_directed_and_undirected():
    gold = [_ex(["school>csc", "police>csc"])]
    pred = [{"pairings": [{"id": "csc>school", "score": 0.9, "selected": True},
                          {"id": "police>csc", "score": 0.8, "selected": True},
                          {"id": "gp>csc", "score": 0.2, "selected": False}]}]
    m = pairing_metrics(gold, pred)
    assert m["directed"]["f1"] == pytest.approx(0.5)
    assert m["undirected"]["f1"] == pytest.approx(1.0)


def test_reasons_micro_and_macro():
    cb = current_codebook()
    gold = [_ex(reasons=["workload_capacity"]), _ex(reasons=["optimism_bias"])]
    pred = [{"reasons": [{"id": r, "score": 0.9 if r == "workload_capacity" else 0.1,
                          "selected": r == "workload_capacity"} for r in cb.reason_ids]}] * 2
    m = reasons_metrics(gold, pred, cb.reason_ids)
    assert m["micro_f1"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0) / 2)


def test_cli_evaluate_model_writes_metrics_and_png(trained_model, tmp_path):
    res = CliRunner().invoke(app, ["evaluate-model", "--data", str(DEV_FILE),
                                   "--out", str(tmp_path / "eval")])
    assert res.exit_code == 0, res.output
    for key in ("vivid_recall", "vivid_roc_auc", "stage_top2", "stage_macro_f1",
                "pairing_f1_undirected", "issue_accuracy", "reasons_macro_f1", "stage_ece"):
        assert key in res.output
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["vivid"]["n"] == 41 and metrics["stage"]["n"] == 32
    assert len(metrics["stage"]["confusion"]) == 7
    assert sum(map(sum, metrics["stage"]["confusion"])) == 32
    png = (tmp_path / "eval" / "stage_confusion.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_evaluate_model_bad_data(trained_model, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "q", "text": "x", "vivid": True, "stage": "Q",
                               "pairings": ["school>csc"], "issue": "other"}) + "\n")
    res = CliRunner().invoke(app, ["evaluate-model", "--data", str(bad)])
    assert res.exit_code == 2 and "bad.jsonl:1" in res.stderr and "'Q'" in res.stderr


def test_cli_suggest_report_json_and_table(trained_model, make_pdf):
    pdf = make_pdf()
    runner = CliRunner()
    res = runner.invoke(app, ["suggest-report", str(pdf), "--json", "--all"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["model_version"] == trained_model.version and out["passages"] > 3
    assert len(out["candidates"]) + len(out["skipped"]) == out["passages"]
    assert len(out["candidates"]) >= out["passages"] - 2, out["skipped"]
    for c in out["candidates"]:
        assert c["section_type"] and set(c["suggestions"]) >= {"vivid", "stage", "pairings"}
    res = runner.invoke(app, ["suggest-report", str(pdf), "--json"])
    picked = json.loads(res.stdout)["candidates"]
    assert all(c["suggestions"]["vivid"]["selected"] for c in picked)
    res = runner.invoke(app, ["suggest-report", str(pdf)])
    assert res.exit_code == 0 and "candidate vivid examples" in res.stdout


def test_cli_suggest_report_bad_file(trained_model, tmp_path):
    bad = tmp_path / "notes.pdf"
    bad.write_text("not a pdf at all")
    res = CliRunner().invoke(app, ["suggest-report", str(bad)])
    assert res.exit_code == 2 and "notes.pdf" in res.stderr and "Traceback" not in res.output
