"""The outbox: suggestions waiting to be routed to Label Studio, kept in the store.

A suggestion is written once per passage and model version; a candidate (the detector
selected it) also gets one outbox row per passage, which stays ``pending`` until its
task exists in Label Studio. Because the outbox lives in the store, a server outage
loses nothing: the next ``vivid route`` sends what is still pending.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from corpus.codebook import Codebook, load_codebook
from corpus.settings import get_settings
from corpus.store.db import session_scope
from corpus.store.schema import OutboxItem, Passage, Suggestion


class SuggestionError(ValueError):
    """A suggestion that does not follow the `vivid suggest` contract."""


def _codebook() -> Codebook:
    return load_codebook(get_settings().codebook_path)


def uncertainty(payload: dict[str, Any]) -> float:
    """How unsure the model is, 0..1: the mean of the vivid decision's closeness to a coin
    toss and the stage margin (best minus second best). Most uncertain first puts the
    passages where a coder's decision teaches the model most at the top."""
    p = float((payload.get("vivid") or {}).get("score") or 0.0)
    u_vivid = 1.0 - abs(2.0 * p - 1.0)
    scores = sorted((float(s.get("score") or 0.0) for s in payload.get("stage") or []),
                    reverse=True) + [0.0, 0.0]
    u_stage = 1.0 - (scores[0] - scores[1])
    return round(max(0.0, min(1.0, (u_vivid + u_stage) / 2.0)), 6)


def check_suggestion(s: Any, codebook: Codebook, where: str = "") -> dict[str, Any]:
    """Validate one suggestion dict; the error names the suggestion and the problem."""
    if not isinstance(s, dict):
        raise SuggestionError(f"{where}a suggestion must be a JSON object")
    sid = s.get("id")
    name = f"{where}suggestion {sid!r}: "
    if not sid or not isinstance(sid, str):
        raise SuggestionError(f"{where}suggestion without an 'id'")
    if not s.get("model_version"):
        raise SuggestionError(f"{name}no 'model_version'")
    vivid = s.get("vivid")
    if not isinstance(vivid, dict) or "score" not in vivid or "selected" not in vivid:
        raise SuggestionError(f"{name}'vivid' must be {{'score', 'selected'}}")
    known = {"stage": set(codebook.stage_ids), "issue": set(codebook.issue_ids),
             "reasons": set(codebook.reason_ids)}
    for key in ("stage", "pairings", "issue", "reasons"):
        items = s.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) and "id" in i
                                                  for i in items):
            raise SuggestionError(f"{name}'{key}' must be a list of {{'id', 'score'}}")
        for i in items:
            ok = codebook.is_pairing(i["id"]) if key == "pairings" else i["id"] in known[key]
            if not ok:
                raise SuggestionError(f"{name}unknown {key} id {i['id']!r} "
                                      f"(codebook version {codebook.version})")
    return s


def enqueue_suggestions(suggestions: list[dict], url: str | None = None) -> int:
    """Store suggestions and queue the candidates for routing; returns how many passages
    were newly queued. Re-running with the same suggestions changes nothing; a newer model
    version refreshes a still-pending item but never re-queues a routed passage."""
    codebook = _codebook()
    checked = [check_suggestion(s, codebook, f"item {n}: ") for n, s in enumerate(suggestions, 1)]
    queued = 0
    with session_scope(url) as session:
        ids = {s["id"] for s in checked}
        present = set(session.scalars(select(Passage.id).where(Passage.id.in_(ids))).all())
        missing = sorted(ids - present)
        if missing:
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise SuggestionError(f"suggestions for passages not in the store: "
                                  f"{', '.join(missing[:3])}{more}")
        for s in checked:
            sug = session.scalars(select(Suggestion).where(
                Suggestion.passage_id == s["id"],
                Suggestion.model_version == str(s["model_version"]))).first()
            if sug is None:
                sug = Suggestion(passage_id=s["id"], model_version=str(s["model_version"]),
                                 vivid_score=float(s["vivid"]["score"]),
                                 selected=bool(s["vivid"]["selected"]), payload=s)
                session.add(sug)
                session.flush()
            if not sug.selected:
                continue
            item = session.scalars(select(OutboxItem).where(
                OutboxItem.passage_id == s["id"])).first()
            if item is None:
                session.add(OutboxItem(passage_id=s["id"], suggestion_id=sug.id,
                                       priority=uncertainty(sug.payload), status="pending"))
                queued += 1
            elif item.status == "pending" and item.suggestion_id != sug.id:
                item.suggestion_id = sug.id
                item.priority = uncertainty(sug.payload)
    return queued


def pending_count(url: str | None = None) -> int:
    """How many passages wait to be routed."""
    with session_scope(url) as session:
        return len(session.scalars(select(OutboxItem.id).where(
            OutboxItem.status == "pending")).all())
