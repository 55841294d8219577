"""Agency mentions: codebook aliases and role phrases, case-aware acronyms, offsets."""

from __future__ import annotations

import pytest

from models.agencies import extractor
from models.examples import current_codebook


@pytest.fixture(scope="module")
def ex():
    return extractor(current_codebook())


def groups(ex, text):
    return [m.group for m in ex.mentions(text)]


@pytest.mark.parametrize("text,expected", [
    ("The health visitor rang.", ["health_visitor"]),
    ("She told the DSL at once.", ["school"]),
    ("A duty social worker visited.", ["csc"]),
    ("The paediatrician examined him.", ["hospital"]),
    ("Mother's GP was not told.", ["gp"]),
    ("The midwives and the GPs met.", ["midwifery", "gp"]),
    ("The CAIT officer and the MASH spoke.", ["police", "csc"]),
    ("He was taken to ED and seen by the HV later.", ["hospital", "health_visitor"]),
    ("The housing officer called the police.", ["housing", "police"]),
    ("CAMHS and the child and adolescent mental health service", ["camhs", "camhs"]),
])
def test_roles_and_aliases(ex, text, expected):
    assert groups(ex, text) == expected


@pytest.mark.parametrize("text", [
    "The ed of the report and the hv value were noted.",
    "She made mash for tea; the gp field was blank.",
    "The dsl and cait were typed in lower case.",
])
def test_acronyms_only_in_capitals(ex, text):
    assert groups(ex, text) == []


def test_longest_match_and_blockers(ex):
    assert groups(ex, "The probation officer wrote to the youth offending team.") == [
        "probation", "youth_justice"]
    assert groups(ex, "Her mental health declined.") == []  # not a health agency
    assert groups(ex, "The adult mental health team was not told.") == ["adult_mental_health"]


def test_offsets_and_sentences(ex):
    text = "The school nurse saw Child A. Later the police officer told the school."
    ms = ex.mentions(text)
    assert [m.group for m in ms] == ["school_nurse", "police", "school"]
    for m in ms:
        assert text[m.start:m.end] == m.text
    assert [m.sent for m in ms] == [0, 1, 1]
