"""The shipped sample reports parse back to their specs: headings, types, vivid passages."""

from __future__ import annotations

from datetime import date

import pytest

from corpus.parse import parse_report
from tests.fixtures_pdfs import SAMPLES, load_sample_specs, outline, paragraphs, section_labels

SPECS = load_sample_specs()
REGENERATE = "python -m corpus.synth corpus/samples/specs/*.json --out corpus/samples"


@pytest.fixture(scope="module")
def parsed_samples():
    return {name: parse_report(SAMPLES / f"{name}.pdf") for name in SPECS
            if (SAMPLES / f"{name}.pdf").exists()}


def test_there_are_at_least_six_samples_each_rendered():
    assert len(SPECS) >= 6
    missing = [n for n in SPECS if not (SAMPLES / f"{n}.pdf").exists()]
    assert not missing, f"render them: {REGENERATE}"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_sample_parses_back_to_its_spec(parsed_samples, name):
    spec, parsed = SPECS[name], parsed_samples[name]
    assert 6 <= parsed.page_count <= 20
    gold = [(level, label) for level, label, _ in outline(spec)]
    assert section_labels(parsed) == gold, f"outline differs (stale PDF? {REGENERATE})"
    assert parsed.title == spec["title"]
    assert parsed.board == spec["board"]
    assert parsed.author == spec["author"]
    assert parsed.published == date.fromisoformat(spec["published"])
    texts = [p.text for p in parsed.passages]
    for block in paragraphs(spec):
        if block.get("vivid"):  # planted examples come out as exactly one whole passage
            assert texts.count(block["text"]) == 1, block["text"][:60]
        else:
            assert any(t == block["text"] or t.startswith(block["text"] + "\n•")
                       for t in texts), block["text"][:60]
    assert [f.text for f in parsed.footnotes] == [
        b["footnote"] for b in paragraphs(spec) if b.get("footnote")]


def test_sample_section_types_agree_with_gold(parsed_samples):
    agree = total = 0
    for name, spec in SPECS.items():
        parsed = parsed_samples[name]
        got = [s.type for s in parsed.sections if s.heading]
        for (level, _, gold), typ in zip(outline(spec), got, strict=True):
            if level <= 2:
                total += 1
                agree += gold == typ
    assert agree / total >= 0.8, f"{agree}/{total} section types agree with the gold"
