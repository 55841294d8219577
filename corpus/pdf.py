"""One pdfminer pass over a PDF: visual lines with font size, weight and position.

pdfminer's own layout analysis (text boxes and their hierarchical ordering) costs more
than the interpretation of the page itself and throws away what headings are found by
(font size and weight per line). So pdfminer interprets the pages without layout
analysis and this module groups the characters into lines itself, in one linear pass:
characters -> fragments (runs of close characters on one baseline) -> visual rows
(fragments sharing a baseline, e.g. a paragraph number and its text, or table cells).
Superscript digits (footnote marks) are taken out of the text and kept apart.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pdfminer.converter import PDFPageAggregator
from pdfminer.layout import LTChar, LTContainer, LTCurve, LTFigure, LTImage, LTPage
from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser
from pdfminer.utils import decode_text

from corpus.document import ReportError

_BOLD = re.compile(r"bold|black|heavy|demi|semibold|extrabold|ultrabold|[,-]bd\b|\bbd\b",
                   re.IGNORECASE)
_ITALIC = re.compile(r"italic|oblique|[,-]it\b", re.IGNORECASE)
_SUBSET = re.compile(r"^[A-Z]{6}\+")


@dataclass(slots=True)
class Cell:
    """A fragment of a visual row: characters close enough to read as one run."""

    x0: float
    x1: float
    text: str
    size: float
    bold: bool
    font: str


@dataclass(slots=True)
class Line:
    """One visual row of text on a page (coordinates from the top-left, in points)."""

    page: int
    x0: float
    x1: float
    top: float
    bottom: float
    text: str
    size: float  # dominant font size
    bold: bool  # (nearly) all characters in a bold face
    italic: bool
    font: str
    cells: list[Cell]
    marks: list[str] = field(default_factory=list)  # superscript marks taken out of `text`
    lead_mark: str | None = None  # a raised mark at the very start (a footnote's number)


@dataclass(slots=True)
class Page:
    number: int  # 1-based
    width: float
    height: float
    lines: list[Line]
    images: int = 0
    rules: int = 0  # drawn lines and rectangles (table rules, boxes)


@dataclass(slots=True)
class PdfDocument:
    path: str
    pages: list[Page]
    info: dict[str, str]
    char_count: int
    unmapped_chars: int  # glyphs without a Unicode mapping, "(cid:n)"


def _style_of(fontname: str, cache: dict[str, tuple[bool, bool, str]]) -> tuple[bool, bool, str]:
    style = cache.get(fontname)
    if style is None:
        base = _SUBSET.sub("", fontname)
        style = (bool(_BOLD.search(base)), bool(_ITALIC.search(base)), base)
        cache[fontname] = style
    return style


class _Frag:
    __slots__ = ("chars", "x0", "x1", "y0", "y1")

    def __init__(self, ch: tuple) -> None:
        self.chars = [ch]
        self.x0, self.y0, self.x1, self.y1 = ch[1], ch[2], ch[3], ch[4]


def _collect_chars(container: LTContainer, out: list[tuple], counts: list[int]) -> None:
    """(text, x0, y0, x1, y1, size, fontname) in content-stream order, figures included."""
    for obj in container:
        if isinstance(obj, LTChar):
            out.append((obj._text, obj.x0, obj.y0, obj.x1, obj.y1, obj.size, obj.fontname))
        elif isinstance(obj, LTFigure):
            _collect_chars(obj, out, counts)
        elif isinstance(obj, LTImage):
            counts[0] += 1
        elif isinstance(obj, LTCurve):  # LTLine and LTRect are curves
            counts[1] += 1


def _fragments(chars: list[tuple]) -> list[_Frag]:
    """Group characters into runs: same baseline band, small horizontal gaps."""
    frags: list[_Frag] = []
    cur: _Frag | None = None
    last: tuple | None = None
    for ch in chars:
        text, x0, y0, x1, y1, size = ch[0], ch[1], ch[2], ch[3], ch[4], ch[5]
        if cur is not None and last is not None:
            gap = x0 - last[3]
            ref = max(size, last[5], 1.0)
            if y0 < cur.y1 and y1 > cur.y0 and -0.5 * ref < gap < 0.6 * ref:
                if text == last[0] and abs(x0 - last[1]) < 0.35 * (last[3] - last[1]) \
                        and text != " ":
                    continue  # fake bold: the same glyph drawn twice, slightly offset
                cur.chars.append(ch)
                if x1 > cur.x1:
                    cur.x1 = x1
                if y0 < cur.y0:
                    cur.y0 = y0
                if y1 > cur.y1:
                    cur.y1 = y1
                last = ch
                continue
        cur = _Frag(ch)
        frags.append(cur)
        last = ch
    return frags


def _render(frag: _Frag, styles: dict, page_h: float) -> tuple[Cell, dict[str, Any]] | None:
    """Text of a fragment with inserted spaces and superscript marks taken out."""
    chars = frag.chars
    sizes: Counter[float] = Counter()
    for ch in chars:
        if ch[0].strip():
            sizes[round(ch[5], 1)] += 1
    if not sizes:
        return None
    dom = sizes.most_common(1)[0][0]
    base = min((ch[2] for ch in chars if round(ch[5], 1) >= dom * 0.9), default=frag.y0)
    parts: list[str] = []
    marks: list[str] = []
    lead_mark: str | None = None
    bold = italic = n = 0
    fonts: Counter[str] = Counter()
    prev_x1: float | None = None
    prev_space = True
    for ch in chars:
        text, x0, y0, x1, size = ch[0], ch[1], ch[2], ch[3], ch[5]
        if size <= dom * 0.85 and y0 > base + 0.15 * dom and (text.isdigit() or text in "*†‡"):
            if not parts and not marks:
                lead_mark = (lead_mark or "") + text
            elif marks and prev_x1 is not None and x0 - prev_x1 < 0.3 * dom and parts \
                    and parts[-1] == "\0":
                marks[-1] += text
            else:
                marks.append(text)
                parts.append("\0")
            prev_x1 = x1
            continue
        if prev_x1 is not None and not prev_space and text != " " \
                and x0 - prev_x1 > 0.12 * max(size, dom * 0.8):
            parts.append(" ")
        parts.append(text)
        prev_space = text.isspace()
        prev_x1 = x1
        if not prev_space:
            n += 1
            b, it, base_font = _style_of(ch[6], styles)
            bold += b
            italic += it
            fonts[base_font] += 1
    text = "".join(parts).replace("\0", "")
    if not text.strip():
        if lead_mark is None and not marks:
            return None
    cell = Cell(frag.x0, frag.x1, text.strip(), dom, n > 0 and bold >= 0.8 * n,
                fonts.most_common(1)[0][0] if fonts else "")
    return cell, {"base": base, "top": page_h - frag.y1, "bottom": page_h - frag.y0,
                  "n": n, "bold": bold, "italic": italic, "marks": marks,
                  "lead_mark": lead_mark}


def _rows(frags: list[_Frag], page_no: int, page_h: float, styles: dict) -> list[Line]:
    rendered = [r for r in (_render(f, styles, page_h) for f in frags) if r is not None]
    rendered.sort(key=lambda r: -r[1]["base"])
    lines: list[Line] = []
    group: list[tuple[Cell, dict]] = []

    def flush() -> None:
        if not group:
            return
        group.sort(key=lambda r: r[0].x0)
        cells = [c for c, _ in group if c.text]
        n = sum(m["n"] for _, m in group)
        sizes: Counter[float] = Counter()
        fonts: Counter[str] = Counter()
        for c, m in group:
            sizes[c.size] += max(m["n"], 1)
            fonts[c.font] += m["n"]
        marks = [mk for _, m in group for mk in m["marks"]]
        lead = group[0][1]["lead_mark"]
        text = " ".join(c.text for c in cells)
        lines.append(Line(
            page=page_no, x0=group[0][0].x0, x1=max(c.x1 for c, _ in group),
            top=min(m["top"] for _, m in group), bottom=max(m["bottom"] for _, m in group),
            text=text, size=sizes.most_common(1)[0][0],
            bold=n > 0 and sum(m["bold"] for _, m in group) >= 0.8 * n,
            italic=n > 0 and sum(m["italic"] for _, m in group) >= 0.8 * n,
            font=fonts.most_common(1)[0][0] if fonts else "", cells=cells, marks=marks,
            lead_mark=lead))
        group.clear()

    for item in rendered:
        if group:
            ref = group[0]
            tol = 0.35 * max(ref[0].size, item[0].size)
            if abs(item[1]["base"] - ref[1]["base"]) > tol:
                flush()
        group.append(item)
    flush()
    lines = [ln for ln in lines if ln.text or ln.lead_mark]
    lines.sort(key=lambda ln: (round(ln.top, 0), ln.x0))
    return lines


def _info(doc: PDFDocument) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in doc.info or []:
        for key, value in entry.items():
            try:
                if hasattr(value, "resolve"):
                    value = value.resolve()
                if isinstance(value, bytes):
                    value = decode_text(value)
                if isinstance(value, str) and value.strip():
                    out[str(key)] = value.strip()
            except Exception:  # noqa: BLE001 - metadata is optional, never fatal
                continue
    return out


def read_pdf(path: str | Path) -> PdfDocument:
    """Lines of every page of ``path``; unreadable files raise ReportError."""
    name = str(path)
    styles: dict[str, tuple[bool, bool, str]] = {}
    pages: list[Page] = []
    char_count = unmapped = 0
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    with open(path, "rb") as fh:
        try:
            parser = PDFParser(fh)
            doc = PDFDocument(parser, password="")
            info = _info(doc)
            rsrc = PDFResourceManager(caching=True)
            device = PDFPageAggregator(rsrc, laparams=None)
            interpreter = PDFPageInterpreter(rsrc, device)
            page_iter = PDFPage.create_pages(doc)
        except PDFPasswordIncorrect as exc:
            raise ReportError(name, "encrypted PDF (a password is needed to open it)") from exc
        except PDFEncryptionError as exc:
            raise ReportError(name, f"encrypted PDF ({exc})") from exc
        except Exception as exc:  # noqa: BLE001 - pdfminer raises many kinds on bad files
            raise ReportError(name, f"corrupt or truncated PDF ({_why(exc)})") from exc
        number = 0
        while True:
            try:
                pdf_page = next(page_iter, None)
                if pdf_page is None:
                    break
                interpreter.process_page(pdf_page)
                layout: LTPage = device.get_result()
            except ReportError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise ReportError(name, f"corrupt or truncated PDF ({_why(exc)})") from exc
            number += 1
            chars: list[tuple] = []
            counts = [0, 0]
            _collect_chars(layout, chars, counts)
            char_count += len(chars)
            unmapped += sum(1 for c in chars if c[0].startswith("(cid:"))
            frags = _fragments(chars)
            lines = _rows(frags, number, layout.height, styles)
            pages.append(Page(number, layout.width, layout.height, lines, counts[0],
                              counts[1]))
    if not pages:
        raise ReportError(name, "corrupt PDF (no pages)")
    return PdfDocument(name, pages, info, char_count, unmapped)


def _why(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
