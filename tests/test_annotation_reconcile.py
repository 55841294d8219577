"""Reconciling coders' work on the real server: agreement, disagreement, adjudication in
Label Studio, and the dataset rows with their provenance."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from annotation.client import LS
from annotation.config import Coded, adjudication_title, from_results
from annotation.outbox import enqueue_suggestions
from annotation.pull import pull
from annotation.reconcile import dataset_rows, reconcile
from annotation.routing import route
from corpus.codebook import load_codebook
from corpus.settings import get_settings
from corpus.store.db import session_scope
from corpus.store.schema import Coding, Passage, Report, Task
from pipeline.cli import app
from tests.fixtures_labelstudio import make_store, suggestion

pytestmark = pytest.mark.labelstudio

YES_C = Coded(vivid="yes", stage="C", pairings=["school>csc"], issue="other",
              reasons=["roles_unclear"], issue_note="referral treated as information")


def _tasks(url: str | None) -> dict[str, int]:
    with session_scope(url) as s:
        return {t.passage_id: t.ls_task_id for t in s.scalars(select(Task)).all()}


def _adjudication_tasks(ls: LS) -> list:
    project = ls.find_project(adjudication_title(get_settings().label_studio_project))
    return list(ls.iter_tasks(project.id, with_annotations=True))


def test_agree_disagree_adjudicate_and_the_dataset(ls_env, coders, db_url):
    ids = make_store(db_url, per_report=4)
    enqueue_suggestions([suggestion(p) for p in ids], url=db_url)
    assert route(db_url, overlap=1.0).pushed == 4  # every task wants two coders
    tasks = _tasks(db_url)
    alice, bob, carol = coders["alice"], coders["bob"], coders["carol"]
    agree, differ, alone, neither = ids
    alice.annotate(tasks[agree], YES_C, lead_time=20)
    bob.annotate(tasks[agree], YES_C, lead_time=25)
    alice.annotate(tasks[differ], YES_C)
    bob.annotate(tasks[differ], Coded(vivid="yes", stage="D", pairings=["school>csc"],
                                      issue="other", reasons=["roles_unclear"]))
    alice.annotate(tasks[alone], YES_C)  # the second coder has not come yet
    alice.annotate(tasks[neither], Coded(vivid="no"))
    bob.annotate(tasks[neither], Coded(vivid="no", stage="E"))  # content ignored when "no"

    assert pull(db_url).new == 7
    res = reconcile(db_url)
    assert res.error is None
    assert (res.confirmed, res.needs_adjudication, res.pending) == (2, 1, 1)
    assert res.adjudication_tasks == 1
    with session_scope(db_url) as s:
        c = {p: s.get(Coding, p) for p in ids}
        assert c[agree].status == "confirmed" and c[agree].basis == "agreement"
        assert c[differ].status == "needs_adjudication"
        assert c[differ].disagreement["stage"] == {"alice@vivid.test": "C",
                                                   "bob@vivid.test": "D"}
        assert c[alone].status == "pending"
        assert c[neither].status == "confirmed" and c[neither].vivid is False
        assert c[neither].stage is None

    # the adjudicator sees the passage, where the coders differ, and both versions
    ls = ls_env.client()
    (adj,) = _adjudication_tasks(ls)
    assert adj.data["passage_id"] == differ and "stage" in adj.data["disagreement"]
    assert "alice@vivid.test: C" in adj.data["disagreement"]
    versions = {p.model_version: from_results(p.result, load_codebook()).stage
                for p in adj.predictions}
    assert versions == {"coder alice@vivid.test": "C", "coder bob@vivid.test": "D"}
    assert reconcile(db_url).adjudication_tasks == 0  # not sent twice
    assert len(_adjudication_tasks(ls)) == 1

    carol.annotate(adj.id, Coded(vivid="yes", stage="D", pairings=["school>csc"],
                                 issue="other", reasons=["roles_unclear"]))
    pulled = pull(db_url)
    assert pulled.new == 1
    res = reconcile(db_url)
    assert (res.confirmed, res.needs_adjudication, res.pending) == (3, 0, 1)

    rows = {r["passage_id"]: r for r in dataset_rows(db_url)}
    assert set(rows) == {agree, differ}  # confirmed vivid examples only
    with session_scope(db_url) as s:
        p = s.get(Passage, differ)
        report = s.get(Report, p.report_id)
        r = rows[differ]
        assert r["stage"] == "D" and r["basis"] == "adjudicated"
        assert r["adjudicator"] == "carol@vivid.test"
        assert (r["report_id"], r["report"]) == (report.id, report.title)
        assert (r["page_start"], r["page_end"]) == (p.page_start, p.page_end)
        assert (r["start_char"], r["end_char"]) == (p.start_char, p.end_char)
        assert r["text"] == report.text[p.start_char:p.end_char]
    a = rows[agree]
    assert a["coders"] == ["alice@vivid.test", "bob@vivid.test"] and a["basis"] == "agreement"
    assert a["model_version"] == "test-1" and a["pairings"] == ["school>csc"]
    assert a["issue_note"] == "referral treated as information"
    assert a["first_annotated_at"] <= a["confirmed_at"]
    everything = dataset_rows(db_url, include_not_vivid=True)
    assert {r["passage_id"] for r in everything} == {agree, differ, neither}


def test_single_coder_confirms_and_unsure_goes_to_adjudication(ls_env, coders, tmp_path):
    ids = make_store(None, per_report=2)
    enqueue_suggestions([suggestion(p) for p in ids])
    assert route(overlap=0.0).pushed == 2
    tasks = _tasks(None)
    coders["alice"].annotate(tasks[ids[0]], YES_C)
    coders["bob"].annotate(tasks[ids[1]], Coded(vivid="unsure"))
    runner = CliRunner()
    out = runner.invoke(app, ["pull"])
    assert out.exit_code == 0, out.output
    assert "1 confirmed, 1 need adjudication (1 sent)" in out.output
    with session_scope() as s:
        assert s.get(Coding, ids[0]).basis == "single"
        assert s.get(Coding, ids[1]).status == "needs_adjudication"
    target = tmp_path / "codings.jsonl"
    out = runner.invoke(app, ["codings", "--out", str(target)])
    assert out.exit_code == 0, out.output
    (row,) = [json.loads(line) for line in target.read_text().splitlines()]
    assert row["passage_id"] == ids[0] and row["coders"] == ["alice@vivid.test"]
    assert row["report"].startswith("Serious Case Review") and row["page_start"] == 3
