"""Baseline against an alternative, by cross-validation (printed by `make bench`).

The baseline is the shipped heads (TF-IDF word + character n-grams, cue lexicons, logistic
regression). The alternative is a spaCy text classifier trained from scratch in a blank
English pipeline (bag-of-words n-gram model, nothing downloaded). Both are scored on the
same stratified folds for the vivid decision (ROC-AUC) and the stage (top-1, top-2); the
winner is what `train` uses, and this module is how that choice is checked.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from corpus.codebook import Codebook
from models.examples import Example
from models.features import Prepared


def _spacy_textcat(labels: list[str], exclusive: bool):
    import spacy

    nlp = spacy.blank("en")
    name = "textcat" if exclusive else "textcat_multilabel"
    cfg = {"model": {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": exclusive,
                     "ngram_size": 2, "no_output_layer": False, "length": 262144}}
    tc = nlp.add_pipe(name, config=cfg)
    for lab in labels:
        tc.add_label(lab)
    return nlp


def spacy_fit_predict(train_texts: Sequence[str], train_labels: Sequence[str],
                      test_texts: Sequence[str], labels: list[str], epochs: int = 12,
                      seed: int = 0) -> np.ndarray:
    """Train a spaCy bag-of-words textcat on the fold and score the held-out texts."""
    from spacy.training import Example as SpacyExample
    from spacy.util import fix_random_seed, minibatch

    fix_random_seed(seed)
    nlp = _spacy_textcat(labels, exclusive=True)
    data = [SpacyExample.from_dict(nlp.make_doc(t), {"cats": {lab: float(lab == y)
                                                              for lab in labels}})
            for t, y in zip(train_texts, train_labels, strict=True)]
    opt = nlp.initialize(lambda: data)
    rng = random.Random(seed)
    for _ in range(epochs):
        rng.shuffle(data)
        for batch in minibatch(data, size=16):
            nlp.update(batch, sgd=opt, drop=0.2)
    out = np.zeros((len(test_texts), len(labels)))
    for i, doc in enumerate(nlp.pipe(test_texts)):
        out[i] = [doc.cats[lab] for lab in labels]
    return out


def _topk(proba: np.ndarray, gold: np.ndarray, k: int) -> float:
    order = np.argsort(-proba, axis=1)[:, :k]
    return float(np.mean([g in row for g, row in zip(gold, order, strict=True)]))


def compare(examples: Sequence[Example], preps: Sequence[Prepared], codebook: Codebook,
            n_splits: int = 5, seed: int = 0) -> dict[str, dict[str, float]]:
    """Out-of-fold vivid ROC-AUC and stage top-1/top-2 of baseline and alternative."""
    from models.train import fit_calibration, out_of_fold_scores

    raw = out_of_fold_scores(examples, preps, codebook, n_splits=n_splits, seed=seed)
    _, base = fit_calibration(examples, raw, codebook)
    y = np.array([e.vivid for e in examples])
    pos = np.flatnonzero(y)
    gold_stage = np.array([codebook.stage_ids.index(examples[i].stage) for i in pos])
    result = {"baseline (TF-IDF + cues + LR)": {
        "vivid_roc_auc": float(roc_auc_score(y, base.vivid)),
        "stage_top1": _topk(base.stage[pos], gold_stage, 1),
        "stage_top2": _topk(base.stage[pos], gold_stage, 2)}}
    texts = [p.model_text() for p in preps]
    strata = np.array([e.stage or "-" for e in examples])
    vivid = np.zeros(len(examples))
    stage = np.zeros((len(examples), len(codebook.stage_ids)))
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for tr, te in folds.split(np.zeros(len(examples)), strata):
        lab = ["vivid" if examples[i].vivid else "not" for i in tr]
        vivid[te] = spacy_fit_predict([texts[i] for i in tr], lab, [texts[i] for i in te],
                                      ["vivid", "not"], seed=seed)[:, 0]
        tr_pos = [i for i in tr if examples[i].vivid]
        te_pos = [i for i in te if examples[i].vivid]
        stage[te_pos] = spacy_fit_predict([texts[i] for i in tr_pos],
                                          [examples[i].stage for i in tr_pos],
                                          [texts[i] for i in te_pos], codebook.stage_ids,
                                          seed=seed)
    result["alternative (spaCy textcat BOW)"] = {
        "vivid_roc_auc": float(roc_auc_score(y, vivid)),
        "stage_top1": _topk(stage[pos], gold_stage, 1),
        "stage_top2": _topk(stage[pos], gold_stage, 2)}
    return result
