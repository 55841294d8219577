"""How the model's suggestions compare with what coders confirmed.

Per field: how often coders accepted the suggestion, kappa (and alpha) between the
suggestion and the confirmed coding, and beside it the coder-coder kappa on the same
units, so a model figure is read against the human ceiling rather than against 1.
Calibration: are the suggestion scores probabilities? (a reliability diagram).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from annotation.config import prefill
from evaluation.agreement import SEED, Estimate, field_agreement
from evaluation.sources import FIELDS, Rating, Ratings, set_value

MODEL, CONFIRMED = "model", "confirmed"
N_BINS = 10
TITLES = {"vivid": "vivid example", "stage": "top stage", "issue": "top issue",
          "reasons": "each reason"}


@dataclass
class ModelField:
    field: str
    n_suggested: int  # coder annotations that said whether they accepted this field
    acceptance: float  # share of those that accepted the suggestion
    n_units: int  # confirmed units with a suggestion and a value for this field
    kappa_model: Estimate  # suggestion vs confirmed coding
    alpha_model: Estimate
    n_coder_units: int  # of those units, the ones coded by two or more coders
    kappa_coders: Estimate  # coder vs coder on those units
    alpha_coders: Estimate

    def to_dict(self) -> dict:
        out = {}
        for k, v in self.__dict__.items():
            out[k] = v.to_dict() if isinstance(v, Estimate) else _clean(v)
        return out


@dataclass
class Calibration:
    """Scores and outcomes for one kind of score (vivid, top stage, top issue, reasons)."""

    name: str
    scores: list[float]
    outcomes: list[bool]

    @property
    def n(self) -> int:
        return len(self.scores)

    def curve(self, n_bins: int = N_BINS) -> list[dict]:
        """Per score bin: mean score, observed frequency and count (empty bins left out)."""
        s, y = np.asarray(self.scores, float), np.asarray(self.outcomes, float)
        bins = np.minimum((s * n_bins).astype(int), n_bins - 1)
        out = []
        for b in range(n_bins):
            sel = bins == b
            if sel.any():
                out.append({"bin": b, "mean_score": float(s[sel].mean()),
                            "observed": float(y[sel].mean()), "n": int(sel.sum())})
        return out

    def ece(self, n_bins: int = N_BINS) -> float:
        """Expected calibration error: count-weighted gap between score and frequency."""
        if not self.scores:
            return math.nan
        return sum(b["n"] * abs(b["mean_score"] - b["observed"])
                   for b in self.curve(n_bins)) / self.n


@dataclass
class ModelReport:
    model_versions: list[str]
    n_confirmed: int
    n_matched: int  # confirmed codings that have a suggestion
    fields: list[ModelField]
    calibration: list[Calibration] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"model_versions": self.model_versions, "n_confirmed": self.n_confirmed,
                "n_matched": self.n_matched, "fields": [f.to_dict() for f in self.fields],
                "calibration": [{"name": c.name, "n": c.n, "ece": _clean(c.ece()),
                                 "curve": c.curve()} for c in self.calibration]}


def _clean(v: object) -> object:
    if isinstance(v, float):
        return round(v, 6) if math.isfinite(v) else None
    return v


# --- reading a suggestion payload ---------------------------------------------------
def _ranked(payload: Mapping, key: str) -> list[dict]:
    items = payload.get(key) or []
    return sorted((i for i in items if isinstance(i, dict) and "id" in i),
                  key=lambda i: -float(i.get("score", 0.0)))


def suggested_rating(unit: str, payload: Mapping) -> Rating:
    """The model's suggestion as a coder's rating: exactly what pre-filled the coder's
    form (top stage and issue; selected pairings and reasons, else the best one)."""
    coded, _ = prefill(dict(payload))
    return Rating(unit=unit, coder=MODEL, vivid=coded.vivid, stage=coded.stage,
                  issue=coded.issue, pairings=frozenset(coded.pairings),
                  reasons=frozenset(coded.reasons))


def confirmed_rating(unit: str, vivid: bool | None, stage: str | None, issue: str | None,
                     pairings: Sequence[str] | None, reasons: Sequence[str] | None) -> Rating:
    """A confirmed coding as a rating; content fields only count on vivid examples."""
    v = None if vivid is None else ("yes" if vivid else "no")
    content = v == "yes"
    return Rating(unit=unit, coder=CONFIRMED, vivid=v,
                  stage=stage if content else None, issue=issue if content else None,
                  pairings=set_value(pairings, v) if content else None,
                  reasons=set_value(reasons, v) if content else None)


def calibration_data(payloads: Mapping[str, Mapping], confirmed: Mapping[str, Rating]
                     ) -> list[Calibration]:
    """Score/outcome pairs: vivid score, top stage and issue scores, each reason score."""
    cal = {n: Calibration(n, [], []) for n in ("vivid", "stage", "issue", "reasons")}
    for unit, truth in confirmed.items():
        payload = payloads.get(unit)
        if payload is None:
            continue
        score = (payload.get("vivid") or {}).get("score")
        if score is not None and truth.vivid is not None:
            cal["vivid"].scores.append(float(score))
            cal["vivid"].outcomes.append(truth.vivid == "yes")
        for name in ("stage", "issue"):
            ranked, gold = _ranked(payload, name), truth.value(name)
            if ranked and gold is not None:
                cal[name].scores.append(float(ranked[0].get("score", 0.0)))
                cal[name].outcomes.append(ranked[0]["id"] == gold)
        if truth.reasons is not None:
            for r in _ranked(payload, "reasons"):
                cal["reasons"].scores.append(float(r.get("score", 0.0)))
                cal["reasons"].outcomes.append(r["id"] in truth.reasons)
    return [c for c in cal.values() if c.n]


# --- the comparison ----------------------------------------------------------------
def compare(payloads: Mapping[str, Mapping], confirmed: Mapping[str, Rating],
            coders: Ratings, acceptance: Mapping[str, tuple[int, int]] | None = None,
            model_versions: Sequence[str] = (), n_boot: int = 0, seed: int = SEED
            ) -> ModelReport:
    """Model vs confirmed codings, and coders vs each other on the same units.

    ``acceptance`` maps field -> (accepted, asked) counts from the coders' annotations.
    """
    acceptance = acceptance or {}
    matched = [u for u in confirmed if u in payloads]
    model = {u: suggested_rating(u, payloads[u]) for u in matched}
    fields_out = []
    for name in FIELDS:
        units = {u for u in matched
                 if model[u].value(name) is not None and confirmed[u].value(name) is not None}
        pair = Ratings([r for u in sorted(units) for r in (model[u], confirmed[u])],
                       (name,), source="model vs confirmed")
        mv = field_agreement(pair, name, n_boot=n_boot, seed=seed)
        humans = Ratings([r for r in coders.ratings if r.unit in units], (name,),
                         source=coders.source)
        hv = field_agreement(humans, name, n_boot=n_boot, seed=seed)
        accepted, asked = acceptance.get(name, (0, 0))
        fields_out.append(ModelField(
            field=name, n_suggested=asked,
            acceptance=accepted / asked if asked else math.nan,
            n_units=len(units), kappa_model=mv.kappa, alpha_model=mv.alpha,
            n_coder_units=hv.n_units, kappa_coders=hv.kappa, alpha_coders=hv.alpha))
    return ModelReport(model_versions=sorted(set(model_versions)), n_confirmed=len(confirmed),
                       n_matched=len(matched), fields=fields_out,
                       calibration=calibration_data(payloads, confirmed))


def from_store(url: str | None = None, n_boot: int = 0, seed: int = SEED) -> ModelReport:
    """The comparison on the store: confirmed codings, their suggestions, the coders."""
    from sqlalchemy import select

    from corpus.settings import get_settings
    from corpus.store.db import session_scope
    from corpus.store.schema import Annotation, Coding, Suggestion
    from evaluation.sources import ratings_from_store

    url = url or get_settings().db_url
    with session_scope(url) as session:
        codings = session.scalars(select(Coding).where(Coding.status == "confirmed")).all()
        confirmed = {c.passage_id: confirmed_rating(c.passage_id, c.vivid, c.stage, c.issue,
                                                    c.pairings, c.reasons) for c in codings}
        wanted = {c.passage_id: c.model_version for c in codings}
        payloads: dict[str, dict] = {}
        chosen: dict[str, Suggestion] = {}
        for s in session.scalars(select(Suggestion).order_by(Suggestion.id)).all():
            if s.passage_id not in wanted:
                continue
            current = chosen.get(s.passage_id)
            # the version the coders saw wins; otherwise the newest suggestion
            if current is None or current.model_version != wanted[s.passage_id]:
                chosen[s.passage_id] = s
        for pid, s in chosen.items():
            payloads[pid] = s.payload or {}
        acceptance: dict[str, list[int]] = {f: [0, 0] for f in FIELDS}
        for ann in session.scalars(select(Annotation).where(
                Annotation.was_cancelled.is_(False), Annotation.role == "coder")).all():
            for name, ok in (ann.accepted or {}).items():
                if name in acceptance and ok is not None:
                    acceptance[name][0] += bool(ok)
                    acceptance[name][1] += 1
        versions = [s.model_version for s in chosen.values()]
    coders = ratings_from_store(url)
    return compare(payloads, confirmed, coders, {k: (a, n) for k, (a, n) in acceptance.items()},
                   versions, n_boot=n_boot, seed=seed)


def reliability_diagram(calibration: Sequence[Calibration], path: str | Path,
                        n_bins: int = N_BINS) -> Path:
    """A PNG with one reliability panel per score kind, counts below each curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    cals = [c for c in calibration if c.n] or [Calibration("no scores", [], [])]
    fig, axes = plt.subplots(2, len(cals), figsize=(3.6 * len(cals), 5.2), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1]}, sharex="col")
    for j, cal in enumerate(cals):
        top, bottom = axes[0][j], axes[1][j]
        top.plot([0, 1], [0, 1], color="#999999", lw=1, ls="--", label="perfect")
        curve = cal.curve(n_bins)
        if curve:
            top.plot([b["mean_score"] for b in curve], [b["observed"] for b in curve],
                     marker="o", color="#1f5f8b", label="model")
            width = 1 / n_bins
            bottom.bar([(b["bin"] + 0.5) * width for b in curve], [b["n"] for b in curve],
                       width=width * 0.9, color="#7fa7c9")
        title = f"{TITLES.get(cal.name, cal.name)} (n={cal.n}"
        title += f", ECE={cal.ece(n_bins):.3f})" if cal.n else ")"
        top.set_title(title, fontsize=10)
        top.set_xlim(0, 1)
        top.set_ylim(0, 1)
        top.set_ylabel("observed frequency" if j == 0 else "")
        bottom.set_xlabel("suggestion score")
        bottom.set_ylabel("count" if j == 0 else "")
        top.legend(loc="upper left", fontsize=8)
    fig.suptitle("Calibration of suggestion scores against confirmed codings", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
