"""Layouts real SCRs use, rendered by corpus.synth and parsed back against the spec."""

from __future__ import annotations

import hashlib
import re
from datetime import date

import pytest

from corpus.codebook import load_codebook
from corpus.parse import parse_report
from tests.fixtures_pdfs import PARAS, VIVID, base_sections, outline, paragraphs, report_spec
from tests.fixtures_pdfs import section_labels as labels


def _texts(parsed) -> set[str]:  # noqa: ANN001
    return {p.text for p in parsed.passages}


def _gold_outline(spec) -> list[tuple[int, str]]:  # noqa: ANN001
    return [(level, label) for level, label, _ in outline(spec)]


def test_numbered_paragraphs_keep_their_number_and_offsets(make_pdf):
    spec = report_spec(numbered_paragraphs=True)
    parsed = parse_report(make_pdf(spec))
    events = [p for p in parsed.passages if p.heading == "4 Summary of events"]
    assert [p.number for p in events] == ["4.1", "4.2", "4.3"]
    assert [p.text for p in events] == [PARAS[3], VIVID, PARAS[4]]
    sub = [p for p in parsed.passages if p.heading == "2.1 Terms of reference"]
    assert [p.number for p in sub] == ["2.1.1"]
    for p in parsed.passages:
        assert parsed.text[p.start_char:p.end_char] == p.text
        assert p.sentences and p.sentences[0][0] == p.start_char
        assert all(p.start_char <= s < e <= p.end_char for s, e in p.sentences)
    vivid = next(p for p in parsed.passages if p.text == VIVID)
    assert len(vivid.sentences) == 3
    second = vivid.sentences[1]
    assert parsed.text[second[0]:second[1]] == "Her mother was asleep upstairs."
    assert parsed.text[vivid.start_char - 4:vivid.start_char] == "4.2 "


def test_passage_ids_are_stable_across_runs(make_pdf):
    path = make_pdf()
    first, second = parse_report(path), parse_report(path)
    assert [p.id for p in first.passages] == [p.id for p in second.passages]
    assert len({p.id for p in first.passages}) == len(first.passages)
    assert first.id == hashlib.sha256(path.read_bytes()).hexdigest()
    assert all(p.id.startswith(first.id[:12]) for p in first.passages)


def test_metadata_from_the_title_page(make_pdf):
    parsed = parse_report(make_pdf())
    assert parsed.title == "Serious Case Review: Child A"
    assert parsed.board == "Westmoor Safeguarding Children Partnership"
    assert parsed.author == "Jane Doe, Independent Lead Reviewer"
    assert parsed.published == date(2019, 5, 14) and parsed.year == 2019
    assert parsed.page_count >= 3


def test_contents_page_is_recognised_not_taken_for_headings(make_pdf):
    spec = report_spec(contents_page=True)
    parsed = parse_report(make_pdf(spec))
    assert parsed.contents == [label for _, label in _gold_outline(spec)]
    assert labels(parsed) == _gold_outline(spec)  # each heading once, none from the contents
    assert not any("Contents" in s.heading for s in parsed.sections)
    assert not any(re.search(r"\.\s*\.\s*\.", p.text) for p in parsed.passages)
    assert {b["text"] for b in paragraphs(spec)} <= _texts(parsed)


def _longer(sections: list[dict]) -> list[dict]:
    """Each section with a long paragraph added, so that paragraphs run across pages."""
    for i, sec in enumerate(sections):
        long = " ".join(PARAS[(i + k) % len(PARAS)] for k in range(4))
        sec["blocks"] = sec["blocks"] + [{"kind": "para", "text": long}]
        _longer(sec["subsections"])
    return sections


def test_running_headers_footers_and_page_numbers_are_removed(make_pdf):
    spec = report_spec(running_header="Westmoor SCP | Serious Case Review: Child A",
                       running_footer="OFFICIAL", page_numbers="Page {n} of {total}",
                       sections=_longer(base_sections()))
    parsed = parse_report(make_pdf(spec))
    assert "Westmoor SCP |" not in parsed.text
    assert "OFFICIAL" not in parsed.text
    assert not re.search(r"Page \d+ of \d+", parsed.text)
    assert labels(parsed) == _gold_outline(spec)
    # every paragraph comes out whole, including those split across a page break
    assert {b["text"] for b in paragraphs(spec)} <= _texts(parsed)
    assert any(p.page_end > p.page_start for p in parsed.passages)


def test_page_number_only_footers_and_a_board_name_header(make_pdf):
    spec = report_spec(running_header="Westmoor Safeguarding Children Partnership",
                       page_numbers="{n}", sections=_longer(base_sections()),
                       numbered_paragraphs=True)
    parsed = parse_report(make_pdf(spec))
    body = parsed.text.split("Published: 14 May 2019", 1)[-1]
    assert "Westmoor Safeguarding Children Partnership" not in body
    assert not re.search(r"(?m)^\d+$", parsed.text)
    assert {b["text"] for b in paragraphs(spec)} <= _texts(parsed)


def test_footnotes_are_kept_apart_from_the_body(make_pdf):
    sections = base_sections()
    sections[0]["blocks"][0]["footnote"] = "HM Government (2018) Working Together to " \
                                           "Safeguard Children, chapter 4."
    sections[3]["blocks"][2]["footnote"] = "Section 17 of the Children Act 1989."
    spec = report_spec(sections=sections, numbered_paragraphs=True)
    parsed = parse_report(make_pdf(spec))
    assert [(f.mark, f.text) for f in parsed.footnotes] == [
        ("1", "HM Government (2018) Working Together to Safeguard Children, chapter 4."),
        ("2", "Section 17 of the Children Act 1989.")]
    assert "Working Together" not in parsed.text and "Children Act 1989" not in parsed.text
    assert PARAS[0] in _texts(parsed) and PARAS[4] in _texts(parsed)  # marks taken out
    assert parsed.footnotes[0].page == next(p.page_end for p in parsed.passages
                                            if p.text == PARAS[0])


@pytest.mark.parametrize("style", ["larger", "bold"])
def test_heading_styles_bold_same_size_and_larger_font(make_pdf, style):
    spec = report_spec(heading_style=style, body_font="Times" if style == "bold" else None)
    parsed = parse_report(make_pdf(spec))
    assert labels(parsed) == _gold_outline(spec)
    sec = next(s for s in parsed.sections if s.heading == "Terms of reference")
    parent = next(s for s in parsed.sections if s.id == sec.parent_id)
    assert (parent.number, parent.heading, sec.level) == ("2", "The review process", 2)
    assert {b["text"] for b in paragraphs(spec)} <= _texts(parsed)


def test_capitals_headings_and_point_zero_numbering(make_pdf):
    """Body-size, regular-weight headings in capitals, numbered "1.0", "2.0" over "2.1"."""
    sections = base_sections()
    for sec in sections:
        sec["number"] = f"{sec['number']}.0"
    spec = report_spec(sections=sections, heading_style="caps", numbered_paragraphs=False)
    parsed = parse_report(make_pdf(spec))
    got = labels(parsed)
    assert got == [(level, label.upper() if level == 1 else label)
                   for level, label in _gold_outline(spec)]
    assert got[0] == (1, "1.0 INTRODUCTION") and got[2] == (2, "2.1 Terms of reference")


def test_unnumbered_subheadings_get_their_level_from_style(make_pdf):
    sections = base_sections()
    for sub in sections[1]["subsections"]:
        sub["number"] = None
    spec = report_spec(sections=sections)
    parsed = parse_report(make_pdf(spec))
    assert labels(parsed) == _gold_outline(spec)


def test_bullets_in_various_glyphs_are_normalised(make_pdf):
    items = [["Children's social care", "the police"], ["the school", "the GP practice"],
             ["health visiting", "the hospital"], ["housing", "probation"],
             ["the nursery", "early help"]]
    sections = base_sections()
    sections[4]["blocks"] = [
        block for i, pair in enumerate(items)
        for block in ({"kind": "para", "text": f"Group {i + 1} of the agencies involved were:"},
                      {"kind": "bullets", "items": pair})]
    spec = report_spec(sections=sections)
    parsed = parse_report(make_pdf(spec))
    analysis = [p for p in parsed.passages if p.heading == "5 Analysis"]
    assert [p.text for p in analysis] == [
        f"Group {i + 1} of the agencies involved were:\n• {a}\n• {b}"
        for i, (a, b) in enumerate(items)]
    assert all(len(p.sentences) == 3 for p in analysis)


def test_report_without_headings_is_one_unknown_section(make_pdf):
    spec = report_spec(sections=[
        {"heading": None, "number": None, "type": "unknown",
         "blocks": [{"kind": "para", "text": t} for t in PARAS + [VIVID]],
         "subsections": []}])
    parsed = parse_report(make_pdf(spec))
    assert [(s.type, s.heading) for s in parsed.sections] == [("unknown", "")]
    assert set(PARAS) | {VIVID} <= _texts(parsed)
    assert all(p.section_type == "unknown" for p in parsed.passages)


UNUSUAL = ["A day in the life of Child A", "What happened and why", "Key Practice Episodes",
           "Appraisal of professional practice", "Considerations for the Board",
           "Voice of the child", "Where next?"]


def test_unusual_section_names_are_found_and_typed(make_pdf):
    sections = [{"heading": h, "number": None, "type": "",
                 "blocks": [{"kind": "para", "text": PARAS[i]}], "subsections": []}
                for i, h in enumerate(UNUSUAL)]
    spec = report_spec(sections=sections, heading_style="bold")
    parsed = parse_report(make_pdf(spec))
    assert labels(parsed) == [(1, h) for h in UNUSUAL]
    valid = {t.id for t in load_codebook().section_types} - {"unknown"}
    assert all(s.type in valid for s in parsed.sections)
    assert next(s.type for s in parsed.sections
                if s.heading == "Considerations for the Board") == "recommendations"


LONG_1 = ("How professionals understood the risks to Child A and her brother from the "
          "adults in the household over the two years before the incident")
LONG_2 = "Finding 2: Referrers are not routinely told what has happened to the concerns they raise"


@pytest.mark.parametrize("style", ["larger", "bold"])
def test_two_line_headings_come_out_whole(make_pdf, style):
    sections = base_sections()
    sections[4]["heading"] = LONG_1
    sections[1]["subsections"][1]["heading"] = LONG_2
    spec = report_spec(sections=sections, heading_style=style)
    parsed = parse_report(make_pdf(spec))
    assert labels(parsed) == _gold_outline(spec)
    long = next(s for s in parsed.sections if s.heading == LONG_1)
    assert long.number == "5" and long.level == 1


def test_table_is_one_passage_with_rows_and_cells(make_pdf):
    rows = [["Agency", "Involvement with the family"],
            ["Children's social care", "Referral in June 2017, assessment and a child in need "
                                       "plan from July to December 2017"],
            ["Police", "Two domestic abuse call-outs in 2017"],
            ["School", "Child A's attendance and welfare throughout the period"]]
    sections = base_sections()
    sections[1]["subsections"][1]["blocks"].append({"kind": "table", "rows": rows})
    sections[1]["subsections"][1]["blocks"].append({"kind": "para", "text": PARAS[5]})
    spec = report_spec(sections=sections)
    parsed = parse_report(make_pdf(spec))
    table = [p for p in parsed.passages if p.text.startswith("Agency |")]
    assert len(table) == 1
    assert table[0].text.split("\n") == [" | ".join(r) for r in rows]
    assert table[0].heading == "2.2 Methodology"
    assert {b["text"] for b in paragraphs(spec)} <= _texts(parsed)


def test_hyphenated_line_breaks_are_joined(make_pdf):
    long_words = ("Communication between professionals responsible for safeguarding "
                  "unaccompanied children deteriorated considerably, notwithstanding "
                  "administrative reorganisation, interdisciplinary understanding and "
                  "supervisory encouragement of practitioners. ") * 3
    sections = base_sections()
    sections[4]["blocks"] = [{"kind": "para", "text": long_words.strip()}]
    spec = report_spec(sections=sections, hyphenate=True)
    path = make_pdf(spec)
    from corpus.pdf import read_pdf

    lines = [ln.text for page in read_pdf(path).pages for ln in page.lines]
    assert any(re.search(r"[a-z]-$", t) for t in lines)  # the PDF really breaks words
    assert long_words.strip() in _texts(parse_report(path))


def test_ligatures_in_an_embedded_font_are_normalised(make_pdf):
    spec = report_spec(body_font="Vera", ligatures=True)
    path = make_pdf(spec)
    from corpus.pdf import read_pdf

    raw = " ".join(ln.text for page in read_pdf(path).pages for ln in page.lines)
    assert "\ufb01" in raw  # the PDF really has ligature glyphs
    parsed = parse_report(path)
    assert "\ufb01" not in parsed.text
    assert {b["text"] for b in paragraphs(spec)} <= _texts(parsed)
