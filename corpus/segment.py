"""Headings and the section tree, found from how the document itself sets its headings.

A heading is told from body text by contrast with the document's own body style (larger
or bolder than the body font, capitals, numbering such as "3", "3.2" or "Part 2", short
lines standing on their own, an entry in the contents page); levels come from the
numbering where there is one and otherwise from ranking the heading styles, so a report
that uses bold 12 pt for sections and bold italic 12 pt for subsections is read as
readily as one with 16 pt and 13 pt headings. Each top- and second-level heading is then
typed with ``corpus.headings.classify_headings`` (it sees the whole outline).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from corpus.clean import Block, CleanDocument
from corpus.codebook import load_codebook
from corpus.headings import classify_headings

_NUMBERED = re.compile(
    r"^(?P<num>(?:part|section|chapter)\s+(?:\d{1,2}|[ivx]{1,5}|one|two|three|four|five|six|"
    r"seven|eight|nine|ten|[a-h])\b|(?:appendix|annex|annexe|appendices)(?:\s+(?:\d{1,2}[a-z]?|"
    r"[a-z]|[ivx]{1,4})\b)?|\d{1,2}(?:\.\d{1,2}){0,3}(?=[.):\s]|$)|[ivx]{1,5}(?=[.)]\s)|"
    r"[A-H](?=[.)]\s))[.):]?\s*[-–—:]?\s*", re.IGNORECASE)
_DATE_START = re.compile(r"^\d{1,2}(?:st|nd|rd|th)?\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|"
                         r"oct|nov|dec)|^(?:19|20)\d\d\b", re.IGNORECASE)


@dataclass
class Heading:
    block: int  # index of the (first) heading block
    blocks: list[int]  # the block indices the heading spans (two-line headings)
    number: str | None
    text: str
    level: int = 1
    style: tuple = ()


@dataclass
class Section:
    """A node of the section tree; ``first``/``last`` are block indices (inclusive)."""

    ordinal: int
    level: int
    number: str | None
    heading: str
    first: int
    last: int
    heading_blocks: list[int] = field(default_factory=list)
    parent: int | None = None  # ordinal of the parent section
    type: str = "unknown"


def split_heading_number(text: str) -> tuple[str | None, str]:
    """("3.2", "Terms of reference") from "3.2 Terms of reference"; (None, text) if none.

    Worded numbering ("Part 2", "Appendix A") stays in the text, as reports print it,
    but still sets the level (see :func:`numbering_depth`).
    """
    m = _NUMBERED.match(text)
    if not m or _DATE_START.match(text):
        return None, text
    number = m.group("num").strip()
    rest = text[m.end():].strip()
    if re.match(r"(?i)appendix|appendices|annex|part|section|chapter", number):
        return None, text
    if not rest:
        return None, text
    if re.fullmatch(r"[A-Ha-h]", number) and not rest[:1].isupper():
        return None, text
    return number, rest


def worded_number(text: str) -> str | None:
    """"Part 2" in "Part 2: What happened", "Appendix A" in "Appendix A Glossary"."""
    m = _NUMBERED.match(text)
    if m and re.match(r"(?i)appendix|appendices|annex|part|section|chapter", m.group("num")):
        return m.group("num").strip()
    return None


def numbering_depth(number: str | None) -> int:
    """Level implied by a heading number: "3" -> 1, "3.2" -> 2, "1.0" -> 1; 0 when the
    numbering says nothing about depth (unnumbered, "iv", "B": the style decides)."""
    if not number or not re.fullmatch(r"\d{1,2}(?:\.\d{1,2})*", number):
        return 0
    parts = number.split(".")
    while len(parts) > 1 and parts[-1] == "0":
        parts.pop()
    return len(parts)


def _words(text: str) -> int:
    return len(text.split())


def _full(block: Block) -> str:
    return f"{block.number} {block.text}" if block.number else block.text


class _Detector:
    def __init__(self, doc: CleanDocument) -> None:
        self.doc = doc
        body = [b for b in doc.blocks if b.kind == "para" and abs(b.size - doc.body_size) < 0.6
                and _words(b.text) > 12]
        # Some reports set all body text in bold; then bold says nothing about headings.
        self.body_bold = bool(body) and sum(b.bold for b in body) > 0.5 * len(body)
        self.title_page = self._is_title_page()
        self.title_block = self._title_block()

    def _title_block(self) -> int | None:
        """The report's title at the top of page 1 (largest type there): not a section."""
        first = [(i, b) for i, b in enumerate(self.doc.blocks) if b.page_start == 1]
        if not first:
            return None
        i, b = max(first, key=lambda ib: (ib[1].size, -ib[0]))
        if b.size >= 1.25 * self.doc.body_size and not split_heading_number(_full(b))[0]:
            return i
        return None

    def _is_title_page(self) -> bool:
        first = [b for b in self.doc.blocks if b.page_start == 1]
        return self.doc.page_count >= 2 and sum(_words(b.text) for b in first) < 150

    def score(self, i: int) -> float:
        """How heading-like block i is (>= 1 means a heading)."""
        doc, b = self.doc, self.doc.blocks[i]
        if b.kind != "para" or len(b.lines) > 3 or len(b.text) > 220 or not b.text:
            return 0.0
        if b.page_start == 1 and (self.title_page or b.size >= 1.6 * doc.body_size
                                  or i == self.title_block):
            return 0.0
        full = _full(b)
        number, rest = split_heading_number(full)
        text = rest or full
        words = _words(text)
        first = text.lstrip("'‘\"“(")[:1]
        if not first or first.islower() or words > 30:
            return 0.0
        styled = b.size >= 1.07 * doc.body_size or (b.bold and not self.body_bold)
        if sum(ch.isalpha() for ch in text) < 0.5 * len(text.replace(" ", "")) and not (
                styled and sum(ch.isalpha() for ch in text) >= 2):
            return 0.0  # mostly numbers or symbols: dates, figures, table debris
        ends = text.rstrip()[-1:]
        rel = b.size / doc.body_size
        nxt = doc.blocks[i + 1] if i + 1 < len(doc.blocks) else None
        score = 0.0
        if rel >= 1.07:  # 12 pt headings over 11 pt text count, 14 pt and up count fully
            score += min((rel - 1.0) * 8, 1.5)
        elif rel < 0.95:
            score -= 0.6
        if b.bold and not self.body_bold:
            score += 0.8
        if b.caps:
            score += 0.6
        if b.italic and rel >= 0.95:
            score += 0.15
        if number:
            score += 0.45
        if b.in_contents:
            score += 1.0
        if words <= 12:
            score += 0.2
        elif words > 20:
            score -= 0.5
        if len(b.lines) == 1 or b.lines[-1].x1 < doc.body_right - 30:
            score += 0.1
        if ends in ".;,":
            score -= 0.9 if ends == "." else 1.2
        if b.gap_before is None or b.gap_before > 1.25 * doc.line_pitch:
            score += 0.2
        else:
            score -= 0.2
        if nxt is not None and nxt.kind in ("para", "bullet", "table") \
                and abs(nxt.size - b.size) < 0.3 and nxt.bold == b.bold and not b.caps \
                and not number and not b.in_contents:
            score -= 0.4  # same style as what follows: a short paragraph, not a heading
        if nxt is None:
            score -= 0.5
        return score

    def headings(self) -> list[Heading]:
        blocks = self.doc.blocks
        found: list[Heading] = []
        i = 0
        while i < len(blocks):
            b = blocks[i]
            # "3" on its own line, then the heading text
            if b.kind == "para" and re.fullmatch(r"\d{1,2}(?:\.\d{1,2})*\.?", _full(b)) \
                    and i + 1 < len(blocks) and self.score(i + 1) >= 1.0:
                nb = blocks[i + 1]
                found.append(Heading(i, [i, i + 1], _full(b).rstrip("."), nb.text,
                                     style=self._style(nb)))
                i += 2
                continue
            if self.score(i) >= 1.0:
                number, text = split_heading_number(_full(b))
                head = Heading(i, [i], number, text, style=self._style(b))
                # a heading set over two blocks of the same style (a chosen line break)
                while i + 1 < len(blocks) and self._continues(head, blocks[i], blocks[i + 1]):
                    i += 1
                    head.blocks.append(i)
                    head.text = f"{head.text} {blocks[i].text}"
                found.append(head)
            i += 1
        return found

    def _continues(self, head: Heading, a: Block, b: Block) -> bool:
        if b.kind != "para" or b.number or self._style(b) != head.style or len(a.lines) > 2:
            return False
        if split_heading_number(b.text)[0] or re.search(r"[.:?]$", a.text):
            return False
        gap = b.gap_before
        return gap is not None and gap <= 1.35 * b.size * 1.25 and \
            _words(head.text) + _words(b.text) <= 30 and not a.in_contents

    def _style(self, b: Block) -> tuple:
        return (round(b.size * 2) / 2, b.bold, b.italic, b.caps)


def _assign_levels(heads: list[Heading]) -> None:
    """Levels from numbering depth; unnumbered headings by the level their style has
    among numbered headings, else by rank of style prominence."""
    by_style: dict[tuple, Counter[int]] = defaultdict(Counter)
    for h in heads:
        d = numbering_depth(h.number)
        if d:
            by_style[h.style][d] += 1
    style_level = {s: c.most_common(1)[0][0] for s, c in by_style.items()}

    def prominence(style: tuple) -> tuple:
        size, bold, italic, caps = style
        return (size, caps, bold, not italic)

    known = sorted(style_level.items(), key=lambda kv: kv[1])
    other = sorted({h.style for h in heads} - set(style_level), key=prominence, reverse=True)
    for style in other:
        if known:
            # place among the numbered styles by prominence
            level = 1
            for s, lv in known:
                if prominence(style) < prominence(s):
                    level = lv + 1
            style_level[style] = min(level, 4)
        else:
            style_level[style] = min(other.index(style) + 1, 4)
    for h in heads:
        d = numbering_depth(h.number)
        if d:
            h.level = d
        elif worded_number(h.text):  # Part 2, Appendix A
            h.level = 1
        else:
            h.level = style_level.get(h.style, 2)
    top = min((h.level for h in heads), default=1)
    for h in heads:
        h.level = h.level - top + 1


def segment(doc: CleanDocument) -> tuple[list[Section], set[int]]:
    """The section tree (flat, in document order, with parents) and heading block ids."""
    blocks = doc.blocks
    if not blocks:
        return [], set()
    heads = _Detector(doc).headings()
    heading_blocks = {i for h in heads for i in h.blocks}
    if not heads:
        return [Section(0, 1, None, "", 0, len(blocks) - 1, type="unknown")], set()
    _assign_levels(heads)
    sections: list[Section] = []
    if heads[0].block > 0:
        sections.append(Section(0, 1, None, "", 0, heads[0].block - 1, type="front_matter"))
    stack: list[Section] = []
    for h in heads:
        sec = Section(len(sections), h.level, h.number, h.text, h.block, len(blocks) - 1,
                      heading_blocks=h.blocks)
        while stack and stack[-1].level >= h.level:
            stack.pop()
        sec.parent = stack[-1].ordinal if stack else None
        if stack:
            sec.level = stack[-1].level + 1  # no skipped levels in the tree
        else:
            sec.level = 1
        stack.append(sec)
        sections.append(sec)
    for a, b in zip(sections, sections[1:], strict=False):
        a.last = b.first - 1
    # a section ends where the next section at its level or above starts
    for idx, sec in enumerate(sections):
        end = len(blocks) - 1
        for later in sections[idx + 1:]:
            if later.level <= sec.level:
                end = later.first - 1
                break
        sec.last = end
    _type_sections(sections)
    return sections, heading_blocks


def heading_label(sec: Section) -> str:
    return f"{sec.number} {sec.heading}" if sec.number else sec.heading


def _type_sections(sections: list[Section]) -> None:
    valid = {t.id for t in load_codebook().section_types}
    outline = [s for s in sections if s.level <= 2 and s.heading_blocks]
    if outline:
        types = classify_headings([heading_label(s) for s in outline],
                                  [s.level for s in outline])
        for sec, typ in zip(outline, types, strict=True):
            sec.type = typ if typ in valid else "unknown"
    by_ordinal = {s.ordinal: s for s in sections}
    for sec in sections:
        if sec.level > 2 and sec.parent is not None:
            sec.type = by_ordinal[sec.parent].type
