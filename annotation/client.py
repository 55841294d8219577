"""A thin layer over label-studio-sdk: one connection, one error type, clear messages.

Everything the app asks of Label Studio goes through :class:`LS`, which turns the
SDK's and httpx's exceptions into :class:`LabelStudioError` with a one-line message
(server down, unreachable, wrong token, a 4xx/5xx answer) so that no command ever shows
a traceback for a server problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from corpus.settings import get_settings

T = TypeVar("T")
PAGE_SIZE = 100


class LabelStudioError(RuntimeError):
    """Label Studio could not do what was asked; the message says why in one line."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable  # the server is down or the connection broke


def _detail(exc: ApiError) -> str:
    body = exc.body
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("detail", "validation_errors", "message", "error")
                 if body.get(k)]
        return ": ".join(parts)[:300] if parts else str(body)[:300]
    return str(body or "")[:300]


def translate(exc: BaseException, url: str, doing: str) -> LabelStudioError:
    """The one-line error for an exception raised while ``doing`` something at ``url``."""
    if isinstance(exc, LabelStudioError):
        return exc
    if isinstance(exc, httpx.ConnectError):
        return LabelStudioError(
            f"Label Studio is not reachable at {url} while {doing} (connection refused): "
            "start it with `vivid labelstudio start` or check LABEL_STUDIO_URL",
            unreachable=True)
    if isinstance(exc, httpx.TimeoutException):
        return LabelStudioError(f"Label Studio at {url} did not answer in time while {doing}",
                                unreachable=True)
    if isinstance(exc, httpx.TransportError):
        return LabelStudioError(
            f"the connection to Label Studio at {url} broke while {doing} "
            f"({type(exc).__name__}): is the server still running?", unreachable=True)
    if isinstance(exc, ApiError):
        code = exc.status_code
        if code == 401:
            return LabelStudioError(
                f"Label Studio at {url} refused the API token ({_detail(exc) or 'invalid token'}):"
                " check LABEL_STUDIO_USER_TOKEN")
        if code == 403:
            return LabelStudioError(f"Label Studio at {url} forbids {doing}: {_detail(exc)}")
        if code is not None and code >= 500:
            return LabelStudioError(f"Label Studio at {url} failed while {doing} "
                                    f"(HTTP {code}): {_detail(exc)}",
                                    unreachable=code in (502, 503, 504))
        return LabelStudioError(f"Label Studio at {url} rejected {doing} (HTTP {code}): "
                                f"{_detail(exc)}")
    raise exc


class LS:
    """A connected, authenticated Label Studio client (``.sdk`` is the SDK client)."""

    def __init__(self, url: str | None = None, token: str | None = None,
                 timeout: float = 60.0) -> None:
        settings = get_settings()
        self.url = (url or settings.label_studio_url).rstrip("/")
        token = token if token is not None else settings.label_studio_token
        if not token:
            raise LabelStudioError("no Label Studio API token: set LABEL_STUDIO_USER_TOKEN")
        try:  # the SDK already refuses an expired JWT token here
            self.sdk = LabelStudio(base_url=self.url, api_key=token, timeout=timeout)
        except ApiError as exc:
            raise translate(exc, self.url, "reading the API token") from None
        self.user = self.call(self.sdk.users.whoami, doing="checking the API token",
                              request_options={"max_retries": 1})
        self._emails: dict[int, str] = {}

    def call(self, fn: Callable[..., T], *args: Any, doing: str, **kwargs: Any) -> T:
        """Call an SDK function; any failure becomes a LabelStudioError."""
        try:
            return fn(*args, **kwargs)
        except (ApiError, httpx.HTTPError) as exc:
            raise translate(exc, self.url, doing) from None

    @contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Translate SDK failures inside a block (for iterating pagers)."""
        try:
            yield
        except (ApiError, httpx.HTTPError) as exc:
            raise translate(exc, self.url, doing) from None

    # --- lookups used by routing and pulling -------------------------------------------
    def find_project(self, title: str) -> Any | None:
        """The project with exactly this title (the oldest, if several), or None."""
        with self.errors(f"looking for project {title!r}"):
            found = [p for p in self.sdk.projects.list(title=title, page_size=PAGE_SIZE)
                     if p.title == title]
        return min(found, key=lambda p: p.id) if found else None

    def task_pages(self, project_id: int, *, with_annotations: bool = False,
                   page_size: int = PAGE_SIZE) -> Iterator[list[Any]]:
        """The tasks of a project one page at a time (annotations included on request).

        Label Studio answers 404 for the page after the last one; that ends the listing,
        while a 404 for the first page (no such project) is an error."""
        fields = "all" if with_annotations else "task_only"
        doing = f"listing the tasks of project {project_id}"
        page = self.call(self.sdk.tasks.list, project=project_id, fields=fields,
                         page_size=page_size, doing=doing)
        while page is not None and page.items:
            yield list(page.items)
            if not page.has_next or page.get_next is None:
                return
            try:
                page = page.get_next()
            except ApiError as exc:
                if exc.status_code == 404:
                    return
                raise translate(exc, self.url, doing) from None
            except httpx.HTTPError as exc:
                raise translate(exc, self.url, doing) from None

    def iter_tasks(self, project_id: int, *, with_annotations: bool = False,
                   page_size: int = PAGE_SIZE) -> Iterator[Any]:
        """Every task of a project."""
        for page in self.task_pages(project_id, with_annotations=with_annotations,
                                    page_size=page_size):
            yield from page

    def email(self, user_id: int | None) -> str:
        """A user's e-mail (coder identity), cached; ``user <id>`` if unknown."""
        if user_id is None:
            return "unknown"
        if not self._emails:
            with self.errors("listing users"):
                self._emails = {u.id: u.email or f"user {u.id}" for u in self.sdk.users.list()}
        return self._emails.get(user_id, f"user {user_id}")


def connect(url: str | None = None, token: str | None = None) -> LS:
    """Connect and check the token; raises LabelStudioError with a clear message."""
    return LS(url, token)
