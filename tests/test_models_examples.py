"""The coded-example format: valid files load, bad ids are refused with file, line and id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.examples import (
    DEV_FILE,
    SEED_FILE,
    ExampleError,
    data_sha256,
    load_examples,
)

GOOD = {"id": "x1", "text": "The school told the MASH about the bruise.", "vivid": True,
        "stage": "C", "pairings": ["school>csc"], "issue": "other", "issue_note": "",
        "reasons": ["process_unfamiliar"], "source": "test"}
NEG = {"id": "x2", "text": "The review was commissioned by the Board.", "vivid": False,
       "stage": None, "pairings": [], "issue": None, "reasons": [], "source": "test"}


def write(path: Path, *records) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records)
                    + "\n", encoding="utf-8")
    return path


def test_valid_records_load(tmp_path):
    ex = load_examples([write(tmp_path / "a.jsonl", GOOD, "", NEG)])
    assert [e.id for e in ex] == ["x1", "x2"]
    assert ex[0].pairings == ("school>csc",) and ex[0].vivid and not ex[1].vivid


@pytest.mark.parametrize("field,value,needle", [
    ("stage", "H", "unknown stage id 'H'"),
    ("pairings", ["school>nobody"], "unknown pairing id 'school>nobody'"),
    ("pairings", ["school-csc"], "unknown pairing id 'school-csc'"),
    ("issue", "made_up_issue", "unknown issue id 'made_up_issue'"),
    ("reasons", ["gut_feeling"], "unknown reason id 'gut_feeling'"),
])
def test_unknown_ids_name_file_line_and_id(tmp_path, field, value, needle):
    path = write(tmp_path / "bad.jsonl", NEG, {**GOOD, field: value})
    with pytest.raises(ExampleError) as err:
        load_examples([path])
    msg = str(err.value)
    assert f"{path}:2" in msg and "'x1'" in msg and needle in msg


def test_duplicate_ids_refused_across_files(tmp_path):
    a = write(tmp_path / "a.jsonl", GOOD)
    b = write(tmp_path / "b.jsonl", NEG, {**NEG, "id": "x1"})
    with pytest.raises(ExampleError,
                       match=r"b.jsonl:2: duplicate id 'x1' \(first at .*a.jsonl:1\)"):
        load_examples([a, b])


@pytest.mark.parametrize("record,needle", [
    ("{not json", "not valid JSON"),
    ({**GOOD, "text": "   "}, "empty or missing 'text'"),
    ({**GOOD, "vivid": "yes"}, "'vivid' must be true or false"),
    ({**GOOD, "stage": None}, "needs a stage"),
    ({**NEG, "stage": "A"}, "non-vivid example must have no stage"),
    ({**GOOD, "id": ""}, "missing or empty 'id'"),
    ([1, 2], "expected a JSON object"),
])
def test_malformed_records(tmp_path, record, needle):
    path = write(tmp_path / "bad.jsonl", record)
    with pytest.raises(ExampleError, match=needle) as err:
        load_examples([path])
    assert f"{path}:1" in str(err.value)


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(ExampleError, match="nope.jsonl: cannot read"):
        load_examples([tmp_path / "nope.jsonl"])
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ExampleError, match="no examples"):
        load_examples([tmp_path / "empty.jsonl"])


def test_data_sha256_follows_bytes(tmp_path):
    a = write(tmp_path / "a.jsonl", GOOD)
    first = data_sha256([a])
    assert first == data_sha256([a]) and len(first) == 64
    write(a, {**GOOD, "text": GOOD["text"] + " Again."})
    assert data_sha256([a]) != first


def test_shipped_data_is_valid():
    seed = load_examples([SEED_FILE])
    dev = load_examples([DEV_FILE])
    assert len(dev) == 41 and sum(e.vivid for e in dev) == 32
    assert not {e.text for e in seed} & {e.text for e in dev}  # dev stays held out
