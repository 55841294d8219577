"""Retraining with promotion: a challenger on seed + confirmed codings replaces the current
model only when it is better on held-out confirmed codings (real training, real registry,
real store; small slices of the seed set keep it quick)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus.document import passage_id
from corpus.settings import reset_settings
from corpus.store.db import session_scope
from corpus.store.schema import Coding, Passage, Report
from models.examples import Example, default_training_files, load_examples
from models.promotion import (
    Scorecard,
    confirmed_examples,
    decide,
    decisions,
    in_holdout,
    split_holdout,
    write_examples,
)
from pipeline.cli import app

SEED = 7
FRACTION = 0.25


@pytest.fixture
def registry(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "registry"
    monkeypatch.setenv("VIVID_REGISTRY_DIR", str(root))
    reset_settings()
    return root


def _seed_slices() -> tuple[list[Example], list[Example]]:
    """(weak: 4 per stage + 12 negatives, pool: 12 per stage + 30 negatives), disjoint."""
    by_stage: dict[str | None, list[Example]] = {}
    for e in sorted(load_examples(default_training_files()), key=lambda e: e.id):
        by_stage.setdefault(e.stage, []).append(e)
    weak, pool = [], []
    for stage, items in sorted(by_stage.items(), key=lambda kv: kv[0] or ""):
        k, m = (12, 30) if stage is None else (4, 12)
        weak += items[:k]
        pool += items[k:k + m]
    return weak, pool


def _store_confirmed(examples: list[Example],
                     relabel: Callable[[Example, bool], Example] | None = None) -> list[str]:
    """Passages for the examples with confirmed codings; ``relabel(example, held_out)``
    may change what the coders are said to have confirmed."""
    rid = hashlib.sha256(f"confirmed {len(examples)}".encode()).hexdigest()
    ids, passages, codings, pos, parts = [], [], [], 0, []
    for i, e in enumerate(examples):
        start, end = pos, pos + len(e.text)
        parts.append(e.text)
        pos = end + 2
        pid = passage_id(rid, start, end)
        coded = relabel(e, in_holdout(pid, SEED, FRACTION)) if relabel else e
        ids.append(pid)
        passages.append(Passage(id=pid, report_id=rid, section_id=None,
                                section_type="case_narrative", heading="Key practice episodes",
                                ordinal=i, number=None, text=e.text, start_char=start,
                                end_char=end, page_start=1 + i // 10, page_end=1 + i // 10,
                                sentences=[[start, end]]))
        codings.append(Coding(passage_id=pid, report_id=rid, status="confirmed",
                              basis="single", vivid=coded.vivid, stage=coded.stage,
                              pairings=list(coded.pairings), issue=coded.issue,
                              reasons=list(coded.reasons), coders=["alice@vivid.test"]))
    with session_scope() as s:
        s.add(Report(id=rid, filename="confirmed.pdf", source=None, title="Confirmed",
                     page_count=20, text="\n\n".join(parts), meta={}, parser_version="test"))
        s.flush()
        s.add_all(passages)
        s.flush()
        s.add_all(codings)
    return ids


def _train_current(examples: list[Example], path: Path, version: str) -> str:
    from models.train import train

    card = train([write_examples(examples, path)], out_version=version)
    return card.version


def _poison(e: Example, held_out: bool) -> Example:
    """Careless confirmations (outside the held-out share): vivid flipped, stage shifted."""
    if held_out:
        return e
    if e.vivid:
        return Example(id=e.id, text=e.text, vivid=False)
    return Example(id=e.id, text=e.text, vivid=True, stage="A", pairings=("gp>police",),
                   issue="other", reasons=())


# --------------------------------------------------------------------------- logic
def test_holdout_is_fixed_by_seed_and_id_and_stable_as_data_grows():
    ids = [f"p{i}" for i in range(400)]
    exs = [Example(id=i, text="t", vivid=False) for i in ids]
    _, held = split_holdout(exs, SEED, FRACTION)
    assert 70 < len(held) < 130  # about a quarter
    _, held_more = split_holdout(exs + [Example(id=f"q{i}", text="t", vivid=False)
                                        for i in range(200)], SEED, FRACTION)
    assert {e.id for e in held} <= {e.id for e in held_more}
    _, other_seed = split_holdout(exs, SEED + 1, FRACTION)
    assert {e.id for e in other_seed} != {e.id for e in held}


def _card(primary: float, **fields: float) -> Scorecard:
    return Scorecard(version="x", n=20, n_vivid=10, fields=fields, primary=primary)


def test_decision_needs_a_better_primary_and_no_field_dropping_past_the_margin():
    champ = _card(0.60, vivid=0.8, stage=0.6, pairing=0.4)
    ok, why = decide(_card(0.65, vivid=0.82, stage=0.59, pairing=0.54), champ, margin=0.02)
    assert ok and "improved" in why
    ok, why = decide(_card(0.66, vivid=0.9, stage=0.5, pairing=0.58), champ, margin=0.02)
    assert not ok and "stage -0.1000" in why
    ok, why = decide(_card(0.60, vivid=0.8, stage=0.6, pairing=0.4), champ, margin=0.02)
    assert not ok and "did not improve" in why
    ok, why = decide(_card(0.30, vivid=0.5), None)
    assert ok and "no current model" in why


def test_confirmed_codings_the_training_format_cannot_hold_are_skipped():
    weak, _ = _seed_slices()
    vivid = next(e for e in weak if e.vivid)
    ids = _store_confirmed([vivid, weak[0], weak[1]])
    with session_scope() as s:
        s.get(Coding, ids[1]).vivid = None  # left unsure
        c = s.get(Coding, ids[2])
        c.vivid, c.stage, c.pairings = True, None, []  # vivid without a stage
    data = confirmed_examples()
    assert [e.id for e in data.examples] == [ids[0]]
    assert data.examples[0].context == {"heading": "Key practice episodes",
                                        "section_type": "case_narrative"}
    skipped = dict(line.split(": ", 1) for line in data.skipped)
    assert skipped == {ids[1]: "vivid left undecided",
                       ids[2]: "a vivid example needs a stage, an issue and a pairing"}


def test_too_few_held_out_codings_refuse_before_training(registry, prefect):
    from pipeline.flows.retrain import retrain_flow

    weak, _ = _seed_slices()
    _store_confirmed(weak[:3])
    d = retrain_flow(seed=SEED, holdout_fraction=FRACTION, min_holdout=10)
    assert not d["promoted"] and d["challenger"] is None
    assert d["reason"].startswith("too few confirmed codings held out")
    assert not registry.exists() or not any(p.is_dir() for p in registry.iterdir())
    assert decisions()[-1]["reason"] == d["reason"]


# --------------------------------------------------------------------------- training
def test_retrain_promotes_a_challenger_that_is_better(registry, prefect, tmp_path):
    from models.promotion import current_version
    from models.registry import list_versions
    from pipeline.flows.ingest import load_suggester
    from pipeline.flows.retrain import retrain_flow

    weak, pool = _seed_slices()
    champion = _train_current(weak, tmp_path / "weak.jsonl", "weak-1")
    ids = _store_confirmed(pool)
    weak_file = str(tmp_path / "weak.jsonl")  # written when training the champion
    d = retrain_flow(margin=0.05, holdout_fraction=FRACTION, seed=SEED, min_holdout=10,
                     seed_files=[weak_file])
    assert d["promoted"], d["reason"]
    assert d["champion"] == champion and d["challenger"] not in (None, champion)
    assert current_version() == d["current"] == d["challenger"]
    assert sorted(list_versions()) == sorted([champion, d["challenger"]])
    ch, champ = d["challenger_card"], d["champion_card"]
    assert ch["primary"] > champ["primary"] and ch["n"] == champ["n"] == d["holdout"]["n"]
    # the held-out codings never reached the training data
    held = {pid for pid in ids if in_holdout(pid, SEED, FRACTION)}
    trained_on = {json.loads(line)["id"] for f in d["training"]["files"][1:]
                  for line in Path(f).read_text(encoding="utf-8").splitlines()}
    assert held and trained_on and not held & trained_on
    assert trained_on | held == set(ids)
    # recorded beside the challenger and in the log; new suggestions use the new model
    rec = json.loads((registry / d["challenger"] / "promotion.json").read_text())
    assert rec["promoted"] and rec["champion_card"]["fields"] and rec["challenger_card"]
    assert decisions()[-1]["challenger"] == d["challenger"]
    assert load_suggester()[0] == d["challenger"]


def test_retrain_refuses_a_challenger_trained_on_careless_codings(registry, prefect,
                                                                  tmp_path):
    from models.promotion import current_version
    from pipeline.flows.retrain import retrain_flow

    weak, pool = _seed_slices()
    ids = _store_confirmed(pool, relabel=_poison)
    clean_train = [e for e, pid in zip(pool, ids, strict=True)
                   if not in_holdout(pid, SEED, FRACTION)]
    champion = _train_current(weak + clean_train, tmp_path / "clean.jsonl", "clean-1")
    weak_file = str(write_examples(weak, tmp_path / "weak.jsonl"))
    d = retrain_flow(margin=0.02, holdout_fraction=FRACTION, seed=SEED, min_holdout=10,
                     seed_files=[weak_file])
    assert not d["promoted"]
    assert "did not improve" in d["reason"] or "dropped by more than" in d["reason"]
    assert current_version() == d["current"] == champion
    assert (registry / d["challenger"]).is_dir()  # kept for inspection, not current
    rec = json.loads((registry / d["challenger"] / "promotion.json").read_text())
    assert rec["promoted"] is False and rec["reason"] == d["reason"]
    assert rec["challenger_card"]["fields"] and rec["champion_card"]["fields"]


def test_cli_retrain_prints_the_decision(registry, prefect):
    weak, _ = _seed_slices()
    _store_confirmed(weak[:2])
    res = CliRunner().invoke(app, ["retrain", "--seed", str(SEED)])
    assert res.exit_code == 0, res.output
    assert "not promoted - too few confirmed codings held out" in res.output
