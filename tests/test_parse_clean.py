"""Text repairs that real PDFs need: ligatures, odd glyphs, bullets, broken words."""

from __future__ import annotations

import pytest

from corpus.clean import _PAGE_NUMBER, _join_two, is_bullet_glyph, normalise
from corpus.segment import numbering_depth, split_heading_number


def test_normalise_ligatures_spaces_and_unmapped_glyphs():
    assert normalise("e\ufb03cient \ufb01nding of \ufb02aws") == "efficient finding of flaws"
    assert normalise("child\u00a0in  need\u200b (cid:3)plan\uf0b7") == "child in need plan"


@pytest.mark.parametrize(("glyph", "font", "expected"), [
    ("•", "Helvetica", True), ("▪", "Arial", True), ("o", "CourierNewPSMT", True),
    ("\uf0b7", "Symbol", True), ("(cid:120)", "ABCDEF+Wingdings", True),
    ("§", "Wingdings-Regular", True), ("n", "ZapfDingbats", True), ("n", "Helvetica", False),
    ("The", "Arial", False), ("1.", "Arial", False),
])
def test_bullet_glyphs(glyph, font, expected):
    assert is_bullet_glyph(glyph, font) is expected


def test_words_broken_across_lines_are_mended():
    assert _join_two("the safe-", "guarding partners", set()) == "the safeguarding partners"
    assert _join_two("the well-", "being of", {"well-being"}) == "the well-being of"
    assert _join_two("soft\u00ad", "hyphen", set()) == "softhyphen"
    assert _join_two("ends with a dash -", "Next", set()) == "ends with a dash - Next"
    assert _join_two("Mr B-", "Smith", set()) == "Mr B- Smith"


@pytest.mark.parametrize(("text", "is_number"), [
    ("Page 3 of 41", True), ("3", True), ("- 12 -", True), ("iv", True),
    ("3 | P a g e", True), ("3 | Page", True), ("Child 3", False), ("civil", False),
])
def test_page_numbers(text, is_number):
    assert bool(_PAGE_NUMBER.match(text)) is is_number


@pytest.mark.parametrize(("text", "number", "rest", "depth"), [
    ("3.2 Terms of reference", "3.2", "Terms of reference", 2),
    ("1. Introduction", "1", "Introduction", 1),
    ("4 Summary of events", "4", "Summary of events", 1),
    ("Part 2: What happened", None, "Part 2: What happened", 0),
    ("Appendix A – Terms of Reference", None, "Appendix A – Terms of Reference", 0),
    ("2011 to 2014", None, "2011 to 2014", 0),
    ("A day in the life of Child Q", None, "A day in the life of Child Q", 0),
    ("12 March 2017: the strategy meeting", None, "12 March 2017: the strategy meeting", 0),
])
def test_heading_numbers(text, number, rest, depth):
    assert split_heading_number(text) == (number, rest)
    assert numbering_depth(number) == depth
