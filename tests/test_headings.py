"""Section typing of headings: numbering, the classify_headings contract, the CLI."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from corpus.codebook import load_codebook
from corpus.headings import (
    DEV_FILE,
    EXAMPLES_FILE,
    SECTION_TYPES,
    classify_headings,
    load_reports,
    normalise,
    number_depth,
    split_number,
    train_typer,
)
from pipeline.cli import app


@pytest.mark.parametrize("heading, expected", [
    ("3.2 Terms of reference", ("3.2", "Terms of reference")),
    ("1. Introduction", ("1", "Introduction")),
    ("10 Recommendations", ("10", "Recommendations")),
    ("2.1.3 The strategy meeting", ("2.1.3", "The strategy meeting")),
    ("Part 2: The facts", ("Part 2", "The facts")),
    ("PART TWO - ANALYSIS", ("PART TWO", "ANALYSIS")),
    ("Section 4 Findings", ("Section 4", "Findings")),
    ("Appendix A – Terms of Reference", ("Appendix A", "Terms of Reference")),
    ("APPENDIX 2 GLOSSARY", ("APPENDIX 2", "GLOSSARY")),
    ("iv. Analysis", ("iv", "Analysis")),
    ("ii Terms of Reference", ("ii", "Terms of Reference")),
    ("B. Methodology", ("B", "Methodology")),
    ("Glossary", (None, "Glossary")),
    ("A day in the life of Child Q", (None, "A day in the life of Child Q")),
    ("2011 to 2012: the move to Northshire", (None, "2011 to 2012: the move to Northshire")),
    ("Finding 2: Referrals are not recognised", (None, "Finding 2: Referrals are not recognised")),
])
def test_split_number(heading, expected):
    assert split_number(heading) == expected


@pytest.mark.parametrize("number, depth", [
    (None, 0), ("3", 1), ("3.2", 2), ("3.2.1", 3), ("Part 2", 1), ("Appendix A", 1),
    ("iv", 1), ("A.1", 2),
])
def test_number_depth(number, depth):
    assert number_depth(number) == depth


def test_normalise_generalises_names_and_dates():
    assert normalise("A Day in the Life of Child Q") == "a day in the life of child xname"
    assert normalise("Events of March 2016") == "events of mmonth yyear"


def test_section_types_are_codebook_ids():
    assert set(SECTION_TYPES) | {"unknown"} == set(load_codebook().section_type_ids)


def _report(*pairs: tuple[str, str]) -> tuple[list[str], list[str]]:
    return [h for h, _ in pairs], [t for _, t in pairs]


def test_contract_same_length_order_and_ids():
    headings = ["Contents", "1 Introduction", "1.1 Terms of Reference", "2 Background",
                "3 Analysis", "4 Recommendations", "Glossary"]
    types = classify_headings(headings)
    assert len(types) == len(headings)
    assert set(types) <= set(SECTION_TYPES)
    # one type per heading, in the headings' order
    assert types[:6] == ["front_matter", "introduction", "methodology", "case_narrative",
                         "analysis", "recommendations"]
    assert types[-1] in {"front_matter", "appendix"}
    assert classify_headings([]) == []


def test_levels_must_match_headings():
    with pytest.raises(ValueError, match="2 levels for 3 headings"):
        classify_headings(["Introduction", "Analysis", "Recommendations"], [1, 1])


def test_levels_give_unnumbered_subheadings_their_parent():
    headings = ["Introduction", "Methodology", "Appraisal of practice", "Introduction",
                "Summary", "Findings", "Recommendations"]
    types = classify_headings(headings, [1, 1, 1, 2, 2, 1, 1])
    assert types[3:5] == ["analysis", "analysis"]


# Unusual reports invented for these tests (not in the training file): typing must
# generalise beyond the exact headings it was trained on.
UNUSUAL = [
    _report(("Contents", "front_matter"), ("Introduction", "introduction"),
            ("Why we did this review", "introduction"),
            ("How we went about it", "methodology"),
            ("Hearing from Zara's mum", "family_involvement"),
            ("Zara's life", "case_narrative"),
            ("What happened between 2019 and 2021", "case_narrative"),
            ("What we learned", "findings"), ("Things that worked well", "good_practice"),
            ("What we are asking the Partnership to do", "recommendations"),
            ("Appendix 1: Terms of reference", "appendix")),
    _report(("1 Introduction", "introduction"),
            ("1.1 Reasons for commissioning the review", "introduction"),
            ("1.2 Terms of reference and scope", "methodology"),
            ("1.3 Involvement of Callum's father", "family_involvement"),
            ("2 Callum's family and early history", "case_narrative"),
            ("2.1 The move to temporary accommodation", "case_narrative"),
            ("2.2 The referral from the nursery", "case_narrative"),
            ("3 Appraisal of professional practice", "analysis"),
            ("3.1 Introduction", "analysis"),
            ("3.2 Professional curiosity about new partners", "analysis"),
            ("4 Systems findings", "findings"),
            ("5 Considerations for the Safeguarding Board", "recommendations"),
            ("Appendix B: Bibliography", "appendix")),
    _report(("FOREWORD", "front_matter"), ("1 SUMMARY", "introduction"),
            ("2 THE REVIEW PROCESS", "methodology"),
            ("3 KEY PRACTICE EPISODES", "case_narrative"),
            ("4 WHAT HAPPENED AND WHY", "analysis"),
            ("5 LEARNING FOR THE PARTNERSHIP", "findings"),
            ("6 CONCLUDING THOUGHTS", "conclusion"),
            ("7 RECOMMENDATIONS", "recommendations"),
            ("8 REFERENCES", "appendix")),
]


def test_generalises_to_unusual_reports():
    right = total = 0
    for headings, gold in UNUSUAL:
        predicted = classify_headings(headings)
        right += sum(p == g for p, g in zip(predicted, gold, strict=True))
        total += len(gold)
    assert right / total >= 0.85, f"{right}/{total}"


@pytest.mark.parametrize("headings, index, expected", [
    (["Introduction", "Background", "Considerations for the Board"], 2, "recommendations"),
    (["1 Introduction", "2 Key Practice Episodes", "3 Analysis"], 1, "case_narrative"),
    (["1 Introduction", "2 Analysis", "3 Recommendations", "Appendix C Details of the panel"],
     3, "appendix"),
    (["Contents", "Introduction", "A day in the life of Child Q", "Analysis"], 0,
     "front_matter"),
])
def test_typical_cues(headings, index, expected):
    assert classify_headings(headings)[index] == expected


def test_training_file_is_its_own_work():
    examples = load_reports(EXAMPLES_FILE)
    assert len(examples) >= 80
    for r in examples:
        assert len(r.headings) >= 5 and set(r.types) <= set(SECTION_TYPES)
    # no lookup table of the development reports: no training report shares most of
    # its headings with a dev report
    dev = [{normalise(h) for h in r.headings} for r in load_reports(DEV_FILE)]
    for r in examples:
        mine = {normalise(h) for h in r.headings}
        assert max(len(mine & d) / len(mine) for d in dev) < 0.6


def test_trains_without_the_development_file(tmp_path):
    typer = train_typer([(EXAMPLES_FILE, 1.0), (tmp_path / "missing.jsonl", 1.0)])
    assert typer.predict(["1 Introduction", "2 Recommendations"]) == [
        "introduction", "recommendations"]


def _run(lines: list[str]):
    return CliRunner().invoke(app, ["classify-headings"], input="\n".join(lines) + "\n")


def test_cli_answers_each_line_in_order():
    requests = [
        {"id": "a", "headings": ["1 Introduction", "1.1 Terms of Reference", "Glossary"]},
        {"id": 7, "headings": []},
        {"id": "c", "headings": ["Contents", "Introduction", "Findings", "Recommendations"],
         "levels": [1, 1, 1, 1]},
    ]
    res = _run([json.dumps(r) for r in requests])
    assert res.exit_code == 0, res.output
    answers = [json.loads(line) for line in res.stdout.splitlines()]
    assert [a["id"] for a in answers] == ["a", 7, "c"]
    for req, ans in zip(requests, answers, strict=True):
        assert len(ans["types"]) == len(req["headings"])
        assert set(ans["types"]) <= set(SECTION_TYPES)
    assert answers[0]["types"][:2] == ["introduction", "methodology"]


def test_cli_bad_lines_are_reported_and_the_rest_carry_on():
    lines = [json.dumps({"id": 1, "headings": ["Introduction"]}),
             "{not json",
             "",
             json.dumps({"id": 3, "headings": "Introduction"}),
             json.dumps(["a list"]),
             json.dumps({"id": 5, "headings": ["Introduction", "Analysis"], "levels": [1]}),
             json.dumps({"id": 6, "headings": ["Recommendations"]})]
    res = _run(lines)
    assert res.exit_code == 1
    answers = [json.loads(line) for line in res.stdout.splitlines()]
    assert [a.get("id") for a in answers] == [1, None, 3, None, 5, 6]
    assert answers[0]["types"] == ["introduction"] and answers[-1]["types"] == [
        "recommendations"]
    assert all("error" in a and "types" not in a for a in answers[1:5])
    errors = res.stderr.splitlines()
    assert [int(m.group(1)) for e in errors if (m := re.match(r"stdin line (\d+): ", e))] == [
        2, 4, 5, 6]
    assert "not valid JSON" in errors[0]
    assert "Traceback" not in res.output
