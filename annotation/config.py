"""The labelling interface, generated from the codebook, and its mapping both ways.

One module knows the control names, so that the XML shown to coders, the predictions
that pre-fill it and the reading of coders' results back into codebook ids cannot drift
apart. Every choice stores its codebook id as the ``alias`` (what Label Studio saves),
while coders read the label; a pairing is a two-level Taxonomy path
``[sender, receiver]``, read back as ``"sender>receiver"``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from corpus.codebook import Codebook

OBJECT = "passage"  # the Text tag every control points at
VIVID_VALUES = ("yes", "no", "unsure")
REASONS_PREFIX = "reasons_"
FIELDS = ("vivid", "stage", "pairings", "issue", "reasons")
# task data keys the interface reads; every imported task must carry them
DATA_KEYS = ("text", "title", "context")
ADJUDICATION_KEYS = DATA_KEYS + ("disagreement",)


@dataclass
class Coded:
    """One annotation's content in codebook ids (what the store keeps)."""

    vivid: str | None = None
    stage: str | None = None
    pairings: list[str] = field(default_factory=list)
    issue: str | None = None
    issue_note: str | None = None
    reasons: list[str] = field(default_factory=list)
    note: str | None = None
    unknown: list[str] = field(default_factory=list)  # "control: value" the codebook lacks

    def fields(self) -> dict[str, Any]:
        """The five coded fields in comparable form (sets sorted)."""
        return {"vivid": self.vivid, "stage": self.stage, "pairings": sorted(set(self.pairings)),
                "issue": self.issue, "reasons": sorted(set(self.reasons))}


# --- the XML ---------------------------------------------------------------------------
def _sub(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})


def _header(parent: ET.Element, text: str, size: str = "5") -> None:
    _sub(parent, "Header", value=text, size=size)


def build_label_config(codebook: Codebook, adjudication: bool = False) -> str:
    """The Label Studio labelling config for ``codebook`` (the adjudication variant adds
    a line saying where the coders disagreed)."""
    root = ET.Element("View", style="display:flex; gap:24px; align-items:flex-start")
    left = _sub(root, "View", style="flex:3; min-width:0")
    _sub(left, "Header", value="$title", size="4")
    _sub(left, "Header", value="$context", size="6", underline="false")
    if adjudication:
        _sub(left, "Header", value="$disagreement", size="6", underline="false")
    _sub(left, "Text", name=OBJECT, value="$text", granularity="word")
    _header(left, "Coder's note", "6")
    _sub(left, "TextArea", name="note", toName=OBJECT, rows="3", editable="true",
         maxSubmissions="1", placeholder="Anything the other coders or the analysts should know")

    right = _sub(root, "View", style="flex:2; min-width:320px; max-height:85vh; overflow:auto")
    _header(right, "Is this a vivid example?")
    vivid = _sub(right, "Choices", name="vivid", toName=OBJECT, choice="single-radio",
                 showInline="true", required="true")
    for alias, label in zip(VIVID_VALUES, ("Yes", "No", "Unsure"), strict=True):
        _sub(vivid, "Choice", value=label, alias=alias)

    _header(right, "Stage (one)")
    stage = _sub(right, "Choices", name="stage", toName=OBJECT, choice="single-radio")
    for s in codebook.stages:
        _sub(stage, "Choice", value=f"{s.id}. {s.label}", alias=s.id, hint=s.definition or None)

    _header(right, "Pairings: sender / holder \u2192 receiver (one or more)")
    tax = _sub(right, "Taxonomy", name="pairings", toName=OBJECT, leafsOnly="true",
               showFullPath="true", pathSeparator=" \u2192 ",
               placeholder="Pick the sender, then the receiver")
    for sender in codebook.groups:
        node = _sub(tax, "Choice", value=sender.label, alias=sender.id)
        for receiver in codebook.groups:
            _sub(node, "Choice", value=receiver.label, alias=receiver.id)

    _header(right, "Practice issue (one)")
    issue = _sub(right, "Choices", name="issue", toName=OBJECT, choice="single-radio")
    for i in codebook.issues:
        prefix = f"{i.stage} \u00b7 " if i.stage else ""
        _sub(issue, "Choice", value=f"{prefix}{i.label}", alias=i.id)
    _sub(right, "TextArea", name="issue_note", toName=OBJECT, rows="2", editable="true",
         maxSubmissions="1", placeholder="If 'another practice issue': describe it")

    _header(right, "Underlying reasons (any)")
    for cat in codebook.reason_categories:
        reasons = [r for r in codebook.reasons if r.category == cat.id]
        if not reasons:
            continue
        _header(right, cat.label, "6")
        group = _sub(right, "Choices", name=f"{REASONS_PREFIX}{cat.id}", toName=OBJECT,
                     choice="multiple")
        for r in reasons:
            _sub(group, "Choice", value=r.label, alias=r.id)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


# --- suggestions -> pre-filled results --------------------------------------------------
def _best(items: list[dict] | None) -> dict | None:
    items = [i for i in (items or []) if isinstance(i, dict) and i.get("id")]
    return max(items, key=lambda i: float(i.get("score") or 0.0)) if items else None


def _chosen(items: list[dict] | None) -> list[dict]:
    """Selected items, or the best one when none is selected: every field is pre-filled,
    so the coder confirms or corrects instead of starting from nothing."""
    items = [i for i in (items or []) if isinstance(i, dict) and i.get("id")]
    picked = [i for i in items if i.get("selected")]
    if not picked and items:
        picked = [_best(items)]
    return picked


def prefill(payload: dict[str, Any]) -> tuple[Coded, dict[str, float]]:
    """What a suggestion pre-fills (codebook ids) and the score behind each field."""
    vivid = payload.get("vivid") or {}
    stage, issue = _best(payload.get("stage")), _best(payload.get("issue"))
    pairs, reasons = _chosen(payload.get("pairings")), _chosen(payload.get("reasons"))
    coded = Coded(vivid="yes" if vivid.get("selected") else "no",
                  stage=stage["id"] if stage else None,
                  pairings=[p["id"] for p in pairs], issue=issue["id"] if issue else None,
                  reasons=[r["id"] for r in reasons])
    scores = {"vivid": float(vivid.get("score") or 0.0),
              "stage": float(stage.get("score") or 0.0) if stage else 0.0,
              "issue": float(issue.get("score") or 0.0) if issue else 0.0,
              "pairings": min((float(p.get("score") or 0.0) for p in pairs), default=0.0),
              "reasons": min((float(r.get("score") or 0.0) for r in reasons), default=0.0)}
    for p in pairs:
        scores[f"pairing:{p['id']}"] = float(p.get("score") or 0.0)
    for r in reasons:
        scores[f"reason:{r['id']}"] = float(r.get("score") or 0.0)
    return coded, scores


def _choice(name: str, values: list[str], score: float | None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": name, "from_name": name, "to_name": OBJECT,
                            "type": "choices", "value": {"choices": values}}
    if score is not None:
        item["score"] = round(score, 4)
    return item


def to_results(coded: Coded, codebook: Codebook,
               scores: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Label Studio result items for a coding: one per field that has a value."""
    scores = scores or {}
    out: list[dict[str, Any]] = []
    if coded.vivid:
        out.append(_choice("vivid", [coded.vivid], scores.get("vivid")))
    if coded.stage:
        out.append(_choice("stage", [coded.stage], scores.get("stage")))
    if coded.pairings:
        item = {"id": "pairings", "from_name": "pairings", "to_name": OBJECT,
                "type": "taxonomy",
                "value": {"taxonomy": [p.split(">", 1) for p in coded.pairings]}}
        if "pairings" in scores:
            item["score"] = round(scores["pairings"], 4)
        out.append(item)
    if coded.issue:
        out.append(_choice("issue", [coded.issue], scores.get("issue")))
    category = {r.id: r.category for r in codebook.reasons}
    by_cat: dict[str, list[str]] = {}
    for r in coded.reasons:
        by_cat.setdefault(category.get(r, ""), []).append(r)
    for cat, ids in by_cat.items():
        if cat:
            out.append(_choice(f"{REASONS_PREFIX}{cat}", ids, scores.get("reasons")))
    for name in ("issue_note", "note"):
        text = getattr(coded, name)
        if text:
            out.append({"id": name, "from_name": name, "to_name": OBJECT, "type": "textarea",
                        "value": {"text": [text]}})
    return out


# --- coders' results -> codebook ids ----------------------------------------------------
def _texts(value: dict[str, Any]) -> str | None:
    text = value.get("text")
    parts = [text] if isinstance(text, str) else [str(t) for t in (text or [])]
    joined = "\n".join(p.strip() for p in parts if p and p.strip())
    return joined or None


def from_results(result: list[dict[str, Any]] | None, codebook: Codebook) -> Coded:
    """Read a Label Studio result back into codebook ids; anything the codebook does not
    know (a hand-edited config, an unknown control) goes to ``unknown``, never away."""
    coded = Coded()
    stages, issues = set(codebook.stage_ids), set(codebook.issue_ids)
    reasons, groups = set(codebook.reason_ids), set(codebook.group_ids)
    for item in result or []:
        name = str(item.get("from_name", ""))
        value = item.get("value") or {}
        choices = [str(c) for c in value.get("choices") or []]
        if name == "vivid":
            for c in choices:
                if c in VIVID_VALUES:
                    coded.vivid = c
                else:
                    coded.unknown.append(f"vivid: {c}")
        elif name in ("stage", "issue"):
            known = stages if name == "stage" else issues
            for c in choices:
                if c in known:
                    setattr(coded, name, c)
                else:
                    coded.unknown.append(f"{name}: {c}")
        elif name == "pairings":
            for path in value.get("taxonomy") or []:
                path = [str(p) for p in path]
                if len(path) == 2 and path[0] in groups and path[1] in groups:
                    coded.pairings.append(f"{path[0]}>{path[1]}")
                else:
                    coded.unknown.append(f"pairings: {' > '.join(path)}")
        elif name.startswith(REASONS_PREFIX):
            for c in choices:
                if c in reasons:
                    coded.reasons.append(c)
                else:
                    coded.unknown.append(f"{name}: {c}")
        elif name in ("issue_note", "note"):
            setattr(coded, name, _texts(value))
        else:
            shown = choices or [str(v) for v in value.values()]
            coded.unknown.append(f"{name or '?'}: {', '.join(shown)}")
    coded.pairings = sorted(set(coded.pairings))
    coded.reasons = sorted(set(coded.reasons))
    return coded


def accepted(coded: Coded, shown: Coded) -> dict[str, bool | None]:
    """Per field, whether the coder kept the pre-filled value unchanged; content fields
    count only when the coder says the passage is a vivid example."""
    mine, theirs = coded.fields(), shown.fields()
    out: dict[str, bool | None] = {"vivid": mine["vivid"] == theirs["vivid"]}
    for name in FIELDS[1:]:
        out[name] = (mine[name] == theirs[name]) if coded.vivid == "yes" else None
    return out


# --- the projects -------------------------------------------------------------------------
ADJUDICATION_SUFFIX = " \u2014 adjudication"
INSTRUCTIONS = (
    "<p>Read the passage with its report, section and page. The model's suggestion is "
    "already filled in: confirm it or correct it.</p><ul>"
    "<li><b>Vivid example</b>: a concrete instance of inter-professional communication or "
    "decision making described in some detail. If not, answer No and submit.</li>"
    "<li><b>Stage</b>: one care-pathway stage A\u2013G.</li>"
    "<li><b>Pairings</b>: pick the group that holds or sends the information, then the group "
    "that receives it or should act (same group twice = within one agency).</li>"
    "<li><b>Practice issue</b>: one; use 'another practice issue' and describe it if none "
    "fits.</li><li><b>Reasons</b>: any that apply, grouped by the six systems-finding "
    "categories.</li></ul>")


@dataclass
class ProjectSetup:
    project_id: int
    adjudication_id: int
    created: list[str] = field(default_factory=list)  # titles of projects made now
    updated: list[str] = field(default_factory=list)  # titles whose config changed
    refused: list[str] = field(default_factory=list)  # config updates Label Studio refused


def config_codes(xml: str) -> set[str]:
    """The codes a labelling config offers, as ``control: id`` (pairing groups as
    ``pairings: group``), to tell whether a new config would drop any."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return set()
    out = set()
    for control in root.iter():
        if control.tag not in ("Choices", "Taxonomy"):
            continue
        name = control.get("name", "")
        for choice in control.iter("Choice"):
            out.add(f"{name}: {choice.get('alias') or choice.get('value')}")
    return out


def adjudication_title(title: str) -> str:
    return f"{title}{ADJUDICATION_SUFFIX}"


def ensure_project(ls: Any, codebook: Codebook, title: str, *, adjudication: bool = False,
                   setup: ProjectSetup | None = None, strict: bool = True) -> int:
    """The project's id, creating it or bringing its labelling config up to date with the
    codebook. Label Studio keeps existing annotations on a config change and refuses one
    that would orphan labels already used: an error when ``strict``, else noted in
    ``setup.refused`` (routing and pulling go on with the config the server has)."""
    from annotation.client import LabelStudioError

    setup = setup if setup is not None else ProjectSetup(0, 0)
    xml = build_label_config(codebook, adjudication=adjudication)
    project = ls.find_project(title)
    if project is None:
        project = ls.call(
            ls.sdk.projects.create, title=title, label_config=xml,
            description=("Adjudicate the passages coders disagreed on" if adjudication
                         else "Confirm or correct the suggested coding of each passage"),
            expert_instruction=INSTRUCTIONS, show_instruction=False,
            maximum_annotations=1, show_skip_button=True, show_collab_predictions=True,
            sampling="Sequential sampling", doing=f"creating project {title!r}")
        setup.created.append(title)
    elif (project.label_config or "").strip() != xml.strip():
        dropped = sorted(config_codes(project.label_config or "") - config_codes(xml))
        if dropped:
            shown = ", ".join(dropped[:6]) + (f" and {len(dropped) - 6} more"
                                              if len(dropped) > 6 else "")
            msg = (f"project {title!r}: the codebook lacks codes the labelling config "
                   f"offers ({shown}); the codebook may add codes, never rename or drop "
                   "them (add them to the codebook, or edit the project by hand)")
            if strict:
                raise LabelStudioError(msg)
            setup.refused.append(msg)
            return int(project.id)
        try:
            ls.call(ls.sdk.projects.update, project.id, label_config=xml,
                    doing=f"updating the labelling config of project {title!r}")
            setup.updated.append(title)
        except LabelStudioError as exc:
            msg = (f"{exc} (the codebook may add codes, never rename or drop ones that "
                   "coders have used)")
            if strict:
                raise LabelStudioError(msg) from None
            setup.refused.append(msg)
    return int(project.id)


def setup_projects(ls: Any, codebook: Codebook, title: str,
                   strict: bool = True) -> ProjectSetup:
    """Create or update the coders' and the adjudication project from the codebook."""
    setup = ProjectSetup(0, 0)
    setup.project_id = ensure_project(ls, codebook, title, setup=setup, strict=strict)
    setup.adjudication_id = ensure_project(ls, codebook, adjudication_title(title),
                                           adjudication=True, setup=setup, strict=strict)
    return setup
