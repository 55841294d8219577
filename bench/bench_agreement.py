"""The agreement table on a realistic sample, and how long the statistics take.

Two coders on the dev file's passages: the first is the gold coding; the second is a
simulated coder (the gold perturbed at fixed, stated rates, fixed seed) and, when the
models package can give suggestions (the registry's current model, or one trained here
on the seed set, never on the dev file), the model. Then the model-vs-coders table on
the same units, and the time for the full statistics on a large synthetic sample.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import replace
from pathlib import Path

from corpus.codebook import Codebook, load_codebook
from evaluation.agreement import AgreementReport, Estimate, agreement
from evaluation.model_vs_coders import ModelReport, compare, confirmed_rating, suggested_rating
from evaluation.sources import Rating, Ratings, set_value

ROOT = Path(__file__).resolve().parent.parent
DEV_FILES = [ROOT / "models" / "data" / "vivid_dev.jsonl",
             ROOT.parent / "shared" / "dev" / "vivid_dev.jsonl"]
# the simulated second coder: how often it departs from the gold coding
RATES = {"vivid": 0.10, "stage": 0.20, "issue": 0.25, "drop_pairing": 0.20,
         "add_pairing": 0.20, "drop_reason": 0.30, "add_reason": 0.25}
SEED = 7
N_BOOT = 1000


def load_dev() -> tuple[Path, list[dict]]:
    for path in DEV_FILES:
        if path.exists():
            return path, [json.loads(line) for line in path.read_text().splitlines()
                          if line.strip()]
    raise FileNotFoundError("no dev file: " + ", ".join(str(p) for p in DEV_FILES))


def gold_rating(rec: dict, coder: str = "gold") -> Rating:
    vivid = "yes" if rec["vivid"] else "no"
    content = vivid == "yes"
    return Rating(unit=rec["id"], coder=coder, vivid=vivid,
                  stage=rec.get("stage") if content else None,
                  issue=rec.get("issue") if content else None,
                  pairings=set_value(rec.get("pairings"), vivid) if content else None,
                  reasons=set_value(rec.get("reasons"), vivid) if content else None)


def simulated_rating(gold: Rating, codebook: Codebook, rng: random.Random) -> Rating:
    """A plausible second coder: slips on vivid, neighbouring stages, other issue types,
    and drops or adds pairings and reasons at the stated rates."""
    stages = codebook.stage_ids
    vivid = gold.vivid
    if rng.random() < RATES["vivid"]:
        vivid = rng.choice(["unsure", "no"] if vivid == "yes" else ["yes", "unsure"])
    if vivid != "yes":
        return Rating(gold.unit, "second", vivid=vivid)
    stage = gold.stage or rng.choice(stages)
    if rng.random() < RATES["stage"]:
        i = stages.index(stage)
        stage = stages[max(0, min(len(stages) - 1, i + rng.choice([-1, 1])))]
    issue = gold.issue or "other"
    if rng.random() < RATES["issue"]:
        issue = "other" if issue != "other" else rng.choice(codebook.issue_ids[:-1])
    pairings = {p for p in (gold.pairings or ()) if rng.random() >= RATES["drop_pairing"]}
    if rng.random() < RATES["add_pairing"]:
        pairings.add(f"{rng.choice(['csc', 'police', 'school', 'gp'])}>network")
    reasons = {r for r in (gold.reasons or ()) if rng.random() >= RATES["drop_reason"]}
    if rng.random() < RATES["add_reason"]:
        reasons.add(rng.choice(codebook.reason_ids))
    return Rating(gold.unit, "second", vivid="yes", stage=stage, issue=issue,
                  pairings=frozenset(pairings), reasons=frozenset(reasons))


def model_suggestions(records: list[dict]) -> tuple[str, dict[str, dict]]:
    """(model version, payload per id) from the registry's model, else one trained on
    the seed set here; raises when the models package cannot provide either."""
    from models.suggest import Suggester

    try:
        suggester = Suggester.load()
        how = f"registry model {suggester.version}"
    except Exception:  # no registry model yet: train one on the seed set only
        from models.examples import current_codebook, default_training_files, load_examples
        from models.train import fit_final

        codebook = current_codebook()
        examples = load_examples(default_training_files(), codebook)
        dev_texts = {r["text"] for r in records}
        leaked = sum(e.text in dev_texts for e in examples)
        if leaked:
            raise RuntimeError(f"{leaked} dev passages are in the seed set") from None
        t0 = time.perf_counter()
        model, _ = fit_final(examples, codebook)
        suggester = Suggester(model, "bench-seed", codebook)
        how = f"trained on {len(examples)} seed examples in {time.perf_counter() - t0:.0f} s"
    out = suggester.suggest([{"id": r["id"], "text": r["text"]} for r in records])
    bad = [o for o in out if "error" in o]
    return how + (f" ({len(bad)} passages not scored)" if bad else ""), {
        o["id"]: o for o in out if "error" not in o}


def _e(e: Estimate | None) -> str:
    if e is None or not math.isfinite(e.value):
        return "   n/a              "
    ci = f"[{e.low:5.2f}, {e.high:5.2f}]" if math.isfinite(e.low) else " " * 14
    return f"{e.value:6.3f} {ci}"


def print_agreement(title: str, report: AgreementReport) -> None:
    print(f"\n{title}")
    print(f"  {'field':<9} {'dist.':<8} {'units':>5} {'1-cdr':>5}  {'% agree':<21}"
          f"{'Cohen kappa':<21}{'Fleiss kappa':<21}{'Krippendorff alpha':<21}")
    for f in report.fields:
        print(f"  {f.field:<9} {f.distance:<8} {f.n_units:>5} {f.n_single:>5}  "
              f"{_e(f.percent)} {_e(f.kappa)} {_e(f.fleiss)} {_e(f.alpha)}")


def print_model(report: ModelReport) -> None:
    print(f"\nModel vs confirmed (gold) beside coder vs coder (gold vs second), "
          f"{report.n_matched} passages")
    print(f"  {'field':<9} {'units':>5}  {'kappa model':<21} {'alpha model':<21} "
          f"{'kappa coders':<21} {'alpha coders':<21}")
    for f in report.fields:
        print(f"  {f.field:<9} {f.n_units:>5}  {_e(f.kappa_model)} {_e(f.alpha_model)} "
              f"{_e(f.kappa_coders)} {_e(f.alpha_coders)}")
    for c in report.calibration:
        print(f"  calibration {c.name:<8} n={c.n:<4} ECE={c.ece():.3f}")


def timing(codebook: Codebook) -> None:
    rng = random.Random(1)
    units, coders = 2000, 3
    ratings = []
    for u in range(units):
        gold = Rating(f"u{u}", "g", vivid="yes", stage=rng.choice(codebook.stage_ids),
                      issue=rng.choice(codebook.issue_ids),
                      pairings=frozenset(rng.sample(["school>csc", "gp>csc", "police>csc",
                                                     "csc>police", "hospital>csc",
                                                     "health_visitor>gp"], 2)),
                      reasons=frozenset(rng.sample(codebook.reason_ids, 2)))
        for c in range(coders):
            ratings.append(replace(simulated_rating(gold, codebook, rng), coder=f"c{c}"))
    t0 = time.perf_counter()
    agreement(Ratings(ratings), codebook, n_boot=N_BOOT)
    print(f"\nTiming: all statistics, 5 fields, {units} units x {coders} coders, "
          f"{N_BOOT} bootstrap resamples: {time.perf_counter() - t0:.1f} s")


def run() -> None:
    codebook = load_codebook()
    path, records = load_dev()
    rng = random.Random(SEED)
    gold = [gold_rating(r) for r in records]
    second = [simulated_rating(g, codebook, rng) for g in gold]
    print(f"Sample: {len(records)} dev passages from {path.relative_to(ROOT.parent)} "
          f"({sum(r['vivid'] for r in records)} vivid); simulated coder rates {RATES}, "
          f"seed {SEED}; {N_BOOT} bootstrap resamples of units")
    report = agreement(Ratings(gold + second, source="gold vs simulated"), codebook,
                       n_boot=N_BOOT)
    print_agreement("Gold vs simulated second coder", report)

    try:
        how, payloads = model_suggestions(records)
    except Exception as exc:  # the models package is being written in parallel
        print(f"\nModel: not available ({type(exc).__name__}: {exc})")
    else:
        model = [suggested_rating(u, p) for u, p in payloads.items()]
        print(f"\nModel: {how}")
        report = agreement(Ratings(gold + model, source="gold vs model"), codebook,
                           n_boot=N_BOOT)
        print_agreement("Gold vs model (as pre-filled for coders: top stage and issue; selected "
                        "pairings and reasons, else the best one)", report)
        confirmed = {g.unit: confirmed_rating(g.unit, g.vivid == "yes", g.stage, g.issue,
                                              sorted(g.pairings or ()),
                                              sorted(g.reasons or ())) for g in gold}
        print_model(compare(payloads, confirmed, Ratings(gold + second), n_boot=N_BOOT,
                            model_versions=[how]))
    timing(codebook)


if __name__ == "__main__":
    run()
