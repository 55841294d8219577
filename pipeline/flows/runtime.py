"""How flows run: the Prefect API they report to, task runners, limits and retries.

Kept apart from the flows so each flow stays a short list of steps.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pipeline.flows.config import flow_settings

TASK_RUNNERS = ("thread", "dask")


# --------------------------------------------------------------------------- Prefect API
@contextmanager
def prefect_api() -> Iterator[str]:
    """Make sure flows report to one Prefect API for the whole run.

    A configured ``PREFECT_API_URL`` (a team's server, or the test harness) is used as
    is. Otherwise a local server is started for the duration of the run and its URL is
    exported, so Dask worker processes report to it too instead of each starting their own.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    configured = PREFECT_API_URL.value()
    if configured:
        yield configured
        return
    from prefect.server.api.server import SubprocessASGIServer

    # the local server phones home by default, and its telemetry job races the flows for
    # the SQLite database ("database is locked" tracebacks): a local run needs neither
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    server = SubprocessASGIServer()
    server.start(timeout=120)
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            yield server.api_url
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous
        _drain_logs()
        server.stop()


def _drain_logs() -> None:
    try:
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)
    except Exception:  # noqa: BLE001 - shutting down; nothing useful to do
        pass


def quiet_console() -> None:
    """Hide Prefect's console log lines (they still reach the API); the CLI shows progress."""
    import logging

    import prefect.main  # noqa: F401 - configures Prefect's logging (once per process)
    from prefect.logging.handlers import PrefectConsoleHandler

    for name in ("", "prefect", "uvicorn", "prefect.flow_runs", "prefect.task_runs"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, PrefectConsoleHandler):
                handler.setLevel(logging.CRITICAL + 1)


# --------------------------------------------------------------------------- task runners
def make_task_runner(kind: str = "thread", workers: int | None = None) -> Any:
    """A Prefect task runner: threads (default) or Dask processes for CPU-bound parsing.

    ``dask`` connects to ``VIVID_DASK_ADDRESS`` when set, otherwise starts a local cluster
    of ``workers`` single-threaded processes (parsing is CPU-bound: threads would share
    one core through the GIL).
    """
    cfg = flow_settings()
    if kind == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=workers or max(2, os.cpu_count() or 2))
    if kind == "dask":
        from prefect_dask import DaskTaskRunner

        if cfg.dask_address:
            return DaskTaskRunner(address=cfg.dask_address)
        return DaskTaskRunner(cluster_kwargs={
            "n_workers": workers or cfg.dask_workers, "threads_per_worker": 1,
            "processes": True, "dashboard_address": None})
    raise ValueError(f"unknown task runner {kind!r} (choose from {', '.join(TASK_RUNNERS)})")


# --------------------------------------------------------------------------- limits
_locks: dict[str, threading.BoundedSemaphore] = {}
_locks_guard = threading.Lock()


def _size(name: str) -> int:
    cfg = flow_settings()
    return {"labelstudio": cfg.labelstudio_concurrency, "database": cfg.db_concurrency,
            "http": cfg.http_concurrency}.get(name, 1)


@contextmanager
def limited(name: str) -> Iterator[None]:
    """Hold one of ``name``'s slots (labelstudio, database, http) in this process.

    This bounds what one run sends to Label Studio and the database with no Prefect
    server needed; a team shares limits across runs with Prefect tag concurrency limits
    on the same names (see docs/operations.md).
    """
    with _locks_guard:
        sem = _locks.get(name)
        if sem is None:
            sem = _locks[name] = threading.BoundedSemaphore(_size(name))
    with sem:
        yield


def reset_limits() -> None:
    with _locks_guard:
        _locks.clear()


# --------------------------------------------------------------------------- retries
def network_retry_options(transient: Callable[[BaseException], bool] | None = None
                          ) -> dict[str, Any]:
    """Task options for network steps: retries with exponential backoff.

    ``transient`` decides whether an exception is worth retrying (a 404 is not).
    """
    from prefect.tasks import exponential_backoff

    cfg = flow_settings()
    opts: dict[str, Any] = {
        "retries": cfg.network_retries,
        "retry_delay_seconds": exponential_backoff(cfg.network_backoff)(cfg.network_retries)
        if cfg.network_retries else 0,
        "retry_jitter_factor": 0.2 if cfg.network_backoff else None,
    }
    if transient is not None:
        def condition(_task, _run, state) -> bool:  # noqa: ANN001
            try:
                state.result()
            except BaseException as exc:  # noqa: BLE001 - classify, never raise here
                return transient(exc)
            return False

        opts["retry_condition_fn"] = condition
    return opts
