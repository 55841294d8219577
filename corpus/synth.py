"""Render a report spec (JSON, see corpus/samples/specs) to a PDF that looks like a real SCR.

Tests, the sample reports and the benchmark all need PDFs with known structure; rendering
them from a spec keeps the gold (headings, types, planted vivid paragraphs) next to the
layout. Layout features follow what published reports do: a title page, an optional
contents page with dot leaders, running header/footer, "Page n of N", numbered paragraphs
in a hanging indent, headings either larger or bold at body size, bullets in several
glyphs and fonts, ruled tables, footnotes in small type at the foot of the page.

Optional spec keys beyond the shared format (all default off): ``body_font``
("Helvetica", "Times" or "Vera": an embedded TrueType subset, like most real PDFs),
``ligatures`` (Vera only: "fi"/"fl" drawn as ligature glyphs), ``hyphenate`` (break long
words across lines with a hyphen), ``user_password`` (encrypt the file), ``title_page``
(default true), and a third ``heading_style``, "caps" (body size and weight, top-level
headings in capitals, subheadings in italics).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.tableofcontents import TableOfContents

PAGE_W, PAGE_H = A4
MARGIN_X = 2.5 * cm
MARGIN_TOP = 2.6 * cm
FOOTER_Y = 1.3 * cm
FOOTNOTE_AREA = 2.6 * cm  # reserved above the footer for footnotes
BODY_SIZE = 11.0

# (glyph, font) pairs: Word-style Symbol bullets, dingbat squares, Courier "o", dashes.
BULLETS = [("\u2022", "Symbol"), ("n", "ZapfDingbats"), ("o", "Courier"), ("\u2013", None),
           ("\u2022", None)]

_FONTS = {
    "Helvetica": ("Helvetica", "Helvetica-Bold", "Helvetica-Oblique", "Helvetica-BoldOblique"),
    "Times": ("Times-Roman", "Times-Bold", "Times-Italic", "Times-BoldItalic"),
    "Vera": ("Vera", "Vera-Bold", "Vera-Italic", "Vera-BoldItalic"),
}


def _register_vera() -> None:
    """Bitstream Vera ships inside reportlab, so it is there on every machine."""
    if "Vera" in pdfmetrics.getRegisteredFontNames():
        return
    folder = Path(reportlab.__file__).parent / "fonts"
    for name, file in (("Vera", "Vera.ttf"), ("Vera-Bold", "VeraBd.ttf"),
                       ("Vera-Italic", "VeraIt.ttf"), ("Vera-BoldItalic", "VeraBI.ttf")):
        pdfmetrics.registerFont(TTFont(name, str(folder / file)))
    pdfmetrics.registerFontFamily("Vera", normal="Vera", bold="Vera-Bold",
                                  italic="Vera-Italic", boldItalic="Vera-BoldItalic")


def _hyphenator(word: str):
    """Split points for reportlab's hyphenation: before a consonant between two vowels."""
    vowels = "aeiouyAEIOUY"
    for i in range(len(word) - 3, 2, -1):
        if word[i - 1] in vowels and word[i] not in vowels and word[i + 1] in vowels:
            yield word[:i], word[i:]


def _format_date(published: str | None) -> str | None:
    if not published:
        return None
    if re.fullmatch(r"\d{4}", published):
        return published
    d = date.fromisoformat(published)
    return f"{d.day} {d.strftime('%B')} {d.year}"


class _Styles:
    def __init__(self, spec: dict[str, Any]) -> None:
        body_font = spec.get("body_font") or "Helvetica"
        if body_font == "Vera":
            _register_vera()
        regular, bold, italic, bold_italic = _FONTS[body_font]
        self.bold_font = bold
        hy = {"hyphenationLang": _hyphenator} if spec.get("hyphenate") else {}
        self.body = ParagraphStyle("body", fontName=regular, fontSize=BODY_SIZE, leading=14.5,
                                   spaceAfter=7, alignment=4 if spec.get("hyphenate") else 0,
                                   **hy)
        self.numbered = ParagraphStyle("numbered", parent=self.body, leftIndent=1.3 * cm,
                                       bulletIndent=0, bulletFontName=regular,
                                       bulletFontSize=BODY_SIZE)
        self.bullet = ParagraphStyle("bullet", parent=self.body, leftIndent=0.9 * cm,
                                     bulletIndent=0.3 * cm, spaceAfter=3)
        self.cell = ParagraphStyle("cell", parent=self.body, fontSize=9.5, leading=11.5,
                                   spaceAfter=0, alignment=0)
        self.cell_head = ParagraphStyle("cellhead", parent=self.cell, fontName=bold)
        self.footnote = ParagraphStyle("footnote", fontName=regular, fontSize=8, leading=9.5)
        self.title = ParagraphStyle("title", fontName=bold, fontSize=24, leading=30,
                                    alignment=TA_CENTER, spaceAfter=24)
        self.title_sub = ParagraphStyle("titlesub", fontName=regular, fontSize=14, leading=19,
                                        alignment=TA_CENTER, spaceAfter=10)
        if spec.get("heading_style", "larger") == "larger":
            self.headings = [
                ParagraphStyle("h1", fontName=regular, fontSize=16, leading=20, spaceBefore=14,
                               spaceAfter=8, textColor=colors.HexColor("#1f3864")),
                ParagraphStyle("h2", fontName=regular, fontSize=13, leading=16.5,
                               spaceBefore=10, spaceAfter=6,
                               textColor=colors.HexColor("#2f5496")),
                ParagraphStyle("h3", fontName=bold, fontSize=BODY_SIZE, leading=14.5,
                               spaceBefore=6, spaceAfter=4),
            ]
        elif spec.get("heading_style") == "caps":  # extension: capitals, body size and weight
            self.headings = [
                ParagraphStyle("h1", fontName=regular, fontSize=BODY_SIZE, leading=14.5,
                               spaceBefore=14, spaceAfter=7),
                ParagraphStyle("h2", fontName=italic, fontSize=BODY_SIZE, leading=14.5,
                               spaceBefore=9, spaceAfter=6),
                ParagraphStyle("h3", fontName=italic, fontSize=BODY_SIZE, leading=14.5,
                               spaceBefore=6, spaceAfter=4),
            ]
        else:  # bold, same size as the body; numbers in a hanging indent like Word's
            self.headings = [
                ParagraphStyle("h1", fontName=bold, fontSize=BODY_SIZE, leading=14.5,
                               spaceBefore=14, spaceAfter=7, leftIndent=1.3 * cm,
                               bulletIndent=0, bulletFontName=bold),
                ParagraphStyle("h2", fontName=bold_italic, fontSize=BODY_SIZE, leading=14.5,
                               spaceBefore=9, spaceAfter=6, leftIndent=1.3 * cm,
                               bulletIndent=0, bulletFontName=bold_italic),
                ParagraphStyle("h3", fontName=italic, fontSize=BODY_SIZE, leading=14.5,
                               spaceBefore=6, spaceAfter=4, leftIndent=1.3 * cm,
                               bulletIndent=0, bulletFontName=italic),
            ]
        self.toc_title = ParagraphStyle("toctitle", parent=self.headings[0], leftIndent=0)


class _Doc(BaseDocTemplate):
    """Records heading pages for the contents and footnotes for the page they land on."""

    def __init__(self, filename: str, spec: dict[str, Any], styles: _Styles, **kw: Any):
        super().__init__(filename, pagesize=A4, leftMargin=MARGIN_X, rightMargin=MARGIN_X,
                         topMargin=MARGIN_TOP, bottomMargin=FOOTER_Y + FOOTNOTE_AREA, **kw)
        self.spec = spec
        self.styles = styles
        frame_h = PAGE_H - MARGIN_TOP - FOOTER_Y - FOOTNOTE_AREA
        frame = Frame(MARGIN_X, FOOTER_Y + FOOTNOTE_AREA, PAGE_W - 2 * MARGIN_X, frame_h,
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, id="body")
        self.addPageTemplates([
            PageTemplate("title", frames=[frame], onPageEnd=self._page_end),
            PageTemplate("body", frames=[frame], onPage=self._page_start,
                         onPageEnd=self._page_end),
        ])
        self.page_footnotes: dict[int, list[tuple[int, str]]] = {}

    def beforeDocument(self) -> None:  # noqa: N802 (reportlab hook name)
        self.page_footnotes = {}

    def afterFlowable(self, flowable: Any) -> None:  # noqa: N802
        entry = getattr(flowable, "toc_entry", None)
        if entry is not None:
            self.notify("TOCEntry", (entry[0], entry[1], self.page))
        for note in getattr(flowable, "footnotes", ()):
            self.page_footnotes.setdefault(self.page, []).append(note)

    def _page_start(self, canv: rl_canvas.Canvas, doc: Any) -> None:
        header = self.spec.get("running_header")
        canv.saveState()
        canv.setFont("Helvetica", 8.5)
        if header:
            canv.drawCentredString(PAGE_W / 2, PAGE_H - 1.4 * cm, header)
        footer = self.spec.get("running_footer")
        if footer:
            canv.drawString(MARGIN_X, FOOTER_Y, footer)
        canv.restoreState()

    def _page_end(self, canv: rl_canvas.Canvas, doc: Any) -> None:
        notes = self.page_footnotes.get(self.page)
        if not notes:
            return
        width = PAGE_W - 2 * MARGIN_X
        paras = [Paragraph(f"<super>{n}</super> {escape(text)}", self.styles.footnote)
                 for n, text in notes]
        heights = [p.wrap(width, FOOTNOTE_AREA)[1] + 2 for p in paras]
        y = FOOTER_Y + 0.5 * cm + sum(heights)
        canv.saveState()
        canv.setLineWidth(0.5)
        canv.line(MARGIN_X, y + 4, MARGIN_X + 5 * cm, y + 4)
        for para, h in zip(paras, heights, strict=True):
            y -= h
            para.drawOn(canv, MARGIN_X, y)
        canv.restoreState()


def _numbered_canvas(spec: dict[str, Any]) -> type[rl_canvas.Canvas]:
    """A canvas that knows the page total when it draws "Page n of N" (not on page 1)."""
    pattern = spec.get("page_numbers")
    skip_first = spec.get("title_page", True)

    class NumberedCanvas(rl_canvas.Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                n = self._pageNumber
                if pattern and not (skip_first and n == 1):
                    self.setFont("Helvetica", 9)
                    self.drawRightString(PAGE_W - MARGIN_X, FOOTER_Y,
                                         pattern.format(n=n, total=total))
                super().showPage()
            super().save()

    return NumberedCanvas


class _NotedParagraph(Paragraph):
    """A paragraph carrying footnotes; when split over pages the last part keeps them
    (the marks are at its end)."""

    footnotes: list[tuple[int, str]] = []

    def split(self, availWidth: float, availHeight: float) -> list[Any]:  # noqa: N803
        parts = super().split(availWidth, availHeight)
        for part in parts:
            part.footnotes = []
        if parts:
            parts[-1].footnotes = self.footnotes
        return parts


class _Builder:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.styles = _Styles(spec)
        self.footnote_no = 0
        self.bullet_no = 0
        self.ligatures = bool(spec.get("ligatures")) and spec.get("body_font") == "Vera"

    def _text(self, text: str) -> str:
        out = escape(text)
        if self.ligatures:
            out = out.replace("ffi", "\ufb03").replace("fi", "\ufb01").replace("fl", "\ufb02")
        return out

    def story(self) -> list[Any]:
        spec, st = self.spec, self.styles
        flow: list[Any] = []
        if spec.get("title_page", True):
            flow += [Spacer(1, 5 * cm), Paragraph(escape(spec.get("title") or ""), st.title)]
            for line in (spec.get("board"),
                         f"Author: {spec['author']}" if spec.get("author") else None,
                         f"Published: {_format_date(spec.get('published'))}"
                         if spec.get("published") else None):
                if line:
                    flow.append(Paragraph(escape(line), st.title_sub))
            flow.append(_NextTemplate("body"))
            flow.append(PageBreak())
        if spec.get("contents_page"):
            toc = TableOfContents(dotsMinLevel=0)
            toc.levelStyles = [
                ParagraphStyle("toc1", fontName=st.body.fontName, fontSize=BODY_SIZE,
                               leading=15, firstLineIndent=0, leftIndent=0.4 * cm),
                ParagraphStyle("toc2", fontName=st.body.fontName, fontSize=10, leading=13,
                               firstLineIndent=0, leftIndent=1.2 * cm),
            ]
            flow += [Paragraph("Contents", st.toc_title), toc, PageBreak()]
        for section in spec.get("sections", []):
            self._section(section, 0, flow, None)
        return flow

    def _section(self, sec: dict[str, Any], depth: int, flow: list[Any],
                 top_number: str | None) -> None:
        st = self.styles
        style = st.headings[min(depth, 2)]
        number = sec.get("number")
        heading = escape(sec.get("heading") or "")
        if self.spec.get("heading_style") == "caps" and depth == 0:
            heading = heading.upper()
        if not heading and not number:  # a report without headings
            flow.extend(self._blocks(sec.get("blocks", []), None))
            for sub in sec.get("subsections", []) or []:
                self._section(sub, depth + 1, flow, number)
            return
        if number and style.bulletFontName == style.fontName and style.leftIndent:
            para = Paragraph(heading, style, bulletText=number)
        else:
            para = Paragraph(f"{escape(number)} {heading}" if number else heading, style)
        para.toc_entry = (min(depth, 1), f"{number} {sec.get('heading') or ''}" if number
                          else sec.get("heading") or "")
        if depth > 1:
            para.toc_entry = None
        first = self._blocks(sec.get("blocks", []), number)
        # keep a heading with the start of what follows it, as word processors do
        flow.append(KeepTogether([para, *first[:1]]) if first else para)
        flow.extend(first[1:])
        for sub in sec.get("subsections", []) or []:
            self._section(sub, depth + 1, flow, number)

    def _blocks(self, blocks: list[dict[str, Any]], number: str | None) -> list[Any]:
        st, out = self.styles, []
        para_no = 0
        for block in blocks:
            kind = block.get("kind")
            if kind == "para":
                text = self._text(block.get("text", ""))
                notes = []
                if block.get("footnote"):
                    self.footnote_no += 1
                    notes.append((self.footnote_no, block["footnote"]))
                    text += f"<super>{self.footnote_no}</super>"
                if self.spec.get("numbered_paragraphs") and number:
                    para_no += 1
                    para = _NotedParagraph(text, st.numbered,
                                           bulletText=f"{number}.{para_no}")
                else:
                    para = _NotedParagraph(text, st.body)
                para.footnotes = notes
                out.append(para)
            elif kind == "bullets":
                glyph, font = BULLETS[self.bullet_no % len(BULLETS)]
                self.bullet_no += 1
                style = ParagraphStyle("b", parent=st.bullet,
                                       bulletFontName=font or st.body.fontName)
                items = [Paragraph(self._text(item), style, bulletText=glyph)
                         for item in block.get("items", [])]
                if items:
                    items[-1].style = ParagraphStyle("blast", parent=style, spaceAfter=8)
                out.extend(items)
            elif kind == "table":
                out.append(self._table(block.get("rows", [])))
        return out

    def _table(self, rows: list[list[str]]) -> Table:
        st = self.styles
        if not rows:
            return Spacer(1, 1)
        ncols = max(len(r) for r in rows)
        width = PAGE_W - 2 * MARGIN_X
        lengths = [max(len(r[i]) if i < len(r) else 0 for r in rows) for i in range(ncols)]
        weights = [min(max(n, 8), 60) for n in lengths]
        col_w = [width * w / sum(weights) for w in weights]
        data = [[Paragraph(self._text(c), st.cell_head if i == 0 else st.cell)
                 for c in r] + [""] * (ncols - len(r)) for i, r in enumerate(rows)]
        table = Table(data, colWidths=col_w, repeatRows=1, spaceBefore=4, spaceAfter=10)
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde4ee")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 5),
            ("RIGHTPADDING", (0, 0), (-1, -1), 5),
        ]))
        return table


class _NextTemplate(Spacer):
    """Switch page template at the next page break (reportlab's NextPageTemplate, inlined
    so that it can carry no height)."""

    def __init__(self, name: str) -> None:
        super().__init__(0, 0)
        self.name = name

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return 0, 0

    def drawOn(self, canvas: Any, x: float, y: float, _sW: float = 0) -> None:  # noqa: N802
        self.canv = canvas
        self._doctemplateAttr("handle_nextPageTemplate")(self.name)


def render_spec(spec: dict[str, Any], out_path: str | Path) -> Path:
    """Write the spec's report to ``out_path`` (a PDF); returns the path."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    builder = _Builder(spec)
    kw: dict[str, Any] = {
        "title": spec.get("title") or "", "author": (spec.get("author") or ""),
        "creator": "vivid corpus.synth", "invariant": 1,
    }
    if spec.get("user_password"):
        from reportlab.lib import pdfencrypt

        kw["encrypt"] = pdfencrypt.StandardEncryption(spec["user_password"],
                                                      ownerPassword="owner-" + spec[
                                                          "user_password"])
    doc = _Doc(str(out_path), spec, builder.styles, **kw)
    if not spec.get("title_page", True):
        doc.pageTemplates.reverse()  # first template is "body"
    story = builder.story()
    canvasmaker = _numbered_canvas(spec)
    if spec.get("contents_page"):
        doc.multiBuild(story, canvasmaker=canvasmaker)
    else:
        doc.build(story, canvasmaker=canvasmaker)
    return out_path


def load_spec(path: str | Path) -> dict[str, Any]:
    """Read a spec file; a broken one gives a one-line error naming it."""
    path = Path(path)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read spec: {exc}") from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("sections"), list):
        raise ValueError(f"{path}: not a report spec (needs an object with 'sections')")
    return spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m corpus.synth",
                                     description="Render report specs (JSON) to PDFs.")
    parser.add_argument("specs", nargs="+", help="spec JSON files")
    parser.add_argument("--out", default=".", help="output folder (default: here)")
    args = parser.parse_args(argv)
    failed = 0
    for name in args.specs:
        try:
            spec = load_spec(name)
            out = render_spec(spec, Path(args.out) / (Path(name).stem + ".pdf"))
        except (ValueError, KeyError, TypeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"{name} -> {os.path.relpath(out)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
