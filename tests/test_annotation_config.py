"""The labelling interface from the codebook: its XML, the mapping both ways, and the
projects on the real server, including a codebook that grows under existing work."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import yaml
from typer.testing import CliRunner

from annotation.client import LabelStudioError
from annotation.config import (
    Coded,
    accepted,
    adjudication_title,
    build_label_config,
    from_results,
    prefill,
    setup_projects,
    to_results,
)
from annotation.outbox import enqueue_suggestions
from annotation.pull import pull
from annotation.routing import route
from corpus.codebook import DEFAULT_CODEBOOK, load_codebook
from corpus.settings import get_settings, reset_settings
from corpus.store.db import session_scope
from corpus.store.schema import Annotation, Task
from pipeline.cli import app
from tests.fixtures_labelstudio import make_store, suggestion


def _controls(xml: str) -> dict[str, ET.Element]:
    return {e.get("name"): e for e in ET.fromstring(xml).iter() if e.get("toName")}


def test_config_offers_every_code_of_the_codebook():
    cb = load_codebook()
    xml = build_label_config(cb)
    controls = _controls(xml)
    aliases = {n: [c.get("alias") for c in e.findall("Choice")] for n, e in controls.items()}
    assert aliases["vivid"] == ["yes", "no", "unsure"]
    assert aliases["stage"] == cb.stage_ids
    assert aliases["issue"] == cb.issue_ids
    assert controls["stage"].get("choice") == "single-radio"
    reason_controls = [n for n in controls if n.startswith("reasons_")]
    assert len(reason_controls) == 6 == len(cb.reason_categories)
    assert sorted(a for n in reason_controls for a in aliases[n]) == sorted(cb.reason_ids)
    assert all(controls[n].get("choice") == "multiple" for n in reason_controls)
    tax = controls["pairings"]
    assert tax.tag == "Taxonomy" and tax.get("leafsOnly") == "true"
    senders = tax.findall("Choice")
    assert [s.get("alias") for s in senders] == cb.group_ids
    assert all([r.get("alias") for r in s.findall("Choice")] == cb.group_ids for s in senders)
    assert {"note", "issue_note"} <= set(controls)
    values = {e.get("value") for e in ET.fromstring(xml).iter("Header")}
    assert {"$title", "$context"} <= values and "$disagreement" not in values
    assert "$disagreement" in build_label_config(cb, adjudication=True)
    assert "A. Communication about safeguarding" in xml  # coders read labels, not ids


def test_results_round_trip_and_unknown_labels_are_kept():
    cb = load_codebook()
    coded = Coded(vivid="yes", stage="F", pairings=["school>csc", "police>police"],
                  issue="other", issue_note="a new kind of issue",
                  reasons=["optimism_bias", "roles_unclear"], note="see page 4")
    back = from_results(to_results(coded, cb), cb)
    assert back.fields() == coded.fields() and back.unknown == []
    assert (back.issue_note, back.note) == ("a new kind of issue", "see page 4")
    odd = to_results(coded, cb) + [
        {"from_name": "stage", "type": "choices", "value": {"choices": ["H"]}},
        {"from_name": "pairings", "type": "taxonomy",
         "value": {"taxonomy": [["school"], ["aliens", "csc"]]}},
        {"from_name": "mood", "type": "choices", "value": {"choices": ["cheerful"]}}]
    got = from_results(odd, cb)
    assert got.unknown == ["stage: H", "pairings: school", "pairings: aliens > csc",
                           "mood: cheerful"]
    assert got.pairings == sorted(coded.pairings)


def test_prefill_and_acceptance():
    payload = suggestion("p1")
    shown, scores = prefill(payload)
    assert shown.fields() == {"vivid": "yes", "stage": "C", "pairings": ["school>csc"],
                              "issue": "other", "reasons": ["roles_unclear"]}
    assert scores["vivid"] == 0.9 and scores["stage"] == 0.7
    for p in payload["pairings"] + payload["reasons"]:
        p["selected"] = False  # nothing selected: the best one is still pre-filled
    shown, _ = prefill(payload)
    assert shown.pairings == ["school>csc"] and shown.reasons == ["roles_unclear"]
    coder = Coded(vivid="yes", stage="C", pairings=["school>csc"], issue="other",
                  reasons=["roles_unclear", "workload_capacity"])
    assert accepted(coder, shown) == {"vivid": True, "stage": True, "pairings": True,
                                      "issue": True, "reasons": False}
    assert accepted(Coded(vivid="no"), shown) == {"vivid": False, "stage": None,
                                                  "pairings": None, "issue": None,
                                                  "reasons": None}


@pytest.mark.labelstudio
def test_setup_creates_both_projects_and_is_idempotent(ls_env):
    out = CliRunner().invoke(app, ["labelstudio", "setup"])
    assert out.exit_code == 0, out.output
    title = get_settings().label_studio_project
    assert f"created project {title!r}" in out.output
    ls = ls_env.client()
    project = ls.sdk.projects.get(ls.find_project(title).id)
    assert project.label_config.strip() == build_label_config(load_codebook()).strip()
    assert project.maximum_annotations == 1 and project.show_skip_button
    assert ls.find_project(adjudication_title(title)) is not None
    again = CliRunner().invoke(app, ["labelstudio", "setup"])
    assert "up to date" in again.output


@pytest.mark.labelstudio
def test_adding_codes_updates_the_config_and_keeps_annotations(ls_env, coders, tmp_path,
                                                              monkeypatch):
    ids = make_store(None, per_report=2)
    enqueue_suggestions([suggestion(p) for p in ids])
    assert route().pushed == 2
    with session_scope() as s:
        task = s.get(Task, ids[0]).ls_task_id
    coders["alice"].annotate(task, Coded(vivid="yes", stage="C", pairings=["school>csc"],
                                         issue="other", reasons=["roles_unclear"]))
    raw = yaml.safe_load(DEFAULT_CODEBOOK.read_text())
    raw["groups"].append({"id": "prison", "label": "Prison service", "aliases": ["HMP"]})
    raw["issues"].append({"id": "late_referral", "stage": "C", "label": "A late referral"})
    raw["reasons"].append({"id": "language_barrier", "category": "family_professional",
                           "label": "Language barrier with the family"})
    grown = tmp_path / "codebook.yaml"
    grown.write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.setenv("VIVID_CODEBOOK", str(grown))
    reset_settings()

    out = CliRunner().invoke(app, ["labelstudio", "setup"])
    assert out.exit_code == 0, out.output
    assert "annotations kept" in out.output
    ls = ls_env.client()
    project = ls.sdk.projects.get(ls.find_project(get_settings().label_studio_project).id)
    assert 'alias="prison"' in project.label_config
    assert 'alias="language_barrier"' in project.label_config
    (t,) = [t for t in ls.iter_tasks(project.id, with_annotations=True) if t.id == task]
    assert len(t.annotations) == 1
    assert pull().new == 1
    with session_scope() as s:
        (a,) = s.query(Annotation).all()
        assert a.stage == "C" and a.reasons == ["roles_unclear"] and a.unknown_labels == []
    # the new codes work: a coder can use them and they map back
    coders["bob"].annotate(task, Coded(vivid="yes", stage="C", pairings=["prison>csc"],
                                       issue="late_referral", reasons=["language_barrier"]))
    assert pull().new == 1

    raw["reasons"] = [r for r in raw["reasons"] if r["id"] != "roles_unclear"]
    shrunk = tmp_path / "shrunk.yaml"
    shrunk.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(LabelStudioError, match="never rename or drop"):
        setup_projects(ls, load_codebook(shrunk), get_settings().label_studio_project)
