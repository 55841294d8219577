"""PDF fixtures: small reports rendered with corpus.synth into the test's tmp dir.

``report_spec`` builds a spec in the shared format from a handful of realistic sections;
each layout test overrides what it is about (heading style, contents page, footnotes,
bullets, tables, headings or none) and checks the parser against the spec's own gold.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from corpus.synth import render_spec

SAMPLES = Path(__file__).resolve().parent.parent / "corpus" / "samples"

PARAS = [
    "This review was commissioned by the Board after Child A, then aged four, was admitted "
    "to hospital with a serious head injury. Professionals from several agencies had been "
    "working with the family for more than a year before the incident.",
    "The review considered agency involvement from January 2017 to the date of the incident. "
    "Agencies were asked to provide a chronology and an analytical report, and practitioners "
    "took part in a learning event held in the spring.",
    "Child A lived with her mother and her mother's partner in a privately rented flat. Her "
    "maternal grandmother lived nearby and was an important source of support to the family.",
    "The health visitor saw Child A at home in March 2017 and noted that she was quiet and "
    "watchful. The health visitor recorded her concern but did not share it with the GP.",
    "When the school nurse telephoned children's social care in June, the call was recorded "
    "as a request for information and no referral was made. The nurse was not told the "
    "outcome and assumed that the concern was being looked into.",
    "The review found that the threshold for a referral was understood differently by the "
    "school and by the front door team, and that this difference was never discussed.",
    "Practitioners described a culture in which challenging a decision by another agency "
    "felt uncomfortable, particularly for those who were newly qualified.",
    "The Board should seek assurance that professionals who make a referral are always told "
    "its outcome, and that disagreements about thresholds are escalated without delay.",
]

VIVID = ("On the morning of the visit the social worker found Child A sitting on the kitchen "
         "floor eating dry cereal from the box. Her mother was asleep upstairs. The social "
         "worker made her breakfast, waited for the mother to wake and recorded that the "
         "home was 'chaotic but warm', and no strategy discussion was held.")


def _para(i: int, **extra: Any) -> dict[str, Any]:
    return {"kind": "para", "text": PARAS[i % len(PARAS)], **extra}


def base_sections() -> list[dict[str, Any]]:
    """Eight sections of the usual kinds, two with subsections, about three pages."""
    return [
        {"heading": "Introduction", "number": "1", "type": "introduction",
         "blocks": [_para(0), _para(2)], "subsections": []},
        {"heading": "The review process", "number": "2", "type": "methodology",
         "blocks": [],
         "subsections": [
             {"heading": "Terms of reference", "number": "2.1", "type": "methodology",
              "blocks": [_para(1)], "subsections": []},
             {"heading": "Methodology", "number": "2.2", "type": "methodology",
              "blocks": [_para(6)], "subsections": []}]},
        {"heading": "Family involvement", "number": "3", "type": "family_involvement",
         "blocks": [_para(2)], "subsections": []},
        {"heading": "Summary of events", "number": "4", "type": "case_narrative",
         "blocks": [_para(3), {"kind": "para", "text": VIVID,
                               "vivid": {"stage": "C", "pairings": ["csc>police"]}},
                    _para(4)],
         "subsections": []},
        {"heading": "Analysis", "number": "5", "type": "analysis",
         "blocks": [_para(5), _para(6)], "subsections": []},
        {"heading": "Findings", "number": "6", "type": "findings",
         "blocks": [_para(5)], "subsections": []},
        {"heading": "Conclusions", "number": "7", "type": "conclusion",
         "blocks": [_para(6)], "subsections": []},
        {"heading": "Recommendations", "number": "8", "type": "recommendations",
         "blocks": [_para(7)], "subsections": []},
    ]


def report_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "title": "Serious Case Review: Child A",
        "board": "Westmoor Safeguarding Children Partnership",
        "author": "Jane Doe, Independent Lead Reviewer",
        "published": "2019-05-14",
        "running_header": None, "running_footer": None, "page_numbers": "{n}",
        "contents_page": False, "heading_style": "larger", "numbered_paragraphs": False,
        "sections": base_sections(),
    }
    spec.update(copy.deepcopy(overrides))
    return spec


def outline(spec: dict[str, Any]) -> list[tuple[int, str, str]]:
    """(level, printed heading, gold type) of every heading in a spec, in order."""
    out: list[tuple[int, str, str]] = []

    def walk(sections: list[dict[str, Any]], level: int) -> None:
        for s in sections:
            if s.get("heading"):
                label = f"{s['number']} {s['heading']}" if s.get("number") else s["heading"]
                out.append((level, label, s.get("type", "")))
            walk(s.get("subsections") or [], level + 1)

    walk(spec["sections"], 1)
    return out


def paragraphs(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every para block of a spec, in order."""
    out: list[dict[str, Any]] = []

    def walk(sections: list[dict[str, Any]]) -> None:
        for s in sections:
            out.extend(b for b in s.get("blocks", []) if b.get("kind") == "para")
            walk(s.get("subsections") or [])

    walk(spec["sections"])
    return out


def section_labels(parsed) -> list[tuple[int, str]]:  # noqa: ANN001
    return [(s.level, f"{s.number} {s.heading}" if s.number else s.heading)
            for s in parsed.sections if s.heading]


@pytest.fixture
def make_pdf(tmp_path: Path) -> Callable[..., Path]:
    """Render a spec (or report_spec(**overrides)) to a PDF in tmp_path."""
    counter = {"n": 0}

    def make(spec: dict[str, Any] | None = None, name: str | None = None,
             **overrides: Any) -> Path:
        counter["n"] += 1
        spec = spec if spec is not None else report_spec(**overrides)
        return render_spec(spec, tmp_path / f"{name or 'report'}{counter['n']}.pdf")

    return make


@pytest.fixture
def bad_inputs(tmp_path: Path, make_pdf: Callable[..., Path]) -> dict[str, Path]:
    """Every kind of unusable input, by name."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    good = make_pdf().read_bytes()
    files: dict[str, Path] = {}
    files["not_pdf"] = tmp_path / "notes.pdf"
    files["not_pdf"].write_text("Minutes of the review panel meeting\n", encoding="utf-8")
    files["empty"] = tmp_path / "empty.pdf"
    files["empty"].write_bytes(b"")
    files["truncated"] = tmp_path / "truncated.pdf"
    files["truncated"].write_bytes(good[: len(good) // 2])
    files["corrupt"] = tmp_path / "corrupt.pdf"
    files["corrupt"].write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n")
    files["encrypted"] = make_pdf(report_spec(user_password="s3cret"), name="encrypted")
    from PIL import Image, ImageDraw
    from reportlab.lib.utils import ImageReader

    scan = Image.new("L", (420, 594), 235)  # a "scanned" page: an image of text lines
    draw = ImageDraw.Draw(scan)
    for row in range(30):
        draw.rectangle((40, 40 + row * 17, 380 - (row % 4) * 30, 48 + row * 17), fill=40)
    image_only = tmp_path / "scanned.pdf"
    c = canvas.Canvas(str(image_only), pagesize=A4, invariant=1)
    c.drawImage(ImageReader(scan), 0, 0, width=A4[0], height=A4[1])
    c.showPage()
    c.setFillGray(0.2)  # and a page of shapes only
    for row in range(30):
        c.rect(72, 760 - row * 22, 430 - (row % 4) * 40, 9, fill=1, stroke=0)
    c.showPage()
    c.save()
    files["image_only"] = image_only
    files["directory"] = tmp_path / "a_folder.pdf"
    files["directory"].mkdir()
    files["missing"] = tmp_path / "missing.pdf"
    return files


def load_sample_specs() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted((SAMPLES / "specs").glob("*.json"))}
