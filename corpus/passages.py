"""The cleaned text of a report and its paragraph-level passages, with offsets into it.

A passage is what a coder reads as one unit: a paragraph (its printed number, e.g.
"4.12", kept apart in ``number``), a list together with the sentence that introduces it,
or a table. Offsets index the cleaned text, so ids built from the report hash and the
offsets are stable for as long as the parser gives the same text.
"""

from __future__ import annotations

from functools import lru_cache

import spacy
from spacy.language import Language

from corpus.clean import Block
from corpus.document import PassageOut, SectionOut, passage_id, section_id
from corpus.segment import Section, heading_label


@Language.component("vivid_line_breaks")
def _line_breaks(doc):  # noqa: ANN001, ANN201 - spaCy component signature
    """A line break inside a passage (list items, table rows) ends a sentence."""
    for tok in doc[1:]:
        if "\n" in doc[tok.i - 1].whitespace_ or "\n" in doc[tok.i - 1].text:
            tok.is_sent_start = True
    return doc


@lru_cache(maxsize=1)
def sentence_splitter() -> Language:
    """Blank English with rules (no model download): line breaks, then punctuation."""
    nlp = spacy.blank("en")
    nlp.add_pipe("vivid_line_breaks")
    nlp.add_pipe("sentencizer")
    return nlp


def _block_text(block: Block) -> tuple[str, int]:
    """Text of a block as it goes into the report text, and where its content starts."""
    if block.kind == "bullet":
        return f"• {block.text}", 2
    if block.number:
        prefix = f"{block.number} "
        return prefix + block.text, len(prefix)
    return block.text, 0


def build(blocks: list[Block], sections: list[Section], heading_blocks: set[int],
          report_sha: str) -> tuple[str, list[SectionOut], list[PassageOut]]:
    """(cleaned text, sections, passages) of a segmented report."""
    parts: list[str] = []
    spans: list[tuple[int, int, int]] = []  # (start, content start, end) per block
    pos = 0
    for i, block in enumerate(blocks):
        text, skip = _block_text(block)
        if i:
            prev = blocks[i - 1]
            sep = "\n" if block.kind == "bullet" and (
                prev.kind == "bullet" or prev.kind == "para" and prev.text.endswith(":")) \
                else "\n\n"
            parts.append(sep)
            pos += len(sep)
        parts.append(text)
        spans.append((pos, pos + skip, pos + len(text)))
        pos += len(text)
    full = "".join(parts)

    # innermost section of each block
    owner = [0] * len(blocks)
    for sec in sections:  # in document order, so deeper sections overwrite their parent
        for i in range(sec.first, sec.last + 1):
            owner[i] = sec.ordinal
    by_ordinal = {s.ordinal: s for s in sections}

    out_sections = [
        SectionOut(
            id=section_id(report_sha, s.ordinal),
            parent_id=section_id(report_sha, s.parent) if s.parent is not None else None,
            ordinal=s.ordinal, level=s.level, number=s.number, heading=s.heading,
            type=s.type, start_char=spans[s.first][0], end_char=spans[s.last][2],
            page_start=blocks[s.first].page_start,
            page_end=max(b.page_end for b in blocks[s.first:s.last + 1]),
        )
        for s in sections if s.first <= s.last
    ]

    groups: list[list[int]] = []
    for i, block in enumerate(blocks):
        if i in heading_blocks:
            continue
        prev = groups[-1] if groups else None
        if prev and owner[prev[-1]] == owner[i] and prev[-1] == i - 1 and block.kind == "bullet":
            last = blocks[prev[-1]]
            if last.kind == "bullet" or (last.kind == "para" and last.text.endswith(":")):
                prev.append(i)
                continue
        groups.append([i])

    texts: list[tuple[int, int, list[int]]] = []
    for group in groups:
        start = spans[group[0]][1]
        end = spans[group[-1]][2]
        if end > start:
            texts.append((start, end, group))
    nlp = sentence_splitter()
    docs = nlp.pipe(full[s:e] for s, e, _ in texts)
    passages: list[PassageOut] = []
    for ordinal, ((start, end, group), sdoc) in enumerate(zip(texts, docs, strict=True)):
        sec = by_ordinal[owner[group[0]]]
        sents = [(start + s.start_char, start + s.end_char) for s in sdoc.sents
                 if s.text.strip()]
        first = blocks[group[0]]
        passages.append(PassageOut(
            id=passage_id(report_sha, start, end),
            section_id=section_id(report_sha, sec.ordinal), section_type=sec.type,
            heading=heading_label(sec) or None, ordinal=ordinal,
            number=first.number if first.kind == "para" else None,
            text=full[start:end], start_char=start, end_char=end,
            page_start=first.page_start,
            page_end=max(blocks[i].page_end for i in group), sentences=sents,
        ))
    return full, out_sections, passages
