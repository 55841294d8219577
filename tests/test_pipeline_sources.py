"""Report discovery: inbox folders, JSON/CSV feeds (files and HTTP), downloads by hash."""

from __future__ import annotations

import hashlib
import json
import socket
from datetime import date

import pytest

from pipeline.flows.sources import (
    FeedError,
    FetchError,
    discover_inbox,
    download,
    parse_feed,
    read_feed,
)


def test_inbox_lists_pdfs_recursively_in_order(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "2021").mkdir(parents=True)
    for name in ("b.pdf", "a.PDF", "notes.txt", "2021/c.pdf"):
        (inbox / name).write_bytes(b"%PDF-1.4")
    found = discover_inbox(inbox)
    assert [c.label for c in found.candidates] == ["c.pdf", "a.PDF", "b.pdf"]
    assert all(c.origin == "inbox" and not c.is_remote for c in found.candidates)
    assert found.problems == []


def test_missing_inbox_is_a_problem_not_a_crash(tmp_path):
    found = discover_inbox(tmp_path / "nowhere")
    assert found.candidates == []
    assert found.problems == [f"{tmp_path / 'nowhere'}: inbox folder does not exist"]


def test_json_feed_with_relative_urls_dates_and_bad_entries(tmp_path):
    feed = tmp_path / "feeds" / "feed.json"
    feed.parent.mkdir()
    feed.write_text(json.dumps({"reports": [
        {"url": "https://example.org/scr/child-a.pdf", "title": "Child A", "date": "2021-03-04"},
        {"url": "local/child-b.pdf", "title": "Child B", "published": "2019"},
        {"title": "no link"},
        {"url": "https://example.org/x.pdf", "date": "March 2020"},
        {"url": "https://example.org/scr/child-a.pdf"},  # repeated: listed once
    ]}), encoding="utf-8")
    found = read_feed(str(feed))
    a, b = found.candidates
    assert (a.location, a.title, a.published, a.year) == (
        "https://example.org/scr/child-a.pdf", "Child A", date(2021, 3, 4), 2021)
    assert a.is_remote and a.origin == "feed"
    assert b.location == str(tmp_path / "feeds" / "local" / "child-b.pdf")
    assert (b.published, b.year, b.is_remote) == (None, 2019, False)
    assert found.problems == [f"{feed}: entry 3: missing url",
                              f"{feed}: entry 4: date 'March 2020' is not YYYY-MM-DD or YYYY"]


def test_csv_feed_reports_bad_lines_with_their_numbers(tmp_path):
    feed = tmp_path / "feed.csv"
    feed.write_text("Title,URL,Date\nChild C,https://example.org/c.pdf,2018-01-02\n"
                    "Child D,,2018\nChild E,https://example.org/e.pdf,not a date\n",
                    encoding="utf-8")
    found = read_feed(str(feed))
    assert [(c.title, c.location) for c in found.candidates] == [
        ("Child C", "https://example.org/c.pdf")]
    assert found.problems == [f"{feed}:3: missing url",
                              f"{feed}:4: date 'not a date' is not YYYY-MM-DD or YYYY"]


@pytest.mark.parametrize("content, message", [
    (None, "no such feed file"),
    ("", "empty feed file"),
    ('[{"url": "a.pdf"', "not valid JSON (line 1"),
    ('{"title": "x"}', "needs a list of entries"),
    ("title,date\nChild A,2020\n", "CSV feed needs a header row with a 'url' column"),
])
def test_unreadable_feed_is_one_clear_error(tmp_path, content, message):
    feed = tmp_path / "feed.txt"
    if content is not None:
        feed.write_text(content, encoding="utf-8")
    with pytest.raises(FeedError) as exc:
        read_feed(str(feed))
    assert str(exc.value).startswith(f"{feed}: ")
    assert message in str(exc.value)


def test_feed_over_http_resolves_links_against_the_feed_url(http_folder):
    (http_folder.folder / "feeds").mkdir()
    (http_folder.folder / "feeds" / "feed.json").write_text(json.dumps([
        {"url": "../pdfs/child-f.pdf", "title": "Child F", "date": "2022-07-01"}]))
    found = read_feed(http_folder.link("feeds/feed.json"))
    assert [c.location for c in found.candidates] == [http_folder.link("pdfs/child-f.pdf")]
    with pytest.raises(FeedError, match="HTTP 404") as exc:
        read_feed(http_folder.link("feeds/missing.json"))
    assert not exc.value.transient


def test_download_hashes_the_bytes_and_reuses_an_unchanged_file(http_folder, tmp_path):
    body = b"%PDF-1.4\n" + b"report body " * 1000 + b"\n%%EOF\n"
    (http_folder.folder / "child g.pdf").write_bytes(body)
    dest = tmp_path / "downloads"
    path, sha = download(http_folder.link("child%20g.pdf"), dest)
    assert sha == hashlib.sha256(body).hexdigest()
    assert path.read_bytes() == body and path.parent == dest
    assert path.name == f"{sha[:12]}-child_g.pdf"
    again, sha2 = download(http_folder.link("child%20g.pdf"), dest)
    assert (again, sha2) == (path, sha)  # answered 304 Not Modified
    assert sorted(p.name for p in dest.iterdir()) == sorted([path.name, "index.json"])


def test_download_errors_say_whether_to_retry(http_folder, tmp_path):
    dest = tmp_path / "downloads"
    with pytest.raises(FetchError) as exc:
        download(http_folder.link("nope.pdf"), dest)
    assert "HTTP 404" in str(exc.value) and not exc.value.transient
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError) as exc:
        download(f"http://127.0.0.1:{port}/a.pdf", dest)
    assert exc.value.transient and "cannot connect" in str(exc.value)
    assert list(dest.iterdir()) == []  # no partial files left


def test_parse_feed_accepts_a_bare_list_and_file_urls(tmp_path):
    found = parse_feed(json.dumps([{"link": f"file://{tmp_path}/r.pdf", "name": "R"}]),
                       str(tmp_path / "feed.json"))
    assert [(c.location, c.title) for c in found.candidates] == [(f"{tmp_path}/r.pdf", "R")]
