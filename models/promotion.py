"""Retraining with a guard: a challenger replaces the current model only if it is better.

The challenger is trained on the seed set plus the coders' confirmed codings, except a
held-out share of the confirmed codings. That share is chosen by hashing each passage id
with a fixed seed, so a passage once held out stays held out as the dataset grows and no
model trained here ever sees it. Challenger and current model are scored on it; the
challenger is promoted only if the primary metric improves and no field drops by more
than a margin. The decision and both scorecards are recorded in the registry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corpus.codebook import Codebook
from corpus.settings import get_settings
from models.examples import Example, ExampleError, current_codebook, parse_record

# one headline metric per field, read from models.evaluate.evaluate_predictions' output
FIELD_METRICS: dict[str, tuple[str, ...]] = {
    "vivid": ("vivid", "f1"),
    "stage": ("stage", "accuracy"),
    "pairing": ("pairing", "directed", "f1"),
    "issue": ("issue", "accuracy"),
    "reasons": ("reasons", "micro_f1"),
}
DEFAULT_MARGIN = 0.02
DEFAULT_HOLDOUT = 0.25
DEFAULT_SEED = 20240601
DEFAULT_MIN_HOLDOUT = 10
DECISIONS_FILE = "promotions.jsonl"
DECISION_FILE = "promotion.json"


class PromotionError(ValueError):
    """Retraining cannot run as asked (bad settings or data); the message says why."""


# --------------------------------------------------------------------------- data
@dataclass
class ConfirmedData:
    examples: list[Example]
    skipped: list[str] = field(default_factory=list)  # "passage id: why"


def confirmed_examples(url: str | None = None, codebook: Codebook | None = None
                       ) -> ConfirmedData:
    """Confirmed codings from the store as training examples (passage text + context).

    A coding the training format cannot hold (vivid left unsure, a vivid example without
    stage or pairing, a code the codebook no longer has) is skipped and listed.
    """
    from sqlalchemy import select

    from corpus.store.db import session_scope
    from corpus.store.schema import Coding, Passage

    codebook = codebook or current_codebook()
    out = ConfirmedData([])
    with session_scope(url) as s:
        rows = s.execute(select(Coding, Passage).join(Passage, Passage.id == Coding.passage_id)
                         .where(Coding.status == "confirmed")
                         .order_by(Coding.passage_id)).all()
        for coding, passage in rows:
            if coding.vivid is None:
                out.skipped.append(f"{passage.id}: vivid left undecided")
                continue
            rec = {"id": passage.id, "text": passage.text, "vivid": bool(coding.vivid),
                   "source": f"confirmed:{coding.report_id}",
                   "context": {"heading": passage.heading or "",
                               "section_type": passage.section_type}}
            if coding.vivid:
                rec.update(stage=coding.stage, pairings=list(coding.pairings or []),
                           issue=coding.issue or "other", issue_note=coding.issue_note or "",
                           reasons=list(coding.reasons or []))
            try:
                out.examples.append(parse_record(rec, f"codings: passage {passage.id}",
                                                 codebook))
            except ExampleError as exc:
                out.skipped.append(f"{passage.id}: {str(exc).rsplit(': ', 1)[-1]}")
    return out


def in_holdout(example_id: str, seed: int = DEFAULT_SEED,
               fraction: float = DEFAULT_HOLDOUT) -> bool:
    """Whether a confirmed example is held out: fixed by (seed, id), never by the data."""
    digest = hashlib.sha256(f"{seed}:{example_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split_holdout(examples: Sequence[Example], seed: int = DEFAULT_SEED,
                  fraction: float = DEFAULT_HOLDOUT) -> tuple[list[Example], list[Example]]:
    """(train, holdout) of the confirmed examples."""
    if not 0 < fraction < 1:
        raise PromotionError(f"held-out fraction must be between 0 and 1, not {fraction}")
    train, held = [], []
    for e in examples:
        (held if in_holdout(e.id, seed, fraction) else train).append(e)
    return train, held


def write_examples(examples: Sequence[Example], path: str | Path) -> Path:
    """JSON Lines in the coded-example format (what `vivid train --data` reads)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for e in examples:
            fh.write(json.dumps(e.to_json(), ensure_ascii=False) + "\n")
    return path


# --------------------------------------------------------------------------- scoring
@dataclass
class Scorecard:
    version: str
    n: int
    n_vivid: int
    fields: dict[str, float]
    primary: float
    metrics: dict[str, Any] = field(repr=False, default_factory=dict)


def _dig(d: Any, path: tuple[str, ...]) -> float | None:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    try:
        x = float(d)
    except (TypeError, ValueError):
        return None
    return None if x != x else x  # NaN: not measurable on this set


def field_scores(metrics: dict[str, Any]) -> dict[str, float]:
    """The headline metric of each field that could be measured."""
    out = {}
    for name, path in FIELD_METRICS.items():
        x = _dig(metrics, path)
        if x is not None:
            out[name] = round(x, 4)
    return out


def primary_score(fields: dict[str, float], primary: str = "mean") -> float:
    """``mean`` of the field scores, or one field's score by name."""
    if primary == "mean":
        return round(sum(fields.values()) / len(fields), 4) if fields else 0.0
    if primary not in FIELD_METRICS:
        raise PromotionError(f"unknown primary metric {primary!r} (choose 'mean' or one of "
                             f"{', '.join(FIELD_METRICS)})")
    return fields.get(primary, 0.0)


def score(suggester: Any, holdout: Sequence[Example], codebook: Codebook,
          primary: str = "mean") -> Scorecard:
    """Score a loaded Suggester on the held-out examples, as coders would see it."""
    from models.evaluate import evaluate_predictions

    items = [{"id": e.id, "text": e.text, "context": e.context} for e in holdout]
    preds = suggester.suggest(items)
    keep = [i for i, p in enumerate(preds) if "error" not in p]
    gold = [holdout[i] for i in keep]
    preds = [preds[i] for i in keep]
    metrics = evaluate_predictions(gold, preds, codebook.stage_ids, codebook.reason_ids)
    fields = field_scores(metrics)
    return Scorecard(version=suggester.version, n=len(gold), n_vivid=sum(e.vivid for e in gold),
                     fields=fields, primary=primary_score(fields, primary), metrics=metrics)


# --------------------------------------------------------------------------- deciding
@dataclass
class Decision:
    promoted: bool
    reason: str
    challenger: str | None
    champion: str | None
    current: str | None  # the current model after the decision
    primary_metric: str
    margin: float
    challenger_card: Scorecard | None = None
    champion_card: Scorecard | None = None
    holdout: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    decided_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))


def decide(challenger: Scorecard, champion: Scorecard | None, margin: float = DEFAULT_MARGIN
           ) -> tuple[bool, str]:
    """Promote only if the primary metric improves and no field drops by more than margin."""
    if champion is None:
        return True, "no current model: the challenger becomes the first"
    drops = {f: champion.fields[f] - challenger.fields.get(f, 0.0)
             for f in champion.fields
             if champion.fields[f] - challenger.fields.get(f, 0.0) > margin + 1e-9}
    if challenger.primary <= champion.primary + 1e-9:
        return False, (f"primary metric did not improve ({champion.primary:.4f} -> "
                       f"{challenger.primary:.4f})")
    if drops:
        worst = ", ".join(f"{f} -{d:.4f}" for f, d in sorted(drops.items(), key=lambda x: -x[1]))
        return False, (f"primary metric improved ({champion.primary:.4f} -> "
                       f"{challenger.primary:.4f}) but a field dropped by more than "
                       f"{margin:g}: {worst}")
    return True, (f"primary metric improved ({champion.primary:.4f} -> "
                  f"{challenger.primary:.4f}) and no field dropped by more than {margin:g}")


# --------------------------------------------------------------------------- registry
def registry_dir() -> Path:
    return get_settings().models_dir


def current_version() -> str | None:
    """The version the registry's ``current`` pointer names, or None."""
    from models.registry import current_version as current

    return current()


def set_current(version: str) -> None:
    from models.registry import set_current as point

    point(version)


def _version_of(result: Any) -> str:
    """The version name of what models.train.train returned (a ModelCard)."""
    if isinstance(result, str):
        return result
    version = getattr(result, "version", None)
    if isinstance(version, str):
        return version
    if isinstance(result, dict) and "version" in result:
        return str(result["version"])
    raise TypeError(f"cannot tell the model version from {result!r}")


def load_suggester(version: str) -> Any:
    from models.suggest import Suggester

    return Suggester.load(version)


def record(decision: Decision) -> Path:
    """Write the decision beside the challenger and append it to the registry's log."""
    root = registry_dir()
    root.mkdir(parents=True, exist_ok=True)
    data = decision.as_dict()
    if decision.challenger and (root / decision.challenger).is_dir():
        (root / decision.challenger / DECISION_FILE).write_text(
            json.dumps(data, indent=2), encoding="utf-8")
    log = root / DECISIONS_FILE
    with log.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(data) + "\n")
    return log


def decisions() -> list[dict[str, Any]]:
    """Every recorded decision, oldest first."""
    log = registry_dir() / DECISIONS_FILE
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()
            if line.strip()]


# --------------------------------------------------------------------------- retrain
def retrain(*, seed_files: Sequence[str | Path] | None = None, url: str | None = None,
            margin: float = DEFAULT_MARGIN, holdout_fraction: float = DEFAULT_HOLDOUT,
            seed: int = DEFAULT_SEED, min_holdout: int = DEFAULT_MIN_HOLDOUT,
            primary: str = "mean", out_version: str | None = None) -> Decision:
    """Train a challenger on seed + confirmed codings, compare, promote or refuse, record.

    ``seed_files`` default to what `vivid train` learns from (the seed set and the
    project's other coded data); the confirmed codings are added to them.
    """
    from models.examples import default_training_sources
    from models.train import train

    if margin < 0:
        raise PromotionError(f"margin must be >= 0, not {margin}")
    primary_score({}, primary)  # validates the name
    codebook = current_codebook()
    seed_files = [Path(p) for p in (seed_files or default_training_sources())]
    data = confirmed_examples(url, codebook)
    train_part, held = split_holdout(data.examples, seed, holdout_fraction)
    champion = current_version()
    base = {"challenger": None, "champion": champion, "current": champion,
            "primary_metric": primary, "margin": margin,
            "holdout": {"n": len(held), "seed": seed, "fraction": holdout_fraction,
                        "ids_sha256": _ids_sha(held)},
            "training": {"seed_files": [str(p) for p in seed_files],
                         "confirmed": len(train_part), "skipped": data.skipped}}
    if len(held) < min_holdout:
        return _refuse_early(base, f"too few confirmed codings held out to judge a challenger "
                                   f"({len(held)} < {min_holdout}); "
                                   f"{len(data.examples)} confirmed in all")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    files = list(seed_files)
    if train_part:
        files.append(write_examples(train_part, get_settings().data_dir / "training"
                                    / f"confirmed-{stamp}.jsonl"))
    challenger = _version_of(_train_without_promoting(train, files, out_version))
    if champion and current_version() != champion:  # saving must not move the pointer yet
        set_current(champion)
    base["challenger"] = challenger
    base["training"]["files"] = [str(f) for f in files]
    ch_card = score(load_suggester(challenger), held, codebook, primary)
    champ_card, unusable = None, ""
    if champion:
        from models.registry import RegistryError

        try:
            champ_card = score(load_suggester(champion), held, codebook, primary)
        except RegistryError as exc:  # e.g. trained on an older codebook
            unusable = f"the current model cannot be used ({exc}): "
    promoted, reason = decide(ch_card, champ_card, margin)
    reason = unusable + reason
    if promoted:
        set_current(challenger)
    decision = Decision(promoted=promoted, reason=reason,
                        **{**base, "current": challenger if promoted else champion},
                        challenger_card=ch_card, champion_card=champ_card)
    record(decision)
    return decision


def _train_without_promoting(train: Any, files: list[Path], version: str | None) -> Any:
    """Train and save a version without pointing ``current`` at it (when train() allows)."""
    import inspect

    if "make_current" in inspect.signature(train).parameters:
        return train(files, out_version=version, make_current=False)
    return train(files, out_version=version)


def _refuse_early(base: dict[str, Any], reason: str) -> Decision:
    decision = Decision(promoted=False, reason=reason, **base)
    record(decision)
    return decision


def _ids_sha(examples: Sequence[Example]) -> str:
    return hashlib.sha256("\n".join(sorted(e.id for e in examples)).encode()).hexdigest()


__all__ = ["ConfirmedData", "Decision", "PromotionError", "Scorecard", "confirmed_examples",
           "decide", "decisions", "in_holdout", "record", "retrain", "score", "split_holdout"]
