"""Engines, sessions and migrations for the store (SQLite by default, PostgreSQL for a team)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from corpus.settings import get_settings

MIGRATIONS = Path(__file__).parent / "migrations"
_engines: dict[str, Engine] = {}
_migrated: set[str] = set()


def _url(url: str | None) -> str:
    return url or get_settings().db_url


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL; SQLite files get their folder created and foreign keys on."""
    url = _url(url)
    if url not in _engines:
        parsed = make_url(url)
        kwargs: dict = {"future": True}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        engine = create_engine(url, **kwargs)
        if parsed.get_backend_name() == "sqlite":
            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _record):  # noqa: ANN001
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA journal_mode=WAL")
                cur.close()
        _engines[url] = engine
    return _engines[url]


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", _url(url).replace("%", "%%"))
    return cfg


def migrate(url: str | None = None) -> None:
    """Bring the database to the newest schema (safe to call every run)."""
    url = _url(url)
    if url in _migrated:
        return
    engine = get_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    _migrated.add(url)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back everything on any error."""
    migrate(url)
    session = sessionmaker(bind=get_engine(url), expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_all() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    _migrated.clear()
