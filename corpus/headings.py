"""Section typing: give each heading of a report a codebook section type.

Real reports name their sections freely ("Key Practice Episodes", "What happened and
why", "Considerations for the Board"), so typing learns from example heading lists
rather than keyword tables. A model sees the heading's words and characters plus its
context: position in the report, numbering depth, the enclosing section's heading and a
first-pass guess at its parent and neighbours (two-stage stacking), so that
sub-headings follow their parent unless their own words say otherwise.

The model is trained at first use from the shipped heading lists in ``corpus/data``
(fictional training reports plus the copied development reports) and cached in-process.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

DATA_DIR = Path(__file__).parent / "data"
TRAINING_FILES = (DATA_DIR / "heading_examples.jsonl", DATA_DIR / "headings_dev.jsonl")

#: Section types a heading can get (the codebook's ids; "unknown" is only for reports
#: without headings and is never predicted for a heading).
SECTION_TYPES = ("front_matter", "introduction", "methodology", "family_involvement",
                 "case_narrative", "analysis", "findings", "good_practice", "conclusion",
                 "recommendations", "appendix")

_WORD_NUMS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|first|"
              "second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth")
_SEP = r"(?:\s*[.:)\-–—]\s*|\s+)"
_NUMBER_PATTERNS = (
    # "Part 2", "Section Three", "Chapter IV"
    re.compile(rf"^(?P<num>(?:part|section|chapter)\s+(?:\d+|[ivxlc]+|{_WORD_NUMS}|[a-z]))"
               rf"(?:{_SEP}|$)", re.I),
    # "Appendix A", "Annex 2", "Appendix 1a"
    re.compile(r"^(?P<num>(?:appendix|appendices|annex|annexe)\s+(?:\d+[a-z]?|[a-z]|[ivx]+))"
               rf"(?:{_SEP}|$)", re.I),
    # "3", "3.", "3.2", "3.2.1", "A1", "A.1" (not a year such as "2011 to 2012")
    re.compile(r"^(?P<num>(?:[A-Z]\.?)?\d{1,2}(?:\.\d{1,2})*)\.?(?:\s*[:)\-–—]\s*|\s+|$)"),
    # "iv.", "ii)", "iii " (lower-case roman, or upper-case with punctuation / 2+ chars)
    re.compile(r"^(?P<num>[ivx]{1,5})(?:\s*[.:)]\s*|\s+)(?=\S)"),
    re.compile(r"^(?P<num>[IVX]{2,5}|[IVX])(?:\s*[.:)]\s*)(?=\S)"),
    re.compile(r"^(?P<num>[IVX]{2,5})\s+(?=[A-Z])"),
    # "A.", "B)", and "B Terms of reference" (not "A day in the life ...")
    re.compile(r"^(?P<num>[A-Za-z])(?:\s*[.:)]\s+)(?=\S)"),
    re.compile(r"^(?P<num>[B-H])\s+(?=[A-Z][a-z])"),
)


def split_number(heading: str) -> tuple[str | None, str]:
    """Split a heading string into its numbering (if any) and its text.

    "3.2 Terms of reference" -> ("3.2", "Terms of reference"); "Part 2: The facts" ->
    ("Part 2", "The facts"); "Glossary" -> (None, "Glossary").
    """
    s = heading.strip()
    for pattern in _NUMBER_PATTERNS:
        m = pattern.match(s)
        if m:
            return m.group("num").strip(), s[m.end():].strip()
    return None, s


def number_depth(number: str | None) -> int:
    """Heading level implied by its numbering: 0 when unnumbered (level unknown)."""
    if not number:
        return 0
    m = re.fullmatch(r"(?:[A-Z]\.?)?(\d+(?:\.\d+)*)", number)
    if m:
        depth = m.group(1).count(".") + 1
        return depth + 1 if number[0].isalpha() else depth
    return 1


_ID_RE = re.compile(
    r"\b(child(?:ren)?|baby|babies|young (?:person|people)|sibling(?:s| group)?|famil(?:y|ies)|"
    r"adult|infant|person|mother|father|brother|sister|subject|case)\s+"
    r"((?:[A-Z]{1,3}\d*|[A-Z][a-z]+)(?:(?:,|\s+and)\s+(?:[A-Z]{1,3}\d*|[A-Z][a-z]+))*)"
    r"(?=\b|')")
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|"
           "november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")


def normalise(text: str) -> str:
    """Lower-case heading text with child/family identifiers, dates and numbers generalised."""
    t = _ID_RE.sub(lambda m: f"{m.group(1)} xname", text)
    t = t.lower().replace("’", "'").replace("‘", "'")
    t = re.sub(r"\b(?:19|20)\d\d\b", " yyear ", t)
    t = re.sub(rf"\b(?:{_MONTHS})\b", " mmonth ", t)
    t = re.sub(r"\d+", " 0 ", t)
    t = re.sub(r"[^\w'?]+", " ", t)
    return re.sub(r"\s+", " ", t).strip()


@dataclass(frozen=True)
class _Item:
    """One heading in its report context."""

    text: str
    depth: int
    anchor: int | None  # index of the enclosing top-level heading, if any
    parent: int | None  # index of the parent heading (a shallower one just before)


def _items(headings: Sequence[str], levels: Sequence[int] | None) -> list[_Item]:
    items: list[_Item] = []
    last_at: dict[int, int] = {}
    anchor: int | None = None
    for i, heading in enumerate(headings):
        number, text = split_number(heading)
        if number and re.match(r"(?i)ann|app", number):
            text = f"appendix {text}"  # the kind of numbering says what the section is
        text = text or heading
        depth = levels[i] if levels is not None else number_depth(number)
        parent = None
        if depth >= 2:
            shallower = [last_at[d] for d in range(1, depth) if d in last_at]
            parent = max(shallower) if shallower else None
        if depth == 1:
            anchor = i
        items.append(_Item(normalise(text) or "empty", depth, anchor if anchor != i else None,
                           parent))
        last_at[depth] = i
        for d in [d for d in last_at if d > depth]:
            del last_at[d]
    return items


def _dense(items: list[_Item], headings: Sequence[str]) -> np.ndarray:
    """Position and numbering features of each heading in its report."""
    n = len(items)
    numbered = [it.depth > 0 for it in items]
    frac_numbered = sum(numbered) / n
    first_num = next((i for i, b in enumerate(numbered) if b), n)
    last_top = max((i for i, it in enumerate(items) if it.depth == 1), default=-1)
    rows = []
    for i, it in enumerate(items):
        rel = i / (n - 1) if n > 1 else 0.0
        bins = [0.0] * 10
        bins[min(int(rel * 10), 9)] = 1.0
        depth = [float(it.depth == d) for d in (0, 1, 2)] + [float(it.depth >= 3)]
        raw = headings[i].strip()
        rows.append([
            rel, rel * rel, float(i == 0), float(i == n - 1), float(i < 3), float(n - i <= 3),
            *bins, *depth, frac_numbered,
            float(it.depth == 0 and i < first_num and first_num < n),
            float(it.depth == 0 and i > last_top >= 0),
            float(it.depth == 0 and frac_numbered >= 0.5),
            float(it.parent is not None), float(raw.endswith("?")), float(":" in raw),
            float(raw.isupper()), min(len(it.text.split()), 12) / 12,
            float(bool(re.match(r"(?i)(appendix|appendices|annex)", raw))),
        ])
    return np.asarray(rows, dtype=float)


def _context(items: list[_Item], probs: np.ndarray) -> np.ndarray:
    """First-pass guesses of the parent, enclosing section and neighbours of each heading."""
    n, k = probs.shape
    zero = np.zeros(k)
    rows = []
    seen = np.zeros(k)
    for i, it in enumerate(items):
        parent = probs[it.parent] if it.parent is not None else zero
        anchor = probs[it.anchor] if it.anchor is not None else zero
        prev = probs[i - 1] if i > 0 else zero
        nxt = probs[i + 1] if i + 1 < n else zero
        rows.append(np.concatenate([probs[i], parent, anchor, prev, nxt, seen]))
        seen = np.maximum(seen, probs[i])
    return np.asarray(rows)


class HeadingTyper:
    """Two-stage heading classifier: text + position, then text + context of guesses."""

    def __init__(self, c: float = 4.0, context_weight: float = 2.0, folds: int = 5) -> None:
        self.c = c
        self.context_weight = context_weight
        self.folds = folds

    # --- features ------------------------------------------------------------------
    def _fit_vectorizers(self, texts: list[str], anchor_texts: list[str]) -> None:
        self._word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        self._char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5),
                                     sublinear_tf=True, min_df=2)
        self._anchor = TfidfVectorizer(ngram_range=(1, 1), sublinear_tf=True, min_df=2)
        self._word.fit(texts)
        self._char.fit(texts)
        self._anchor.fit(anchor_texts)

    def _base(self, reports: list[tuple[list[_Item], np.ndarray]]) -> sparse.csr_matrix:
        texts, parents, dense = [], [], []
        for items, d in reports:
            texts += [it.text for it in items]
            parents += [items[it.parent].text if it.parent is not None else "" for it in items]
            dense.append(d)
        return sparse.hstack([self._word.transform(texts), self._char.transform(texts),
                              0.5 * self._anchor.transform(parents),
                              sparse.csr_matrix(np.vstack(dense))]).tocsr()

    def _lr(self) -> LogisticRegression:
        return LogisticRegression(C=self.c, max_iter=3000, class_weight="balanced")

    # --- training / prediction -----------------------------------------------------
    def fit(self, reports: Iterable[tuple[Sequence[str], Sequence[str]]]) -> HeadingTyper:
        """Train on reports given as (heading strings, gold types)."""
        prepared, labels, groups = [], [], []
        for r, (headings, types) in enumerate(reports):
            if not headings:
                continue
            items = _items(headings, None)
            prepared.append((items, _dense(items, headings)))
            labels += list(types)
            groups += [r] * len(headings)
        y = np.asarray(labels)
        self.classes_ = np.asarray(SECTION_TYPES)
        texts = [it.text for items, _ in prepared for it in items]
        parents = [items[it.parent].text for items, _ in prepared for it in items
                   if it.parent is not None]
        self._fit_vectorizers(texts, parents or ["none"])
        x = self._base(prepared)
        # out-of-fold first-pass probabilities so stage 2 learns from honest guesses
        oof = np.zeros((len(y), len(self.classes_)))
        for train, test in GroupKFold(n_splits=self.folds).split(x, y, groups):
            m = self._lr().fit(x[train], y[train])
            oof[test] = self._expand(m, m.predict_proba(x[test]))
        self._stage1 = self._lr().fit(x, y)
        ctx = self._contexts(prepared, oof)
        self._stage2 = self._lr().fit(sparse.hstack([x, ctx]).tocsr(), y)
        return self

    def _expand(self, model: LogisticRegression, p: np.ndarray) -> np.ndarray:
        out = np.zeros((p.shape[0], len(self.classes_)))
        for j, c in enumerate(model.classes_):
            out[:, list(self.classes_).index(c)] = p[:, j]
        return out

    def _contexts(self, prepared, probs: np.ndarray) -> sparse.csr_matrix:
        rows, start = [], 0
        for items, _ in prepared:
            rows.append(_context(items, probs[start:start + len(items)]))
            start += len(items)
        return sparse.csr_matrix(self.context_weight * np.vstack(rows))

    def predict(self, headings: Sequence[str], levels: Sequence[int] | None = None) -> list[str]:
        """Types for one report's headings, in order."""
        if not headings:
            return []
        items = _items(headings, levels)
        prepared = [(items, _dense(items, headings))]
        x = self._base(prepared)
        p1 = self._expand(self._stage1, self._stage1.predict_proba(x))
        x2 = sparse.hstack([x, self._contexts(prepared, p1)]).tocsr()
        return [str(t) for t in self._stage2.predict(x2)]


def heading_string(h: dict) -> str:
    """The one-string form of a stored heading: its numbering (if any) then its text."""
    return f"{h['number']} {h['text']}" if h.get("number") else h["text"]


def load_reports(path: str | Path) -> list[tuple[list[str], list[str]]]:
    """Read a heading-list JSONL file (title, year, headings[{number, text, level, type}])."""
    reports = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                hs = json.loads(line)["headings"]
                reports.append(([heading_string(h) for h in hs], [h["type"] for h in hs]))
    return reports


def augment(reports: list[tuple[list[str], list[str]]]) -> list[tuple[list[str], list[str]]]:
    """Add an unnumbered copy of every numbered report (many reports number nothing)."""
    out = list(reports)
    for headings, types in reports:
        stripped = [split_number(h)[1] or h for h in headings]
        if stripped != list(headings):
            out.append((stripped, types))
    return out


def train_typer(files: Iterable[str | Path] = TRAINING_FILES) -> HeadingTyper:
    """Train a typer on the given heading-list files (those that exist)."""
    reports: list[tuple[list[str], list[str]]] = []
    for f in files:
        if Path(f).exists():
            reports += load_reports(f)
    return HeadingTyper().fit(augment(reports))


@lru_cache(maxsize=1)
def default_typer() -> HeadingTyper:
    """The shipped typer, trained once per process."""
    return train_typer()


def classify_headings(headings: list[str], levels: list[int] | None = None) -> list[str]:
    """Section type of each heading of one report, in order (codebook ``section_types``).

    ``headings`` are the report's top- and second-level headings in document order, each
    with its numbering when the report numbers it ("1.1 Terms of Reference"). ``levels``
    (1 = top) are optional; without them the level is read from the numbering.
    """
    if levels is not None and len(levels) != len(headings):
        raise ValueError(f"got {len(levels)} levels for {len(headings)} headings")
    return default_typer().predict(headings, levels)
