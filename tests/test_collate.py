"""Collation outputs from a real store, bad coding files, and the pages in a real browser."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from corpus.codebook import load_codebook
from corpus.store.db import session_scope
from corpus.store.schema import Coding, Passage, Report
from evaluation.collate import CollateError, collate
from evaluation.sources import CodingFileError, ratings_from_file
from pipeline.cli import app

# --- a small store filled through the ORM ----------------------------------------------
REPORTS = [
    {"key": "R1", "title": "Serious Case Review: Child A", "year": 2015, "published": None},
    {"key": "R2", "title": "Serious Case Review: Baby B", "year": 2017, "published": None},
    {"key": "R3", "title": "Family C", "year": None, "published": date(2019, 3, 1)},
]

CODINGS = [
    {"key": "c1", "report": "R1", "page": (3, 3), "status": "confirmed", "vivid": True,
     "stage": "C", "issue": "threshold_disagreement_unresolved",
     "pairings": ["school>csc", "gp>csc"],
     "reasons": ["threshold_understanding_differs", "no_challenge_or_escalation"],
     "text": "The school referred its concerns about Child A three times; each time children's "
             "social care logged the call as information and the school did not escalate."},
    {"key": "c2", "report": "R2", "page": (7, 8), "status": "confirmed", "vivid": True,
     "stage": "C", "issue": "threshold_disagreement_unresolved", "pairings": ["school>csc"],
     "reasons": ["threshold_understanding_differs"],
     "text": "Staff at Baby B's nursery school believed a referral had been made, but the "
             "front door judged the threshold was not met and nobody resolved the difference."},
    {"key": "c3", "report": "R2", "page": (9, 9), "status": "confirmed", "vivid": True,
     "stage": "D", "issue": "health_opinion_taken_as_definitive",
     "pairings": ["hospital>police"], "reasons": ["medical_opinion_overemphasised"],
     "text": "The paediatrician said the fracture could have been accidental and the police "
             "took this as ruling out abuse, so the investigation stopped."},
    {"key": "c4", "report": "R3", "page": (2, 2), "status": "confirmed", "vivid": True,
     "stage": "F", "issue": "unequal_weight_in_conference", "pairings": ["school>network"],
     "reasons": [],
     "text": "At the conference the school's account of neglect was given little weight "
             "compared with the health visitor's reassurance."},
    {"key": "c5", "report": "R1", "page": (4, 4), "status": "confirmed", "vivid": False,
     "stage": None, "issue": None, "pairings": [], "reasons": [],
     "text": "The family moved to the area in 2012 and registered with a GP."},
    {"key": "c6", "report": "R3", "page": (5, 5), "status": "needs_adjudication",
     "vivid": True, "stage": "G", "issue": "other", "pairings": ["csc>csc"], "reasons": [],
     "text": "Coders disagreed about this passage."},
    {"key": "c7", "report": "R3", "page": (6, 6), "status": "confirmed", "vivid": True,
     "stage": "G", "issue": "other", "issue_note": "case records not transferred",
     "pairings": ["csc>csc"], "reasons": ["records_systems_not_shared"],
     "text": "When the case moved between teams the records did not follow it, and the new "
             "social worker started again from nothing."},
]


def report_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def passage_id(key: str) -> str:
    return f"p-{key}"


def add_reports(session, reports=REPORTS) -> None:  # noqa: ANN001
    for r in reports:
        session.add(Report(id=report_id(r["key"]), filename=f"{r['key']}.pdf", title=r["title"],
                           year=r["year"], published=r["published"], page_count=20, text="",
                           parser_version="test"))
    session.flush()


def add_passage(session, key: str, report: str, text: str, page=(1, 1), ordinal=0) -> str:  # noqa: ANN001
    pid = passage_id(key)
    session.add(Passage(id=pid, report_id=report_id(report), section_type="analysis",
                        heading="Analysis", ordinal=ordinal, number=f"4.{ordinal}", text=text,
                        start_char=0, end_char=len(text), page_start=page[0],
                        page_end=page[1]))
    session.flush()
    return pid


def fill_store(url: str, codings=CODINGS) -> None:  # noqa: ANN001
    """Reports, passages and codings through the ORM, as the pipeline writes them."""
    with session_scope(url) as s:
        add_reports(s)
        for i, c in enumerate(codings):
            pid = add_passage(s, c["key"], c["report"], c["text"], c["page"], ordinal=i)
            s.add(Coding(passage_id=pid, report_id=report_id(c["report"]), status=c["status"],
                         basis="agreement", vivid=c["vivid"], stage=c["stage"],
                         issue=c["issue"], issue_note=c.get("issue_note", ""),
                         pairings=c["pairings"], reasons=c["reasons"], coders=["ann", "ben"],
                         model_version="m-test", page_start=c["page"][0],
                         page_end=c["page"][1], confirmed_at=datetime(2024, 5, 1, tzinfo=UTC)))


def listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


# --- outputs -----------------------------------------------------------------------------
def test_collate_writes_every_output_from_the_store(db_url, tmp_path):
    fill_store(db_url)
    out = tmp_path / "collation"
    written = collate(out, url=db_url)
    assert all(p.exists() for p in written)
    names = set(listing(out))
    assert {"care_pathway_map.html", "care_pathway_map.csv", "confirmed_codings.csv",
            "confirmed_codings.xlsx", "confirmed_codings.parquet", "briefings/index.html",
            "plots/examples_by_stage.png", "plots/examples_by_year.png",
            "plots/pairings_heatmap.png"} <= names
    slugs = {"threshold_disagreement_unresolved", "health_opinion_taken_as_definitive",
             "unequal_weight_in_conference", "other"}
    assert {f"briefings/{s}{x}" for s in slugs for x in (".md", ".html")} <= names
    assert len([n for n in names if n.endswith(".md")]) == 4

    # the map table: every stage, issue types with examples, reports, pairings, reasons
    table = pd.read_csv(out / "care_pathway_map.csv", keep_default_na=False)
    assert list(table["stage"]) == ["A", "B", "C", "D", "E", "F", "G"]
    c = table[table["stage"] == "C"].iloc[0]
    assert (c["issue"], c["examples"], c["reports"]) == ("threshold_disagreement_unresolved", 2, 2)
    assert c["pairings"] == "school>csc (2); gp>csc (1)"
    assert c["reasons"] == "threshold_understanding_differs (2); no_challenge_or_escalation (1)"
    assert table[table["stage"] == "A"].iloc[0]["examples"] == 0
    g = table[table["stage"] == "G"].iloc[0]  # the unconfirmed G coding is not counted
    assert (g["issue"], g["examples"]) == ("other", 1)

    page = (out / "care_pathway_map.html").read_text()
    assert "@page { size: A3 landscape" in page
    assert "<link" not in page and "src=" not in page  # self-contained
    assert page.count('class="stage stage-') == 7
    assert "School \u2192 CSC <b class=\"c\">2</b>" in page
    assert 'href="briefings/threshold_disagreement_unresolved.html"' in page
    assert "case records not transferred" in page  # coders' notes stand in for "other"

    # a briefing: what, examples with report and page, why (reasons), which pairings
    md = (out / "briefings/threshold_disagreement_unresolved.md").read_text()
    codebook = load_codebook()
    assert codebook.label("issues", "threshold_disagreement_unresolved") in md
    assert "Serious Case Review: Child A (2015), p. 3" in md
    assert "Serious Case Review: Baby B (2017), pp. 7\u20138" in md
    assert f"| {codebook.label('reasons', 'threshold_understanding_differs')} |" in md
    assert "| School \u2192 CSC | 2 |" in md and "| GP \u2192 CSC | 1 |" in md
    html = (out / "briefings/threshold_disagreement_unresolved.html").read_text()
    assert "logged the call as information" in html

    # exports: confirmed codings only, with provenance, identical in all three formats
    csv = pd.read_csv(out / "confirmed_codings.csv", keep_default_na=False)
    xlsx = pd.read_excel(out / "confirmed_codings.xlsx", keep_default_na=False)
    parquet = pd.read_parquet(out / "confirmed_codings.parquet")
    assert len(csv) == len(xlsx) == len(parquet) == 6
    assert set(csv["passage_id"]) == {passage_id(c["key"]) for c in CODINGS
                                      if c["status"] == "confirmed"}
    row = csv.set_index("passage_id").loc[passage_id("c1")]
    assert row["report_title"] == "Serious Case Review: Child A"
    assert (row["page_start"], row["year"], row["coders"]) == (3, 2015, "ann; ben")
    assert row["pairings"] == "school>csc; gp>csc"
    assert row["model_version"] == "m-test" and row["confirmed_at"].startswith("2024-05-01")
    assert list(parquet.set_index("passage_id").loc[passage_id("c1"), "pairings"]) == [
        "school>csc", "gp>csc"]
    assert csv.set_index("passage_id").loc[passage_id("c7"), "year"] == 2019  # from the date

    for png in ("examples_by_stage", "examples_by_year", "pairings_heatmap"):
        with Image.open(out / f"plots/{png}.png") as im:
            assert im.format == "PNG" and im.width > 300 and im.height > 200


def test_collate_rerun_replaces_old_outputs_but_keeps_other_files(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    fill_store(url)
    out = tmp_path / "collation"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "briefings").mkdir()
    (out / "briefings" / "stale_issue.md").write_text("old")
    collate(out, url=url)
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "briefings" / "stale_issue.md").exists()
    assert (out / "briefings" / "other.md").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".collation.")]


def test_collate_failure_leaves_nothing_partially_written(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    bad = [dict(CODINGS[0], key="bad", pairings=["school-csc"])] + CODINGS[1:]
    fill_store(url, bad)
    out = tmp_path / "collation"
    out.mkdir()
    (out / "care_pathway_map.html").write_text("previous run")
    before = listing(out)
    # the exports are written before the map meets the malformed pairing
    with pytest.raises(CollateError, match=r"passage p-bad: pairing 'school-csc' is not "
                                           r"sender>receiver"):
        collate(out, url=url)
    assert listing(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".collation.")]
    fresh = tmp_path / "fresh"
    with pytest.raises(CollateError):
        collate(fresh, url=url)
    assert not fresh.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".collation.", ".fresh."))]


def test_collate_cli(tmp_path):
    runner = CliRunner()
    empty = runner.invoke(app, ["collate", "--out", str(tmp_path / "out")])
    assert empty.exit_code == 1
    assert "no confirmed codings" in empty.output and "Traceback" not in empty.output
    assert not (tmp_path / "out").exists()
    from corpus.settings import get_settings

    fill_store(get_settings().db_url)
    result = runner.invoke(app, ["collate", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "4 topic briefings" in result.output
    assert (tmp_path / "out" / "care_pathway_map.html").exists()


# --- bad coding files --------------------------------------------------------------------
GOOD_HEADER = "unit,coder,vivid,stage,issue,pairings,reasons\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("body", "message"), [
    (GOOD_HEADER.replace("reasons", "reasons,comment") + "p1,ann,yes,C,other,,,x\n",
     r"row 1: unknown column\(s\) comment"),
    ("unit,vivid,stage\np1,yes,C\n", r"row 1: the 'coder' column is missing"),
    ("coder,vivid\nann,yes\n", r"row 1: the 'unit' column is missing"),
    ("unit,coder\np1,ann\n", r"row 1: no field columns"),
    (GOOD_HEADER + "p1,ann,yes,C,other,,\np1,ben,yes,H,other,,\n",
     r"row 3: unknown stage 'H' \(expected one of A, B, C, D, E, F, G\)"),
    (GOOD_HEADER + "p1,ann,yes,C,threshold_disagrement,,\n", r"row 2: unknown issue "
     r"'threshold_disagrement'"),
    (GOOD_HEADER + "p1,ann,yes,C,other,school>csc;school>witches,\n",
     r"row 2: unknown pairing 'school>witches'"),
    (GOOD_HEADER + 'p1,ann,yes,C,other,,"optimism_bias,laziness"\n', r"row 2: unknown reason "
     r"'laziness'"),
    (GOOD_HEADER + "p1,ann,yes,C,other,,optimism_bias,roles_unclear\n",
     r"row 2: 8 cells but the header names 7 columns"),
    (GOOD_HEADER + "p1,ann,maybe so,C,other,,\n", r"row 2: unknown vivid value 'maybe so'"),
    (GOOD_HEADER + "p1,,yes,C,other,,\n", r"row 2: empty coder"),
    (GOOD_HEADER + "p1,ann,yes,C,other,,\np2,ann,no,,,,\np1,ann,no,,,,\n",
     r"row 4: unit 'p1' coded twice by 'ann' \(also row 2\)"),
    ("", r"the file is empty"),
    ("\n\n", r"the file is empty"),
    (GOOD_HEADER, r"no coding rows under the header"),
])
def test_bad_coding_files_are_refused_with_rows(tmp_path, body, message):
    path = write(tmp_path, "codings.csv", body)
    with pytest.raises(CodingFileError, match=message) as err:
        ratings_from_file(path)
    assert str(err.value).startswith(str(path))
    assert "\n" not in str(err.value)


def test_several_problems_are_listed_with_their_rows(tmp_path):
    body = GOOD_HEADER + "".join(f"p{i},ann,yes,Z,other,,\n" for i in range(8))
    with pytest.raises(CodingFileError) as err:
        ratings_from_file(write(tmp_path, "c.csv", body))
    msg = str(err.value)
    assert "8 problems: row 2: unknown stage 'Z'" in msg and "row 6:" in msg
    assert msg.endswith("and 3 more")


def test_blank_lines_keep_spreadsheet_row_numbers(tmp_path):
    body = GOOD_HEADER + "p1,ann,yes,C,other,,\n\np1,ben,yes,Q,other,,\n"
    with pytest.raises(CodingFileError, match=r"row 4: unknown stage 'Q'"):
        ratings_from_file(write(tmp_path, "c.csv", body))


def test_bad_xlsx_files(tmp_path):
    path = tmp_path / "codings.xlsx"
    pd.DataFrame({"unit": ["p1", "p1"], "coder": ["ann", "ben"], "stage": ["C", "X"]}
                 ).to_excel(path, index=False)
    with pytest.raises(CodingFileError, match=r"codings.xlsx: row 3: unknown stage 'X'"):
        ratings_from_file(path)
    pd.DataFrame({"unit": ["p1"], "stage": ["C"]}).to_excel(path, index=False)
    with pytest.raises(CodingFileError, match=r"the 'coder' column is missing"):
        ratings_from_file(path)
    path.write_bytes(b"not a workbook")
    with pytest.raises(CodingFileError, match=r"codings.xlsx: cannot read"):
        ratings_from_file(path)
    with pytest.raises(CodingFileError, match=r"unsupported file type .ods"):
        ratings_from_file(write(tmp_path, "c.ods", "x"))


def test_bad_coding_file_on_the_command_line(tmp_path):
    path = write(tmp_path, "codings.csv", GOOD_HEADER + "p1,ann,yes,C,other,,\n"
                 "p1,ben,yes,C,nonsense_issue,,\n")
    out = tmp_path / "agreement"
    result = CliRunner().invoke(app, ["agreement", "--from-file", str(path), "--out", str(out)])
    assert result.exit_code == 1
    assert "row 3: unknown issue 'nonsense_issue'" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


# --- the pages in a real headless browser -------------------------------------------------
def _browser():
    """Debian's chromium + chromedriver, as `make system-deps` installs them."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail("chromium and chromedriver are needed: run `bash scripts/system_deps.sh`")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1600,1000", "--hide-scrollbars"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


@pytest.fixture(scope="module")
def browser():
    os.environ.setdefault("SE_AVOID_STATS", "true")
    drv = _browser()
    yield drv
    drv.quit()


def load(browser, path: Path) -> list[dict]:  # noqa: ANN001
    """Open a file, let it settle; the browser's console errors and warnings."""
    browser.get(path.resolve().as_uri())
    browser.execute_script("return document.readyState")
    return [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


def screenshot(browser, path: Path) -> Path:  # noqa: ANN001
    """A full-page PNG of the current page."""
    width = browser.execute_script("return document.documentElement.scrollWidth")
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(max(width, 1600), min(height + 40, 8000))
    browser.save_screenshot(str(path))
    return path


@pytest.mark.browser
def test_pages_load_in_headless_chromium_without_console_errors(browser, tmp_path):
    # the console check itself can fail: a broken page is reported
    broken = write(tmp_path, "broken.html", "<html><body><script>undefinedThing()</script>"
                   "</body></html>")
    assert any("undefinedThing" in e["message"] for e in load(browser, broken))

    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    fill_store(url)
    out = tmp_path / "collation"
    collate(out, url=url)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    pages = [out / "care_pathway_map.html", out / "briefings" / "index.html",
             out / "briefings" / "threshold_disagreement_unresolved.html"]
    for page in pages:
        assert load(browser, page) == [], page.name
        assert browser.find_element("css selector", "h1").text
        png = screenshot(browser, shots / f"{page.stem}.png")
        with Image.open(png) as im:
            assert im.format == "PNG" and im.width >= 1000 and im.height > 400
            colours = im.convert("RGB").resize((64, 64)).getcolors(64 * 64)
            assert colours and len(colours) > 20  # something was drawn, not a blank page
    load(browser, out / "care_pathway_map.html")
    heads = browser.find_elements("css selector", ".stage-head")
    assert [h.text.split("\n")[0] for h in heads] == list("ABCDEFG")
    assert len({h.size["height"] for h in heads}) == 1  # one band across the pathway
    # printed on A3 landscape
    pdf = base64.b64decode(browser.execute_cdp_cmd(
        "Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True})["data"])
    from pdfminer.pdfpage import PDFPage

    boxes = [page.mediabox for page in PDFPage.get_pages(io.BytesIO(pdf))]
    assert boxes and all(abs(b[2] - 1190.6) < 3 and abs(b[3] - 841.9) < 3 for b in boxes)


def test_markdown_briefing_is_valid_markdown(tmp_path):
    """The Markdown renders: tables have matching columns, the heading comes first."""
    from markdown_it import MarkdownIt

    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    fill_store(url)
    collate(tmp_path / "out", url=url)
    text = (tmp_path / "out" / "briefings" / "health_opinion_taken_as_definitive.md").read_text()
    assert text.startswith("# Agencies interpret health input")
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert html.count("<table>") == 2 and "<blockquote>" in html
    assert "Serious Case Review: Baby B (2017), p. 9" in html
