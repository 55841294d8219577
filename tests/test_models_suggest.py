"""The `vivid suggest` contract, exactly, and every kind of bad input line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from models.examples import current_codebook
from models.suggest import Suggester
from pipeline.cli import app

ROOT = Path(__file__).resolve().parents[1]
TEXT = ("The health visitor saw bruising on the baby's cheek at the six-week visit. She "
        "recorded it but did not tell the GP or refer to children's social care, because "
        "the mother's explanation seemed plausible.")


@pytest.fixture
def suggester(trained_model):
    return Suggester.load()


def check_contract(res: dict, iid: str, version: str) -> None:
    cb = current_codebook()
    assert list(res) == ["id", "model_version", "vivid", "stage", "pairings", "issue",
                         "reasons"]
    assert res["id"] == iid and res["model_version"] == version
    assert set(res["vivid"]) == {"score", "selected"}
    assert 0.0 <= res["vivid"]["score"] <= 1.0 and isinstance(res["vivid"]["selected"], bool)
    stages = [s["id"] for s in res["stage"]]
    assert sorted(stages) == cb.stage_ids
    scores = [s["score"] for s in res["stage"]]
    assert scores == sorted(scores, reverse=True) and abs(sum(scores) - 1) < 0.01
    assert sorted(i["id"] for i in res["issue"]) == sorted(cb.issue_ids)
    iss = [i["score"] for i in res["issue"]]
    assert iss == sorted(iss, reverse=True) and abs(sum(iss) - 1) < 0.01
    assert sorted(r["id"] for r in res["reasons"]) == sorted(cb.reason_ids)
    for r in res["reasons"]:
        assert set(r) == {"id", "score", "selected"} and 0 <= r["score"] <= 1
    pairs = res["pairings"]
    assert pairs and all(cb.is_pairing(p["id"]) for p in pairs)
    assert [p["score"] for p in pairs] == sorted((p["score"] for p in pairs), reverse=True)
    assert any(p["selected"] for p in pairs) and all(set(p) == {"id", "score", "selected"}
                                                     for p in pairs)


def test_contract_with_and_without_context(suggester, trained_model):
    out = suggester.suggest([
        {"id": "a", "text": TEXT},
        {"id": "b", "text": TEXT, "context": {"heading": "Analysis", "section_type": "analysis"}},
        {"id": 7, "text": TEXT, "context": {}},
    ])
    for res, iid in zip(out, ["a", "b", "7"], strict=True):
        check_contract(res, iid, trained_model.version)
    assert {p["id"] for p in out[0]["pairings"]} >= {"health_visitor>gp", "health_visitor>csc"}


@pytest.mark.parametrize("item,needle", [
    ({"id": "e", "text": ""}, "empty text"),
    ({"id": "w", "text": " \n\t "}, "empty text"),
    ({"id": "zh", "text": "这是一个关于儿童保护的段落，没有任何英文单词。"},
     "not look like English"),
    ({"id": "de", "text": "Das Jugendamt wurde nicht informiert, obwohl die Schule mehrfach "
                          "Bedenken wegen der Verletzungen des Kindes geäußert hatte."},
     "not look like English"),
    ({"id": "g", "text": "qzxv brpl mmkt 8823 zzqq vvtr pplk xxcv qwrt jjkl"}, "not look like"),
    ({"id": "n", "text": "12/03/2016 14:05 — 0.5 / 17 ## ** 99 %% 42"}, "not look like"),
    ({"text": TEXT}, "missing 'id'"),
    ({"id": "t", "text": ["a list"]}, "missing 'text'"),
    ({"id": "c", "text": TEXT, "context": "analysis"}, "'context' must be an object"),
    ("just a string", "expected a JSON object"),
])
def test_bad_items_get_error_objects_in_place(suggester, item, needle):
    out = suggester.suggest([{"id": "ok1", "text": TEXT}, item, {"id": "ok2", "text": TEXT}])
    assert [o.get("id") for o in (out[0], out[2])] == ["ok1", "ok2"]
    assert "error" not in out[0] and "error" not in out[2]
    assert set(out[1]) == {"id", "error"} and needle in out[1]["error"]


def test_very_long_passage_is_scored(suggester, trained_model):
    words = (TEXT + " ").split() * (50_000 // len(TEXT.split()) + 1)
    out = suggester.suggest([{"id": "long", "text": " ".join(words[:50_000])}])
    check_contract(out[0], "long", trained_model.version)


def test_pair_never_seen_in_training_is_proposed(suggester, trained_model):
    seen = set(trained_model.card["examples"]["pairings"])
    assert "housing>camhs" not in seen and "camhs>housing" not in seen
    text = ("The housing officer visited the flat and found the young person self-harming. "
            "She telephoned CAMHS, but CAMHS did not call back and the housing officer "
            "was never told whether a referral had been accepted.")
    out = suggester.suggest([{"id": "u", "text": text}])[0]
    assert "housing>camhs" in [p["id"] for p in out["pairings"][:4]]


# --- the command --------------------------------------------------------------------------
def _run(args, stdin, env):
    """The installed `vivid` command, reading real standard input."""
    vivid = Path(sys.executable).parent / "vivid"
    return subprocess.run([str(vivid), *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)


def test_cli_suggest_stdin_keeps_order_and_reports_bad_lines(trained_model):
    lines = [json.dumps({"id": "p1", "text": TEXT}), "", "{broken json",
             json.dumps({"id": "p2", "text": "   "}),
             json.dumps({"id": "p3", "text": TEXT,
                         "context": {"heading": "Findings", "section_type": "findings"}})]
    env = {**os.environ, "VIVID_REGISTRY_DIR": str(trained_model.registry)}
    proc = _run(["suggest"], "\n".join(lines) + "\n", env)
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [o.get("id") for o in out] == ["p1", None, "p2", "p3"]
    check_contract(out[0], "p1", trained_model.version)
    check_contract(out[3], "p3", trained_model.version)
    assert "not valid JSON" in out[1]["error"] and out[2]["error"] == "empty text"
    assert "stdin:3: not valid JSON" in proc.stderr and "stdin:4: empty text" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.returncode == 1


def test_cli_suggest_input_file_and_model_option(trained_model, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "f1", "text": TEXT}) + "\n")
    runner = CliRunner()
    res = runner.invoke(app, ["suggest", "--input", str(src), "--model", trained_model.version])
    assert res.exit_code == 0, res.output
    check_contract(json.loads(res.stdout), "f1", trained_model.version)
    res = runner.invoke(app, ["suggest", "--input", str(src), "--model", "v999"])
    assert res.exit_code == 2 and "'v999' not found" in res.stderr
    res = runner.invoke(app, ["suggest", "--input", str(tmp_path / "none.jsonl")])
    assert res.exit_code == 2 and "cannot read" in res.stderr


def test_cli_suggest_without_any_model(tmp_path, monkeypatch):
    monkeypatch.setenv("VIVID_REGISTRY_DIR", str(tmp_path / "empty"))
    from corpus.settings import reset_settings

    reset_settings()
    res = CliRunner().invoke(app, ["suggest"], input=json.dumps({"id": "x", "text": TEXT}))
    assert res.exit_code == 2 and "run `vivid train`" in res.stderr
