"""The five suggesters behind `vivid suggest`, fitted together as one model.

Text heads (vivid, stage, issue, reasons) share one TF-IDF word + character n-gram
representation of the passage (plus agency and context tokens) and use logistic
regression; vivid, stage and issue are calibrated with sigmoid calibration on internal
folds. The pairing head scores every candidate ordered pair (mentioned groups plus the
usually implied CSC and network) with a pair-level logistic regression over features
that do not depend on having seen the pair, so a new pair is proposed when its groups
are mentioned. Only scikit-learn objects, arrays and plain values are kept, so the
model persists with skops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from models.examples import Example
from models.features import Prepared, all_pair_features

STATE_FORMAT = 1


@dataclass
class Params:
    """Hyper-parameters (chosen by cross-validation on the seed set; see bench)."""

    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (3, 5)
    word_max: int = 20000
    char_max: int = 20000
    c_vivid: float = 4.0
    c_stage: float = 8.0
    c_issue: float = 4.0
    c_reason: float = 8.0
    c_pair: float = 0.5
    calibrate: bool = True

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


def make_vectorizers(p: Params) -> tuple[TfidfVectorizer, TfidfVectorizer]:
    word = TfidfVectorizer(ngram_range=p.word_ngrams, min_df=2, max_df=0.9, sublinear_tf=True,
                           strip_accents="unicode", max_features=p.word_max,
                           dtype=np.float32)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=p.char_ngrams, min_df=3,
                           sublinear_tf=True, strip_accents="unicode",
                           max_features=p.char_max, dtype=np.float32)
    return word, char


def _lr(c: float, balanced: bool = False) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=2000, class_weight="balanced" if balanced else None)


def _classifier(c: float, y: Sequence, calibrate: bool, balanced: bool = False):
    """LR, sigmoid-calibrated on internal folds when every class has enough examples."""
    counts = np.unique(np.asarray(y), return_counts=True)[1]
    if calibrate and len(counts) > 1 and counts.min() >= 3:
        return CalibratedClassifierCV(_lr(c, balanced), method="sigmoid",
                                      cv=int(min(3, counts.min())), ensemble=False)
    return _lr(c, balanced)


@dataclass
class Scores:
    """Raw scores of every head for a batch of passages (before any decision)."""

    vivid: np.ndarray  # (n,)
    stage: np.ndarray  # (n, stages) in stage_ids order
    issue: np.ndarray  # (n, issues) in issue_ids order
    reasons: np.ndarray  # (n, reasons) in reason_ids order
    pairs: list[list[tuple[str, float]]]  # per passage, best first

    def take(self, idx: Sequence[int]) -> Scores:
        idx = list(idx)
        return Scores(self.vivid[idx], self.stage[idx], self.issue[idx], self.reasons[idx],
                      [self.pairs[i] for i in idx])


@dataclass
class Thresholds:
    """Decision thresholds tuned by cross-validation."""

    vivid: float = 0.5
    reasons: list[float] = field(default_factory=list)
    pair: float = 0.5
    pair_max: int = 4

    def select_pairs(self, ranked: list[tuple[str, float]]) -> set[str]:
        """Pairs at or above the threshold (at most a few), and always the best one."""
        chosen = [p for p, s in ranked if s >= self.pair][:self.pair_max]
        if not chosen and ranked:
            chosen = [ranked[0][0]]
        return set(chosen)


@dataclass
class VividModel:
    """Fitted heads plus decision thresholds; ``state()`` is what the registry stores."""

    params: Params
    word: TfidfVectorizer
    char: TfidfVectorizer
    vivid: object
    stage: object
    stage_ids: list[str]
    issue: object | None
    issue_classes: list[str]
    issue_ids: list[str]
    reasons: list[object | None]
    reason_ids: list[str]
    pair_vec: DictVectorizer
    pair: object
    thresholds: Thresholds = field(default_factory=Thresholds)

    # --- persistence -------------------------------------------------------------
    def state(self) -> dict:
        return {"format": STATE_FORMAT, "params": self.params.as_dict(), "word": self.word,
                "char": self.char, "vivid": self.vivid, "stage": self.stage,
                "stage_ids": list(self.stage_ids), "issue": self.issue,
                "issue_classes": list(self.issue_classes), "issue_ids": list(self.issue_ids),
                "reasons": list(self.reasons), "reason_ids": list(self.reason_ids),
                "pair_vec": self.pair_vec, "pair": self.pair,
                "thresholds": {"vivid": float(self.thresholds.vivid),
                               "reasons": [float(t) for t in self.thresholds.reasons],
                               "pair": float(self.thresholds.pair),
                               "pair_max": int(self.thresholds.pair_max)}}

    @classmethod
    def from_state(cls, state: dict) -> VividModel:
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"model state format {state.get('format')!r} is not supported")
        p = dict(state["params"])
        for k in ("word_ngrams", "char_ngrams"):
            p[k] = tuple(p[k])
        kw = {k: v for k, v in state.items() if k not in ("format", "params", "thresholds")}
        return cls(params=Params(**p), thresholds=Thresholds(**state["thresholds"]), **kw)

    # --- prediction --------------------------------------------------------------
    def text_matrix(self, preps: Sequence[Prepared]) -> sp.csr_matrix:
        texts = [p.model_text() for p in preps]
        return sp.hstack([self.word.transform(texts), self.char.transform(texts)],
                         format="csr")

    def predict_vivid(self, X) -> np.ndarray:
        return self.vivid.predict_proba(X)[:, list(self.vivid.classes_).index(True)]

    def predict_stage(self, X) -> np.ndarray:
        """Probabilities over ``stage_ids`` (columns in codebook order)."""
        proba = self.stage.predict_proba(X)
        out = np.zeros((X.shape[0], len(self.stage_ids)))
        for j, c in enumerate(self.stage.classes_):
            out[:, self.stage_ids.index(c)] = proba[:, j]
        return out

    def predict_issue(self, X) -> np.ndarray:
        out = np.zeros((X.shape[0], len(self.issue_ids)))
        if self.issue is None:
            out[:, self.issue_ids.index(self.issue_classes[0])] = 1.0
            return out
        proba = self.issue.predict_proba(X)
        for j, c in enumerate(self.issue.classes_):
            out[:, self.issue_ids.index(c)] = proba[:, j]
        return out

    def predict_reasons(self, X) -> np.ndarray:
        out = np.zeros((X.shape[0], len(self.reason_ids)))
        for j, clf in enumerate(self.reasons):
            if clf is not None:
                out[:, j] = clf.predict_proba(X)[:, 1]
        return out

    def predict_pairs(self, preps: Sequence[Prepared]) -> list[list[tuple[str, float]]]:
        """Candidate pairs per passage with their scores, best first."""
        ids, feats, owner = [], [], []
        for i, prep in enumerate(preps):
            pid, pf = all_pair_features(prep)
            ids += pid
            feats += pf
            owner += [i] * len(pid)
        out: list[list[tuple[str, float]]] = [[] for _ in preps]
        if not feats:
            return out
        scores = self.pair.predict_proba(self.pair_vec.transform(feats))[:, 1]
        for i, pid, s in zip(owner, ids, scores, strict=True):
            out[i].append((pid, float(s)))
        for lst in out:
            lst.sort(key=lambda x: -x[1])
        return out

    def scores(self, preps: Sequence[Prepared]) -> Scores:
        X = self.text_matrix(preps)
        return Scores(self.predict_vivid(X), self.predict_stage(X), self.predict_issue(X),
                      self.predict_reasons(X), self.predict_pairs(preps))


def fit_model(examples: Sequence[Example], preps: Sequence[Prepared], stage_ids: list[str],
              issue_ids: list[str], reason_ids: list[str], params: Params | None = None
              ) -> VividModel:
    """Fit every head on ``examples`` (``preps`` are their prepared passages)."""
    p = params or Params()
    word, char = make_vectorizers(p)
    texts = [x.model_text() for x in preps]
    X = sp.hstack([word.fit_transform(texts), char.fit_transform(texts)], format="csr")
    y_vivid = np.array([e.vivid for e in examples])
    vivid = _classifier(p.c_vivid, y_vivid, p.calibrate).fit(X, y_vivid)
    pos = np.flatnonzero(y_vivid)
    Xp = X[pos]
    pos_ex = [examples[i] for i in pos]
    y_stage = np.array([e.stage for e in pos_ex])
    stage = _classifier(p.c_stage, y_stage, p.calibrate).fit(Xp, y_stage)
    y_issue = np.array([e.issue for e in pos_ex])
    issue_classes = sorted(set(y_issue))
    issue = (_classifier(p.c_issue, y_issue, p.calibrate).fit(Xp, y_issue)
             if len(issue_classes) > 1 else None)
    reasons: list[object | None] = []
    for r in reason_ids:
        y = np.array([r in e.reasons for e in pos_ex])
        reasons.append(_lr(p.c_reason).fit(Xp, y) if 2 <= y.sum() < len(y) else None)
    pair_vec, pair = fit_pairs([preps[i] for i in pos], pos_ex, p)
    return VividModel(params=p, word=word, char=char, vivid=vivid, stage=stage,
                      stage_ids=list(stage_ids), issue=issue, issue_classes=issue_classes,
                      issue_ids=list(issue_ids), reasons=reasons, reason_ids=list(reason_ids),
                      pair_vec=pair_vec, pair=pair,
                      thresholds=Thresholds(reasons=[0.3] * len(reason_ids)))


def pair_training_rows(preps: Sequence[Prepared], examples: Sequence[Example]
                       ) -> tuple[list[dict], np.ndarray]:
    feats, ys = [], []
    for prep, ex in zip(preps, examples, strict=True):
        gold = set(ex.pairings)
        pid, pf = all_pair_features(prep)
        feats += pf
        ys += [p in gold for p in pid]
    return feats, np.array(ys)


def fit_pairs(preps: Sequence[Prepared], examples: Sequence[Example], p: Params
              ) -> tuple[DictVectorizer, LogisticRegression]:
    feats, y = pair_training_rows(preps, examples)
    vec = DictVectorizer(dtype=np.float32)
    Xf = vec.fit_transform(feats)
    return vec, _lr(p.c_pair).fit(Xf, y)
