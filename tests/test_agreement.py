"""Agreement statistics against published worked examples, both sources, and the CLI."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import krippendorff
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.metrics import cohen_kappa_score
from typer.testing import CliRunner

from corpus.store.db import session_scope
from corpus.store.schema import Annotation, Coding, Suggestion
from evaluation.agreement import (
    PASSONNEAU_WEIGHTS,
    ROUNDED_WEIGHTS,
    AgreementError,
    agreement,
    cohen_kappa_weighted,
    distance_matrix,
    fleiss_kappa,
    krippendorff_alpha,
    masi_distance,
    nominal_distance,
    percent_agreement,
)
from evaluation.model_vs_coders import from_store, reliability_diagram
from evaluation.sources import Rating, Ratings, ratings_from_file, ratings_from_store
from pipeline.cli import app
from tests.test_collate import add_passage, add_reports, report_id

NAN = math.nan

# Krippendorff (2011) "Computing Krippendorff's alpha-reliability", section C: four
# observers, twelve units, nominal data with missing values; alpha = 0.743.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]

# Fleiss (1971) as worked on Wikipedia ("Fleiss' kappa"): 10 subjects, 14 raters,
# 5 categories; P-bar = 0.378, P_e = 0.213, kappa = 0.210.
FLEISS_1971 = np.array([
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])


def matrix_ratings(data, field: str = "stage", coders: str = "ABCD") -> Ratings:
    """Reliability data (coders x units, NaN missing) as ratings of one nominal field."""
    ratings = [Rating(unit=f"u{j:02d}", coder=coders[i], **{field: str(int(v))})
               for i, row in enumerate(data) for j, v in enumerate(row) if not math.isnan(v)]
    return Ratings(ratings, (field,), source="example")


def two_coder_table(yy: int, yn: int, ny: int, nn: int) -> Ratings:
    """A 2x2 agreement table (coder A's answer first) as vivid ratings."""
    cells = [("yes", "yes")] * yy + [("yes", "no")] * yn + [("no", "yes")] * ny + \
        [("no", "no")] * nn
    ratings = []
    for i, (a, b) in enumerate(cells):
        ratings += [Rating(f"u{i:03d}", "A", vivid=a), Rating(f"u{i:03d}", "B", vivid=b)]
    return Ratings(ratings, ("vivid",), source="table")


# --- published values --------------------------------------------------------------------
def test_krippendorff_alpha_published_example():
    report = agreement(matrix_ratings(KRIPPENDORFF_2011), n_boot=200)
    stage = report.field("stage")
    assert round(stage.alpha.value, 3) == 0.743
    assert stage.alpha.value == pytest.approx(
        krippendorff.alpha(reliability_data=KRIPPENDORFF_2011,
                           level_of_measurement="nominal"), abs=1e-12)
    # unit 12 has one value only: counted, excluded (alpha above is with it excluded)
    assert (stage.n_units, stage.n_single, stage.n_coders) == (11, 1, 4)
    assert report.n_units == 12
    assert stage.alpha.low <= stage.alpha.value <= stage.alpha.high
    assert stage.fleiss is None and "vary" in stage.fleiss_note  # 3 or 4 coders a unit


@pytest.mark.parametrize("seed", range(6))
def test_general_alpha_equals_the_krippendorff_package_for_nominal_data(seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 3 + seed % 3, size=(2 + seed % 4, 25)).astype(float)
    data[rng.random(data.shape) < 0.25] = NAN
    ours = agreement(matrix_ratings(data, coders="ABCDEF"), n_boot=0).field("stage").alpha
    assert ours.value == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"), abs=1e-12)


def test_masi_published_example_and_definition():
    # masi({1,2},{1,2,3,4}) = 0.665 is a *distance*, 1 - J*M with J = 2/4 and the
    # subset weight M rounded to 0.67 (NLTK before 3.9); Passonneau's M = 2/3 gives 0.667.
    assert round(masi_distance({1, 2}, {1, 2, 3, 4}, ROUNDED_WEIGHTS), 3) == 0.665
    assert round(masi_distance({1, 2}, {1, 2, 3, 4}, PASSONNEAU_WEIGHTS), 3) == 0.667
    assert masi_distance({1, 2}, {1, 2}) == 0.0
    assert masi_distance(set(), set()) == 0.0
    assert masi_distance({1}, {2}) == 1.0
    assert masi_distance({1, 2}, {2, 3}) == pytest.approx(1 - (1 / 3) * (1 / 3))
    assert masi_distance({1}, set()) == 1.0  # nothing shared: disjoint
    # the vectorised matrix used for alpha is the same function
    sets = [frozenset(), frozenset("a"), frozenset("ab"), frozenset("bc"), frozenset("abcd"),
            frozenset("d")]
    assert distance_matrix(sets, masi_distance) == pytest.approx(
        np.array([[masi_distance(x, y) for y in sets] for x in sets]))
    nltk_distance = pytest.importorskip("nltk.metrics.distance")
    for a, b in [({1, 2}, {1, 2, 3, 4}), ({1, 2}, {2, 3}), ({"a"}, {"a", "b"}), ({1}, {2})]:
        assert masi_distance(a, b) == pytest.approx(nltk_distance.masi_distance(a, b))


def _random_sets(seed: int, n_units: int = 20, coders: str = "ABC") -> Ratings:
    rng = np.random.default_rng(seed)
    pool = ["school>csc", "gp>csc", "police>csc", "csc>police"]
    ratings = []
    for u in range(n_units):
        base = {p for p in pool if rng.random() < 0.4}
        for c in coders:
            if rng.random() < 0.15:
                continue  # missing
            noisy = {p for p in pool if (p in base) != (rng.random() < 0.2)}
            ratings.append(Rating(f"u{u:02d}", c, vivid="yes", pairings=frozenset(noisy)))
    return Ratings(ratings, ("pairings",), source="random")


@pytest.mark.parametrize("seed", range(3))
def test_masi_alpha_equals_the_package_with_a_custom_metric(seed):
    ratings = _random_sets(seed)
    ours = agreement(ratings, n_boot=0).field("pairings").alpha.value
    # the same data as value counts, with MASI as the package's distance metric
    cats = sorted({r.pairings for r in ratings.ratings}, key=lambda s: (len(s), sorted(s)))
    units = sorted({r.unit for r in ratings.ratings})
    counts = np.zeros((len(units), len(cats)))
    for r in ratings.ratings:
        counts[units.index(r.unit), cats.index(r.pairings)] += 1
    delta = distance_matrix(cats, masi_distance)

    def metric(v1, v2, i1, i2, n_v, dtype=np.float64):  # noqa: ANN001
        return delta[i1, i2].astype(dtype)

    theirs = krippendorff.alpha(value_counts=counts, value_domain=list(range(len(cats))),
                                level_of_measurement=metric)
    assert ours == pytest.approx(theirs, abs=1e-12)


def test_masi_alpha_equals_nltk_on_complete_data():
    agreement_mod = pytest.importorskip("nltk.metrics.agreement")
    distance_mod = pytest.importorskip("nltk.metrics.distance")
    rng = np.random.default_rng(7)
    pool = ["a", "b", "c", "d"]
    ratings, triples = [], []
    for u in range(15):
        for c in "XYZ":
            s = frozenset(p for p in pool if rng.random() < 0.45) or frozenset("a")
            ratings.append(Rating(f"u{u:02d}", c, vivid="yes", reasons=s))
            triples.append((c, f"u{u:02d}", s))
    task = agreement_mod.AnnotationTask(data=triples, distance=distance_mod.masi_distance)
    ours = agreement(Ratings(ratings, ("reasons",)), n_boot=0).field("reasons").alpha.value
    assert ours == pytest.approx(task.alpha(), abs=1e-9)


@pytest.mark.parametrize(("table", "kappa"), [
    ((20, 5, 10, 15), 0.400),   # Wikipedia "Cohen's kappa", simple example: p_o .7, p_e .5
    ((45, 15, 25, 15), 0.130),  # the same page, prevalence examples
    ((25, 35, 5, 35), 0.259),
])
def test_cohen_kappa_textbook_examples(table, kappa):
    vivid = agreement(two_coder_table(*table), n_boot=100).field("vivid")
    assert round(vivid.kappa.value, 3) == kappa
    assert [(p.coder_a, p.coder_b, p.n_units) for p in vivid.pairs] == [("A", "B", 50)
                                                                       if sum(table) == 50
                                                                       else ("A", "B", 100)]
    assert round(vivid.percent.value, 3) == round((table[0] + table[3]) / sum(table), 3)
    # the per-code kappa for "yes" (present/absent) is the same 2x2 table's kappa
    yes = next(c for c in vivid.per_code if c.code == "yes")
    assert round(yes.kappa, 3) == kappa


def test_fleiss_kappa_published_example():
    assert round(float(fleiss_kappa(FLEISS_1971)[0]), 3) == 0.210
    # the same data as 14 coders' ratings through the whole pipeline
    ratings = []
    for u, row in enumerate(FLEISS_1971):
        labels = [str(c) for c, n in enumerate(row) for _ in range(n)]
        ratings += [Rating(f"s{u}", f"r{j:02d}", stage=lab) for j, lab in enumerate(labels)]
    stage = agreement(Ratings(ratings, ("stage",)), n_boot=50).field("stage")
    assert round(stage.fleiss.value, 3) == 0.210
    assert stage.fleiss.low <= stage.fleiss.value <= stage.fleiss.high
    assert stage.n_coders == 14 and len(stage.pairs) == 91
    # Fleiss' kappa is the nominal alpha's small-sample sibling: close, not equal
    assert stage.alpha.value == pytest.approx(0.210, abs=0.01)


def test_vectorised_statistics_equal_their_references():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 4, 40), rng.integers(0, 4, 40)
    b[:20] = a[:20]
    assert cohen_kappa_weighted(a, b, 4)[0] == pytest.approx(cohen_kappa_score(a, b))
    w = rng.integers(0, 3, size=(1, 40)).astype(float)
    assert cohen_kappa_weighted(a, b, 4, w)[0] == pytest.approx(
        cohen_kappa_score(a, b, sample_weight=w[0]))
    counts = np.array([[2, 0], [1, 1], [0, 3], [1, 0]])  # last unit: one value, unpairable
    assert percent_agreement(counts)[0] == pytest.approx((1 + 0 + 1) / 3)
    delta = distance_matrix(["x", "y"], nominal_distance)
    assert krippendorff_alpha(counts, delta)[0] == pytest.approx(
        krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))


def test_pairwise_matrix_per_code_and_single_coded_units():
    ratings = []
    table = {"u1": "AAB", "u2": "BBB", "u3": "ABA", "u4": "CCC", "u5": "ACC", "u6": "BAB"}
    for unit, values in table.items():
        ratings += [Rating(unit, c, stage=v) for c, v in zip(("ann", "ben", "cat"), values,
                                                              strict=True)]
    ratings.append(Rating("u7", "ann", stage="G"))  # coded once: counted, excluded
    stage = agreement(Ratings(ratings, ("stage",)), n_boot=0).field("stage")
    assert (stage.n_units, stage.n_single, stage.n_coders) == (6, 1, 3)
    coders, matrix = stage.kappa_matrix()
    assert coders == ["ann", "ben", "cat"]
    col = {c: [table[u][i] for u in sorted(table)] for i, c in enumerate(coders)}
    for i, x in enumerate(coders):
        for j, y in enumerate(coders):
            if i != j:
                assert matrix[i][j] == pytest.approx(cohen_kappa_score(col[x], col[y]))
    assert stage.kappa.value == pytest.approx(np.mean([matrix[0][1], matrix[0][2],
                                                       matrix[1][2]]))
    assert stage.fleiss is not None  # three coders on every measured unit
    c = next(c for c in stage.per_code if c.code == "C")
    present = {k: [int(v == "C") for v in vals] for k, vals in col.items()}
    assert c.kappa == pytest.approx(np.mean([cohen_kappa_score(present[x], present[y]) for
                                             x, y in (("ann", "ben"), ("ann", "cat"),
                                                      ("ben", "cat"))]))
    assert "G" not in {c.code for c in stage.per_code}  # only on the single-coded unit


def test_bootstrap_is_reproducible_and_brackets_the_estimate():
    ratings = two_coder_table(20, 5, 10, 15)
    one = agreement(ratings, n_boot=300, seed=11).field("vivid")
    two = agreement(ratings, n_boot=300, seed=11).field("vivid")
    other = agreement(ratings, n_boot=300, seed=12).field("vivid")
    for name in ("percent", "kappa", "alpha", "fleiss"):
        est = getattr(one, name)
        assert est.low < est.value < est.high, name
        assert (est.low, est.high) == (getattr(two, name).low, getattr(two, name).high)
    assert (one.alpha.low, one.alpha.high) != (other.alpha.low, other.alpha.high)
    plain = agreement(ratings, n_boot=0).field("vivid")
    assert math.isnan(plain.alpha.low) and plain.alpha.value == one.alpha.value


def test_no_unit_with_two_coders_is_an_error():
    ratings = Ratings([Rating("u1", "ann", stage="A"), Rating("u2", "ben", stage="B")],
                      ("stage",), source="x.csv")
    with pytest.raises(AgreementError, match="no unit is coded by two or more coders"):
        agreement(ratings)
    with pytest.raises(AgreementError, match="no codings"):
        agreement(Ratings([], ("stage",), source="x.csv"))


# --- the two sources ---------------------------------------------------------------------
CSV = """unit,coder,vivid,stage,issue,pairings,reasons
p1,ann,yes,C,threshold_disagreement_unresolved,school>csc; gp>csc,threshold_understanding_differs
p1,ben,Yes,c,threshold_disagreement_unresolved,"school > csc,gp>csc",
p2,ann,no,,,,
p2,ben,no,,,,
p3,ann,yes,D,strategy_discussion_not_convened,police>csc,roles_unclear;workload_capacity
p3,ben,unsure,D,other,police>csc,roles_unclear
p4,ann,yes,G,other,csc>csc,
"""


def test_coding_file_csv_and_xlsx_give_the_same_ratings(tmp_path):
    path = tmp_path / "codings.csv"
    path.write_text(CSV)
    from_csv = ratings_from_file(path)
    xlsx = tmp_path / "codings.xlsx"
    pd.read_csv(path, dtype=str, keep_default_na=False).to_excel(xlsx, index=False)
    from_xlsx = ratings_from_file(xlsx)
    assert from_csv.ratings == from_xlsx.ratings
    assert from_csv.fields == ("vivid", "stage", "issue", "pairings", "reasons")
    by = {(r.unit, r.coder): r for r in from_csv.ratings}
    assert by["p1", "ben"].stage == "C" and by["p1", "ben"].vivid == "yes"
    assert by["p1", "ben"].pairings == by["p1", "ann"].pairings == {"school>csc", "gp>csc"}
    assert by["p1", "ben"].reasons == frozenset()  # vivid, no reasons: an empty coding
    assert by["p2", "ann"].reasons is None  # not vivid: no reasons coded at all
    assert by["p3", "ann"].reasons == {"roles_unclear", "workload_capacity"}
    report = agreement(from_csv, n_boot=0)
    assert report.n_units == 4 and report.n_coders == 2
    assert report.field("pairings").n_units == 2 and report.field("pairings").n_single == 1
    assert report.field("pairings").percent.value == 1.0


def add_annotation(session, n: int, pid: str, coder: str, role: str = "coder",  # noqa: ANN001
                   cancelled: bool = False, accepted: dict | None = None, **values) -> None:
    session.add(Annotation(ls_annotation_id=n, ls_task_id=1000 + n, passage_id=pid,
                           coder=coder, role=role, was_cancelled=cancelled,
                           accepted=accepted or {}, **values))


def test_store_source_matches_the_same_codings_from_a_file(db_url, tmp_path):
    path = tmp_path / "codings.csv"
    path.write_text(CSV)
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    with session_scope(db_url) as s:
        add_reports(s)
        n = 0
        for unit in sorted(set(rows["unit"])):
            add_passage(s, unit, "R1", f"text of {unit}")
        for _, r in rows.iterrows():
            n += 1
            add_annotation(
                s, n, f"p-{r['unit']}", r["coder"], vivid=r["vivid"].lower(),
                stage=r["stage"].upper() or None, issue=r["issue"] or None,
                pairings=[p.replace(" ", "") for p in r["pairings"].replace(",", ";").split(";")
                          if p],
                reasons=[x for x in r["reasons"].split(";") if x])
        # left out: an adjudicator's decision, a cancelled annotation, a superseded one
        add_annotation(s, 90, "p-p3", "judge", role="adjudicator", vivid="yes", stage="E")
        add_annotation(s, 91, "p-p4", "ben", cancelled=True, vivid="yes", stage="A")
        add_annotation(s, 92, "p-p2", "ann", vivid="yes", stage="B")
        s.flush()
        add_annotation(s, 93, "p-p2", "ann", vivid="no")  # the later one wins
    store = ratings_from_store(db_url)
    ids = {r.unit.removeprefix("p-") for r in store.ratings}
    assert ids == {"p1", "p2", "p3", "p4"} and "judge" not in store.coders
    assert any("adjudicator" in n for n in store.notes)
    by_store = agreement(store, n_boot=0)
    by_file = agreement(ratings_from_file(path), n_boot=0)
    for f in by_file.fields:
        g = by_store.field(f.field)
        assert (g.n_units, g.n_single) == (f.n_units, f.n_single), f.field
        for name in ("percent", "kappa", "alpha"):
            x, y = getattr(g, name).value, getattr(f, name).value
            assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y), (f.field, name)


# --- model vs coders ---------------------------------------------------------------------
def payload(vivid: float, stage: str, issue: str, pairs: list[str], reasons: list[str]) -> dict:
    return {"vivid": {"score": vivid, "selected": vivid >= 0.5},
            "stage": [{"id": stage, "score": 0.7}, {"id": "A", "score": 0.1}],
            "issue": [{"id": issue, "score": 0.6}],
            "pairings": [{"id": p, "score": 0.8, "selected": True} for p in pairs],
            "reasons": [{"id": r, "score": 0.7, "selected": True} for r in reasons]
            + [{"id": "workload_capacity", "score": 0.2, "selected": False}]}


def fill_model_store(url: str) -> None:
    """Four passages: suggestions, two coders' annotations, the confirmed codings."""
    truth = {  # passage: (vivid, stage, issue, pairings, reasons) as confirmed
        "q1": (True, "C", "other", ["school>csc"], ["roles_unclear"]),
        "q2": (True, "D", "other", ["police>csc"], []),
        "q3": (False, None, None, [], []),
        "q4": (True, "F", "unequal_weight_in_conference", ["gp>network"], []),
    }
    model = {"q1": payload(0.9, "C", "other", ["school>csc"], ["roles_unclear"]),
             "q2": payload(0.8, "E", "other", ["police>csc"], []),
             "q3": payload(0.3, "A", "other", [], []),
             "q4": payload(0.6, "F", "other", ["gp>network"], [])}
    coders = {  # the second coder disagrees on q2's stage
        "ann": truth, "ben": dict(truth, q2=(True, "E", "other", ["police>csc"], []))}
    with session_scope(url) as s:
        add_reports(s)
        for i, pid in enumerate(truth):
            add_passage(s, pid, "R1", f"passage {pid}", ordinal=i)
        s.add_all([Suggestion(passage_id=f"p-{pid}", model_version="m1",
                              vivid_score=p["vivid"]["score"],
                              selected=p["vivid"]["selected"], payload=p)
                   for pid, p in model.items()])
        n = 0
        for coder, codings in coders.items():
            for pid, (v, st, iss, pr, rs) in codings.items():
                n += 1
                accepted = {"vivid": True, "stage": model[pid]["stage"][0]["id"] == st}
                add_annotation(s, n, f"p-{pid}", coder, vivid="yes" if v else "no",
                               stage=st, issue=iss, pairings=pr, reasons=rs,
                               accepted=accepted)
        for pid, (v, st, iss, pr, rs) in truth.items():
            s.add(Coding(passage_id=f"p-{pid}", report_id=report_id("R1"),
                         status="confirmed", basis="adjudicated", vivid=v, stage=st, issue=iss,
                         pairings=pr, reasons=rs, coders=["ann", "ben"], model_version="m1",
                         confirmed_at=datetime(2024, 5, 2, tzinfo=UTC)))


def test_model_vs_coders_from_the_store(db_url, tmp_path):
    fill_model_store(db_url)
    report = from_store(db_url)
    assert report.model_versions == ["m1"] and report.n_matched == report.n_confirmed == 4
    f = {x.field: x for x in report.fields}
    # the model misses q2's stage (E for D); the coders split on it the same way
    assert f["stage"].n_units == 3 and f["stage"].n_coder_units == 3
    assert f["stage"].kappa_model.value == pytest.approx(
        cohen_kappa_score(["C", "E", "F"], ["C", "D", "F"]))
    assert f["stage"].kappa_coders.value == pytest.approx(f["stage"].kappa_model.value)
    assert f["vivid"].kappa_model.value == 1.0 and f["vivid"].n_units == 4
    assert f["issue"].kappa_model.value < f["issue"].kappa_coders.value == 1.0
    assert f["vivid"].acceptance == 1.0 and f["vivid"].n_suggested == 8
    # accepted unless the coder chose otherwise: ann on q2 and q3, ben on q3
    assert f["stage"].acceptance == pytest.approx(5 / 8)
    assert math.isnan(f["pairings"].acceptance)
    cal = {c.name: c for c in report.calibration}
    assert cal["vivid"].outcomes == [True, True, False, True] and cal["vivid"].n == 4
    assert cal["stage"].outcomes.count(False) == 1
    png = reliability_diagram(report.calibration, tmp_path / "reliability.png")
    with Image.open(png) as im:
        assert im.format == "PNG" and im.width > 600


# --- the command -------------------------------------------------------------------------
def test_agreement_cli_from_a_file_json_and_out(tmp_path):
    path = tmp_path / "codings.csv"
    path.write_text(CSV)
    runner = CliRunner()
    result = runner.invoke(app, ["agreement", "--from-file", str(path), "--json", "--boot",
                                 "50", "--out", str(tmp_path / "ag")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    fields = {f["field"]: f for f in data["agreement"]["fields"]}
    assert set(fields) == {"vivid", "stage", "issue", "pairings", "reasons"}
    assert fields["pairings"]["distance"] == "MASI" and fields["pairings"]["n_single"] == 1
    assert data["model"] is None
    written = sorted(p.name for p in (tmp_path / "ag").iterdir())
    assert written == ["agreement.json", "agreement_fields.csv", "agreement_pairs.csv",
                       "agreement_per_code.csv"]
    table = pd.read_csv(tmp_path / "ag" / "agreement_fields.csv")
    assert list(table["field"]) == ["vivid", "stage", "issue", "pairings", "reasons"]

    shown = runner.invoke(app, ["agreement", "--from-file", str(path), "--boot", "50"])
    assert shown.exit_code == 0, shown.output
    assert "Inter-coder agreement" in shown.output and "Kripp. α" in shown.output
    assert "Per-code agreement" in shown.output


def test_agreement_cli_on_the_store_shows_the_model(tmp_path):
    from corpus.settings import get_settings

    runner = CliRunner()
    empty = runner.invoke(app, ["agreement"])
    assert empty.exit_code == 1 and "no codings" in empty.output
    fill_model_store(get_settings().db_url)
    result = runner.invoke(app, ["agreement", "--boot", "50", "--out", str(tmp_path / "ag")])
    assert result.exit_code == 0, result.output
    assert "Model vs coders (m1: 4 of 4 confirmed codings" in result.output
    assert (tmp_path / "ag" / "reliability_diagram.png").exists()
    assert (tmp_path / "ag" / "model_vs_coders.csv").exists()
