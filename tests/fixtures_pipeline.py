"""Pipeline fixtures: one temporary Prefect server per session, and a local HTTP server.

Prefect reads PREFECT_HOME when it is first imported, so this module points it at a
temporary folder before anything imports prefect; the session's flows then report to a
throwaway server started by ``prefect_test_harness`` on 127.0.0.1 and never to a remote
one. Test modules load this with ``pytest_plugins = ["tests.fixtures_pipeline"]``.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

_HOME = tempfile.mkdtemp(prefix="vivid-prefect-home-")
os.environ["PREFECT_HOME"] = _HOME
for _var in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE"):
    os.environ.pop(_var, None)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[str]:
    """A temporary Prefect server (SQLite in a temp dir) for the whole session."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_HOME,
        PREFECT_LOCAL_STORAGE_PATH,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    home = Path(_HOME)
    with temporary_settings(updates={PREFECT_HOME: home,
                                     PREFECT_LOCAL_STORAGE_PATH: home / "storage"}), \
            prefect_test_harness(server_startup_timeout=300):
        url = PREFECT_API_URL.value()
        assert url.startswith("http://127.0.0.1:"), url
        yield url


@pytest.fixture
def prefect(prefect_harness, monkeypatch, tmp_path) -> str:
    """The session's Prefect server, with quick network retries and fresh limits.

    Unless the test brings a model (``trained_model``), the registry is an empty folder,
    never the project's own ``models/registry``.
    """
    from corpus.settings import reset_settings
    from pipeline.flows.config import reset_flow_settings
    from pipeline.flows.runtime import reset_limits

    monkeypatch.setenv("VIVID_NETWORK_RETRIES", "2")
    monkeypatch.setenv("VIVID_NETWORK_BACKOFF", "0.05")
    if "VIVID_REGISTRY_DIR" not in os.environ:
        monkeypatch.setenv("VIVID_REGISTRY_DIR", str(tmp_path / "empty-registry"))
        reset_settings()
    reset_flow_settings()
    reset_limits()
    yield prefect_harness
    reset_flow_settings()
    reset_limits()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@dataclass
class LocalHTTP:
    folder: Path
    url: str
    requests: list[str]  # paths asked for, in order
    flaky: set[str]  # paths that answer 503 once, then work (for retries)

    def link(self, name: str) -> str:
        return f"{self.url}/{name}"


@pytest.fixture
def http_folder(tmp_path) -> Iterator[LocalHTTP]:
    """A folder served over HTTP on 127.0.0.1 (in a thread) for feeds and PDFs."""
    folder = tmp_path / "www"
    folder.mkdir()
    seen: list[str] = []
    flaky: set[str] = set()

    class Handler(_QuietHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.path)
            if self.path in flaky:
                flaky.discard(self.path)
                self.send_error(503, "Service Unavailable")
                return
            super().do_GET()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalHTTP(folder, f"http://127.0.0.1:{httpd.server_address[1]}", seen, flaky)
    finally:
        httpd.shutdown()
        httpd.server_close()
