"""Storing parsed reports on SQLite and PostgreSQL: whole or nothing, and idempotent."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from corpus.ingest import ingest_paths, store_report
from corpus.parse import parse_report
from corpus.store import Passage, Report, Section, session_scope


def _counts(url: str) -> tuple[int, int, int]:
    with session_scope(url) as s:
        return tuple(s.scalar(select(func.count()).select_from(t))
                     for t in (Report, Section, Passage))


def test_ingesting_the_same_pdf_twice_changes_nothing(db_url, make_pdf):
    parsed = parse_report(make_pdf())
    assert store_report(parsed, db_url) is True
    first = _counts(db_url)
    assert first == (1, len(parsed.sections), len(parsed.passages))
    with session_scope(db_url) as s:
        stamp = s.get(Report, parsed.id).ingested_at
    assert store_report(parse_report(make_pdf()), db_url) is False  # same bytes, new file
    results = ingest_paths([make_pdf()], url=db_url)
    assert results[0].error is None and results[0].stored is False
    assert _counts(db_url) == first
    with session_scope(db_url) as s:
        report = s.get(Report, parsed.id)
        assert report.ingested_at == stamp
        assert report.meta["contents"] == parsed.contents
        row = s.get(Passage, parsed.passages[3].id)
        assert row.text == parsed.passages[3].text
        assert [tuple(x) for x in row.sentences] == parsed.passages[3].sentences
        assert report.text[row.start_char:row.end_char] == row.text


def test_a_failed_parse_leaves_no_rows(db_url, bad_inputs, make_pdf):
    good = make_pdf(title="Serious Case Review: Child B")
    paths = [bad_inputs["truncated"], bad_inputs["image_only"], good, bad_inputs["empty"]]
    results = ingest_paths(paths, url=db_url)
    assert [r.error is None for r in results] == [False, False, True, False]
    assert all(r.error.startswith(str(p)) for r, p in zip(results, paths, strict=True)
               if r.error)
    parsed = results[2].report
    assert _counts(db_url) == (1, len(parsed.sections), len(parsed.passages))


def test_a_store_error_mid_report_rolls_back_everything(db_url, make_pdf):
    parsed = parse_report(make_pdf())
    broken = parsed.model_copy(deep=True)
    broken.passages.append(broken.passages[0])  # the same passage id twice
    with pytest.raises(IntegrityError):
        store_report(broken, db_url)
    assert _counts(db_url) == (0, 0, 0)
    assert store_report(parsed, db_url) is True  # the good one still goes in afterwards
