"""Report metadata where the report states it: title, board, author, publication date.

Title pages differ a lot, so each field is looked for by what it says rather than where a
template puts it: the title is the largest type on the first page, the board is the name
ending in "Safeguarding Children Board/Partnership", the author follows a label such as
"Lead reviewer:" or stands above "Independent Lead Reviewer", the date follows
"Published" or is the first date on the title page.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from corpus.clean import CleanDocument, normalise
from corpus.pdf import Line, PdfDocument

_MONTHS = {m: i + 1 for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"])}
_MONTH_RE = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|" \
            r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_DAY_MONTH_YEAR = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH_RE})\.?,?\s+((?:19|20)\d\d)\b", re.IGNORECASE)
_MONTH_YEAR = re.compile(rf"\b({_MONTH_RE})\.?,?\s+((?:19|20)\d\d)\b", re.IGNORECASE)
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.](\d{1,2})[/.]((?:19|20)\d\d)\b")
_ISO_DATE = re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b")
_YEAR = re.compile(r"\b((?:19|20)\d\d)\b")
_PUBLISHED = re.compile(r"(?:published|publication date|date of publication|date published|"
                        r"date of report|report date|date)\s*(?:on|:|-|–)?\s*(.+)", re.IGNORECASE)
_BOARD = re.compile(
    r"((?:[A-Z][\w'’&.-]*\s+(?:(?:and|&|of|upon|on|the)\s+)?){1,6}"
    r"(?:Local\s+)?Safeguarding\s+(?:Children(?:['’]s)?\s+|Adults\s+|and\s+)?"
    r"(?:Board|Partnership|Partners|Arrangements|Executive|Children\s+Partnership)"
    r"(?:\s*\([A-Z]{2,6}\))?)")
_BOARD_LEAD = re.compile(r"^(?:The|This|By|For|Of|A|An|Commissioned|Published|Review|Report|"
                         r"Serious|Case|Overview|Final|On|Behalf)\s+", re.IGNORECASE)
_AUTHOR_LABEL = re.compile(
    r"^(?:report\s+)?(?:independent\s+)?(?:lead\s+)?(?:overview\s+)?(?:reviewer|author|"
    r"writer|reviewers|authors|written by|prepared by|report by)(?:\s+and\s+author)?"
    r"(?:\s*\(s\))?\s*(?::|-|–|by)\s*(.+)$", re.IGNORECASE)
_ROLE_LINE = re.compile(r"^(?:independent\s+)?(?:lead\s+)?(?:overview\s+)?(?:reviewer|author|"
                        r"report\s+author|report\s+writer)s?(?:\s+and\s+author)?$", re.IGNORECASE)
_NAME = (r"(?:(?:Dr|Professor|Prof\.?|Mr|Mrs|Ms|Miss|Sir|Dame)\.?\s+)?[A-Z][a-z'’-]+"
         r"(?:\s+[A-Z]\.?)?(?:\s+[A-Z][a-z'’-]+){1,2}")
_AUTHOR_IN_TEXT = re.compile(
    rf"(?:lead reviewer|independent reviewer|overview author|report author|author|"
    rf"led by|written by|independent author)(?: and author)?,?\s+(?:was\s+|is\s+)?({_NAME})")


@dataclass
class Metadata:
    title: str | None = None
    board: str | None = None
    author: str | None = None
    published: date | None = None
    year: int | None = None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _title(lines: list[Line], body_size: float, info: dict[str, str]) -> str | None:
    big = max((ln.size for ln in lines if normalise(ln.text)), default=0.0)
    if big >= 1.25 * body_size:
        parts: list[str] = []
        started = False
        for ln in lines:
            if ln.size >= 0.8 * big and normalise(ln.text):
                parts.append(normalise(ln.text))
                started = True
                if len(parts) >= 4:
                    break
            elif started:
                break
        if parts:
            return " ".join(parts)
    meta = info.get("Title", "").strip()
    meta = re.sub(r"^Microsoft (?:Word|PowerPoint) - ", "", meta)
    meta = re.sub(r"\.(?:docx?|pdf|rtf|odt)$", "", meta, flags=re.IGNORECASE)
    if len(meta) > 6 and not re.fullmatch(r"[\w-]+", meta):
        return meta
    return None


def _board(texts: list[str]) -> str | None:
    for text in texts:
        m = _BOARD.search(text)
        if m:
            name = m.group(1).strip()
            while _BOARD_LEAD.match(name):
                name = _BOARD_LEAD.sub("", name, count=1)
            if len(name.split()) >= 3:
                return name
    return None


def _author(lines: list[str], body: list[str], info: dict[str, str]) -> str | None:
    for i, text in enumerate(lines):
        m = _AUTHOR_LABEL.match(text)
        if m and m.group(1).strip():
            return m.group(1).strip().rstrip(".")
        if _ROLE_LINE.match(text) and i > 0 and re.fullmatch(_NAME + r",?", lines[i - 1]):
            return f"{lines[i - 1].rstrip(',')}, {text}"
    for text in body:
        m = _AUTHOR_IN_TEXT.search(text)
        if m:
            return m.group(1).strip()
    return None


def _date(lines: list[str]) -> tuple[date | None, int | None]:
    labelled = [m.group(1) for t in lines if (m := _PUBLISHED.match(t))]
    for text in labelled + lines:
        m = _DAY_MONTH_YEAR.search(text)
        if m:
            month = _MONTHS.get(next(k for k in _MONTHS if k.startswith(m.group(2).lower()[:3])))
            try:
                d = date(int(m.group(3)), month, int(m.group(1)))
                return d, d.year
            except ValueError:
                pass
        m = _ISO_DATE.search(text)
        if m:
            try:
                d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                return d, d.year
            except ValueError:
                pass
        m = _NUMERIC_DATE.search(text)
        if m:
            try:
                d = date(int(m.group(3)), int(m.group(2)), int(m.group(1)))  # UK order
                return d, d.year
            except ValueError:
                pass
        m = _MONTH_YEAR.search(text)
        if m:
            return None, int(m.group(2))
        if text in labelled:
            y = _YEAR.search(text)
            if y:
                return None, int(y.group(1))
    for text in lines:
        y = _YEAR.search(text)
        if y and re.fullmatch(r"\D{0,20}(?:19|20)\d\d\D{0,3}", text):
            return None, int(y.group(1))
    return None, None


def extract_metadata(pdf: PdfDocument, doc: CleanDocument) -> Metadata:
    """Metadata from the first pages of a parsed report (None where it is not stated)."""
    first = [normalise(ln.text) for ln in doc.first_page]
    first = [t for t in first if t]
    early_blocks = [b.text for b in doc.blocks if b.page_start <= 3]
    front = first + [b.text for b in doc.blocks if 1 < b.page_start <= 2]
    meta = Metadata()
    meta.title = _title(doc.first_page, doc.body_size, pdf.info)
    meta.board = _board(first + early_blocks + doc.furniture
                        + [b.text for b in doc.blocks[:200]])
    meta.author = _author(front, [b.text for b in doc.blocks[:120]], pdf.info)
    meta.published, meta.year = _date(front)
    return meta
