"""Unusable files are refused with one line naming the file and the reason."""

from __future__ import annotations

import pytest

from corpus.document import ReportError
from corpus.parse import parse_report

REASONS = {
    "not_pdf": "not a PDF",
    "empty": "empty file",
    "truncated": "truncated",
    "corrupt": "corrupt",
    "encrypted": "encrypted",
    "image_only": "no text layer — OCR needed",
    "directory": "is a directory",
    "missing": "no such file",
}


@pytest.mark.parametrize("kind", sorted(REASONS))
def test_bad_input_raises_report_error_naming_file_and_reason(bad_inputs, kind):
    path = bad_inputs[kind]
    with pytest.raises(ReportError) as err:
        parse_report(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    assert REASONS[kind] in err.value.reason
    assert "\n" not in message


def test_truncated_pdf_with_an_end_marker_is_still_refused(bad_inputs, tmp_path):
    data = bad_inputs["encrypted"].read_bytes()  # any real PDF will do
    from tests.fixtures_pdfs import report_spec  # noqa: F401 (fixture module loaded)

    cut = tmp_path / "cut.pdf"
    cut.write_bytes(data[: len(data) // 3] + b"\n%%EOF\n")
    with pytest.raises(ReportError) as err:
        parse_report(cut)
    assert str(err.value).startswith(f"{cut}: ")


def test_owner_password_only_pdf_is_read(make_pdf, tmp_path):
    """Permissions-only encryption (no password to open) is common in published reports."""
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    path = tmp_path / "restricted.pdf"
    c = canvas.Canvas(str(path), invariant=1,
                      encrypt=pdfencrypt.StandardEncryption("", "owner", canCopy=0))
    c.setFont("Helvetica", 11)
    c.drawString(72, 760, "The review found that information was not shared.")
    c.save()
    parsed = parse_report(path)
    assert parsed.passages[0].text == "The review found that information was not shared."
