"""Pulling coders' annotations from the real server: two coders on one task, edits,
skips, labels the codebook does not know, and a server stopped in the middle."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from annotation.client import LS
from annotation.config import Coded
from annotation.outbox import enqueue_suggestions
from annotation.pull import pull
from annotation.reconcile import reconcile
from annotation.routing import route
from corpus.settings import get_settings
from corpus.store.db import session_scope
from corpus.store.schema import Annotation, Coding, Task
from pipeline.cli import app
from tests.fixtures_labelstudio import make_store, suggestion

pytestmark = pytest.mark.labelstudio


def _routed(n: int, overlap: float = 0.0) -> tuple[list[str], dict[str, int]]:
    ids = make_store(None, per_report=n)
    enqueue_suggestions([suggestion(p) for p in ids])
    assert route(overlap=overlap).pushed == n
    with session_scope() as s:
        return ids, {t.passage_id: t.ls_task_id for t in s.scalars(select(Task)).all()}


def _prediction(ls: LS, task_id: int) -> list[dict]:
    return ls.sdk.tasks.get(str(task_id)).predictions[0].result


def _annotations() -> dict[str, list[Annotation]]:
    out: dict[str, list[Annotation]] = {}
    with session_scope() as s:
        for a in s.scalars(select(Annotation).order_by(Annotation.id)).all():
            out.setdefault(a.coder, []).append(a)
    return out


def test_two_coders_on_one_task_are_pulled_with_acceptance_and_lead_time(ls_env, coders):
    ids, tasks = _routed(2, overlap=1.0)
    task = tasks[ids[0]]
    alice, bob = coders["alice"], coders["bob"]
    kept = _prediction(alice.ls, task)
    alice.annotate(task, result=kept, lead_time=12.5)  # one click: the suggestion as it is
    changed = Coded(vivid="yes", stage="D", pairings=["school>csc", "police>csc"],
                    issue="other", issue_note="call logged, never acted on",
                    reasons=["roles_unclear"], note="second pairing added")
    bob_ann = bob.annotate(task, changed, lead_time=40.0)

    res = pull()
    assert res.error is None and res.new == 2 and res.unknown_labels == []
    anns = _annotations()
    (a,), (b,) = anns["alice@vivid.test"], anns["bob@vivid.test"]
    assert a.accepted == {"vivid": True, "stage": True, "pairings": True, "issue": True,
                          "reasons": True}
    assert b.accepted == {"vivid": True, "stage": False, "pairings": False, "issue": True,
                          "reasons": True}
    assert (a.lead_time, b.lead_time) == (12.5, 40.0)
    assert b.stage == "D" and b.pairings == ["police>csc", "school>csc"]
    assert b.issue_note == "call logged, never acted on" and b.note == "second pairing added"
    assert a.created_at is not None and a.updated_at is not None and a.role == "coder"
    assert a.passage_id == b.passage_id == ids[0] and a.ls_task_id == task

    again = pull()
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2)
    bob.ls.sdk.annotations.update(bob_ann, result=_prediction(bob.ls, task))  # bob gives in
    third = pull()
    assert (third.new, third.updated) == (0, 1)
    (b,) = _annotations()["bob@vivid.test"]
    assert b.stage == "C" and b.accepted["stage"] is True
    with session_scope() as s:
        assert len(s.scalars(select(Annotation)).all()) == 2


def test_skipped_then_annotated_counts_once(ls_env, coders):
    ids, tasks = _routed(1)
    alice = coders["alice"]
    skip = alice.annotate(tasks[ids[0]], cancelled=True)
    res = pull()
    assert res.new == 1 and res.cancelled == 1
    assert reconcile(push_adjudication=False).confirmed == 0
    with session_scope() as s:
        assert s.get(Coding, ids[0]) is None
    # the coder comes back to the skipped task and submits it
    alice.ls.sdk.annotations.update(skip, result=_prediction(alice.ls, tasks[ids[0]]),
                                    was_cancelled=False)
    res = pull()
    assert res.updated == 1 and res.cancelled == 0
    rec = reconcile(push_adjudication=False)
    assert rec.confirmed == 1
    with session_scope() as s:
        assert len(s.scalars(select(Annotation)).all()) == 1
        assert s.get(Coding, ids[0]).status == "confirmed"


def test_labels_the_codebook_does_not_know_are_reported(ls_env, coders):
    ids, tasks = _routed(1)
    ls = ls_env.client()
    project = ls.find_project(get_settings().label_studio_project)
    config = ls.sdk.projects.get(project.id).label_config
    hand_edited = config.replace('<Choice value="G.', '<Choice value="H. Hand-made stage" '
                                 'alias="H" />\n      <Choice value="G.', 1)
    assert hand_edited != config
    ls.sdk.projects.update(project.id, label_config=hand_edited)
    result = [r for r in _prediction(ls, tasks[ids[0]]) if r["from_name"] != "stage"]
    result.append({"from_name": "stage", "to_name": "passage", "type": "choices",
                   "value": {"choices": ["H"]}})
    coders["alice"].annotate(tasks[ids[0]], result=result)

    out = CliRunner().invoke(app, ["pull"])
    assert out.exit_code == 0, out.output
    assert "unknown label" in out.output and "stage: H" in out.output
    (a,) = _annotations()["alice@vivid.test"]
    assert a.unknown_labels == ["stage: H"] and a.stage is None
    with session_scope() as s:  # kept for a person to decide, not confirmed without it
        assert s.get(Coding, ids[0]).status == "needs_adjudication"


class _StopAfterFirstPage(LS):
    """A real client whose server is stopped once the first page has been read."""

    def __init__(self, server) -> None:
        super().__init__(server.url, server.token)
        self.server = server

    def task_pages(self, *args, **kwargs):
        for n, page in enumerate(super().task_pages(*args, **kwargs)):
            yield page
            if n == 0:
                self.server.stop()


def test_server_stopped_mid_pull_then_rerun_completes(ls_env, coders):
    ids, tasks = _routed(6)
    for pid in ids:
        coders["alice"].annotate(tasks[pid], result=_prediction(coders["alice"].ls,
                                                                 tasks[pid]))
    res = pull(ls=_StopAfterFirstPage(ls_env), page_size=2)
    assert res.error and "vivid pull` again" in res.error
    assert "not reachable" in res.error or "is the server still running" in res.error
    assert res.new == 2
    ls_env.start()
    res = pull(page_size=2)
    assert res.error is None and (res.new, res.unchanged) == (4, 2)
    with session_scope() as s:
        anns = s.scalars(select(Annotation)).all()
    assert sorted(a.passage_id for a in anns) == sorted(ids)
