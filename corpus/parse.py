"""``parse_report``: one PDF in, a ParsedReport (metadata, sections, passages) out.

Bad input is refused with a ReportError naming the file and the reason, before any
half-parsed result can reach the store.
"""

from __future__ import annotations

from pathlib import Path

from corpus.clean import clean
from corpus.document import ParsedReport, ReportError
from corpus.metadata import extract_metadata, sha256_bytes
from corpus.passages import build
from corpus.pdf import PdfDocument, read_pdf
from corpus.segment import Section, segment

PARSER_VERSION = "vivid-parse-1"


def read_checked(path: str | Path) -> bytes:
    """The file's bytes, after the checks that need no PDF parser."""
    p = Path(path)
    if p.is_dir():
        raise ReportError(str(path), "is a directory, not a PDF file")
    if not p.exists():
        raise ReportError(str(path), "no such file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ReportError(str(path), f"cannot read file ({exc.strerror or exc})") from exc
    if not data:
        raise ReportError(str(path), "empty file (0 bytes)")
    if b"%PDF-" not in data[:1024]:
        raise ReportError(str(path), "not a PDF (no %PDF header)")
    if b"%%EOF" not in data[-4096:]:
        raise ReportError(str(path), "truncated PDF (no %%EOF end marker)")
    return data


def _check_text(pdf: PdfDocument) -> None:
    real = pdf.char_count - pdf.unmapped_chars
    if pdf.char_count == 0 or sum(len(ln.text) for p in pdf.pages for ln in p.lines) == 0:
        raise ReportError(pdf.path, "no text layer — OCR needed")
    if real < 0.5 * pdf.char_count:
        raise ReportError(pdf.path, "text layer has no Unicode mapping (glyph codes only) — "
                                    "OCR needed")


def parse_layout(path: str | Path, data: bytes | None = None):  # noqa: ANN201
    """Read, clean and segment (no passages): what the benchmark times against pdfminer."""
    data = read_checked(path) if data is None else data
    pdf = read_pdf(path, data)
    _check_text(pdf)
    doc = clean(pdf)
    sections, heading_blocks = segment(doc)
    return pdf, doc, sections, heading_blocks


def parse_report(path: str | Path, source: str | None = None) -> ParsedReport:
    """Parse one report PDF; raises ReportError (naming the file) for unusable input."""
    data = read_checked(path)
    sha = sha256_bytes(data)
    pdf, doc, sections, heading_blocks = parse_layout(path, data)
    if not doc.blocks:
        raise ReportError(str(path), "no body text found (only page furniture) — OCR needed?")
    text, section_out, passages = build(doc.blocks, sections, heading_blocks, sha)
    meta = extract_metadata(pdf, doc)
    return ParsedReport(
        id=sha, filename=Path(path).name, source=source if source is not None else str(path),
        page_count=len(pdf.pages), title=meta.title, board=meta.board, author=meta.author,
        published=meta.published, year=meta.year, text=text, footnotes=doc.footnotes,
        contents=doc.contents, sections=section_out, passages=passages,
        parser_version=PARSER_VERSION,
    )


__all__ = ["PARSER_VERSION", "Section", "parse_layout", "parse_report", "read_checked"]
