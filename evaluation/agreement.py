"""Inter-coder agreement for each coding field, with bootstrap confidence intervals.

Per field (vivid, stage, issue: nominal; pairings, reasons: sets) this gives percent
agreement, the pairwise Cohen's kappa matrix and its mean (Light's kappa), Fleiss' kappa
when every unit has the same number of coders, Krippendorff's alpha (nominal distance, or
MASI distance for sets) and kappa per code treated as present/absent. Units that only one
coder coded are counted but cannot show agreement, so they are excluded from every
statistic. Confidence intervals resample units (a percentile bootstrap, fixed seed).

Alpha uses the general coincidence-matrix formula of Krippendorff (2011, "Computing
Krippendorff's alpha-reliability") with any distance, in a form that takes unit weights
so the bootstrap is one matrix product per statistic rather than a loop.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.metrics import cohen_kappa_score

from corpus.codebook import Codebook
from evaluation.sources import FIELDS, SET_FIELDS, Ratings

Value = str | frozenset[str]
Distance = Callable[[Value, Value], float]

# Passonneau (2006) monotonicity weights: identical, one subsumes the other, they
# overlap, disjoint. Older NLTK releases rounded them to 0.67 / 0.33, which is where the
# often-quoted masi({1,2},{1,2,3,4}) = 0.665 comes from (2/3 gives 0.667).
PASSONNEAU_WEIGHTS = (1.0, 2 / 3, 1 / 3, 0.0)
ROUNDED_WEIGHTS = (1.0, 0.67, 0.33, 0.0)
N_BOOT = 1000
SEED = 20240601


class AgreementError(ValueError):
    """The ratings cannot give any agreement figure (e.g. no unit has two coders)."""


# --- distances ---------------------------------------------------------------------
def masi_distance(a: Value, b: Value,
                  weights: tuple[float, float, float, float] = PASSONNEAU_WEIGHTS) -> float:
    """MASI distance 1 - J*M (Passonneau 2006): Jaccard J times monotonicity weight M."""
    a, b = frozenset(a), frozenset(b)
    if a == b:
        return 0.0  # also covers two empty sets, where Jaccard is undefined
    inter, union = len(a & b), len(a | b)
    if inter == min(len(a), len(b)):
        m = weights[1]
    elif inter:
        m = weights[2]
    else:
        m = weights[3]
    return 1.0 - (inter / union) * m


def nominal_distance(a: Value, b: Value) -> float:
    return 0.0 if a == b else 1.0


def distance_matrix(categories: Sequence[Value], distance: Distance) -> np.ndarray:
    """Distances between all category pairs (MASI and nominal are vectorised)."""
    if distance is masi_distance:
        return masi_matrix(categories)
    if distance is nominal_distance:
        return 1.0 - np.eye(len(categories))
    k = len(categories)
    d = np.zeros((k, k))
    for i, j in combinations(range(k), 2):
        d[i, j] = d[j, i] = distance(categories[i], categories[j])
    return d


def masi_matrix(categories: Sequence[Value],
                weights: tuple[float, float, float, float] = PASSONNEAU_WEIGHTS
                ) -> np.ndarray:
    """:func:`masi_distance` for every pair of sets at once, via set-membership matrices."""
    items = sorted({x for c in categories for x in c})
    pos = {x: i for i, x in enumerate(items)}
    member = np.zeros((len(categories), len(items)))
    for i, c in enumerate(categories):
        member[i, [pos[x] for x in c]] = 1.0
    inter = member @ member.T
    size = member.sum(axis=1)
    union = size[:, None] + size[None, :] - inter
    smaller = np.minimum(size[:, None], size[None, :])
    same = (inter == size[:, None]) & (inter == size[None, :])
    m = np.where(same, weights[0], np.where(inter == smaller, weights[1],
                                            np.where(inter > 0, weights[2], weights[3])))
    with np.errstate(divide="ignore", invalid="ignore"):
        jaccard = np.where(union > 0, inter / union, 1.0)
    return np.where(same, 0.0, 1.0 - jaccard * m)


# --- the statistics on a unit x category count matrix ------------------------------
def _unit_weights(value_counts: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Bootstrap multiplicities as a (B, U) matrix; one row of ones by default."""
    n_units = value_counts.shape[0]
    if weights is None:
        return np.ones((1, n_units))
    return np.atleast_2d(np.asarray(weights, dtype=float))


def _weighted_totals(w: np.ndarray, counts: sparse.csr_matrix) -> np.ndarray:
    """w (B x U) @ counts (U x V) for a sparse counts matrix: one row per replicate."""
    return np.asarray((counts.T @ w.T).T)


def _onehot(codes: np.ndarray, n_categories: int) -> sparse.csr_matrix:
    rows = np.arange(len(codes))
    return sparse.csr_matrix((np.ones(len(codes)), (rows, codes)),
                             shape=(len(codes), n_categories))


def krippendorff_alpha(value_counts: np.ndarray, delta: np.ndarray,
                       weights: np.ndarray | None = None) -> np.ndarray:
    """Alpha = 1 - D_o / D_e from a units x values count matrix and a distance matrix.

    ``weights`` (B x U) gives each unit a multiplicity, one row per bootstrap replicate;
    units with fewer than two values are not pairable and drop out. Returns one alpha
    per row (NaN where the data show only one value, so no disagreement is expected).
    """
    n = np.asarray(value_counts, dtype=float)
    w = _unit_weights(n, weights)
    m = n.sum(axis=1)
    pairable = m >= 2
    n, w, m = sparse.csr_matrix(n[pairable]), w[:, pairable], m[pairable]
    within = np.asarray(n.multiply(n @ delta).sum(axis=1)).ravel()  # sum o_ck d_ck per unit
    observed = w @ (within / (m - 1))
    n_c = _weighted_totals(w, n)  # value totals n_c of the coincidence matrix
    total = n_c.sum(axis=1)
    expected = ((n_c @ delta) * n_c).sum(axis=1) / np.maximum(total - 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1.0 - observed / expected
    return np.where(expected > 0, alpha, np.nan)


def percent_agreement(value_counts: np.ndarray, weights: np.ndarray | None = None
                      ) -> np.ndarray:
    """Mean over units of the share of coder pairs that gave the identical value."""
    n = np.asarray(value_counts, dtype=float)
    w = _unit_weights(n, weights)
    m = n.sum(axis=1)
    pairable = m >= 2
    n, w, m = n[pairable], w[:, pairable], m[pairable]
    share = (n * (n - 1)).sum(axis=1) / (m * (m - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (w @ share) / w.sum(axis=1)


def fleiss_kappa(value_counts: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Fleiss' (1971) kappa; every unit must have the same number of ratings."""
    n = np.asarray(value_counts, dtype=float)
    m = n.sum(axis=1)
    if len(m) == 0 or not np.all(m == m[0]) or m[0] < 2:
        raise AgreementError("Fleiss' kappa needs the same number (>= 2) of ratings "
                             "on every unit")
    r = m[0]
    w = _unit_weights(n, weights)
    p_unit = ((n * n).sum(axis=1) - r) / (r * (r - 1))
    p_bar = (w @ p_unit) / w.sum(axis=1)
    p_cat = _weighted_totals(w, sparse.csr_matrix(n)) / (w.sum(axis=1, keepdims=True) * r)
    p_e = (p_cat ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (p_bar - p_e) / (1 - p_e)
    return np.where(p_e < 1, kappa, np.nan)


def cohen_kappa_weighted(a: np.ndarray, b: np.ndarray, n_categories: int,
                         weights: np.ndarray | None = None) -> np.ndarray:
    """Cohen's kappa of two coders' category indices under unit weights (B x U).

    The same statistic as sklearn's ``cohen_kappa_score`` (checked in the tests), but
    for all bootstrap replicates at once.
    """
    a, b = np.asarray(a, dtype=int), np.asarray(b, dtype=int)
    w = _unit_weights(a[:, None], weights)
    total = w.sum(axis=1)
    p_o = (w @ (a == b).astype(float)) / total
    marg_a = _weighted_totals(w, _onehot(a, n_categories))
    marg_b = _weighted_totals(w, _onehot(b, n_categories))
    p_e = (marg_a * marg_b).sum(axis=1) / total ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (p_o - p_e) / (1 - p_e)
    return np.where(p_e < 1, kappa, np.nan)


def sklearn_kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's kappa via scikit-learn; NaN where it is undefined (one category only)."""
    if len(a) < 2:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(cohen_kappa_score(a, b))
    return value


# --- one field's data --------------------------------------------------------------
def _category_key(v: Value) -> tuple:
    if isinstance(v, frozenset):
        return (len(v), tuple(sorted(v)))
    return (0, (v,))


@dataclass
class FieldData:
    """One field as a units x coders table (only units with at least two values)."""

    name: str
    units: list[str]
    coders: list[str]
    categories: list[Value]
    codes: np.ndarray  # units x coders, category index or -1 where not coded
    n_single: int

    @classmethod
    def build(cls, ratings: Ratings, name: str) -> FieldData:
        by_unit: dict[str, dict[str, Value]] = {}
        for r in ratings.ratings:
            v = r.value(name)
            if v is not None:
                by_unit.setdefault(r.unit, {})[r.coder] = v
        single = sum(1 for vals in by_unit.values() if len(vals) == 1)
        kept = {u: vals for u, vals in sorted(by_unit.items()) if len(vals) >= 2}
        coders = sorted({c for vals in kept.values() for c in vals})
        categories = sorted({v for vals in kept.values() for v in vals.values()},
                            key=_category_key)
        index = {v: i for i, v in enumerate(categories)}
        col = {c: j for j, c in enumerate(coders)}
        codes = np.full((len(kept), len(coders)), -1, dtype=int)
        for i, vals in enumerate(kept.values()):
            for c, v in vals.items():
                codes[i, col[c]] = index[v]
        return cls(name, list(kept), coders, categories, codes, single)

    @property
    def value_counts(self) -> np.ndarray:
        counts = np.zeros((len(self.units), len(self.categories)))
        for j in range(len(self.coders)):
            coded = self.codes[:, j] >= 0
            np.add.at(counts, (np.nonzero(coded)[0], self.codes[coded, j]), 1)
        return counts

    def pair(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit mask and both coders' codes on the units they both coded."""
        both = (self.codes[:, a] >= 0) & (self.codes[:, b] >= 0)
        return both, self.codes[both, a], self.codes[both, b]


# --- results -----------------------------------------------------------------------
@dataclass
class Estimate:
    value: float
    low: float = math.nan
    high: float = math.nan

    def to_dict(self) -> dict:
        return {k: _clean(v) for k, v in asdict(self).items()}


@dataclass
class PairKappa:
    coder_a: str
    coder_b: str
    n_units: int
    kappa: float


@dataclass
class CodeAgreement:
    code: str
    label: str
    n_units: int  # units where at least one coder used the code
    n_ratings: int  # ratings that used it
    kappa: float  # mean pairwise Cohen's kappa, present vs absent
    percent: float


@dataclass
class FieldAgreement:
    field: str
    distance: str
    n_units: int  # units with two or more coders (the ones measured)
    n_single: int  # units with one coder: counted, excluded
    n_coders: int
    n_ratings: int
    percent: Estimate
    kappa: Estimate  # mean pairwise Cohen's kappa (Light's kappa)
    alpha: Estimate
    fleiss: Estimate | None
    fleiss_note: str = ""
    pairs: list[PairKappa] = field(default_factory=list)
    per_code: list[CodeAgreement] = field(default_factory=list)

    def kappa_matrix(self) -> tuple[list[str], list[list[float]]]:
        """Coders and the symmetric matrix of pairwise kappas (NaN on the diagonal)."""
        coders = sorted({p.coder_a for p in self.pairs} | {p.coder_b for p in self.pairs})
        pos = {c: i for i, c in enumerate(coders)}
        mat = [[math.nan] * len(coders) for _ in coders]
        for p in self.pairs:
            mat[pos[p.coder_a]][pos[p.coder_b]] = mat[pos[p.coder_b]][pos[p.coder_a]] = p.kappa
        return coders, mat

    def to_dict(self) -> dict:
        out = {
            "field": self.field, "distance": self.distance, "n_units": self.n_units,
            "n_single": self.n_single, "n_coders": self.n_coders,
            "n_ratings": self.n_ratings, "percent": self.percent.to_dict(),
            "kappa": self.kappa.to_dict(), "alpha": self.alpha.to_dict(),
            "fleiss": self.fleiss.to_dict() if self.fleiss else None,
            "fleiss_note": self.fleiss_note,
            "pairs": [{k: _clean(v) for k, v in asdict(p).items()} for p in self.pairs],
            "per_code": [{k: _clean(v) for k, v in asdict(c).items()} for c in self.per_code],
        }
        return out


@dataclass
class AgreementReport:
    source: str
    n_units: int  # all units in the source
    n_coders: int
    n_boot: int
    seed: int
    fields: list[FieldAgreement]
    notes: list[str] = field(default_factory=list)

    def field(self, name: str) -> FieldAgreement:
        for f in self.fields:
            if f.field == name:
                return f
        raise KeyError(name)

    def to_dict(self) -> dict:
        return {"source": self.source, "n_units": self.n_units, "n_coders": self.n_coders,
                "n_boot": self.n_boot, "seed": self.seed, "notes": self.notes,
                "fields": [f.to_dict() for f in self.fields]}


def _clean(v: object) -> object:
    """JSON has no NaN: undefined statistics become null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, float):
        return round(v, 6)
    return v


def _ci(values: np.ndarray) -> tuple[float, float]:
    ok = values[np.isfinite(values)]
    if len(ok) < 2:
        return math.nan, math.nan
    low, high = np.percentile(ok, [2.5, 97.5])
    return float(low), float(high)


def _estimate(point: float, boot: np.ndarray | None) -> Estimate:
    if boot is None or not math.isfinite(point):
        return Estimate(float(point))
    return Estimate(float(point), *_ci(boot))


def _label(codebook: Codebook | None, name: str, code: Value) -> str:
    if isinstance(code, frozenset) or codebook is None:
        return ""
    kinds = {"stage": "stages", "issue": "issues", "reasons": "reasons"}
    try:
        return codebook.label(kinds[name], code) if name in kinds else ""
    except KeyError:
        return ""


# --- per field ---------------------------------------------------------------------
def _mean_pairwise(data: FieldData, weights: np.ndarray | None
                   ) -> tuple[list[PairKappa], float, np.ndarray | None]:
    pairs: list[PairKappa] = []
    boots = []
    for a, b in combinations(range(len(data.coders)), 2):
        both, ca, cb = data.pair(a, b)
        if both.sum() < 2:
            continue
        kappa = sklearn_kappa(ca, cb)  # category indices stand for the values
        pairs.append(PairKappa(data.coders[a], data.coders[b], int(both.sum()), kappa))
        if weights is not None and math.isfinite(kappa):
            boots.append(cohen_kappa_weighted(ca, cb, len(data.categories),
                                              weights[:, both]))
    finite = [p.kappa for p in pairs if math.isfinite(p.kappa)]
    mean = float(np.mean(finite)) if finite else math.nan
    boot = None
    if boots:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a replicate may lose a pair
            boot = np.nanmean(np.vstack(boots), axis=0)
    return pairs, mean, boot


def _per_code(data: FieldData, codebook: Codebook | None) -> list[CodeAgreement]:
    """Kappa of each code as present/absent; codes nobody used are left out."""
    is_set = data.name in SET_FIELDS
    codes = sorted({c for v in data.categories for c in (v if is_set else [v])})
    out = []
    for code in codes:
        present = np.array([(code in v) if is_set else (v == code) for v in data.categories])
        binary = np.where(data.codes >= 0, present[np.maximum(data.codes, 0)].astype(int), -1)
        kappas = []
        for a, b in combinations(range(len(data.coders)), 2):
            both = (binary[:, a] >= 0) & (binary[:, b] >= 0)
            if both.sum() < 2:
                continue
            # the vectorised kappa (equal to sklearn's, see the tests): many codes, many pairs
            kappas.append(float(cohen_kappa_weighted(binary[both, a], binary[both, b], 2)[0]))
        counts = np.stack([(binary == 0).sum(axis=1), (binary == 1).sum(axis=1)], axis=1)
        agree = float(percent_agreement(counts)[0])
        total = int((binary == 1).sum())
        finite = [k for k in kappas if math.isfinite(k)]
        out.append(CodeAgreement(
            code=str(code), label=_label(codebook, data.name, code),
            n_units=int((binary == 1).any(axis=1).sum()), n_ratings=total,
            kappa=float(np.mean(finite)) if finite else math.nan, percent=agree))
    return sorted(out, key=lambda c: (-c.n_ratings, c.code))


def bootstrap_weights(n_units: int, n_boot: int, seed: int) -> np.ndarray | None:
    """How often each unit is drawn in each resample of units with replacement (B x U)."""
    if n_boot <= 0 or n_units == 0:
        return None
    draws = np.random.default_rng(seed).integers(0, n_units, size=(n_boot, n_units))
    flat = (np.arange(n_boot)[:, None] * n_units + draws).ravel()
    return np.bincount(flat, minlength=n_boot * n_units).reshape(n_boot, n_units).astype(float)


def field_agreement(ratings: Ratings, name: str, codebook: Codebook | None = None,
                    n_boot: int = N_BOOT, seed: int = SEED) -> FieldAgreement:
    """Every statistic for one field, with bootstrap intervals over units."""
    data = FieldData.build(ratings, name)
    is_set = name in SET_FIELDS
    dist_name = "MASI" if is_set else "nominal"
    delta = distance_matrix(data.categories, masi_distance if is_set else nominal_distance)
    counts = data.value_counts
    n_units = len(data.units)
    boot_w = bootstrap_weights(n_units, n_boot, seed)

    def stat(fn: Callable[..., np.ndarray], *args: object) -> Estimate:
        if n_units == 0:
            return Estimate(math.nan)
        point = float(fn(*args)[0])
        boot = fn(*args, weights=boot_w) if boot_w is not None else None
        return _estimate(point, boot)

    fleiss, fleiss_note = None, ""
    per_unit = counts.sum(axis=1)
    if n_units and np.all(per_unit == per_unit[0]):
        fleiss = stat(fleiss_kappa, counts)
    elif n_units:
        fleiss_note = (f"coders per unit vary ({int(per_unit.min())}-{int(per_unit.max())})"
                       ": Fleiss' kappa needs the same number on every unit")
    else:
        fleiss_note = "no unit with two or more coders"
    pairs, mean_kappa, kappa_boot = _mean_pairwise(data, boot_w)
    return FieldAgreement(
        field=name, distance=dist_name, n_units=n_units, n_single=data.n_single,
        n_coders=len(data.coders), n_ratings=int(counts.sum()),
        percent=stat(percent_agreement, counts),
        kappa=_estimate(mean_kappa, kappa_boot),
        alpha=stat(krippendorff_alpha, counts, delta),
        fleiss=fleiss, fleiss_note=fleiss_note, pairs=pairs,
        per_code=_per_code(data, codebook))


def agreement(ratings: Ratings, codebook: Codebook | None = None, n_boot: int = N_BOOT,
              seed: int = SEED, fields: Sequence[str] | None = None) -> AgreementReport:
    """The agreement report for every field the source carries."""
    if not ratings.ratings:
        raise AgreementError(f"{ratings.source or 'ratings'}: no codings to compare")
    units = {r.unit for r in ratings.ratings}
    per_unit: dict[str, set[str]] = {}
    for r in ratings.ratings:
        per_unit.setdefault(r.unit, set()).add(r.coder)
    if not any(len(c) >= 2 for c in per_unit.values()):
        raise AgreementError(f"{ratings.source or 'ratings'}: no unit is coded by two or "
                             f"more coders ({len(units)} units, each coded once)")
    names = [f for f in (fields or ratings.fields) if f in FIELDS]
    results = [field_agreement(ratings, f, codebook, n_boot, seed) for f in names]
    return AgreementReport(source=ratings.source, n_units=len(units),
                           n_coders=len(ratings.coders), n_boot=n_boot, seed=seed,
                           fields=results, notes=list(ratings.notes))


# --- files ---------------------------------------------------------------------------
def field_rows(report: AgreementReport) -> list[dict]:
    """One flat row per field: the summary table as CSV."""
    rows = []
    for f in report.fields:
        row = {"field": f.field, "distance": f.distance, "units": f.n_units,
               "single_coded_excluded": f.n_single, "coders": f.n_coders,
               "ratings": f.n_ratings}
        for name in ("percent", "kappa", "fleiss", "alpha"):
            est = getattr(f, name) or Estimate(math.nan)
            row |= {name: est.value, f"{name}_low": est.low, f"{name}_high": est.high}
        rows.append(row)
    return rows


def write_report(out_dir: str | Path, report: AgreementReport, model: object | None = None
                 ) -> list[Path]:
    """agreement.json and CSV tables (plus model-vs-coder files) into ``out_dir`` at once."""
    import json

    import pandas as pd

    from evaluation.collate import staged_output

    names = ["agreement.json", "agreement_fields.csv", "agreement_pairs.csv",
             "agreement_per_code.csv"]
    with staged_output(out_dir) as built:
        payload = {"agreement": report.to_dict(),
                   "model": model.to_dict() if model is not None else None}
        (built / names[0]).write_text(json.dumps(payload, indent=2), encoding="utf-8")
        pd.DataFrame(field_rows(report)).to_csv(built / names[1], index=False)
        pd.DataFrame([{"field": f.field} | asdict(p) for f in report.fields for p in f.pairs],
                     columns=["field", "coder_a", "coder_b", "n_units", "kappa"]
                     ).to_csv(built / names[2], index=False)
        pd.DataFrame([{"field": f.field} | asdict(c) for f in report.fields
                      for c in f.per_code],
                     columns=["field", "code", "label", "n_units", "n_ratings", "kappa",
                              "percent"]).to_csv(built / names[3], index=False)
        if model is not None:
            from evaluation.model_vs_coders import reliability_diagram

            pd.DataFrame([f.to_dict() | {k: getattr(f, k).value for k in
                                         ("kappa_model", "alpha_model", "kappa_coders",
                                          "alpha_coders")} for f in model.fields]
                         ).to_csv(built / "model_vs_coders.csv", index=False)
            reliability_diagram(model.calibration, built / "reliability_diagram.png")
            names += ["model_vs_coders.csv", "reliability_diagram.png"]
    return [Path(out_dir) / n for n in names]
