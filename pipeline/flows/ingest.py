"""The ``ingest`` flow: new reports in, suggestions waiting in Label Studio out.

discover (inbox, feed) -> fetch (network: retries with backoff) -> skip what the store
has (SHA-256) -> parse (cached by report hash; parallel on the task runner) -> store ->
suggest (cached by report hash and model) -> outbox -> route to Label Studio (network:
retries, limited). Every report is its own task run: a bad one is reported in the
summary and never stops the others.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.futures import as_completed

from corpus.document import ParsedReport, ReportError
from corpus.settings import get_settings
from pipeline.flows import progress
from pipeline.flows.config import flow_settings
from pipeline.flows.runtime import limited, network_retry_options
from pipeline.flows.sources import (
    Candidate,
    Discovery,
    FeedError,
    FetchError,
    discover_inbox,
    download,
    make_client,
    read_feed,
    sha256_file,
)

CACHE_DAYS = 90


class StepFailed(Exception):
    """A report step that failed for a reason worth showing; picklable across processes."""

    def __reduce__(self):  # noqa: ANN204
        return (type(self), (str(self),))


def _transient(exc: BaseException) -> bool:
    return bool(getattr(exc, "transient", False))


# --------------------------------------------------------------------------- tasks
# Per-report tasks carry no tags: a tagged task run asks the Prefect API for a
# concurrency slot, which costs more than storing a report. They are bounded in-process
# (runtime.limited); the once-per-run Label Studio and network steps carry tags, so a
# team can bound them across machines with Prefect tag concurrency limits.
@task(name="read-feed", tags=["network"])
def read_feed_task(feed: str) -> Discovery:
    return read_feed(feed)


@task(name="fetch-report", tags=["network"])
def fetch_task(url: str, folder: str) -> tuple[str, str]:
    """Download one report; (local path, SHA-256)."""
    with limited("http"), make_client(flow_settings().http_timeout) as client:
        path, sha = download(url, folder, client)
    return str(path), sha


def _parse_key(_ctx: Any, params: dict[str, Any]) -> str:
    from corpus.parse import PARSER_VERSION

    return f"vivid-parse-{params['sha']}-{PARSER_VERSION}"


@task(name="parse-report", cache_key_fn=_parse_key,
      cache_expiration=timedelta(days=CACHE_DAYS), persist_result=True)
def parse_task(path: str, sha: str, source: str) -> ParsedReport:
    """Parse one PDF (pure in the file's bytes, hence cached by its hash)."""
    from corpus.parse import parse_report

    try:
        return parse_report(path, source=source)
    except ReportError as exc:
        raise StepFailed(exc.reason) from None


@task(name="store-report")
def store_task(parsed: ParsedReport) -> bool:
    """Write the report, its sections and passages (one transaction); False if present."""
    from corpus.ingest import store_report

    with limited("database"):
        return store_report(parsed)


def _suggest_key(_ctx: Any, params: dict[str, Any]) -> str:
    return f"vivid-suggest-{params['sha']}-{params['model_key']}"


@task(name="suggest", cache_key_fn=_suggest_key,
      cache_expiration=timedelta(days=CACHE_DAYS), persist_result=True)
def suggest_task(sha: str, items: list[dict], model_key: str) -> list[dict]:
    """The model's suggestions for every passage of one report (the `vivid suggest` dicts)."""
    suggester = _suggesters[model_key]
    return [s for s in suggester.suggest(items) if "error" not in s]


@task(name="enqueue-suggestions")
def enqueue_task(suggestions: list[dict]) -> int:
    """Store the suggestions and queue the candidates for Label Studio (the outbox)."""
    from annotation.outbox import enqueue_suggestions

    with limited("database"):
        return enqueue_suggestions(suggestions)


class LabelStudioUnavailable(Exception):
    """Label Studio did not do its part; ``transient`` when trying again may help."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient

    def __reduce__(self):  # noqa: ANN204
        return (type(self), (str(self), self.transient))


_UNREACHABLE = ("not reachable", "did not answer", "broke while", "HTTP 502", "HTTP 503",
                "HTTP 504", "is the server still running")


def check_labelstudio(error: str | None) -> None:
    """Raise for a Label Studio step that reported an error (so network retries apply)."""
    if error:
        raise LabelStudioUnavailable(error, transient=any(m in error for m in _UNREACHABLE))


@task(name="route-to-labelstudio", tags=["network", "labelstudio"])
def route_task() -> dict[str, Any]:
    """Push what waits in the outbox to Label Studio (idempotent: safe to retry)."""
    from annotation.routing import route

    with limited("labelstudio"):
        res = route()
    check_labelstudio(res.error)
    return {"pushed": res.pushed, "pending": res.pending, "project_id": res.project_id,
            "adopted": res.adopted, "requeued": res.requeued}


# --------------------------------------------------------------------------- the model
_suggesters: dict[str, Any] = {}


def load_suggester() -> tuple[str | None, str | None, str]:
    """(model version, cache key, note); no model in the registry skips suggestions.

    Version names repeat across registries ("v1"), so the cache key also carries the
    hash of the model file: a cached suggestion always comes from the same model.
    """
    try:
        from models.registry import load_card
        from models.suggest import Suggester

        suggester = Suggester.load()
        card = load_card(suggester.version)
    except Exception as exc:  # noqa: BLE001 - any registry problem: report, carry on
        return None, None, (f"no model loaded ({exc}); reports are stored without "
                            "suggestions - run `vivid train` and ingest again")
    key = f"{suggester.version}-{(card.model_sha256 or card.created)[:16]}"
    _suggesters[key] = suggester
    return suggester.version, key, ""


def _current_version() -> str | None:
    """The registry's current version, without loading the model (nothing to suggest)."""
    try:
        from models.registry import current_version

        return current_version()
    except Exception:  # noqa: BLE001 - only informative
        return None


def passage_items(parsed: ParsedReport) -> list[dict]:
    """The `vivid suggest` input lines of a report's passages."""
    return [{"id": p.id, "text": p.text,
             "context": {"heading": p.heading or "", "section_type": p.section_type}}
            for p in parsed.passages]


# --------------------------------------------------------------------------- summary
@dataclass
class ReportOutcome:
    label: str
    status: str  # new / skipped / failed
    reason: str = ""
    sha256: str | None = None
    passages: int = 0
    candidates: int = 0
    cached: bool = False  # parsed earlier: the parse came from Prefect's cache


@dataclass
class IngestSummary:
    reports: list[ReportOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    model_version: str | None = None
    routed: int = 0
    notes: list[str] = field(default_factory=list)
    # stored reports that had no suggestions yet (no model when they came in)
    backfilled: int = 0
    backfilled_candidates: int = 0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.reports)

    @property
    def passages(self) -> int:
        return sum(r.passages for r in self.reports)

    @property
    def candidates(self) -> int:
        return sum(r.candidates for r in self.reports) + self.backfilled_candidates

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update({"new": self.count("new"), "skipped": self.count("skipped"),
                    "failed": self.count("failed"), "passages": self.passages,
                    "candidates": self.candidates})
        return out

    def markdown(self) -> str:
        lines = ["# Ingest", "",
                 "| reports new | skipped | failed | passages | candidates | tasks routed |",
                 "|---:|---:|---:|---:|---:|---:|",
                 f"| {self.count('new')} | {self.count('skipped')} | {self.count('failed')} "
                 f"| {self.passages} | {self.candidates} | {self.routed} |", "",
                 f"Model: `{self.model_version or 'none'}`", ""]
        if self.backfilled:
            lines += [f"Suggested {self.backfilled} stored report(s) that had no suggestions "
                      f"yet ({self.backfilled_candidates} candidates).", ""]
        if self.reports:
            lines += ["| report | status | passages | candidates | note |",
                      "|---|---|---:|---:|---|"]
            lines += [f"| {_md(r.label)} | {r.status} | {r.passages} | {r.candidates} "
                      f"| {_md(r.reason)} |" for r in self.reports]
            lines.append("")
        if self.problems:
            lines += ["## Problems", ""] + [f"- {_md(p)}" for p in self.problems] + [""]
        if self.notes:
            lines += ["## Notes", ""] + [f"- {_md(n)}" for n in self.notes]
        return "\n".join(lines)


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _error(state_or_exc: Any) -> str:
    exc = state_or_exc
    if hasattr(state_or_exc, "result"):
        try:
            state_or_exc.result()
            return ""
        except BaseException as e:  # noqa: BLE001
            exc = e
    return str(exc) or type(exc).__name__


# --------------------------------------------------------------------------- the flow
def already_stored(shas: list[str]) -> set[str]:
    """The report hashes the store already holds (one query)."""
    if not shas:
        return set()
    from sqlalchemy import select

    from corpus.store.db import session_scope
    from corpus.store.schema import Report

    with limited("database"), session_scope() as s:
        found: set[str] = set()
        for i in range(0, len(shas), 500):
            found.update(s.scalars(select(Report.id).where(Report.id.in_(shas[i:i + 500]))))
        return found


def reports_without_suggestions() -> dict[str, list[dict]]:
    """Stored reports none of whose passages has a suggestion: the `vivid suggest` input
    lines of their passages (they came in while no model was available)."""
    from sqlalchemy import select

    from corpus.store.db import session_scope
    from corpus.store.schema import Passage, Suggestion

    with limited("database"), session_scope() as s:
        suggested = select(Passage.report_id).join(
            Suggestion, Suggestion.passage_id == Passage.id).distinct()
        rows = s.scalars(select(Passage).where(Passage.report_id.not_in(suggested))
                         .order_by(Passage.report_id, Passage.ordinal)).all()
        out: dict[str, list[dict]] = {}
        for p in rows:
            out.setdefault(p.report_id, []).append(
                {"id": p.id, "text": p.text,
                 "context": {"heading": p.heading or "", "section_type": p.section_type}})
        return out


def _discover(inbox: str | None, feed: str | None, summary: IngestSummary) -> list[Candidate]:
    settings = get_settings()
    inbox = inbox or (str(settings.inbox_dir) if settings.inbox_dir else None)
    feed = feed or settings.feed
    if not inbox and not feed:
        summary.problems.append("no sources: give --inbox DIR and/or --feed FILE_OR_URL "
                                "(or set VIVID_INBOX / VIVID_FEED)")
        return []
    found: list[Candidate] = []
    if inbox:
        d = discover_inbox(inbox)
        found += d.candidates
        summary.problems += d.problems
    if feed:
        state = read_feed_task.with_options(**network_retry_options(_transient))(
            feed, return_state=True)
        if state.is_completed():
            d = state.result()
            found += d.candidates
            summary.problems += d.problems
        else:
            summary.problems.append(_error(state))
    return found


def _locate(candidates: list[Candidate], summary: IngestSummary
            ) -> list[tuple[Candidate, str, str]]:
    """(candidate, local path, sha) for each reachable report; downloads in parallel."""
    folder = str(get_settings().data_dir / "downloads")
    fetch = fetch_task.with_options(**network_retry_options(_transient))
    remote = [c for c in candidates if c.is_remote]
    located: list[tuple[Candidate, str, str]] = []
    for c in candidates:
        if c.is_remote:
            continue
        try:
            located.append((c, c.location, sha256_file(c.location)))
        except OSError as exc:
            why = "no such file" if isinstance(exc, FileNotFoundError) else \
                f"cannot read ({exc.strerror or exc})"
            summary.reports.append(ReportOutcome(c.label, "failed", why))
            progress.emit("report", label=c.label, status="failed")
    if remote:
        # threads here whatever the task runner: downloads wait on the network, not the CPU
        # (each call in a copy of this context, so its task run belongs to this flow run)
        with ThreadPoolExecutor(max_workers=flow_settings().http_concurrency) as pool:
            jobs = [pool.submit(contextvars.copy_context().run, fetch, c.location, folder,
                                return_state=True) for c in remote]
            states = [j.result() for j in jobs]
        for c, state in zip(remote, states, strict=True):
            if state.is_completed():
                path, sha = state.result()
                located.append((c, path, sha))
            else:
                summary.reports.append(ReportOutcome(c.label, "failed", _error(state)))
                progress.emit("report", label=c.label, status="failed")
    return located


def _with_feed_metadata(parsed: ParsedReport, c: Candidate, path: str) -> ParsedReport:
    """Fill what the PDF did not state from the feed entry; keep this run's file and source."""
    update: dict[str, Any] = {"source": c.location, "filename": Path(path).name}
    if c.title and not parsed.title:
        update["title"] = c.title
    if c.published and not parsed.published:
        update["published"] = c.published
    if (c.year or c.published) and not parsed.year:
        update["year"] = c.year or c.published.year
    return parsed.model_copy(update=update)


@flow(name="vivid-ingest", log_prints=False)
def ingest_flow(inbox: str | None = None, feed: str | None = None, suggest: bool = True,
                route: bool = True, refresh_cache: bool = False) -> dict[str, Any]:
    """Ingest new reports from the inbox and/or feed; returns the summary (also an artifact)."""
    log = get_run_logger()
    summary = IngestSummary()
    candidates = _discover(inbox, feed, summary)
    progress.emit("total", n=len(candidates))
    located = _locate(candidates, summary)

    # the same bytes twice in one run, or already in the store: skipped
    stored = already_stored(sorted({sha for _, _, sha in located}))
    todo: list[tuple[Candidate, str, str]] = []
    seen: set[str] = set()
    for c, path, sha in located:
        if sha in stored or sha in seen:
            why = "already stored" if sha in stored else "same file as another in this run"
            summary.reports.append(ReportOutcome(c.label, "skipped", why, sha))
            progress.emit("report", label=c.label, status="skipped")
        else:
            seen.add(sha)
            todo.append((c, path, sha))

    model_key = None
    backlog = reports_without_suggestions() if suggest else {}
    if suggest and (todo or backlog):
        summary.model_version, model_key, note = load_suggester()
        if note:
            summary.notes.append(note)
            log.warning(note)
    elif suggest:
        summary.model_version = _current_version()
    if model_key:
        _backfill(backlog, model_key, summary)

    parse = parse_task.with_options(refresh_cache=True) if refresh_cache else parse_task
    futures = {parse.submit(path, sha, c.location): (c, path, sha) for c, path, sha in todo}
    progress.emit("parsing", n=len(futures))
    for fut in as_completed(list(futures)):
        c, path, sha = futures[fut]
        outcome = _finish_report(fut, c, path, sha, model_key)
        summary.reports.append(outcome)
        progress.emit("report", label=c.label, status=outcome.status)

    if route:
        summary.routed = _route(summary, log)
    create_markdown_artifact(summary.markdown(), key="vivid-ingest",
                             description="Reports new/skipped/failed, passages, candidates, "
                                         "tasks routed")
    log.info("ingest: %d new, %d skipped, %d failed; %d passages, %d candidates, %d routed",
             summary.count("new"), summary.count("skipped"), summary.count("failed"),
             summary.passages, summary.candidates, summary.routed)
    return summary.as_dict()


def _finish_report(fut: Any, c: Candidate, path: str, sha: str, model_key: str | None
                   ) -> ReportOutcome:
    """Store, suggest and queue one parsed report (in this process: the store's writer)."""
    fut.wait()
    if not fut.state.is_completed():
        return ReportOutcome(c.label, "failed", _error(fut.state), sha)
    parsed = _with_feed_metadata(fut.result(), c, path)
    cached = fut.state.name == "Cached"
    state = store_task(parsed, return_state=True)
    if not state.is_completed():
        return ReportOutcome(c.label, "failed", f"store: {_error(state)}", sha)
    new = state.result()
    outcome = ReportOutcome(c.label, "new" if new else "skipped",
                            "" if new else "already stored", sha, len(parsed.passages),
                            cached=cached)
    if model_key is None or not parsed.passages:
        return outcome
    state = suggest_task(sha, passage_items(parsed), model_key, return_state=True)
    if not state.is_completed():
        outcome.reason = f"stored; suggest failed: {_error(state)}"
        return outcome
    suggestions = state.result()
    outcome.candidates = sum(bool(s["vivid"]["selected"]) for s in suggestions)
    state = enqueue_task(suggestions, return_state=True)
    if not state.is_completed():
        outcome.reason = f"stored; queueing suggestions failed: {_error(state)}"
    return outcome


def _backfill(backlog: dict[str, list[dict]], model_key: str, summary: IngestSummary) -> None:
    """Suggest and queue stored reports that have no suggestions yet."""
    if backlog:
        progress.emit("step", name=f"suggesting {len(backlog)} stored report(s)")
    for sha, items in backlog.items():
        state = suggest_task(sha, items, model_key, return_state=True)
        if not state.is_completed():
            summary.notes.append(f"report {sha[:12]}: suggest failed: {_error(state)}")
            continue
        suggestions = state.result()
        state = enqueue_task(suggestions, return_state=True)
        if not state.is_completed():
            summary.notes.append(f"report {sha[:12]}: queueing failed: {_error(state)}")
            continue
        summary.backfilled += 1
        summary.backfilled_candidates += sum(bool(s["vivid"]["selected"]) for s in suggestions)


def _route(summary: IngestSummary, log: Any) -> int:
    progress.emit("step", name="routing to Label Studio")
    state = route_task.with_options(**network_retry_options(_transient))(return_state=True)
    if state.is_completed():
        return state.result()["pushed"]
    msg = (f"routing to Label Studio failed ({_error(state)}); the suggestions wait in the "
           "outbox and go out on the next run")
    summary.notes.append(msg)
    log.warning(msg)
    return 0


__all__ = ["FeedError", "FetchError", "IngestSummary", "ingest_flow"]
