"""Where new reports come from: an inbox folder and a feed (a JSON or CSV manifest of URLs).

Discovery only lists candidates; fetching downloads a feed entry into the data dir (with a
conditional GET, so an unchanged report costs one request) and the SHA-256 of the bytes
decides whether the store already has it. Bad feed lines are reported with the line and
never stop the good ones.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import httpx

from corpus.metadata import sha256_file  # noqa: F401  (re-exported for the flows)

USER_AGENT = "vivid-ingest/0.1 (+https://github.com/; Serious Case Review collation)"
URL_KEYS = ("url", "link", "href", "pdf", "pdf_url")
TITLE_KEYS = ("title", "name")
DATE_KEYS = ("date", "published", "publication_date", "year")


class FeedError(ValueError):
    """A feed that cannot be read at all; the message names it and the reason."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient

    def __reduce__(self):  # noqa: ANN204 - picklable across processes
        return (type(self), (str(self), self.transient))


class FetchError(Exception):
    """A download that failed; ``transient`` says whether trying again may help."""

    def __init__(self, url: str, reason: str, transient: bool) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.transient = transient

    def __reduce__(self):  # noqa: ANN204 - picklable across processes
        return (type(self), (self.url, self.reason, self.transient))


@dataclass(frozen=True)
class Candidate:
    """One report to consider: a local file, or a URL still to be fetched."""

    location: str  # a local path or an http(s) URL
    origin: str  # "inbox" or "feed"
    title: str | None = None
    published: date | None = None
    year: int | None = None

    @property
    def is_remote(self) -> bool:
        return is_url(self.location)

    @property
    def label(self) -> str:
        return self.location if self.is_remote else Path(self.location).name


@dataclass
class Discovery:
    candidates: list[Candidate] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "feed.csv:4: missing url", ...


def is_url(text: str) -> bool:
    return urlparse(text).scheme in ("http", "https")


# --------------------------------------------------------------------------- inbox
def discover_inbox(folder: str | Path) -> Discovery:
    """Every PDF under ``folder`` (recursively, sorted); a missing folder is a problem."""
    folder = Path(folder)
    if not folder.is_dir():
        return Discovery(problems=[f"{folder}: inbox folder does not exist"])
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".pdf")
    return Discovery(candidates=[Candidate(str(p), "inbox") for p in files])


# --------------------------------------------------------------------------- feed
def _parse_date(value: object, where: str) -> tuple[date | None, int | None]:
    if value in (None, ""):
        return None, None
    text = str(value).strip()
    if re.fullmatch(r"\d{4}", text):
        return None, int(text)
    try:
        d = date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"{where}: date {text!r} is not YYYY-MM-DD or YYYY") from None
    return d, d.year


def _first(record: dict, keys: tuple[str, ...]) -> object:
    lowered = {str(k).strip().lower(): v for k, v in record.items()}
    for key in keys:
        if lowered.get(key) not in (None, ""):
            return lowered[key]
    return None


def _resolve(location: str, base: str) -> str:
    """Absolute URL or path for a feed entry, relative to the feed's own location."""
    if is_url(location):
        return location
    if location.startswith("file://"):
        return unquote(urlparse(location).path)
    if is_url(base):
        return urljoin(base, location)
    path = Path(location).expanduser()
    return str(path if path.is_absolute() else (Path(base).parent / path).resolve())


def _records(text: str, name: str) -> list[tuple[str, dict]]:
    """(where, record) pairs from JSON (a list, or an object with a list) or CSV."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] in ("[", "{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise FeedError(f"{name}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        if isinstance(data, dict):
            lists = [v for k, v in data.items()
                     if k in ("reports", "items", "entries", "feed") and isinstance(v, list)]
            if not lists:
                raise FeedError(f"{name}: JSON feed needs a list of entries "
                                "(or an object with a 'reports' list)")
            data = lists[0]
        if not isinstance(data, list):
            raise FeedError(f"{name}: JSON feed needs a list of entries")
        return [(f"{name}: entry {i}", rec) for i, rec in enumerate(data, start=1)]
    reader = csv.DictReader(io.StringIO(stripped))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not any(k in header for k in URL_KEYS):
        raise FeedError(f"{name}: CSV feed needs a header row with a 'url' column "
                        f"(found: {', '.join(header) or 'nothing'})")
    # line numbers: header is line 1
    return [(f"{name}:{reader.line_num}", dict(row)) for row in reader]


def parse_feed(text: str, name: str, base: str | None = None) -> Discovery:
    """Candidates from a feed's text; ``base`` resolves relative URLs (default: ``name``)."""
    out = Discovery()
    seen: set[str] = set()
    for where, rec in _records(text, name):
        if not isinstance(rec, dict):
            out.problems.append(f"{where}: expected an object with 'url', 'title', 'date'")
            continue
        url = _first(rec, URL_KEYS)
        if not isinstance(url, str) or not url.strip():
            out.problems.append(f"{where}: missing url")
            continue
        try:
            published, year = _parse_date(_first(rec, DATE_KEYS), where)
        except ValueError as exc:
            out.problems.append(str(exc))
            continue
        location = _resolve(url.strip(), base or name)
        if location in seen:
            continue
        seen.add(location)
        title = _first(rec, TITLE_KEYS)
        out.candidates.append(Candidate(location, "feed", str(title).strip() if title else None,
                                        published, year))
    return out


def read_feed(feed: str, client: httpx.Client | None = None) -> Discovery:
    """Read a feed from a file or an http(s) URL; an unreadable feed raises FeedError."""
    if is_url(feed):
        own = client is None
        client = client or make_client()
        try:
            resp = client.get(feed)
            resp.raise_for_status()
            text = resp.text
        except httpx.HTTPStatusError as exc:
            code = exc.response.status_code
            raise FeedError(f"{feed}: cannot fetch feed ({describe_http_error(exc)})",
                            transient=code >= 500 or code == 429) from None
        except httpx.HTTPError as exc:
            raise FeedError(f"{feed}: cannot fetch feed ({describe_http_error(exc)})",
                            transient=True) from None
        finally:
            if own:
                client.close()
        return parse_feed(text, feed, base=str(resp.url))
    path = Path(feed)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FeedError(f"{feed}: no such feed file") from None
    except IsADirectoryError:
        raise FeedError(f"{feed}: is a directory, not a feed file") from None
    except UnicodeDecodeError:
        raise FeedError(f"{feed}: not UTF-8 text") from None
    if not text.strip():
        raise FeedError(f"{feed}: empty feed file")
    return parse_feed(text, str(path), base=str(path.resolve()))


# --------------------------------------------------------------------------- fetching
def make_client(timeout: float = 60.0) -> httpx.Client:
    return httpx.Client(timeout=timeout, follow_redirects=True,
                        headers={"User-Agent": USER_AGENT})


def describe_http_error(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} {exc.response.reason_phrase}".strip()
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect"
    return f"{type(exc).__name__}: {exc}"


def _safe_name(url: str) -> str:
    name = Path(unquote(urlparse(url).path)).name or "report"
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80]
    return name if name.lower().endswith(".pdf") else name + ".pdf"


class DownloadIndex:
    """url -> {path, sha256, etag, last_modified}: lets unchanged reports answer 304."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "index.json"

    def _load(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def get(self, url: str) -> dict | None:
        entry = self._load().get(url)
        if entry and Path(entry.get("path", "")).is_file():
            return entry
        return None

    def put(self, url: str, entry: dict) -> None:
        data = self._load()
        data[url] = entry
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, self.path)


def download(url: str, folder: str | Path, client: httpx.Client | None = None
             ) -> tuple[Path, str]:
    """Fetch ``url`` into ``folder`` and return (path, SHA-256).

    A conditional GET (ETag / Last-Modified of the previous download) makes an unchanged
    report cheap. Connection problems, timeouts and 5xx/429 answers are transient (worth a
    retry); other HTTP errors are not.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    index = DownloadIndex(folder)
    previous = index.get(url)
    headers = {}
    if previous:
        if previous.get("etag"):
            headers["If-None-Match"] = previous["etag"]
        if previous.get("last_modified"):
            headers["If-Modified-Since"] = previous["last_modified"]
    own = client is None
    client = client or make_client()
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, client.stream("GET", url, headers=headers) as resp:
            if resp.status_code == 304 and previous:
                return Path(previous["path"]), previous["sha256"]
            resp.raise_for_status()
            for chunk in resp.iter_bytes():
                digest.update(chunk)
                out.write(chunk)
            etag, modified = resp.headers.get("ETag"), resp.headers.get("Last-Modified")
        sha = digest.hexdigest()
        final = folder / f"{sha[:12]}-{_safe_name(url)}"
        os.replace(tmp, final)
        index.put(url, {"path": str(final), "sha256": sha, "etag": etag,
                        "last_modified": modified})
        return final, sha
    except httpx.HTTPStatusError as exc:
        code = exc.response.status_code
        raise FetchError(url, describe_http_error(exc), transient=code >= 500 or code == 429
                         ) from None
    except httpx.HTTPError as exc:
        raise FetchError(url, describe_http_error(exc), transient=True) from None
    finally:
        if own:
            client.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
