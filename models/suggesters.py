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
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from models.examples import Example
from models.features import FEATURES_VERSION, Prepared, all_pair_features, dense_features

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
    c_pair: float = 0.2
    dense_weight: float = 0.6
    dense_weight_vivid: float = 0.3

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


def _vec_state(vec: TfidfVectorizer) -> dict:
    terms = sorted(vec.vocabulary_, key=vec.vocabulary_.get)
    return {"terms": np.array(terms, dtype=str), "idf": np.asarray(vec.idf_, dtype=np.float64)}


def _vec_restore(vec: TfidfVectorizer, st: dict) -> TfidfVectorizer:
    vec.vocabulary_ = {str(t): i for i, t in enumerate(st["terms"])}
    vec.idf_ = np.asarray(st["idf"])
    return vec


def _lr(c: float, balanced: bool = False) -> LogisticRegression:
    return LogisticRegression(C=c, solver="newton-cg", max_iter=200, tol=1e-3,
                              class_weight="balanced" if balanced else None)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class Calibration:
    """Platt scaling for vivid, temperature scaling for stage and issue.

    Fitted on out-of-fold scores from the training cross-validation, so the probabilities
    a coder sees are calibrated without refitting every head on inner folds.
    """

    vivid_a: float = 1.0
    vivid_b: float = 0.0
    stage_t: float = 1.0
    issue_t: float = 1.0

    def as_dict(self) -> dict:
        return {k: float(v) for k, v in self.__dict__.items()}


def fit_platt(logit: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    lr = LogisticRegression(C=1e4).fit(logit.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def fit_temperature(logits: np.ndarray, y_idx: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of the true classes."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        p = _softmax(logits / np.exp(log_t))
        return float(-np.mean(np.log(p[np.arange(len(y_idx)), y_idx] + 1e-12)))

    res = minimize_scalar(nll, bounds=(-2.5, 2.5), method="bounded")
    return float(np.exp(res.x))


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
    pair_rel: float = 0.0  # a further pair needs at least this share of the best score
    pair_reverse: float = 0.0  # the reverse of a chosen pair needs this share of its score

    def select_pairs(self, ranked: list[tuple[str, float]]) -> set[str]:
        """The best pair always; others above the absolute and relative thresholds, a
        reversed pair only with strong evidence of its own, and at most ``pair_max``."""
        if not ranked:
            return set()
        top = ranked[0][1]
        chosen = {ranked[0][0]: top}
        for p, s in ranked[1:]:
            if len(chosen) >= self.pair_max or s < self.pair or s < self.pair_rel * top:
                break
            a, _, b = p.partition(">")
            rev = chosen.get(f"{b}>{a}")
            if rev is not None and a != b and s < self.pair_reverse * rev:
                continue
            chosen[p] = s
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
    group_ids: list[str] = field(default_factory=list)
    thresholds: Thresholds = field(default_factory=Thresholds)
    calibration: Calibration = field(default_factory=Calibration)

    # --- persistence -------------------------------------------------------------
    def state(self) -> dict:
        """Plain values, arrays and small scikit-learn estimators (fast to load with skops:
        vocabularies are kept as string arrays, not as dicts of thousands of entries)."""
        return {"format": STATE_FORMAT, "features_version": FEATURES_VERSION,
                "params": self.params.as_dict(), "word": _vec_state(self.word),
                "char": _vec_state(self.char), "vivid": self.vivid, "stage": self.stage,
                "stage_ids": list(self.stage_ids), "issue": self.issue,
                "issue_classes": list(self.issue_classes), "issue_ids": list(self.issue_ids),
                "reasons": list(self.reasons), "reason_ids": list(self.reason_ids),
                "pair_vec": np.array(self.pair_vec.feature_names_, dtype=str),
                "pair": self.pair, "group_ids": list(self.group_ids),
                "thresholds": {"vivid": float(self.thresholds.vivid),
                               "reasons": [float(t) for t in self.thresholds.reasons],
                               "pair": float(self.thresholds.pair),
                               "pair_max": int(self.thresholds.pair_max),
                               "pair_rel": float(self.thresholds.pair_rel),
                               "pair_reverse": float(self.thresholds.pair_reverse)},
                "calibration": self.calibration.as_dict()}

    @classmethod
    def from_state(cls, state: dict) -> VividModel:
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"model state format {state.get('format')!r} is not supported")
        if state.get("features_version") != FEATURES_VERSION:
            raise ValueError(f"model was built with features version "
                             f"{state.get('features_version')!r}, this code has "
                             f"{FEATURES_VERSION!r}")
        p = dict(state["params"])
        for k in ("word_ngrams", "char_ngrams"):
            p[k] = tuple(p[k])
        params = Params(**p)
        word, char = make_vectorizers(params)
        pair_vec = DictVectorizer(dtype=np.float32)
        names = [str(x) for x in state["pair_vec"]]
        pair_vec.feature_names_ = names
        pair_vec.vocabulary_ = {n: i for i, n in enumerate(names)}
        kw = {k: v for k, v in state.items()
              if k not in ("format", "features_version", "params", "thresholds", "calibration",
                           "word", "char", "pair_vec")}
        return cls(params=params, word=_vec_restore(word, state["word"]),
                   char=_vec_restore(char, state["char"]), pair_vec=pair_vec,
                   thresholds=Thresholds(**state["thresholds"]),
                   calibration=Calibration(**state["calibration"]), **kw)

    # --- prediction --------------------------------------------------------------
    def text_matrix(self, preps: Sequence[Prepared]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """(matrix for the vivid head, matrix for the other text heads)."""
        return text_matrices(self.word, self.char, preps, self.group_ids, self.params)

    def vivid_logit(self, X) -> np.ndarray:
        sign = 1.0 if list(self.vivid.classes_).index(True) == 1 else -1.0
        return sign * self.vivid.decision_function(X)

    def predict_vivid(self, X, logit: np.ndarray | None = None) -> np.ndarray:
        z = self.vivid_logit(X) if logit is None else logit
        c = self.calibration
        return 1.0 / (1.0 + np.exp(-(c.vivid_a * z + c.vivid_b)))

    @staticmethod
    def _logits(clf, X, classes: list[str]) -> np.ndarray:
        """Logits in the order of ``classes`` (very low for classes never trained on)."""
        out = np.full((X.shape[0], len(classes)), -30.0)
        z = clf.decision_function(X)
        if z.ndim == 1:  # two classes
            z = np.column_stack([-z / 2, z / 2])
        for j, c in enumerate(clf.classes_):
            out[:, classes.index(c)] = z[:, j]
        return out

    def stage_logits(self, X) -> np.ndarray:
        return self._logits(self.stage, X, self.stage_ids)

    def issue_logits(self, X) -> np.ndarray:
        if self.issue is None:
            out = np.full((X.shape[0], len(self.issue_ids)), -30.0)
            out[:, self.issue_ids.index(self.issue_classes[0])] = 0.0
            return out
        return self._logits(self.issue, X, self.issue_ids)

    def predict_stage(self, X, logits: np.ndarray | None = None) -> np.ndarray:
        """Probabilities over ``stage_ids`` (columns in codebook order)."""
        z = self.stage_logits(X) if logits is None else logits
        return _softmax(z / self.calibration.stage_t)

    def predict_issue(self, X, logits: np.ndarray | None = None) -> np.ndarray:
        z = self.issue_logits(X) if logits is None else logits
        return _softmax(z / self.calibration.issue_t)

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
        Xv, X = self.text_matrix(preps)
        return Scores(self.predict_vivid(Xv), self.predict_stage(X), self.predict_issue(X),
                      self.predict_reasons(X), self.predict_pairs(preps))

    def raw_scores(self, preps: Sequence[Prepared]) -> Scores:
        """Like ``scores`` but vivid, stage and issue as uncalibrated logits."""
        Xv, X = self.text_matrix(preps)
        return Scores(self.vivid_logit(Xv), self.stage_logits(X), self.issue_logits(X),
                      self.predict_reasons(X), self.predict_pairs(preps))


def text_matrices(word: TfidfVectorizer, char: TfidfVectorizer, preps: Sequence[Prepared],
                  group_ids: list[str], p: Params) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Word and character TF-IDF plus the dense block (cues and groups), weighted once for
    the vivid head and once for the other heads."""
    texts = [x.model_text() for x in preps]
    dense = np.array([dense_features(x, group_ids) for x in preps], dtype=np.float32)
    ngrams = sp.hstack([word.transform(texts), char.transform(texts)], format="csr")
    return (sp.hstack([ngrams, sp.csr_matrix(dense * p.dense_weight_vivid)], format="csr"),
            sp.hstack([ngrams, sp.csr_matrix(dense * p.dense_weight)], format="csr"))


def fit_model(examples: Sequence[Example], preps: Sequence[Prepared], stage_ids: list[str],
              issue_ids: list[str], reason_ids: list[str], params: Params | None = None,
              group_ids: list[str] | None = None) -> VividModel:
    """Fit every head on ``examples`` (``preps`` are their prepared passages)."""
    p = params or Params()
    group_ids = list(group_ids or [])
    word, char = make_vectorizers(p)
    texts = [x.model_text() for x in preps]
    word.fit(texts)
    char.fit(texts)
    Xv, X = text_matrices(word, char, preps, group_ids, p)
    y_vivid = np.array([e.vivid for e in examples])
    vivid = _lr(p.c_vivid).fit(Xv, y_vivid)
    pos = np.flatnonzero(y_vivid)
    Xp = X[pos]
    pos_ex = [examples[i] for i in pos]
    y_stage = np.array([e.stage for e in pos_ex])
    stage = _lr(p.c_stage).fit(Xp, y_stage)
    y_issue = np.array([e.issue for e in pos_ex])
    issue_classes = sorted(set(y_issue))
    issue = (_lr(p.c_issue).fit(Xp, y_issue)
             if len(issue_classes) > 1 else None)
    reasons: list[object | None] = []
    for r in reason_ids:
        y = np.array([r in e.reasons for e in pos_ex])
        reasons.append(_lr(p.c_reason).fit(Xp, y) if 2 <= y.sum() < len(y) else None)
    pair_vec, pair = fit_pairs([preps[i] for i in pos], pos_ex, p)
    for clf in [vivid, stage, issue, pair, *reasons]:
        _shrink(clf)
    return VividModel(params=p, word=word, char=char, vivid=vivid, stage=stage,
                      stage_ids=list(stage_ids), issue=issue, issue_classes=issue_classes,
                      issue_ids=list(issue_ids), reasons=reasons, reason_ids=list(reason_ids),
                      pair_vec=pair_vec, pair=pair, group_ids=group_ids,
                      thresholds=Thresholds(reasons=[0.3] * len(reason_ids)))


def _shrink(clf) -> None:
    """Store coefficients as float32: halves the model file, no visible change in scores."""
    if clf is not None:
        clf.coef_ = clf.coef_.astype(np.float32)
        clf.intercept_ = clf.intercept_.astype(np.float32)


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
