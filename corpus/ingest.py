"""Parsed reports into the store: one transaction per report, idempotent by file hash.

A report is written whole (report, sections and passages together) or not at all, and
the same bytes ingested again change nothing, so batch runs can be repeated safely.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from corpus.document import ParsedReport, ReportError
from corpus.parse import parse_report
from corpus.store import Passage, Report, Section, session_scope

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    """What happened to one input path."""

    path: str
    report: ParsedReport | None = None
    stored: bool = False  # newly written (False: already there, not asked, or failed)
    error: str | None = None  # one-line reason when the file could not be used


def _exists(report_id: str, url: str | None) -> bool:
    with session_scope(url) as session:
        return session.get(Report, report_id) is not None


def store_report(parsed: ParsedReport, url: str | None = None) -> bool:
    """Write a parsed report with its sections and passages in one transaction.

    Returns False (and changes nothing) when a report with the same SHA-256 is stored.
    """
    try:
        with session_scope(url) as session:
            if session.get(Report, parsed.id) is not None:
                return False
            session.add(Report(
                id=parsed.id, filename=parsed.filename, source=parsed.source,
                title=parsed.title, board=parsed.board, author=parsed.author,
                published=parsed.published, year=parsed.year, page_count=parsed.page_count,
                text=parsed.text, parser_version=parsed.parser_version,
                meta={"footnotes": [f.model_dump() for f in parsed.footnotes],
                      "contents": parsed.contents},
            ))
            session.flush()
            if parsed.sections:
                session.execute(insert(Section), [
                    {**s.model_dump(), "report_id": parsed.id} for s in parsed.sections])
            if parsed.passages:
                session.execute(insert(Passage), [
                    {**p.model_dump(), "report_id": parsed.id,
                     "sentences": [list(x) for x in p.sentences]} for p in parsed.passages])
    except IntegrityError:
        if _exists(parsed.id, url):  # another process stored it meanwhile
            return False
        raise
    return True


def iter_ingest(paths: Iterable[str | Path], store: bool = True,
                url: str | None = None) -> Iterator[IngestResult]:
    """Parse (and store) each path in turn; a bad file is reported and skipped."""
    for path in paths:
        result = IngestResult(path=str(path))
        try:
            result.report = parse_report(path)
            if store:
                result.stored = store_report(result.report, url)
        except ReportError as exc:
            result.error = str(exc)
            log.info("skipped %s", exc)
        yield result


def ingest_paths(paths: Iterable[str | Path], store: bool = True,
                 url: str | None = None) -> list[IngestResult]:
    """Batch form of :func:`iter_ingest`: one result per path, in order."""
    return list(iter_ingest(paths, store=store, url=url))
