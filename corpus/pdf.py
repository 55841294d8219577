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

import io
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pdfminer.pdfdevice import PDFTextDevice
from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
from pdfminer.pdffont import PDFUnicodeNotDefined
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser
from pdfminer.utils import apply_matrix_rect, decode_text

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


class _CharDevice(PDFTextDevice):
    """Collects (text, x0, y0, x1, y1, size, fontname) per character, nothing more.

    pdfminer's layout device builds an LTChar object per glyph (with a full matrix
    transform of its box); for upright text the box follows from the text matrix
    directly, which is most of what makes this parser cheaper than ``extract_text``.
    Text in form XObjects arrives here too, in page coordinates.
    """

    def __init__(self, rsrcmgr: PDFResourceManager) -> None:
        super().__init__(rsrcmgr)
        self.chars: list[tuple] = []
        self.images = self.rules = self.rotated = 0
        self.width = self.height = 0.0
        self._fonts: dict[Any, tuple[str, float]] = {}

    def begin_page(self, page: PDFPage, ctm: Any) -> None:
        x0, y0, x1, y1 = apply_matrix_rect(ctm, page.mediabox)
        self.width, self.height = abs(x1 - x0), abs(y1 - y0)
        self.chars = []
        self.images = self.rules = self.rotated = 0

    def render_image(self, name: str, stream: Any) -> None:
        self.images += 1

    def paint_path(self, gstate: Any, stroke: bool, fill: bool, evenodd: bool,
                   path: Any) -> None:
        self.rules += 1

    def render_char(self, matrix: Any, font: Any, fontsize: float, scaling: float,
                    rise: float, cid: int, ncs: Any, graphicstate: Any) -> float:
        try:
            text = font.to_unichr(cid)
        except PDFUnicodeNotDefined:
            text = f"(cid:{cid})"
        adv = font.char_width(cid) * fontsize * scaling
        info = self._fonts.get(font)
        if info is None:
            info = (font.fontname if isinstance(font.fontname, str) else str(font.fontname),
                    font.get_descent())
            self._fonts[font] = info
        a, b, c, d, e, f = matrix
        if b or c or a <= 0 or d <= 0 or font.is_vertical():
            if abs(b) > 0.05 * abs(a) or a <= 0 or d <= 0:
                self.rotated += 1  # rotated or mirrored text: margins, stamps
                return adv
            lo = info[1] * fontsize + rise
            x0, y0, x1, y1 = apply_matrix_rect(matrix, (0, lo, adv, lo + fontsize))
        else:
            lo = info[1] * fontsize + rise
            x0, x1 = e, e + a * adv
            y0, y1 = f + d * lo, f + d * (lo + fontsize)
        self.chars.append((text, x0, y0, x1, y1, y1 - y0, info[0]))
        return adv


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


def _absorb(first: tuple[Cell, dict[str, Any]], other: tuple[Cell, dict[str, Any]],
            sep: str) -> None:
    cell, meta = first
    cell.text = f"{cell.text}{sep}{other[0].text}".strip()
    cell.x1 = max(cell.x1, other[0].x1)
    for key in ("n", "bold", "italic"):
        meta[key] += other[1][key]
    meta["marks"] = meta["marks"] + other[1]["marks"]
    meta["top"] = min(meta["top"], other[1]["top"])
    meta["bottom"] = max(meta["bottom"], other[1]["bottom"])


def _merge_touching(group: list[tuple[Cell, dict[str, Any]]]) -> None:
    """Fragments that touch are one run drawn out of order (or in pieces): rejoin them,
    with a space only where the gap is a word space."""
    i = 0
    while i + 1 < len(group):
        a, b = group[i][0], group[i + 1][0]
        gap = b.x0 - a.x1
        size = max(a.size, b.size)
        if -0.2 * size < gap < 0.12 * size:
            _absorb(group[i], group.pop(i + 1), "")
        elif gap < 0.35 * size and not group[i + 1][1]["lead_mark"]:
            _absorb(group[i], group.pop(i + 1), " ")
        else:
            i += 1


def _merge_justified(group: list[tuple[Cell, dict[str, Any]]]) -> None:
    """Justified text can space words wider than a fragment allows; such a row splits
    into many fragments with the same gap between each. Put those back together (a table
    row's gaps differ from cell to cell, and a tab or marker makes a single gap)."""
    _merge_touching(group)
    if len(group) < 3:
        return
    gaps = [b[0].x0 - a[0].x1 for a, b in zip(group, group[1:], strict=False)]
    size = max(c.size for c, _ in group)
    if min(gaps) <= 0 or max(gaps) > 1.25 * min(gaps) + 0.5 or max(gaps) > 1.3 * size:
        return
    for other in group[1:]:
        _absorb(group[0], other, " ")
    del group[1:]


def _rows(frags: list[_Frag], page_no: int, page_h: float, styles: dict) -> list[Line]:
    rendered = [r for r in (_render(f, styles, page_h) for f in frags) if r is not None]
    rendered.sort(key=lambda r: -r[1]["base"])
    lines: list[Line] = []
    group: list[tuple[Cell, dict]] = []

    def flush() -> None:
        if not group:
            return
        group.sort(key=lambda r: r[0].x0)
        _merge_justified(group)
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


def read_pdf(path: str | Path, data: bytes | None = None) -> PdfDocument:
    """Lines of every page of ``path`` (or of ``data``, its bytes, already read);
    unreadable files raise ReportError naming ``path``."""
    name = str(path)
    styles: dict[str, tuple[bool, bool, str]] = {}
    pages: list[Page] = []
    char_count = unmapped = 0
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    with (io.BytesIO(data) if data is not None else open(path, "rb")) as fh:
        try:
            parser = PDFParser(fh)
            doc = PDFDocument(parser, password="")
            info = _info(doc)
            rsrc = PDFResourceManager(caching=True)
            device = _CharDevice(rsrc)
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
            except Exception as exc:  # noqa: BLE001
                raise ReportError(name, f"corrupt or truncated PDF ({_why(exc)})") from exc
            number += 1
            chars = device.chars
            char_count += len(chars) + device.rotated
            unmapped += sum(1 for c in chars if c[0].startswith("(cid:"))
            lines = _rows(_fragments(chars), number, device.height, styles)
            pages.append(Page(number, device.width, device.height, lines, device.images,
                              device.rules))
    if not pages:
        raise ReportError(name, "corrupt PDF (no pages)")
    return PdfDocument(name, pages, info, char_count, unmapped)


def _why(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
