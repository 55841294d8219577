"""The analysts' products from confirmed codings: map, briefings, exports and plots.

`collate(out_dir)` reads the confirmed codings with their passages and reports and
writes, all at once:

- ``care_pathway_map.html`` / ``.csv``: stages A-G, the issue types within each stage,
  examples and reports, pairings and the most frequent reasons (the page prints on A3);
- ``briefings/<issue>.md`` / ``.html`` and ``briefings/index.html``: one per issue type;
- ``confirmed_codings.csv`` / ``.xlsx`` / ``.parquet``: every confirmed coding with its
  provenance (report, pages, offsets, coders, basis, model version, dates);
- ``plots/``: examples by stage, by publication year, and a sender x receiver heat map.

Everything is built in a temporary folder beside ``out_dir`` and moved into place only
when all of it succeeded, so a failure never leaves a half-written collation.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from corpus.codebook import Codebook, load_codebook
from corpus.settings import get_settings

TEMPLATES = Path(__file__).parent / "templates"
TOP_PAIRINGS = 6
TOP_REASONS = 5
TOP_NOTES = 4
EXAMPLES_PER_BRIEFING = 2
EXCERPT_CHARS = 1400
XLSX_CELL_MAX = 32_000


class CollateError(ValueError):
    """The store's codings cannot be collated; the message says which and why."""


@dataclass(frozen=True)
class Example:
    """One confirmed coding joined with its passage and report."""

    passage_id: str
    report_id: str
    report_title: str
    report_file: str
    board: str | None
    year: int | None
    page_start: int | None
    page_end: int | None
    start_char: int | None
    end_char: int | None
    heading: str | None
    section_type: str | None
    number: str | None
    text: str
    vivid: bool | None
    stage: str | None
    issue: str | None
    issue_note: str | None
    pairings: tuple[str, ...]
    reasons: tuple[str, ...]
    basis: str | None
    coders: tuple[str, ...]
    model_version: str | None
    first_annotated_at: datetime | None
    confirmed_at: datetime | None

    @property
    def pages(self) -> str:
        if self.page_start is None:
            return "page unknown"
        if self.page_end is None or self.page_end == self.page_start:
            return f"p. {self.page_start}"
        return f"pp. {self.page_start}\u2013{self.page_end}"


def load_confirmed(url: str | None = None) -> list[Example]:
    """Every confirmed coding in the store with its passage and report."""
    from sqlalchemy import select

    from corpus.store.db import session_scope
    from corpus.store.schema import Coding, Passage, Report

    url = url or get_settings().db_url
    out = []
    with session_scope(url) as session:
        rows = session.execute(
            select(Coding, Passage, Report)
            .join(Passage, Passage.id == Coding.passage_id)
            .join(Report, Report.id == Coding.report_id)
            .where(Coding.status == "confirmed")
            .order_by(Report.year, Report.id, Passage.ordinal, Coding.passage_id)).all()
        for c, p, r in rows:
            year = r.year or (r.published.year if r.published else None)
            out.append(Example(
                passage_id=c.passage_id, report_id=c.report_id,
                report_title=r.title or r.filename, report_file=r.filename, board=r.board,
                year=year, page_start=c.page_start if c.page_start is not None else p.page_start,
                page_end=c.page_end if c.page_end is not None else p.page_end,
                start_char=c.start_char if c.start_char is not None else p.start_char,
                end_char=c.end_char if c.end_char is not None else p.end_char,
                heading=p.heading, section_type=p.section_type, number=p.number, text=p.text,
                vivid=c.vivid, stage=c.stage, issue=c.issue, issue_note=c.issue_note,
                pairings=tuple(c.pairings or ()), reasons=tuple(c.reasons or ()),
                basis=c.basis, coders=tuple(str(x) for x in (c.coders or ())),
                model_version=c.model_version, first_annotated_at=c.first_annotated_at,
                confirmed_at=c.confirmed_at))
    return out


# --- names for people ---------------------------------------------------------------
def split_pairing(pairing: str, where: str = "") -> tuple[str, str]:
    sender, sep, receiver = pairing.partition(">")
    if not sep or not sender or not receiver:
        raise CollateError(f"{where}pairing {pairing!r} is not sender>receiver")
    return sender, receiver


def group_name(group_id: str, codebook: Codebook | None = None) -> str:
    """Short display name: the id as words, in capitals where the codebook has it as an
    acronym (csc -> CSC, gp -> GP, but legal -> Legal)."""
    if codebook is not None:
        for g in codebook.groups:
            if g.id == group_id and group_id.upper() in g.aliases:
                return group_id.upper()
    return group_id.replace("_", " ").capitalize()


def pairing_name(pairing: str, codebook: Codebook | None = None) -> str:
    sender, receiver = split_pairing(pairing)
    return f"{group_name(sender, codebook)} \u2192 {group_name(receiver, codebook)}"


class Labels:
    """Codebook labels, falling back to the id for codes coders added themselves."""

    def __init__(self, codebook: Codebook) -> None:
        self.codebook = codebook
        self.stages = {s.id: s for s in codebook.stages}
        self.issues = {i.id: i for i in codebook.issues}
        self.reasons = {r.id: r for r in codebook.reasons}
        self.categories = {c.id: c.label for c in codebook.reason_categories}

    def stage(self, sid: str | None) -> str:
        return self.stages[sid].label if sid in self.stages else (sid or "no stage")

    def issue(self, iid: str | None) -> str:
        if iid in self.issues:
            return self.issues[iid].label
        return iid.replace("_", " ") if iid else "no issue type coded"

    def issue_title(self, iid: str | None) -> str:
        """A heading for an issue type; "other" reads as a group, not an instruction."""
        return "Other practice issues" if iid == "other" else self.issue(iid)

    def reason(self, rid: str) -> str:
        return self.reasons[rid].label if rid in self.reasons else rid.replace("_", " ")

    def reason_category(self, rid: str) -> str:
        r = self.reasons.get(rid)
        return self.categories.get(r.category, "") if r else ""


# --- the care-pathway map ------------------------------------------------------------
@dataclass
class Count:
    id: str
    label: str
    n: int


@dataclass
class IssueCell:
    issue: str
    label: str
    n_examples: int
    n_reports: int
    pairings: list[Count]
    reasons: list[Count]
    notes: list[str] = field(default_factory=list)  # coders' notes, shown for "other"


@dataclass
class StageColumn:
    stage: str
    label: str
    definition: str
    n_examples: int
    n_reports: int
    issues: list[IssueCell] = field(default_factory=list)


@dataclass
class PathwayMap:
    stages: list[StageColumn]
    n_examples: int
    n_reports: int
    n_confirmed: int
    years: tuple[int, int] | None
    pairings: list[Count]
    reasons: list[Count]
    unstaged: int


def _pairing_counts(examples: Iterable[Example], labels: Labels, top: int | None
                    ) -> list[Count]:
    counts = Counter(p for e in examples for p in dict.fromkeys(e.pairings))
    return [Count(p, pairing_name(p, labels.codebook), n)
            for p, n in sorted(counts.items(), key=lambda x: (-x[1], x[0]))[:top]]


def _notes(examples: Iterable[Example]) -> list[str]:
    """Coders' own descriptions of an issue, most frequent first."""
    counts = Counter(e.issue_note.strip() for e in examples
                     if e.issue_note and e.issue_note.strip())
    return [n for n, _ in sorted(counts.items(), key=lambda x: (-x[1], x[0]))]


def _reason_counts(examples: Iterable[Example], labels: Labels, top: int | None
                   ) -> list[Count]:
    counts = Counter(r for e in examples for r in dict.fromkeys(e.reasons))
    return [Count(r, labels.reason(r), n)
            for r, n in sorted(counts.items(), key=lambda x: (-x[1], x[0]))[:top]]


def check_examples(examples: Sequence[Example]) -> None:
    """Refuse malformed pairings before anything is drawn, naming the passage."""
    for e in examples:
        for p in e.pairings:
            split_pairing(p, f"passage {e.passage_id}: ")


def vivid_examples(examples: Sequence[Example]) -> list[Example]:
    return [e for e in examples if e.vivid]


def build_map(examples: Sequence[Example], labels: Labels) -> PathwayMap:
    """Stages in codebook order; issue types within each by number of examples."""
    vivid = vivid_examples(examples)
    check_examples(vivid)
    stages = []
    for s in labels.codebook.stages:
        in_stage = [e for e in vivid if e.stage == s.id]
        col = StageColumn(s.id, s.label, s.definition, len(in_stage),
                          len({e.report_id for e in in_stage}))
        by_issue: dict[str | None, list[Example]] = {}
        for e in in_stage:
            by_issue.setdefault(e.issue, []).append(e)
        for iid, group in by_issue.items():
            col.issues.append(IssueCell(
                issue=iid or "", label=labels.issue_title(iid), n_examples=len(group),
                n_reports=len({e.report_id for e in group}),
                pairings=_pairing_counts(group, labels, TOP_PAIRINGS),
                reasons=_reason_counts(group, labels, TOP_REASONS),
                notes=_notes(group)[:TOP_NOTES] if iid == "other" else []))
        col.issues.sort(key=lambda c: (-c.n_examples, -c.n_reports, c.issue))
        stages.append(col)
    years = sorted(e.year for e in vivid if e.year)
    known = set(labels.stages)
    return PathwayMap(
        stages=stages, n_examples=len(vivid), n_reports=len({e.report_id for e in vivid}),
        n_confirmed=len(examples), years=(years[0], years[-1]) if years else None,
        pairings=_pairing_counts(vivid, labels, 10), reasons=_reason_counts(vivid, labels, 10),
        unstaged=sum(1 for e in vivid if e.stage not in known))


def map_rows(pmap: PathwayMap) -> list[dict]:
    """The map as CSV rows: one per stage x issue type (a stage with none gets one row)."""
    rows = []
    for col in pmap.stages:
        base = {"stage": col.stage, "stage_label": col.label,
                "stage_examples": col.n_examples, "stage_reports": col.n_reports}
        if not col.issues:
            rows.append(base | {"issue": "", "issue_label": "", "examples": 0, "reports": 0,
                                "pairings": "", "reasons": ""})
        for cell in col.issues:
            rows.append(base | {
                "issue": cell.issue, "issue_label": cell.label,
                "examples": cell.n_examples, "reports": cell.n_reports,
                "pairings": "; ".join(f"{p.id} ({p.n})" for p in cell.pairings),
                "reasons": "; ".join(f"{r.id} ({r.n})" for r in cell.reasons)})
    return rows


# --- topic briefings -------------------------------------------------------------------
@dataclass
class Briefing:
    issue: str
    label: str
    codebook_stage: str | None
    codebook_stage_label: str
    n_examples: int
    n_reports: int
    stages: list[Count]
    examples: list[Example]
    reasons: list[Count]
    pairings: list[Count]
    notes: list[str]

    @property
    def slug(self) -> str:
        return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in self.issue)


def pick_examples(group: Sequence[Example], k: int = EXAMPLES_PER_BRIEFING) -> list[Example]:
    """The richest passages (most reasons and pairings), from different reports first."""
    ranked = sorted(group, key=lambda e: (-len(set(e.reasons)) - len(set(e.pairings)),
                                          e.report_id, e.passage_id))
    chosen: list[Example] = []
    for e in ranked:
        if len(chosen) < k and all(c.report_id != e.report_id for c in chosen):
            chosen.append(e)
    for e in ranked:
        if len(chosen) < k and e not in chosen:
            chosen.append(e)
    return chosen


def build_briefings(examples: Sequence[Example], labels: Labels) -> list[Briefing]:
    """One briefing per issue type that has at least one confirmed vivid example."""
    by_issue: dict[str, list[Example]] = {}
    for e in vivid_examples(examples):
        if e.issue:
            by_issue.setdefault(e.issue, []).append(e)
    order = {iid: i for i, iid in enumerate(labels.issues)}
    out = []
    for iid in sorted(by_issue, key=lambda i: (order.get(i, len(order)), i)):
        group = by_issue[iid]
        code = labels.issues.get(iid)
        stage_counts = Counter(e.stage for e in group if e.stage)
        out.append(Briefing(
            issue=iid, label=labels.issue_title(iid),
            codebook_stage=code.stage if code else None,
            codebook_stage_label=labels.stage(code.stage) if code and code.stage else "",
            n_examples=len(group), n_reports=len({e.report_id for e in group}),
            stages=[Count(s, labels.stage(s), n) for s, n in
                    sorted(stage_counts.items(), key=lambda x: (-x[1], x[0]))],
            examples=pick_examples(group), reasons=_reason_counts(group, labels, None),
            pairings=_pairing_counts(group, labels, None), notes=_notes(group)))
    return out


# --- exports -------------------------------------------------------------------------
EXPORT_COLUMNS = [
    "passage_id", "report_id", "report_title", "report_file", "board", "year", "page_start",
    "page_end", "start_char", "end_char", "number", "heading", "section_type", "vivid",
    "stage", "issue", "issue_note", "pairings", "reasons", "basis", "coders",
    "model_version", "first_annotated_at", "confirmed_at", "text"]
LIST_COLUMNS = ("pairings", "reasons", "coders")


def export_frame(examples: Sequence[Example], lists: bool) -> pd.DataFrame:
    """Confirmed codings with provenance; list fields as lists or '; '-joined text."""
    rows = []
    for e in examples:
        row = {c: getattr(e, c) for c in EXPORT_COLUMNS}
        for c in LIST_COLUMNS:
            row[c] = list(row[c]) if lists else "; ".join(row[c])
        for c in ("first_annotated_at", "confirmed_at"):
            v = row[c]
            if isinstance(v, datetime) and v.tzinfo is None:
                row[c] = v.replace(tzinfo=UTC)  # SQLite hands back naive UTC times
        rows.append(row)
    frame = pd.DataFrame(rows, columns=EXPORT_COLUMNS)
    for c in ("year", "page_start", "page_end", "start_char", "end_char"):
        frame[c] = frame[c].astype("Int64")
    frame["vivid"] = frame["vivid"].astype("boolean")
    return frame


def _excel_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel refuses control characters, cells over 32,767 chars and timezones."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.DatetimeTZDtype):
            out[c] = out[c].dt.tz_convert("UTC").dt.tz_localize(None)
        elif out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(lambda v: ILLEGAL_CHARACTERS_RE.sub("", v)[:XLSX_CELL_MAX]
                                if isinstance(v, str) else v)
    return out


def write_exports(examples: Sequence[Example], out: Path) -> list[Path]:
    flat = export_frame(examples, lists=False)
    paths = [out / "confirmed_codings.csv", out / "confirmed_codings.xlsx",
             out / "confirmed_codings.parquet"]
    flat.to_csv(paths[0], index=False)
    with pd.ExcelWriter(paths[1], engine="openpyxl") as xw:
        _excel_safe(flat).to_excel(xw, index=False, sheet_name="confirmed codings")
    export_frame(examples, lists=True).to_parquet(paths[2], index=False)
    return paths


# --- plots ---------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def integer_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def plot_by_stage(pmap: PathwayMap, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ids = [c.stage for c in pmap.stages]
    ax.bar(ids, [c.n_examples for c in pmap.stages], color="#1f5f8b")
    for i, c in enumerate(pmap.stages):
        ax.annotate(str(c.n_examples), (i, c.n_examples), ha="center", va="bottom",
                    fontsize=9)
    ax.yaxis.set_major_locator(integer_ticks())
    ax.set_xlabel("care-pathway stage")
    ax.set_ylabel("vivid examples")
    ax.set_title("Confirmed vivid examples by stage")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_by_year(examples: Sequence[Example], path: Path) -> Path:
    plt = _pyplot()
    vivid = vivid_examples(examples)
    counts = Counter(e.year for e in vivid if e.year)
    unknown = sum(1 for e in vivid if not e.year)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    if counts:
        years = list(range(min(counts), max(counts) + 1))
        ax.bar([str(y) for y in years], [counts.get(y, 0) for y in years], color="#2e7d5b")
        if len(years) > 12:
            ax.tick_params(axis="x", labelrotation=60)
    ax.yaxis.set_major_locator(integer_ticks())
    ax.set_xlabel("year the report was published")
    ax.set_ylabel("vivid examples")
    title = "Confirmed vivid examples by publication year"
    ax.set_title(title + (f" ({unknown} of unknown year)" if unknown else ""))
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_pairing_heatmap(examples: Sequence[Example], codebook: Codebook, path: Path) -> Path:
    """Senders down, receivers across; only groups that occur, in codebook order."""
    import numpy as np

    plt = _pyplot()
    counts = Counter()
    for e in vivid_examples(examples):
        for p in dict.fromkeys(e.pairings):
            counts[split_pairing(p, f"passage {e.passage_id}: ")] += 1
    order = {g: i for i, g in enumerate(codebook.group_ids)}
    key = lambda g: (order.get(g, len(order)), g)  # noqa: E731
    senders = sorted({s for s, _ in counts}, key=key)
    receivers = sorted({r for _, r in counts}, key=key)
    grid = np.zeros((len(senders), len(receivers)), dtype=int)
    for (s, r), n in counts.items():
        grid[senders.index(s), receivers.index(r)] = n
    fig, ax = plt.subplots(figsize=(max(4.5, 0.55 * len(receivers) + 2.5),
                                    max(3.5, 0.45 * len(senders) + 2)))
    if counts:
        im = ax.imshow(grid, cmap="Blues", aspect="auto")
        ax.set_xticks(range(len(receivers)), [group_name(g, codebook) for g in receivers],
                      rotation=45, ha="right")
        ax.set_yticks(range(len(senders)), [group_name(g, codebook) for g in senders])
        top = grid.max()
        for i in range(len(senders)):
            for j in range(len(receivers)):
                if grid[i, j]:
                    ax.text(j, i, str(grid[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if grid[i, j] > top / 2 else "#1b1b1b")
        fig.colorbar(im, ax=ax, shrink=0.8, label="vivid examples")
    else:
        ax.text(0.5, 0.5, "no pairings coded", ha="center", va="center")
        ax.set_axis_off()
    ax.set_xlabel("receiver (should act)")
    ax.set_ylabel("sender (holds the information)")
    ax.set_title("Professional pairings in vivid examples")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# --- rendering and the atomic write ----------------------------------------------------
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                      autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["excerpt"] = lambda text, n=EXCERPT_CHARS: (
        text if len(text) <= n else text[:n].rsplit(" ", 1)[0] + " \u2026")
    return env


@contextmanager
def staged_output(out_dir: str | Path) -> Iterator[Path]:
    """A temporary folder beside ``out_dir`` whose contents move into it on success.

    On any error the temporary folder is removed and ``out_dir`` is left as it was.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CollateError(f"{out}: exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield built
        _move_into_place(built, out)
    finally:
        shutil.rmtree(built, ignore_errors=True)


def _move_into_place(built: Path, out: Path) -> None:
    """Move every built entry into ``out``, replacing earlier outputs of the same name."""
    out.mkdir(parents=True, exist_ok=True)
    trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    try:
        for entry in sorted(built.iterdir()):
            dest = out / entry.name
            if dest.exists() or dest.is_symlink():
                dest.rename(trash / entry.name)  # the old output goes only once all is built
            os.replace(entry, dest)
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def render_all(examples: Sequence[Example], codebook: Codebook, out: Path,
               generated: datetime | None = None) -> list[Path]:
    """Write every output into ``out`` (an empty folder); returns the files written."""
    labels = Labels(codebook)
    env = environment()
    generated = generated or datetime.now(UTC)
    written = write_exports(examples, out)
    pmap = build_map(examples, labels)
    briefings = build_briefings(examples, labels)
    slugs = {b.issue: b.slug for b in briefings}
    context = {"map": pmap, "codebook": codebook, "labels": labels, "slugs": slugs,
               "generated": generated.strftime("%d %B %Y")}
    page = out / "care_pathway_map.html"
    page.write_text(env.get_template("map.html.j2").render(**context), encoding="utf-8")
    table = out / "care_pathway_map.csv"
    pd.DataFrame(map_rows(pmap)).to_csv(table, index=False)
    written += [page, table]
    folder = out / "briefings"
    folder.mkdir()
    for b in briefings:
        ctx = context | {"b": b}
        for suffix, template in ((".md", "briefing.md.j2"), (".html", "briefing.html.j2")):
            path = folder / f"{b.slug}{suffix}"
            path.write_text(env.get_template(template).render(**ctx), encoding="utf-8")
            written.append(path)
    missing = [i for i in codebook.issues if i.id not in slugs]
    index = folder / "index.html"
    index.write_text(env.get_template("briefings_index.html.j2").render(
        **context, briefings=briefings, missing=missing), encoding="utf-8")
    written.append(index)
    plots = out / "plots"
    plots.mkdir()
    written += [plot_by_stage(pmap, plots / "examples_by_stage.png"),
                plot_by_year(examples, plots / "examples_by_year.png"),
                plot_pairing_heatmap(examples, codebook, plots / "pairings_heatmap.png")]
    return written


def collate(out_dir: str | Path, url: str | None = None, codebook: Codebook | None = None,
            examples: Sequence[Example] | None = None) -> list[Path]:
    """Write the collation into ``out_dir`` all at once; returns the final paths."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CollateError(f"{out}: exists and is not a folder")
    codebook = codebook or load_codebook(get_settings().codebook_path)
    examples = list(load_confirmed(url) if examples is None else examples)
    if not examples:
        raise CollateError("nothing to collate: the store has no confirmed codings")
    with staged_output(out) as built:
        written = render_all(examples, codebook, built)
    return [out / p.relative_to(built) for p in written]
