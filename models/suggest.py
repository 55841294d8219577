"""`Suggester.suggest(items)`: the exact output contract of `vivid suggest`.

One dict per input item, same order: either the suggestions
``{"id", "model_version", "vivid", "stage", "pairings", "issue", "reasons"}`` or, for an
item that cannot be scored (no text, not English...), ``{"id", "error"}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from corpus.codebook import Codebook
from models.agencies import AgencyExtractor, extractor
from models.examples import current_codebook
from models.features import Prepared, looks_like_english, prepare
from models.suggesters import Scores, Thresholds, VividModel

MAX_PAIRS_SHOWN = 10
BATCH = 256


def _r(x: float) -> float:
    return round(float(x), 4)


class Suggester:
    """A loaded model with its version, ready to score passages."""

    def __init__(self, model: VividModel, version: str, codebook: Codebook | None = None,
                 card: dict | None = None) -> None:
        self.model = model
        self.version = version
        self.card = card or {}
        self.codebook = codebook or current_codebook()
        self.extractor: AgencyExtractor = extractor(self.codebook)

    @classmethod
    def load(cls, version: str | None = None) -> Suggester:
        """The registry's current model, or the named version."""
        from models.registry import load_model

        model, card = load_model(version)
        return cls(model, card["version"], card=card)

    # -----------------------------------------------------------------------------
    def check_item(self, item: object) -> tuple[str | None, str | None, dict]:
        """(id, error or None, context) for one input item."""
        if not isinstance(item, dict):
            return None, "expected a JSON object with 'id' and 'text'", {}
        iid = item.get("id")
        iid = None if iid is None else str(iid)
        text = item.get("text")
        if iid is None or iid.strip() == "":
            return iid, "missing 'id'", {}
        if not isinstance(text, str):
            return iid, "missing 'text' (a string)", {}
        if not text.strip():
            return iid, "empty text", {}
        why = looks_like_english(text)
        if why:
            return iid, why, {}
        context = item.get("context") or {}
        if not isinstance(context, dict):
            return iid, "'context' must be an object with 'heading' and 'section_type'", {}
        return iid, None, context

    def suggest(self, items: Iterable[object]) -> list[dict]:
        """Suggestions for each item (errors in place of the bad ones), in order."""
        out: list[dict] = []
        batch: list[tuple[int, str, Prepared]] = []
        for item in items:
            iid, err, context = self.check_item(item)
            if err:
                out.append({"id": iid, "error": err})
                continue
            out.append({})
            batch.append((len(out) - 1, iid, prepare(item["text"], self.extractor, context)))
            if len(batch) >= BATCH:
                self._fill(out, batch)
                batch = []
        if batch:
            self._fill(out, batch)
        return out

    def _fill(self, out: list[dict], batch: list[tuple[int, str, Prepared]]) -> None:
        results = self.suggest_prepared([b[1] for b in batch], [b[2] for b in batch])
        for (pos, _, _), res in zip(batch, results, strict=True):
            out[pos] = res

    def suggest_prepared(self, ids: Sequence[str], preps: Sequence[Prepared]) -> list[dict]:
        return format_suggestions(self.model, self.version, ids, preps)


def format_suggestions(model: VividModel, version: str, ids: Sequence[str],
                       preps: Sequence[Prepared]) -> list[dict]:
    """Run every head on prepared passages and shape the contract's dicts."""
    if not preps:
        return []
    return shape(model.scores(preps), ids, version, model.stage_ids, model.issue_ids,
                 model.reason_ids, model.thresholds)


def shape(sc: Scores, ids: Sequence[str], version: str, stage_ids: Sequence[str],
          issue_ids: Sequence[str], reason_ids: Sequence[str], th: Thresholds) -> list[dict]:
    """The contract's dicts from raw scores and decision thresholds."""
    out = []
    for i, iid in enumerate(ids):
        ranked_pairs = sc.pairs[i]
        chosen = th.select_pairs(ranked_pairs)
        shown = list(ranked_pairs[:MAX_PAIRS_SHOWN])
        shown += [(p, s) for p, s in ranked_pairs[MAX_PAIRS_SHOWN:] if p in chosen]
        st = sorted(zip(stage_ids, sc.stage[i], strict=True), key=lambda x: -x[1])
        iss = sorted(zip(issue_ids, sc.issue[i], strict=True), key=lambda x: -x[1])
        rs = sorted(zip(reason_ids, sc.reasons[i], th.reasons, strict=True),
                    key=lambda x: -x[1])
        out.append({
            "id": iid,
            "model_version": version,
            "vivid": {"score": _r(sc.vivid[i]), "selected": bool(sc.vivid[i] >= th.vivid)},
            "stage": [{"id": s, "score": _r(p)} for s, p in st],
            "pairings": [{"id": p, "score": _r(s), "selected": p in chosen} for p, s in shown],
            "issue": [{"id": s, "score": _r(p)} for s, p in iss],
            "reasons": [{"id": r, "score": _r(p), "selected": bool(p >= t)}
                        for r, p, t in rs],
        })
    return out
