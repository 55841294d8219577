"""Shared fixtures: an isolated data dir per test, SQLite and a real PostgreSQL."""

from __future__ import annotations

import os

import pytest

from corpus.settings import reset_settings
from corpus.store.db import dispose_all
from tests.pgcluster import PgCluster

# Area fixtures live in their own modules (Label Studio, trained model, PDFs).
pytest_plugins = [p for p in ("tests.fixtures_models", "tests.fixtures_labelstudio",
                              "tests.fixtures_pdfs", "tests.fixtures_pipeline")
                  if os.path.exists(os.path.join(os.path.dirname(__file__),
                                                 p.split(".")[1] + ".py"))]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets its own data dir and SQLite store; nothing leaks between tests."""
    monkeypatch.setenv("VIVID_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VIVID_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    reset_settings()
    yield
    dispose_all()
    reset_settings()


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = PgCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path, monkeypatch):
    """A fresh, empty store on each backend; also exported as VIVID_DATABASE_URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    else:
        url = request.getfixturevalue("pg_cluster").new_database()
    monkeypatch.setenv("VIVID_DATABASE_URL", url)
    reset_settings()
    return url
