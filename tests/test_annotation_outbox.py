"""The outbox in the store, on SQLite and PostgreSQL: suggestions once per passage and
model version, candidates queued once, bad suggestions refused with a clear message."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from annotation.outbox import SuggestionError, enqueue_suggestions, pending_count, uncertainty
from corpus.store.db import session_scope
from corpus.store.schema import OutboxItem, Suggestion
from pipeline.cli import app
from tests.fixtures_labelstudio import make_store, suggestion


def test_enqueue_is_idempotent_and_queues_candidates_only(db_url):
    ids = make_store(db_url, per_report=4)
    sugs = [suggestion(p) for p in ids]
    sugs[0]["vivid"] = {"score": 0.1, "selected": False}
    assert enqueue_suggestions(sugs, url=db_url) == 3
    assert enqueue_suggestions(sugs, url=db_url) == 0
    with session_scope(db_url) as s:
        assert len(s.scalars(select(Suggestion)).all()) == 4
        items = s.scalars(select(OutboxItem)).all()
        assert sorted(i.passage_id for i in items) == sorted(ids[1:])
        assert all(i.status == "pending" and i.attempts == 0 for i in items)
    assert pending_count(db_url) == 3
    # a newer model version: a new suggestion row, the pending item points at it
    assert enqueue_suggestions([suggestion(ids[1], version="test-2", vivid=0.51)],
                               url=db_url) == 0
    with session_scope(db_url) as s:
        item = s.scalars(select(OutboxItem).where(OutboxItem.passage_id == ids[1])).one()
        assert s.get(Suggestion, item.suggestion_id).model_version == "test-2"
        assert item.priority == pytest.approx(uncertainty(suggestion(ids[1], vivid=0.51)))


def test_bad_suggestions_are_refused_before_anything_is_written(db_url):
    ids = make_store(db_url, per_report=2)
    with pytest.raises(SuggestionError, match="not in the store: nope"):
        enqueue_suggestions([suggestion(ids[0]), suggestion("nope")], url=db_url)
    bad = suggestion(ids[0], stage="Z")
    with pytest.raises(SuggestionError, match="unknown stage id 'Z'"):
        enqueue_suggestions([bad], url=db_url)
    bad = suggestion(ids[0], pairings=("school>martians",))
    with pytest.raises(SuggestionError, match="unknown pairings id 'school>martians'"):
        enqueue_suggestions([bad], url=db_url)
    with pytest.raises(SuggestionError, match="'vivid' must be"):
        enqueue_suggestions([{"id": ids[0], "model_version": "x", "vivid": 0.3}], url=db_url)
    with session_scope(db_url) as s:
        assert s.scalars(select(Suggestion)).all() == []


def test_uncertainty_puts_coin_tosses_first():
    sure = suggestion("a", vivid=0.99, stage_score=0.95)
    unsure = suggestion("b", vivid=0.5, stage_score=0.3)
    assert 0 <= uncertainty(sure) < uncertainty(unsure) <= 1


def test_enqueue_command_names_the_file_and_line(tmp_path):
    ids = make_store(None, per_report=2)
    good = tmp_path / "suggestions.jsonl"
    good.write_text("\n".join(json.dumps(suggestion(p)) for p in ids) + "\n")
    out = CliRunner().invoke(app, ["enqueue", str(good)])
    assert out.exit_code == 0 and "2 passage(s) newly queued" in out.output
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(suggestion(ids[0])) + "\n{not json\n")
    out = CliRunner().invoke(app, ["enqueue", str(broken)])
    assert out.exit_code == 1 and f"{broken}, line 2: not valid JSON" in out.output
    assert "Traceback" not in out.output
