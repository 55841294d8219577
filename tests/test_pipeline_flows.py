"""The Prefect flows end to end, under a temporary Prefect server (prefect_test_harness):
generated PDFs, a feed served over local HTTP, the real Label Studio and a trained model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from annotation.config import Coded
from annotation.outbox import enqueue_suggestions, pending_count
from annotation.server import free_port
from corpus.settings import get_settings, reset_settings
from corpus.store.db import dispose_all, session_scope
from corpus.store.schema import Coding, Passage, Report, Suggestion, Task
from pipeline.cli import app
from tests.fixtures_labelstudio import make_store, suggestion
from tests.fixtures_pdfs import report_spec


def _count(model) -> int:  # noqa: ANN001
    with session_scope() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _artifact(key: str) -> str:
    """The latest markdown artifact with this key, from the Prefect server."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    assert found, f"no artifact {key!r}"
    return max(found, key=lambda a: a.created).data


def _spec(title: str, vivid: bool = True) -> dict:
    spec = report_spec(title=title)
    if not vivid:  # the narrative without its planted vivid example
        for s in spec["sections"]:
            s["blocks"] = [b for b in s["blocks"] if "vivid" not in b]
    return spec


# --------------------------------------------------------------------------- ingest
def test_ingest_feed_over_http_new_duplicate_corrupt_then_idempotent(
        prefect, ls_env, trained_model, make_pdf, http_folder, tmp_path):
    from pipeline.flows.ingest import ingest_flow

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    b = shutil.move(make_pdf(_spec("Serious Case Review: Child B")), inbox / "child-b.pdf")
    first = ingest_flow(inbox=str(inbox))
    assert (first["new"], first["skipped"], first["failed"]) == (1, 0, 0)
    assert first["model_version"] == trained_model.version

    www = http_folder.folder / "reports"
    www.mkdir()
    shutil.move(make_pdf(_spec("Serious Case Review: Child A")), www / "child-a.pdf")
    shutil.copy(b, www / "child-b-again.pdf")  # the same report published twice
    good = (www / "child-a.pdf").read_bytes()
    (www / "child-x.pdf").write_bytes(good[: len(good) // 2])  # cut off mid-download
    (http_folder.folder / "feeds").mkdir()
    (http_folder.folder / "feeds" / "feed.json").write_text(json.dumps({"reports": [
        {"url": "../reports/child-a.pdf", "title": "Child A", "date": "2020-02-03"},
        {"url": "../reports/child-b-again.pdf", "title": "Child B", "date": "2019"},
        {"url": "../reports/child-x.pdf", "title": "Child X", "date": "2021-06-30"},
    ]}), encoding="utf-8")
    http_folder.flaky.add("/reports/child-a.pdf")  # one 503 first: retried with backoff
    feed = http_folder.link("feeds/feed.json")

    second = ingest_flow(inbox=str(inbox), feed=feed)
    status = {r["label"].rsplit("/", 1)[-1]: r for r in second["reports"]}
    assert {k: v["status"] for k, v in status.items()} == {
        "child-b.pdf": "skipped", "child-a.pdf": "new", "child-b-again.pdf": "skipped",
        "child-x.pdf": "failed"}
    assert status["child-b-again.pdf"]["reason"] == "already stored"
    assert status["child-x.pdf"]["reason"].startswith("truncated PDF")
    assert status["child-x.pdf"]["label"] == http_folder.link("reports/child-x.pdf")
    assert http_folder.requests.count("/reports/child-a.pdf") == 2
    assert second["problems"] == [] and second["notes"] == []
    assert second["passages"] == status["child-a.pdf"]["passages"] > 0
    assert first["candidates"] + second["candidates"] >= 2  # each has a vivid example
    assert second["routed"] == second["candidates"]

    with session_scope() as s:
        a = s.scalars(select(Report).where(Report.source == http_folder.link(
            "reports/child-a.pdf"))).one()
        assert (a.title, str(a.published)) == ("Serious Case Review: Child A", "2019-05-14")
        versions = set(s.scalars(select(Suggestion.model_version)))
        assert versions == {trained_model.version}
        task_versions = set(s.scalars(select(Task.model_version)))
    assert task_versions == {trained_model.version}
    ls = ls_env.client()
    project = ls.find_project(get_settings().label_studio_project)
    on_server = [t.data["passage_id"] for t in ls.iter_tasks(project.id)]
    routed = first["routed"] + second["routed"]
    assert len(on_server) == len(set(on_server)) == routed == _count(Task)
    md = _artifact("vivid-ingest")
    assert "| 1 | 2 | 1 |" in md and "child-x.pdf" in md

    # the same run again: nothing new anywhere, and the corrupt report is reported again
    before = (_count(Report), _count(Passage), _count(Suggestion), _count(Task))
    third = ingest_flow(inbox=str(inbox), feed=feed)
    assert (third["new"], third["skipped"], third["failed"]) == (0, 3, 1)
    assert third["routed"] == 0 and third["candidates"] == 0
    assert (_count(Report), _count(Passage), _count(Suggestion), _count(Task)) == before
    assert len(list(ls.iter_tasks(project.id))) == routed


def test_ingest_dask_runner_parses_in_worker_processes(prefect, make_pdf, tmp_path):
    from pipeline.flows.ingest import ingest_flow
    from pipeline.flows.runtime import make_task_runner

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(3):
        shutil.move(make_pdf(_spec(f"Serious Case Review: Child D{i}")), inbox / f"d{i}.pdf")
    runner = make_task_runner("dask", workers=2)
    assert type(runner).__name__ == "DaskTaskRunner"
    summary = ingest_flow.with_options(task_runner=runner)(inbox=str(inbox), suggest=False,
                                                           route=False)
    assert (summary["new"], summary["skipped"], summary["failed"]) == (3, 0, 0)
    assert _count(Report) == 3 and _count(Passage) == summary["passages"] > 0


def test_parse_comes_from_the_cache_for_a_report_seen_before(prefect, make_pdf, tmp_path,
                                                             monkeypatch):
    from pipeline.flows.ingest import ingest_flow

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.move(make_pdf(_spec("Serious Case Review: Child K")), inbox / "k.pdf")
    first = ingest_flow(inbox=str(inbox), suggest=False, route=False)
    assert first["new"] == 1 and not first["reports"][0]["cached"]
    # another store (a new data dir): the report is new there, but its parse is cached
    monkeypatch.setenv("VIVID_DATA_DIR", str(tmp_path / "other-data"))
    reset_settings()
    dispose_all()
    second = ingest_flow(inbox=str(inbox), suggest=False, route=False)
    assert second["new"] == 1 and second["reports"][0]["cached"]
    assert second["passages"] == first["passages"]
    assert _count(Report) == 1


def test_reports_stored_without_a_model_get_suggestions_once_there_is_one(
        prefect, trained_model_session, make_pdf, tmp_path, monkeypatch):
    from pipeline.flows.ingest import ingest_flow

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.move(make_pdf(_spec("Serious Case Review: Child N")), inbox / "n.pdf")
    first = ingest_flow(inbox=str(inbox), route=False)
    assert first["new"] == 1 and first["candidates"] == 0
    assert first["notes"][0].startswith("no model loaded (no trained model in ")
    assert _count(Suggestion) == 0

    registry = tmp_path / "registry"
    shutil.copytree(trained_model_session.registry, registry)
    monkeypatch.setenv("VIVID_REGISTRY_DIR", str(registry))
    reset_settings()
    second = ingest_flow(inbox=str(inbox), route=False)
    assert (second["new"], second["skipped"], second["backfilled"]) == (0, 1, 1)
    assert second["candidates"] == second["backfilled_candidates"] > 0
    assert _count(Suggestion) == _count(Passage)
    third = ingest_flow(inbox=str(inbox), route=False)
    assert third["backfilled"] == 0 and third["candidates"] == 0


def test_no_sources_and_a_missing_feed_are_reported(prefect, tmp_path):
    from pipeline.flows.ingest import ingest_flow

    summary = ingest_flow(route=False)
    assert summary["problems"] == ["no sources: give --inbox DIR and/or --feed FILE_OR_URL "
                                   "(or set VIVID_INBOX / VIVID_FEED)"]
    summary = ingest_flow(feed=str(tmp_path / "feed.json"), route=False)
    assert summary["problems"] == [f"{tmp_path / 'feed.json'}: no such feed file"]
    assert summary["new"] == summary["failed"] == 0


# --------------------------------------------------------------------------- sync
def test_sync_after_annotations_made_through_the_api(prefect, ls_env, coders, monkeypatch):
    from pipeline.flows.report import report_flow
    from pipeline.flows.sync import DATASET_FILE, sync_flow

    ids = make_store(None, reports=2, per_report=3)
    assert enqueue_suggestions([suggestion(pid) for pid in ids]) == 6

    # Label Studio down: nothing is lost, the problem is reported
    monkeypatch.setenv("LABEL_STUDIO_URL", f"http://127.0.0.1:{free_port()}")
    reset_settings()
    down = sync_flow()
    assert down["routed"] == 0 and pending_count() == 6
    assert any(p.startswith("route: Label Studio is not reachable") for p in down["problems"])
    assert any(p.startswith("pull: Label Studio is not reachable") for p in down["problems"])

    monkeypatch.setenv("LABEL_STUDIO_URL", ls_env.url)
    reset_settings()
    first = sync_flow()
    assert first["problems"] == [] and first["routed"] == 6 and pending_count() == 0
    assert first["dataset"]["rows"] == 0

    ls = ls_env.client()
    project = ls.find_project(get_settings().label_studio_project)
    tasks = {t.data["passage_id"]: t.id for t in ls.iter_tasks(project.id)}
    alice, bob = coders["alice"], coders["bob"]
    yes = Coded(vivid="yes", stage="C", pairings=["school>csc"], issue="other",
                reasons=["roles_unclear"])
    for coder in (alice, bob):  # two coders who agree, twice
        coder.annotate(tasks[ids[0]], yes)
        coder.annotate(tasks[ids[1]], Coded(vivid="no"))
    alice.annotate(tasks[ids[2]], yes)
    bob.annotate(tasks[ids[2]], Coded(vivid="yes", stage="E", pairings=["police>csc"],
                                      issue="other", reasons=["roles_unclear"]))

    second = sync_flow()
    assert second["problems"] == []
    assert second["pull"]["new"] == 6
    assert second["reconcile"]["confirmed"] == 2
    assert second["reconcile"]["needs_adjudication"] == 1
    rows = [json.loads(line) for line in
            Path(second["dataset"]["path"]).read_text(encoding="utf-8").splitlines()]
    assert Path(second["dataset"]["path"]).name == DATASET_FILE
    assert sorted((r["passage_id"], r["vivid"]) for r in rows) == sorted(
        [(ids[0], True), (ids[1], False)])
    assert rows and all(r["report_id"] and r["page_start"] for r in rows)
    with session_scope() as s:
        assert s.get(Coding, ids[2]).status == "needs_adjudication"
    assert "| 0 | 6 | 0 | 0 | 2 | 1 | 0 | 2 | 1 |" in _artifact("vivid-sync")

    third = sync_flow()  # nothing new: nothing changes
    assert third["pull"]["new"] == 0 and third["reconcile"]["confirmed"] == 2
    assert third["dataset"]["rows"] == 2

    res = report_flow(n_boot=50)
    assert res["problems"] == []
    assert res["agreement"]["units"] == 3 and res["agreement"]["fields"]
    assert any(f.endswith("care_pathway_map.html") for f in res["collation"]["files"])
    assert "Agreement and collation" in _artifact("vivid-report")


# --------------------------------------------------------------------------- serve
def test_serve_builds_four_scheduled_deployments(monkeypatch):
    from pipeline.flows.config import reset_flow_settings
    from pipeline.flows.serve import build_deployments

    monkeypatch.setenv("VIVID_CRON_SYNC", "*/30 * * * *")
    reset_flow_settings()
    deps = build_deployments()
    assert [d.name for d in deps] == ["vivid-ingest", "vivid-sync", "vivid-retrain",
                                      "vivid-report"]
    crons = [d.schedules[0].schedule.cron for d in deps]
    assert crons == ["0 6 * * *", "*/30 * * * *", "0 2 * * 0", "0 4 * * 0"]
    assert all(d.schedules[0].schedule.timezone == "Europe/London" for d in deps)
    assert deps[0].entrypoint == "pipeline.flows.ingest.ingest_flow"
    monkeypatch.setenv("VIVID_CRON_RETRAIN", "every sunday")
    reset_flow_settings()
    with pytest.raises(ValueError, match="VIVID_CRON_RETRAIN='every sunday' is not a valid"):
        build_deployments()
    reset_flow_settings()


# --------------------------------------------------------------------------- CLI
def test_cli_refuses_bad_options_in_one_line(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["ingest", "--inbox", str(tmp_path / "nope")])
    assert res.exit_code == 1
    assert f"{tmp_path / 'nope'}: inbox folder does not exist" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["ingest", "--inbox", str(tmp_path), "--task-runner", "spark"])
    assert res.exit_code == 1 and "--task-runner must be one of thread, dask" in res.output


def test_cli_ingest_shows_a_summary_and_fails_on_a_bad_report(prefect, make_pdf, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.move(make_pdf(_spec("Serious Case Review: Child C")), inbox / "good.pdf")
    (inbox / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    res = CliRunner().invoke(app, ["ingest", "--inbox", str(inbox), "--no-route"])
    assert res.exit_code == 1, res.output
    assert "Ingest" in res.output and "broken.pdf" in res.output
    assert "truncated PDF" in res.output and "Traceback" not in res.output
    assert _count(Report) == 1

