"""The dataset store: SQLAlchemy 2 tables with an Alembic history."""

from corpus.store.db import get_engine, migrate, session_scope
from corpus.store.schema import (
    Annotation,
    Base,
    Coding,
    OutboxItem,
    Passage,
    Report,
    Section,
    Suggestion,
    Task,
)

__all__ = ["Annotation", "Base", "Coding", "OutboxItem", "Passage", "Report", "Section",
           "Suggestion", "Task", "get_engine", "migrate", "session_scope"]
