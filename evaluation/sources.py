"""Where codings for agreement come from: the store's annotations or a coding file.

Both sources give the same thing, one :class:`Rating` per unit x coder, so the statistics
never care where the data came from. A coding file is a legacy spreadsheet (CSV or
XLSX) with one row per unit x coder; it is checked against the codebook up front and
refused with the rows at fault, so a typo never turns into a new category.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from corpus.codebook import Codebook, load_codebook
from corpus.settings import get_settings

NOMINAL_FIELDS = ("vivid", "stage", "issue")
SET_FIELDS = ("pairings", "reasons")
FIELDS = NOMINAL_FIELDS + SET_FIELDS
VIVID_VALUES = ("yes", "no", "unsure")
_VIVID_ALIASES = {"yes": "yes", "y": "yes", "true": "yes", "1": "yes",
                  "no": "no", "n": "no", "false": "no", "0": "no",
                  "unsure": "unsure", "?": "unsure", "maybe": "unsure"}
_SPLIT = re.compile(r"[;,]")
MAX_PROBLEMS_SHOWN = 5


class CodingFileError(ValueError):
    """A coding file that cannot be used; the message names the file and the rows."""


@dataclass(frozen=True)
class Rating:
    """One coder's coding of one unit; ``None`` marks a field the coder left uncoded."""

    unit: str
    coder: str
    vivid: str | None = None
    stage: str | None = None
    issue: str | None = None
    pairings: frozenset[str] | None = None
    reasons: frozenset[str] | None = None

    def value(self, name: str) -> str | frozenset[str] | None:
        return getattr(self, name)


@dataclass
class Ratings:
    """All ratings from one source, with the fields that source actually carries."""

    ratings: list[Rating]
    fields: tuple[str, ...] = FIELDS
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def units(self) -> list[str]:
        return sorted({r.unit for r in self.ratings})

    @property
    def coders(self) -> list[str]:
        return sorted({r.coder for r in self.ratings})


def set_value(items: Iterable[str] | None, vivid: str | None) -> frozenset[str] | None:
    """A set-valued field: an empty set only counts as a coding on a vivid example.

    A coder who says "not vivid" codes no pairings or reasons, which is not the same as
    coding "none"; treating it as an empty set would inflate agreement.
    """
    values = frozenset(i for i in (items or ()) if i)
    if not values and vivid != "yes":
        return None
    return values


# --- the store ---------------------------------------------------------------------
def ratings_from_store(url: str | None = None) -> Ratings:
    """Coders' annotations from the store: the latest per coder and passage.

    Cancelled annotations and adjudicators' decisions are left out: agreement is about
    independent coders, and an adjudicator has seen the others' codings.
    """
    from sqlalchemy import select

    from corpus.store.db import session_scope
    from corpus.store.schema import Annotation

    url = url or get_settings().db_url
    latest: dict[tuple[str, str], Annotation] = {}
    with session_scope(url) as session:
        rows = session.scalars(select(Annotation).where(Annotation.was_cancelled.is_(False))
                               .order_by(Annotation.id)).all()
        skipped = 0
        for ann in rows:
            if (ann.role or "coder") != "coder":
                skipped += 1
                continue
            latest[(ann.passage_id, ann.coder)] = ann  # later ids win
        ratings = [
            Rating(unit=a.passage_id, coder=a.coder, vivid=a.vivid, stage=a.stage or None,
                   issue=a.issue or None, pairings=set_value(a.pairings, a.vivid),
                   reasons=set_value(a.reasons, a.vivid))
            for a in latest.values()]
    notes = [f"{skipped} adjudicator annotation(s) left out"] if skipped else []
    return Ratings(ratings, FIELDS, source="store", notes=notes)


# --- coding files ------------------------------------------------------------------
Rows = list[tuple[int, list[str]]]


def _cell(value: object) -> str:
    """A spreadsheet cell as text: 3.0 -> "3", empty -> ""."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value).strip()


def _read_csv(path: Path) -> Rows:
    rows: Rows = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        start = 1
        for cells in reader:
            rows.append((start, [c.strip() for c in cells]))
            start = reader.line_num + 1  # a quoted cell may span lines
    return rows


def _read_xlsx(path: Path) -> Rows:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        return [(i, [_cell(v) for v in values])
                for i, values in enumerate(ws.iter_rows(values_only=True), start=1)]
    finally:
        wb.close()


def _read_table(path: Path) -> Rows:
    """(spreadsheet row number, cells) for every row, header included."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise CodingFileError(f"{path}: unsupported file type {suffix or '(none)'}: "
                              "use .csv or .xlsx")
    try:
        return _read_csv(path) if suffix == ".csv" else _read_xlsx(path)
    except UnicodeDecodeError:
        raise CodingFileError(f"{path}: not UTF-8 text (save the CSV as UTF-8)") from None
    except csv.Error as exc:
        raise CodingFileError(f"{path}: not a readable CSV file: {exc}") from None
    except OSError as exc:
        raise CodingFileError(f"{path}: cannot read the file: {exc.strerror}") from None
    except Exception as exc:  # openpyxl/zipfile raise their own types for a bad workbook
        raise CodingFileError(f"{path}: cannot read the workbook "
                              f"({type(exc).__name__}): is it an .xlsx file?") from None


def _split(cell: str) -> list[str]:
    return [p.strip() for p in _SPLIT.split(cell) if p.strip()]


class _RowChecker:
    """Turns one spreadsheet row into a Rating, collecting problems with the row number."""

    def __init__(self, codebook: Codebook) -> None:
        self.codebook = codebook
        self.stages = {s.upper(): s for s in codebook.stage_ids}
        self.issues = set(codebook.issue_ids)
        self.reasons = set(codebook.reason_ids)
        self.problems: list[str] = []

    def _bad(self, row: int, msg: str) -> None:
        self.problems.append(f"row {row}: {msg}")

    def vivid(self, row: int, cell: str) -> str | None:
        if not cell:
            return None
        value = _VIVID_ALIASES.get(cell.lower())
        if value is None:
            self._bad(row, f"unknown vivid value {cell!r} (expected yes, no or unsure)")
        return value

    def stage(self, row: int, cell: str) -> str | None:
        if not cell:
            return None
        value = self.stages.get(cell.upper())
        if value is None:
            self._bad(row, f"unknown stage {cell!r} (expected one of "
                      f"{', '.join(self.codebook.stage_ids)})")
        return value

    def issue(self, row: int, cell: str) -> str | None:
        if not cell:
            return None
        if cell not in self.issues:
            self._bad(row, f"unknown issue {cell!r} (not in the codebook; use 'other' "
                      "for a new type)")
            return None
        return cell

    def pairings(self, row: int, cell: str) -> list[str]:
        out = []
        for p in _split(cell):
            p = re.sub(r"\s*>\s*", ">", p)
            if self.codebook.is_pairing(p):
                out.append(p)
            else:
                self._bad(row, f"unknown pairing {p!r} (expected sender>receiver with "
                          "codebook group ids)")
        return out

    def reason_list(self, row: int, cell: str) -> list[str]:
        out = []
        for r in _split(cell):
            if r in self.reasons:
                out.append(r)
            else:
                self._bad(row, f"unknown reason {r!r}")
        return out


def _problem_message(path: Path, problems: list[str]) -> str:
    if len(problems) == 1:
        return f"{path}: {problems[0]}"
    shown = "; ".join(problems[:MAX_PROBLEMS_SHOWN])
    more = len(problems) - MAX_PROBLEMS_SHOWN
    tail = f"; and {more} more" if more > 0 else ""
    return f"{path}: {len(problems)} problems: {shown}{tail}"


def ratings_from_file(path: str | Path, codebook: Codebook | None = None) -> Ratings:
    """Ratings from a coding file: columns unit, coder and any of the five fields.

    Set-valued cells (pairings, reasons) separate codes with ";" or ",". Row numbers in
    messages are the spreadsheet's own (the header is row 1).
    """
    path = Path(path)
    if not path.is_file():
        raise CodingFileError(f"{path}: no such file")
    codebook = codebook or load_codebook(get_settings().codebook_path)
    rows = [(n, cells) for n, cells in _read_table(path) if any(cells)]
    if not rows:
        raise CodingFileError(f"{path}: the file is empty (expected a header row "
                              "with unit, coder and the fields)")
    header_row, header = rows[0]
    while header and not header[-1]:
        header = header[:-1]
    columns = [c.strip().lower() for c in header]
    where = f"row {header_row}"
    unknown = [c or "(blank)" for c in columns if c not in ("unit", "coder", *FIELDS)]
    if unknown:
        raise CodingFileError(
            f"{path}: {where}: unknown column(s) {', '.join(unknown)} (expected unit, coder "
            f"and any of {', '.join(FIELDS)})")
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise CodingFileError(f"{path}: {where}: duplicate column(s) {', '.join(dupes)}")
    for needed in ("unit", "coder"):
        if needed not in columns:
            raise CodingFileError(f"{path}: {where}: the {needed!r} column is missing")
    fields = tuple(f for f in FIELDS if f in columns)
    if not fields:
        raise CodingFileError(f"{path}: {where}: no field columns (expected any of "
                              f"{', '.join(FIELDS)})")
    if len(rows) == 1:
        raise CodingFileError(f"{path}: no coding rows under the header")

    check = _RowChecker(codebook)
    seen: dict[tuple[str, str], int] = {}
    ratings = []
    for row, cells in rows[1:]:
        if any(cells[len(columns):]):
            check._bad(row, f"{len(cells)} cells but the header names {len(columns)} "
                       "columns (put several codes in one cell, quoted, or use ';')")
            continue
        rec = dict(zip(columns, cells + [""] * (len(columns) - len(cells)), strict=False))
        unit, coder = rec["unit"], rec["coder"]
        if not unit:
            check._bad(row, "empty unit")
        if not coder:
            check._bad(row, "empty coder")
        if unit and coder:
            if (unit, coder) in seen:
                check._bad(row, f"unit {unit!r} coded twice by {coder!r} "
                           f"(also row {seen[(unit, coder)]})")
            seen[(unit, coder)] = row
        vivid = check.vivid(row, rec.get("vivid", ""))
        # without a vivid column, a coded field is taken as coding a vivid example
        set_vivid = vivid if "vivid" in fields else "yes"
        ratings.append(Rating(
            unit=unit, coder=coder, vivid=vivid,
            stage=check.stage(row, rec.get("stage", "")),
            issue=check.issue(row, rec.get("issue", "")),
            pairings=(set_value(check.pairings(row, rec["pairings"]), set_vivid)
                      if "pairings" in fields else None),
            reasons=(set_value(check.reason_list(row, rec["reasons"]), set_vivid)
                     if "reasons" in fields else None)))
    if check.problems:
        raise CodingFileError(_problem_message(path, check.problems))
    return Ratings(ratings, fields, source=str(path))
