"""Routing against the real Label Studio server: predictions, idempotence, order,
overlap, deleted tasks and a server that goes away in the middle of a push."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from annotation.client import LS, LabelStudioError, connect
from annotation.config import adjudication_title, from_results
from annotation.outbox import enqueue_suggestions
from annotation.routing import route, wants_overlap
from annotation.server import free_port
from corpus.codebook import load_codebook
from corpus.settings import get_settings, reset_settings
from corpus.store.db import session_scope
from corpus.store.schema import OutboxItem, Task
from pipeline.cli import app
from tests.fixtures_labelstudio import make_store, suggestion

pytestmark = pytest.mark.labelstudio


def _project(ls: LS):
    return ls.find_project(get_settings().label_studio_project)


def _server_passages(ls: LS) -> Counter:
    return Counter(t.data["passage_id"] for t in ls.iter_tasks(_project(ls).id))


def test_overlap_spreads_the_fraction_evenly():
    picked = [i for i in range(100) if wants_overlap(i, 0.2)]
    assert len(picked) == 20 and picked[:3] == [4, 9, 14]
    assert not any(wants_overlap(i, 0.0) for i in range(50))
    assert all(wants_overlap(i, 1.0) for i in range(50))


def test_push_with_predictions_then_repush_is_idempotent(ls_env):
    ids = make_store(None, reports=2, per_report=5)
    sugs = [suggestion(pid, vivid=0.55 + 0.04 * n, stage_score=0.3 + 0.05 * n)
            for n, pid in enumerate(ids)]
    sugs[3]["vivid"]["selected"] = False  # not a candidate: stored, never routed
    assert enqueue_suggestions(sugs) == 9
    assert enqueue_suggestions(sugs) == 0  # same suggestions again: nothing new

    first = route(batch_size=4)
    assert first.error is None and first.pushed == 9 and first.pending == 0
    ls = ls_env.client()
    tasks = list(ls.iter_tasks(_project(ls).id, with_annotations=True))
    assert len(tasks) == 9
    cb = load_codebook()
    by_pid = {t.data["passage_id"]: t for t in tasks}
    t0 = by_pid[ids[0]]
    for key in ("passage_id", "report_id", "page", "start_char", "end_char", "title",
                "context", "text"):
        assert key in t0.data
    assert "page 3" in t0.data["context"] and "Analysis of practice" in t0.data["context"]
    (pred,) = t0.predictions
    assert pred.model_version == "test-1" and 0 <= pred.score <= 1
    shown = from_results(pred.result, cb)
    assert shown.vivid == "yes" and shown.stage == "C" and shown.pairings == ["school>csc"]
    assert shown.issue == "other" and shown.reasons == ["roles_unclear"]
    assert {r["from_name"] for r in pred.result} >= {"vivid", "stage", "pairings", "issue"}
    # most uncertain first: the server holds the tasks in push order
    order = [t.data["passage_id"] for t in sorted(tasks, key=lambda t: t.id)]
    prio = [t.data["priority"] for t in sorted(tasks, key=lambda t: t.id)]
    assert prio == sorted(prio, reverse=True) and ids[3] not in order
    # every fifth task wants two coders, on the server and in the store
    assert sum(1 for t in tasks if t.overlap == 2) == 1
    with session_scope() as s:
        stored = {t.passage_id: t for t in s.scalars(select(Task)).all()}
    assert {p: t.overlap for p, t in stored.items()} == {
        t.data["passage_id"]: t.overlap for t in tasks}

    again = route()
    assert again.pushed == 0 and again.adopted == 0 and again.error is None
    assert max(_server_passages(ls).values()) == 1 and len(_server_passages(ls)) == 9
    assert adjudication_title(get_settings().label_studio_project)  # project pair exists
    assert ls.find_project(adjudication_title(get_settings().label_studio_project))


def test_report_order_and_a_newer_model_version(ls_env):
    ids = make_store(None, reports=2, per_report=3)
    enqueue_suggestions([suggestion(p, vivid=0.5 + 0.01 * n) for n, p in enumerate(ids)])
    # a newer model refreshes items that are still pending
    enqueue_suggestions([suggestion(p, version="test-2", stage="D") for p in ids])
    res = route(order="report", overlap=0.0)
    assert res.pushed == 6
    ls = ls_env.client()
    tasks = sorted(ls.iter_tasks(_project(ls).id, with_annotations=True), key=lambda t: t.id)
    assert [t.data["passage_id"] for t in tasks] == ids  # report by report, reading order
    assert {t.predictions[0].model_version for t in tasks} == {"test-2"}
    assert all(t.overlap == 1 for t in tasks)
    assert _project(ls).model_version == "test-2"
    with pytest.raises(ValueError, match="order must be"):
        route(order="random")


def test_deleted_task_is_queued_again(ls_env):
    ids = make_store(None, per_report=3)
    enqueue_suggestions([suggestion(p) for p in ids])
    assert route().pushed == 3
    ls = ls_env.client()
    with session_scope() as s:
        gone = s.get(Task, ids[1]).ls_task_id
    ls.sdk.tasks.delete(str(gone))
    res = route()
    assert res.requeued == 1 and res.pushed == 1
    assert any("was deleted" in m for m in res.messages)
    assert sorted(_server_passages(ls)) == sorted(ids)
    with session_scope() as s:
        t = s.get(Task, ids[1])
        assert t.status == "open" and t.ls_task_id != gone


def test_the_id_of_a_deleted_last_task_can_come_back(ls_env):
    ids = make_store(None, per_report=4)
    enqueue_suggestions([suggestion(p, vivid=0.99) for p in ids[:3]])
    assert route().pushed == 3
    ls = ls_env.client()
    with session_scope() as s:
        last = max(s.scalars(select(Task)).all(), key=lambda t: t.ls_task_id)
        last_pid, last_id = last.passage_id, last.ls_task_id
    ls.sdk.tasks.delete(str(last_id))  # Label Studio on SQLite hands this id out again
    enqueue_suggestions([suggestion(ids[3], vivid=0.5)])  # more uncertain: pushed first
    res = route()
    assert res.error is None and res.requeued == 1 and res.pushed == 2
    on_server = {t.data["passage_id"]: t.id for t in ls.iter_tasks(_project(ls).id)}
    assert sorted(on_server) == sorted(ids)
    with session_scope() as s:
        stored = {t.passage_id: t.ls_task_id for t in s.scalars(select(Task)).all()}
        assert all(i.status == "sent" for i in s.scalars(select(OutboxItem)).all())
    assert stored == on_server and last_pid in stored
    assert on_server[ids[3]] == last_id  # the reused id really went to another passage


def test_tasks_the_store_lost_are_adopted_not_duplicated(ls_env):
    ids = make_store(None, per_report=4)
    enqueue_suggestions([suggestion(p) for p in ids])
    assert route().pushed == 4
    with session_scope() as s:  # the store forgets two pushes (a reply that never came)
        for pid in ids[:2]:
            s.delete(s.get(Task, pid))
            s.scalars(select(OutboxItem).where(OutboxItem.passage_id == pid)).one().status = \
                "pending"
    res = route()
    assert res.adopted == 2 and res.pushed == 0 and res.already == 2
    assert max(_server_passages(ls_env.client()).values()) == 1


class _Outage(LS):
    """A real client whose server is stopped right after the n-th import returns, so the
    overlap update of that batch fails: tasks on the server the store never recorded."""

    def __init__(self, server, after: int) -> None:
        super().__init__(server.url, server.token)
        self.server, self.after, self.imports = server, after, 0

    def call(self, fn, *args, doing, **kwargs):
        out = super().call(fn, *args, doing=doing, **kwargs)
        if doing == "importing tasks":
            self.imports += 1
            if self.imports == self.after:
                self.server.stop()
        return out


def test_server_stopped_mid_push_then_rerun_loses_and_duplicates_nothing(ls_env):
    ids = make_store(None, reports=2, per_report=10)
    enqueue_suggestions([suggestion(p, vivid=0.5 + 0.02 * n) for n, p in enumerate(ids)])
    res = route(ls=_Outage(ls_env, after=2), batch_size=5)
    assert res.error and "run `vivid route` again" in res.error
    assert "not reachable" in res.error or "is the server still running" in res.error
    assert res.pushed == 5 and res.pending == 15  # batch 2 reached the server unrecorded
    with session_scope() as s:
        failed = s.scalars(select(OutboxItem).where(OutboxItem.status == "pending")).all()
        assert sum(1 for i in failed if i.last_error and i.attempts == 1) == 5
    ls_env.start()
    again = route(batch_size=5)
    assert again.error is None and again.adopted == 5 and again.pushed == 10
    on_server = _server_passages(ls_env.client())
    assert sorted(on_server) == sorted(ids) and max(on_server.values()) == 1
    with session_scope() as s:
        assert len(s.scalars(select(Task)).all()) == 20
        assert not s.scalars(select(OutboxItem).where(OutboxItem.status == "pending")).all()
        overlaps = [t.overlap for t in s.scalars(select(Task)).all()]
    assert overlaps.count(2) == 4
    tasks = list(ls_env.client().iter_tasks(_project(ls_env.client()).id))
    assert sorted(t.overlap for t in tasks) == sorted(overlaps)  # repaired on the server


def test_server_down_and_wrong_token_give_clear_messages(ls_env, monkeypatch):
    ids = make_store(None, per_report=2)
    enqueue_suggestions([suggestion(p) for p in ids])
    with pytest.raises(LabelStudioError, match="refused the API token"):
        connect(ls_env.url, "not-the-token-123")
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(LabelStudioError, match="not reachable") as err:
        connect(dead, ls_env.token)
    assert dead in str(err.value)

    runner = CliRunner()
    monkeypatch.setenv("LABEL_STUDIO_URL", dead)
    reset_settings()
    out = runner.invoke(app, ["route"])
    assert out.exit_code == 1 and "not reachable" in out.output
    assert "Traceback" not in out.output
    monkeypatch.setenv("LABEL_STUDIO_URL", ls_env.url)
    monkeypatch.setenv("LABEL_STUDIO_USER_TOKEN", "not-the-token-123")
    reset_settings()
    out = runner.invoke(app, ["pull"])
    assert out.exit_code == 1 and "LABEL_STUDIO_USER_TOKEN" in out.output
    with session_scope() as s:  # the outbox kept everything
        assert len(s.scalars(select(OutboxItem).where(
            OutboxItem.status == "pending")).all()) == 2
    monkeypatch.setenv("LABEL_STUDIO_USER_TOKEN", ls_env.token)
    reset_settings()
    out = runner.invoke(app, ["route"])
    assert out.exit_code == 0, out.output
    assert "pushed 2 task(s)" in out.output
