"""The parsed report: what corpus hands to every later step (and prints with --json)."""

from __future__ import annotations

import hashlib
from datetime import date

from pydantic import BaseModel, Field


class ReportError(Exception):
    """A report that cannot be read; the message names the file and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class Footnote(BaseModel):
    page: int
    mark: str | None = None
    text: str


class SectionOut(BaseModel):
    id: str
    parent_id: str | None = None
    ordinal: int
    level: int
    number: str | None = None
    heading: str
    type: str
    start_char: int
    end_char: int
    page_start: int
    page_end: int


class PassageOut(BaseModel):
    id: str
    section_id: str | None = None
    section_type: str
    heading: str | None = None
    ordinal: int
    number: str | None = None
    text: str
    start_char: int
    end_char: int
    page_start: int
    page_end: int
    sentences: list[tuple[int, int]] = Field(default_factory=list)  # offsets in `text` of report


class ParsedReport(BaseModel):
    id: str  # SHA-256 of the file bytes
    filename: str
    source: str | None = None
    page_count: int
    title: str | None = None
    board: str | None = None
    author: str | None = None
    published: date | None = None
    year: int | None = None
    text: str
    footnotes: list[Footnote] = Field(default_factory=list)
    contents: list[str] = Field(default_factory=list)  # lines of a detected contents page
    sections: list[SectionOut] = Field(default_factory=list)
    passages: list[PassageOut] = Field(default_factory=list)
    parser_version: str


def passage_id(report_sha256: str, start: int, end: int) -> str:
    """Stable passage id: the same report bytes and offsets always give the same id."""
    digest = hashlib.sha256(f"{report_sha256}:{start}:{end}".encode()).hexdigest()[:12]
    return f"{report_sha256[:12]}-{start}-{digest}"


def section_id(report_sha256: str, ordinal: int) -> str:
    return f"{report_sha256[:12]}-s{ordinal}"
