"""In-process progress events from flows to whoever listens (the CLI's rich display).

Flow parameters must be serialisable for the Prefect API, so a callback cannot be one;
a listener registered here sees events from flows running in the same process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Listener = Callable[[str, dict[str, Any]], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


def emit(event: str, **data: Any) -> None:
    """Tell listeners about ``event`` (e.g. "total", "report", "step"); never raises."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(event, data)
        except Exception:  # noqa: BLE001 - a display problem must not stop a flow
            pass


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)
