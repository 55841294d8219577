"""Tables of the dataset store.

corpus owns reports, sections and passages; models writes suggestions; annotation
writes the outbox, tasks, annotations and codings. The schema lives in one module so
that one Alembic history describes it; each layer writes only its own tables.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Report(Base):
    __tablename__ = "reports"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the file
    filename: Mapped[str] = mapped_column(String(512))
    source: Mapped[str | None] = mapped_column(String(1024))  # path or URL it came from
    title: Mapped[str | None] = mapped_column(Text)
    board: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published: Mapped[date | None] = mapped_column(Date)
    year: Mapped[int | None] = mapped_column(Integer)
    page_count: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)  # cleaned text that passage offsets index
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # footnotes, contents...
    parser_version: Mapped[str] = mapped_column(String(32))
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sections: Mapped[list[Section]] = relationship(back_populates="report",
                                                   cascade="all, delete-orphan")
    passages: Mapped[list[Passage]] = relationship(back_populates="report",
                                                   cascade="all, delete-orphan")


class Section(Base):
    __tablename__ = "sections"
    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"),
                                           index=True)
    parent_id: Mapped[str | None] = mapped_column(String(96))
    ordinal: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(32))
    heading: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(32))
    start_char: Mapped[int] = mapped_column(Integer)
    end_char: Mapped[int] = mapped_column(Integer)
    page_start: Mapped[int] = mapped_column(Integer)
    page_end: Mapped[int] = mapped_column(Integer)
    report: Mapped[Report] = relationship(back_populates="sections")


class Passage(Base):
    __tablename__ = "passages"
    id: Mapped[str] = mapped_column(String(96), primary_key=True)  # from report hash + offsets
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"),
                                           index=True)
    section_id: Mapped[str | None] = mapped_column(String(96))
    section_type: Mapped[str] = mapped_column(String(32))
    heading: Mapped[str | None] = mapped_column(Text)
    ordinal: Mapped[int] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(32))  # "4.12" when the report numbers it
    text: Mapped[str] = mapped_column(Text)
    start_char: Mapped[int] = mapped_column(Integer)
    end_char: Mapped[int] = mapped_column(Integer)
    page_start: Mapped[int] = mapped_column(Integer)
    page_end: Mapped[int] = mapped_column(Integer)
    sentences: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[start, end], ...]
    report: Mapped[Report] = relationship(back_populates="passages")


class Suggestion(Base):
    """A model's suggestion for one passage (the `vivid suggest` JSON line)."""

    __tablename__ = "suggestions"
    __table_args__ = (UniqueConstraint("passage_id", "model_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    passage_id: Mapped[str] = mapped_column(ForeignKey("passages.id", ondelete="CASCADE"),
                                            index=True)
    model_version: Mapped[str] = mapped_column(String(64))
    vivid_score: Mapped[float] = mapped_column(Float)
    selected: Mapped[bool] = mapped_column(Boolean)  # a candidate vivid example
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OutboxItem(Base):
    """A suggestion waiting to be routed to Label Studio; survives server outages."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    passage_id: Mapped[str] = mapped_column(ForeignKey("passages.id", ondelete="CASCADE"),
                                            unique=True)
    suggestion_id: Mapped[int | None] = mapped_column(
        ForeignKey("suggestions.id", ondelete="SET NULL"))
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Task(Base):
    """A passage's task in Label Studio (one per passage, ever)."""

    __tablename__ = "tasks"
    passage_id: Mapped[str] = mapped_column(ForeignKey("passages.id", ondelete="CASCADE"),
                                            primary_key=True)
    ls_project_id: Mapped[int] = mapped_column(Integer)
    ls_task_id: Mapped[int] = mapped_column(Integer, unique=True)
    model_version: Mapped[str | None] = mapped_column(String(64))
    overlap: Mapped[int] = mapped_column(Integer, default=1)  # coders wanted
    assigned: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open/deleted
    pushed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Annotation(Base):
    """One coder's annotation of one task, mapped back to codebook ids."""

    __tablename__ = "annotations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ls_annotation_id: Mapped[int] = mapped_column(Integer, unique=True)
    ls_task_id: Mapped[int] = mapped_column(Integer, index=True)
    passage_id: Mapped[str] = mapped_column(ForeignKey("passages.id", ondelete="CASCADE"),
                                            index=True)
    coder: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="coder")  # coder / adjudicator
    vivid: Mapped[str | None] = mapped_column(String(8))  # yes / no / unsure
    stage: Mapped[str | None] = mapped_column(String(8))
    pairings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    issue: Mapped[str | None] = mapped_column(String(64))
    issue_note: Mapped[str | None] = mapped_column(Text)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    accepted: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # field -> bool
    unknown_labels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    was_cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    lead_time: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pulled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Coding(Base):
    """A passage's reconciled coding: confirmed ones form the collated dataset."""

    __tablename__ = "codings"
    passage_id: Mapped[str] = mapped_column(ForeignKey("passages.id", ondelete="CASCADE"),
                                            primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"),
                                           index=True)
    status: Mapped[str] = mapped_column(String(24), index=True)  # confirmed / needs_adjudication
    basis: Mapped[str | None] = mapped_column(String(24))  # single / agreement / adjudicated
    vivid: Mapped[bool | None] = mapped_column(Boolean)
    stage: Mapped[str | None] = mapped_column(String(8))
    pairings: Mapped[list[Any]] = mapped_column(JSON, default=list)
    issue: Mapped[str | None] = mapped_column(String(64))
    issue_note: Mapped[str | None] = mapped_column(Text)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    coders: Mapped[list[Any]] = mapped_column(JSON, default=list)
    model_version: Mapped[str | None] = mapped_column(String(64))
    page_start: Mapped[int | None] = mapped_column(Integer)
    page_end: Mapped[int | None] = mapped_column(Integer)
    start_char: Mapped[int | None] = mapped_column(Integer)
    end_char: Mapped[int | None] = mapped_column(Integer)
    disagreement: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_annotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow)


Index("ix_codings_stage_issue", Coding.stage, Coding.issue)
