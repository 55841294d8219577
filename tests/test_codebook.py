"""The project's codebook keeps the shared ids, and broken codebooks are refused."""

from pathlib import Path

import pytest

from corpus.codebook import CodebookError, load_codebook, parse_codebook

OURS = Path(__file__).resolve().parents[1] / "corpus" / "data" / "codebook.yaml"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "codebook.yaml"


def test_project_codebook_loads():
    cb = load_codebook()
    assert cb.stage_ids == list("ABCDEFG")
    assert "other" in cb.issue_ids
    assert "csc" in cb.group_ids and "network" in cb.group_ids
    assert cb.is_pairing("school>csc") and not cb.is_pairing("school>nobody")


@pytest.mark.skipif(not SHARED.exists(), reason="../shared not present (a user's clone)")
def test_ids_match_shared_codebook():
    shared = load_codebook(SHARED)
    ours = load_codebook()
    for kind in ("stage_ids", "group_ids", "issue_ids", "reason_ids", "section_type_ids"):
        assert set(getattr(shared, kind)) <= set(getattr(ours, kind)), kind



def test_duplicate_ids_are_named():
    text = OURS.read_text()
    text = text.replace("- {id: police,", "- {id: csc,")
    with pytest.raises(CodebookError, match="duplicate groups ids: csc"):
        parse_codebook(text, "bad.yaml")


def test_dangling_reason_category_is_named():
    text = OURS.read_text()
    text = text.replace("category: tools, label: \"Professionals unfamiliar",
                        "category: gadgets, label: \"Professionals unfamiliar")
    with pytest.raises(CodebookError, match="process_unfamiliar.*gadgets"):
        parse_codebook(text, "bad.yaml")


def test_dangling_issue_stage_is_named():
    text = OURS.read_text()
    text = text.replace("{id: caf_without_agreement, stage: B,",
                        "{id: caf_without_agreement, stage: Z,")
    with pytest.raises(CodebookError, match="caf_without_agreement.*'Z'"):
        parse_codebook(text, "bad.yaml")


def test_project_codebook_has_no_stray_keys():
    """An unquoted comma in a YAML flow mapping silently cuts a label into junk keys."""
    cb = load_codebook()
    for kind in ("stages", "groups", "issues", "reason_categories", "reasons", "section_types"):
        for code in getattr(cb, kind):
            assert not code.model_extra, (kind, code.id, code.model_extra)
    assert all(g.aliases for g in cb.groups)
    assert cb.label("groups", "hospital") == "Hospital (ED, wards, paediatrics)"
