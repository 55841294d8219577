"""Suggestion models: baseline vs alternative, targets on held-out data, speed, memory.

Figures printed:
- model comparison by 5-fold cross-validation on the seed set, and trained on the seed set
  and scored on the real dev passages (held out);
- the issue's targets on the dev file with a model trained WITHOUT it (seed only, and seed
  plus sample-report specs), and by cross-validation on the seed set;
- report level: sample-report specs split in two halves, each scored by a model trained on
  the seed set and the other half: share of passages proposed, share of planted caught;
- training time on the seed set, model load time, suggest throughput on one core, peak
  memory.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time

import numpy as np


def _fmt(d: dict, keys: list[str]) -> str:
    return "  ".join(f"{k}={d[k]:.3f}" for k in keys if k in d)


TARGETS = [("vivid_recall", ">=", 0.90), ("vivid_rejected_non_vivid", ">=", 0.70),
           ("stage_top1", ">=", 0.75), ("stage_top2", ">=", 0.90),
           ("pairing_f1_directed", ">=", 0.70), ("reasons_micro_f1", ">=", 0.50)]
SHOW = ["vivid_recall", "vivid_rejected_non_vivid", "vivid_precision", "vivid_roc_auc",
        "vivid_ece", "stage_top1", "stage_top2", "stage_macro_f1", "stage_ece",
        "pairing_f1_directed", "pairing_f1_undirected", "issue_accuracy", "reasons_micro_f1",
        "reasons_macro_f1"]


def _targets(h: dict) -> str:
    return "  ".join(f"{k}:{'ok' if h[k] >= t else 'MISS'}" for k, _, t in TARGETS if k in h)


def _print_metrics(title: str, h: dict) -> None:
    print(f"{title}")
    for k in SHOW:
        if k in h:
            print(f"    {k:28s} {h[k]:.3f}")
    print(f"    targets: {_targets(h)}")


def run() -> None:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        _run()


def _run() -> None:
    from sklearn.metrics import roc_auc_score

    from models.compare import _topk, compare, spacy_fit_predict
    from models.evaluate import evaluate_predictions, headline
    from models.examples import (
        DEV_FILE,
        SEED_FILE,
        current_codebook,
        load_examples,
        sample_spec_files,
    )
    from models.suggest import Suggester, format_suggestions
    from models.train import fit_final, prepare_all

    cb = current_codebook()
    seed = load_examples([SEED_FILE], cb)
    dev = load_examples([DEV_FILE], cb)
    specs = sample_spec_files()
    print(f"seed {len(seed)} examples ({sum(e.vivid for e in seed)} vivid); dev {len(dev)} "
          f"({sum(e.vivid for e in dev)} vivid); {len(specs)} sample-report specs")
    seed_p, dev_p = prepare_all(seed, cb), prepare_all(dev, cb)

    # --- training time and CV on the seed set -----------------------------------------
    t0 = time.perf_counter()
    model, cv = fit_final(seed, cb)
    train_s = time.perf_counter() - t0
    print(f"\ntraining on the seed set ({len(seed)} examples, 5-fold CV + final fit): "
          f"{train_s:.1f} s (target < 60 s)")
    _print_metrics("cross-validation on the seed set (5-fold, thresholds tuned on folds):",
                   headline(cv))

    # --- dev, held out ---------------------------------------------------------------
    def on_dev(m, version: str) -> dict:
        preds = format_suggestions(m, version, [e.id for e in dev], dev_p)
        return headline(evaluate_predictions(dev, preds, cb.stage_ids, cb.reason_ids))

    _print_metrics("dev file (41 real passages), model trained on the seed set only:",
                   on_dev(model, "seed"))
    spec_ex = load_examples(specs, cb) if specs else []
    if spec_ex:
        m2, _ = fit_final(seed + spec_ex, cb)
        _print_metrics("dev file, model trained on seed + sample specs (not dev):",
                       on_dev(m2, "seed+specs"))

    # --- report level -----------------------------------------------------------------
    if len(specs) >= 2:
        half = len(specs) // 2
        cand, caught, n_pass, n_planted = 0, 0, 0, 0
        per = []
        for test_files, train_files in ((specs[:half], specs[half:]),
                                        (specs[half:], specs[:half])):
            m3, _ = fit_final(seed + load_examples(train_files, cb), cb)
            for f in test_files:
                ex = load_examples([f], cb)
                preds = format_suggestions(m3, "r", [e.id for e in ex], prepare_all(ex, cb))
                sel = np.array([p["vivid"]["selected"] for p in preds])
                y = np.array([e.vivid for e in ex])
                cand += sel.sum()
                caught += (sel & y).sum()
                n_pass += len(ex)
                n_planted += y.sum()
                per.append(f"{f.stem}: {sel.mean():.0%} proposed, "
                           f"{(sel & y).sum()}/{y.sum()} planted caught")
        print(f"\nreport level (sample specs, each half scored by a model trained on seed + "
              f"the other half): {cand / n_pass:.1%} of {n_pass} passages proposed "
              f"(target <= 20%), {caught / n_planted:.1%} of {n_planted} planted vivid "
              f"examples caught (target >= 90%)")
        for line in per:
            print(f"    {line}")

    # --- comparison -------------------------------------------------------------------
    print("\nmodel comparison, 5-fold cross-validation on the seed set:")
    t0 = time.perf_counter()
    cmp = compare(seed, seed_p, cb)
    for name, d in cmp.items():
        print(f"    {name:34s} {_fmt(d, ['vivid_roc_auc', 'stage_top1', 'stage_top2'])}")
    print(f"    ({time.perf_counter() - t0:.0f} s)")
    print("model comparison, trained on the seed set, scored on the dev file (held out):")
    yd = np.array([e.vivid for e in dev])
    pos = np.flatnonzero(yd)
    gold = np.array([cb.stage_ids.index(dev[i].stage) for i in pos])
    sc = model.scores(dev_p)
    print(f"    {'baseline (TF-IDF + cues + LR)':34s} vivid_roc_auc="
          f"{roc_auc_score(yd, sc.vivid):.3f}  stage_top1={_topk(sc.stage[pos], gold, 1):.3f}"
          f"  stage_top2={_topk(sc.stage[pos], gold, 2):.3f}")
    texts = [p.model_text() for p in seed_p]
    dtexts = [p.model_text() for p in dev_p]
    v = spacy_fit_predict(texts, ["vivid" if e.vivid else "not" for e in seed], dtexts,
                          ["vivid", "not"])[:, 0]
    sp_pos = [i for i, e in enumerate(seed) if e.vivid]
    st = spacy_fit_predict([texts[i] for i in sp_pos], [seed[i].stage for i in sp_pos],
                           [dtexts[i] for i in pos], cb.stage_ids)
    print(f"    {'alternative (spaCy textcat BOW)':34s} vivid_roc_auc="
          f"{roc_auc_score(yd, v):.3f}  stage_top1={_topk(st, gold, 1):.3f}"
          f"  stage_top2={_topk(st, gold, 2):.3f}")
    print("    kept: the baseline (better stage on both, better vivid on real passages)")

    # --- registry, load time, throughput -----------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["VIVID_REGISTRY_DIR"] = tmp
        from corpus.settings import reset_settings
        from models.registry import MODEL_FILE, save_model

        reset_settings()
        card = save_model(model, codebook=cb, data_files=[SEED_FILE], data_sha="-",
                          counts={}, cv_metrics={}, cv_headline={}, train_seconds=train_s,
                          version="bench")
        size = os.path.getsize(os.path.join(tmp, card.version, MODEL_FILE))
        t0 = time.perf_counter()
        sugg = Suggester.load("bench")
        load_s = time.perf_counter() - t0
        items = [{"id": f"{e.id}-{k}", "text": e.text} for k in range(25) for e in dev]
        sugg.suggest(items[:50])  # warm-up
        t0 = time.perf_counter()
        out = sugg.suggest(items)
        rate = len(out) / (time.perf_counter() - t0)
        long_text = " ".join([dev[0].text] * 700)  # ~50,000 words
        t0 = time.perf_counter()
        sugg.suggest([{"id": "long", "text": long_text}])
        long_s = time.perf_counter() - t0
        os.environ.pop("VIVID_REGISTRY_DIR", None)
        reset_settings()
    print(f"\nmodel file: {size / 1e6:.1f} MB; load time {load_s:.2f} s (target < 2 s, "
          "imports already done)")
    print(f"suggest throughput on one core after load: {rate:.0f} passages/s over "
          f"{len(items)} passages (target >= 200/s)")
    print(f"one {len(long_text.split())}-word passage: {long_s:.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS) of this benchmark process: {peak:.0f} MB")
