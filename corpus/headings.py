"""Section typing: give each heading of a report a codebook section type.

Real reports name their sections freely ("Key Practice Episodes", "What happened and
why", "Considerations for the Board"), so typing learns from example heading lists
rather than keyword tables. A linear model scores each heading from its words and
characters, cue-word features, its position and numbering, and its parent's words; exact
decoding over the outline then lets sub-headings follow their parent unless their own
words say otherwise, and keeps the usual order of a report's top-level sections.

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
from typing import NamedTuple

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

DATA_DIR = Path(__file__).parent / "data"
EXAMPLES_FILE = DATA_DIR / "heading_examples.jsonl"
DEV_FILE = DATA_DIR / "headings_dev.jsonl"
#: Weight of a real dev report against a fictional one (higher weights measured worse).
DEV_WEIGHT = 1.0
TRAINING_FILES = ((EXAMPLES_FILE, 1.0), (DEV_FILE, DEV_WEIGHT))

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


# "Child Q", "Baby VV", "Children F and G", "Young Person Jade", "Family X": the identifier
# says nothing about the section. Capitalised words that are not names are kept.
_NOT_NAMES = ("Protection|Sexual|Safeguarding|Practice|Deaths?|In|Care|Abuse|Exploitation|"
              "Health|Mental|Development|Looked|Criminal|And|Or|With|Who|Was|Is|Of|The|"
              "Review|Reviews|Neglect|Welfare|Centred|Focused|Contact|Arrangements|Minding")
_LETTERS = r"'?[A-Z]{1,3}\d*'?(?!\w)"
_NAME = rf"(?:(?!(?:{_NOT_NAMES})\b)[A-Z][a-z]+|{_LETTERS})"
_ID_RE = re.compile(
    r"\b((?i:child(?:ren)?|baby|babies|young (?:person|people)|sibling(?:s| group)?|infant|"
    rf"subject))\s+({_NAME}(?:(?:,|\s+and)\s+{_NAME})*)"
    r"|\b((?i:famil(?:y|ies)|adult|person|mother|father|brother|sister|case))\s+"
    rf"({_LETTERS}(?:(?:,|\s+and)\s+{_LETTERS})*)")
_ID_RE_CAPS = re.compile(  # in an all-capitals heading only single letters are identifiers
    r"\b(CHILD(?:REN)?|BABY|YOUNG PERSON|SIBLINGS?|FAMILY|CASE)\s+('?[A-Z]\d*'?(?!\w))")
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|"
           "november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")


def normalise(text: str) -> str:
    """Lower-case heading text with child/family identifiers, dates and numbers generalised."""
    if text.isupper():
        t = _ID_RE_CAPS.sub(lambda m: f"{m.group(1)} xname", text)
    else:
        t = _ID_RE.sub(lambda m: f"{m.group(1) or m.group(3)} xname", text)
    t = t.lower().replace("’", "'").replace("‘", "'")
    t = re.sub(r"\b(?:19|20)\d\d\b", " yyear ", t)
    t = re.sub(rf"\b(?:{_MONTHS})\b", " mmonth ", t)
    t = re.sub(r"\d+", " 0 ", t)
    t = re.sub(r"[^\w'?]+", " ", t)
    return re.sub(r"\s+", " ", t).strip()


class Report(NamedTuple):
    """One report's heading strings and gold types, with its weight in training."""

    headings: list[str]
    types: list[str]
    weight: float = 1.0
    levels: list[int] | None = None  # as coded; training reads levels from numbering


@dataclass(frozen=True)
class _Item:
    """One heading in its report context."""

    text: str
    numbering: int  # depth its numbering implies (0: unnumbered); a feature
    depth: int  # level in the outline (given, or the numbering depth; 0: unknown)
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
        numbering = number_depth(number)
        depth = levels[i] if levels is not None else numbering
        parent = None
        if depth >= 2:
            shallower = [last_at[d] for d in range(1, depth) if d in last_at]
            parent = max(shallower) if shallower else None
        if depth == 1:
            anchor = i
        items.append(_Item(normalise(text) or "empty", numbering, depth,
                           anchor if anchor != i else None, parent))
        last_at[depth] = i
        for d in [d for d in last_at if d > depth]:
            del last_at[d]
    return items


# Cue words for each type, as features whose weights are learned (never rules): they keep
# a long heading's telling word from drowning among the others ("Recommendations from
# this Serious Case Review").
_CUES = {
    "front_matter": r"contents|index|foreword|preface|glossary|abbreviation|acronym|acknowledg|"
                    r"terminology|author|reviewer|independen|who's who|key to|names used|"
                    r"pseudonym|identifiers",
    "introduction": r"introduc|reason|rationale|why|purpose|circumstances|context|decision|"
                    r"commission|criteria|summary",
    "methodology": r"method|process|terms of reference|scope|panel|team|limitation|parallel|"
                   r"timescale|timeframe|approach|arrangement|imrs?\b|management review|"
                   r"sources|practitioner|learning event|confidential|anonym|how the review|"
                   r"contributor|agencies involved|inquest|investigation|proceedings",
    "family_involvement": r"famil(?:y|ies)'?s?(?: members?)? (?:involvement|contribution|"
                          r"participation|engagement|views?|perspective)|"
                          r"parent(?:s|al)?'? (?:views?|involvement|perspective)|voice|"
                          r"lived experience|day in the life|views of|perspective of|told|"
                          r"messages from|listening|hearing",
    "case_narrative": r"background|history|chronolog|narrative|timeline|events?\b|episode|"
                      r"facts|story|case summary|summary of the case|involvement|"
                      r"composition|genogram|structure|life\b|period|pregnancy|birth",
    "analysis": r"analys|apprais|discussion|themes?\b|thematic|evaluation|examination|"
                r"key lines? of enquiry|reflection|critical",
    "findings": r"finding|lesson|learning|learnt|learned|issues|failings|concerns|"
                r"implications",
    "good_practice": r"good practice|effective practice|strengths|went well|notable practice",
    "conclusion": r"conclu|predictab|preventab|final|closing|remarks",
    "recommendations": r"recommend|considerations? for|questions? for|issues for the|"
                       r"action plan|next steps|respon|improv|needs to change|will do|"
                       r"priorities",
    "appendix": r"appendi|annex|references|bibliograph|further reading",
}
CUE_WEIGHT = 0.5
_CUE_RES = [re.compile(rf"\b(?:{c})") for c in _CUES.values()]


def _cues(text: str) -> list[float]:
    """Per type: a cue word anywhere in the heading, and one at its start (its first three
    words, or the first part of "X and Y", which is what such a heading is mostly about)."""
    start = _first_conjunct(text) or " ".join(text.split()[:3])
    return [float(bool(r.search(text))) for r in _CUE_RES] + [
        float(bool(r.search(start))) for r in _CUE_RES]


def _dense(items: list[_Item], headings: Sequence[str]) -> np.ndarray:
    """Position and numbering features of each heading in its report."""
    n = len(items)
    numbered = [it.numbering > 0 for it in items]
    frac_numbered = sum(numbered) / n
    first_num = next((i for i, b in enumerate(numbered) if b), n)
    last_top = max((i for i, it in enumerate(items) if it.numbering == 1), default=-1)
    rows = []
    for i, it in enumerate(items):
        rel = i / (n - 1) if n > 1 else 0.0
        bins = [0.0] * 10
        bins[min(int(rel * 10), 9)] = 1.0
        depth = [float(it.numbering == d) for d in (0, 1, 2)] + [float(it.numbering >= 3)]
        raw = headings[i].strip()
        rows.append([
            rel, rel * rel, float(i == 0), float(i == n - 1), float(i < 3), float(n - i <= 3),
            *bins, *depth, frac_numbered,
            float(it.numbering == 0 and i < first_num and first_num < n),
            float(it.numbering == 0 and i > last_top >= 0),
            float(it.numbering == 0 and frac_numbered >= 0.5),
            float(it.parent is not None), float(raw.endswith("?")), float(":" in raw),
            float(raw.isupper()), min(len(it.text.split()), 12) / 12,
            float(bool(re.match(r"(?i)(appendix|appendices|annex)", raw))),
            *[CUE_WEIGHT * v for v in _cues(it.text)],
        ])
    return np.asarray(rows, dtype=float)


def _fit_tfidf(vectorizer: TfidfVectorizer, texts: list[str]) -> TfidfVectorizer:
    """Fit on the distinct texts (fast), with document frequencies counted over all."""
    unique, counts = np.unique(np.asarray(texts, dtype=object), return_counts=True)
    vectorizer.fit(list(unique))
    present = vectorizer.transform(list(unique)) > 0
    df = present.T @ counts.astype(float)
    vectorizer.idf_ = np.log((1 + counts.sum()) / (1 + df)) + 1  # smooth_idf, as sklearn
    return vectorizer


def _transform(vectorizer: TfidfVectorizer, texts: list[str]) -> sparse.csr_matrix:
    """Vectorise each distinct text once (training sets repeat headings hundreds of times)."""
    unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    return vectorizer.transform(list(unique))[inverse]


class HeadingTyper:
    """Heading classifier (text, position, parent) decoded over the report's outline.

    A linear model scores each heading from its own words and characters, its numbering
    depth and position, and its parent's words. Decoding is exact over the outline
    tree: a sub-heading's type is scored against its parent's (learned parent -> child
    statistics, so sub-headings keep their parent's type unless their words say
    otherwise), and consecutive top-level headings against each other (learned
    transitions, so the report's usual order is respected).
    """

    def __init__(self, c: float = 0.5, chain_weight: float = 0.5,
                 parent_weight: float = 0.5, sharpness: float = 3.0,
                 sub_weight: float = 0.7, conjunct_weight: float = 0.5) -> None:
        self.c = c
        self.conjunct_weight = conjunct_weight
        self.chain_weight = chain_weight
        self.parent_weight = parent_weight
        self.sharpness = sharpness
        self.sub_weight = sub_weight

    # --- features ------------------------------------------------------------------
    def _fit_vectorizers(self, texts: list[str], parent_texts: list[str]) -> None:
        self._word = _fit_tfidf(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), texts)
        self._char = _fit_tfidf(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5),
                                                sublinear_tf=True, min_df=2), texts)
        self._parent = _fit_tfidf(TfidfVectorizer(sublinear_tf=True, min_df=2), parent_texts)

    def _features(self, reports: list[tuple[list[_Item], np.ndarray]]) -> sparse.csr_matrix:
        texts, firsts, subs, parents, anchors, dense = [], [], [], [], [], []
        for items, d in reports:
            texts += [it.text for it in items]
            # "Findings and conclusions" is about findings: the first conjunct leads
            firsts += [_first_conjunct(it.text) for it in items]
            # a sub-heading's own words get their own weights: "Introduction" under
            # "Appraisal of practice" says little, unlike "Terms of reference" there
            subs += [it.text if it.parent is not None or (it.depth == 0 and it.anchor is not None)
                     else "" for it in items]
            parents += [items[it.parent].text if it.parent is not None else "" for it in items]
            anchors += [items[it.anchor].text if it.anchor is not None and it.depth == 0
                        else "" for it in items]
            dense.append(d)
        return sparse.hstack([_transform(self._word, texts), _transform(self._char, texts),
                              self.conjunct_weight * _transform(self._word, firsts),
                              self.sub_weight * _transform(self._word, subs),
                              0.6 * _transform(self._parent, parents),
                              0.4 * _transform(self._parent, anchors),
                              sparse.csr_matrix(np.vstack(dense))]).tocsr()

    # --- training / prediction -----------------------------------------------------
    def fit(self, reports: Iterable[Report]) -> HeadingTyper:
        """Train on reports: heading strings, gold types and a weight per report."""
        self.classes_ = np.asarray(SECTION_TYPES)
        index = {c: i for i, c in enumerate(SECTION_TYPES)}
        k = len(SECTION_TYPES)
        prepared, labels, weights = [], [], []
        chain = np.ones((len(_CHAIN_RELATIONS), k, k))  # add-one smoothing
        child = np.ones((k, k))
        for headings, types, weight, _ in reports:
            if not headings:
                continue
            items = _items(headings, None)
            prepared.append((items, _dense(items, headings)))
            labels += list(types)
            weights += [weight] * len(types)
            y = [index[t] for t in types]
            roots = [i for i, it in enumerate(items) if it.parent is None]
            for a, b in zip(roots, roots[1:], strict=False):
                chain[_chain_relation(items, b), y[a], y[b]] += weight
            for i, it in enumerate(items):
                if it.parent is not None:
                    child[y[it.parent], y[i]] += weight
        self._log_chain = np.log(chain / chain.sum(axis=2, keepdims=True))
        self._log_child = np.log(child / child.sum(axis=1, keepdims=True))
        texts = [it.text for items, _ in prepared for it in items]
        parents = [items[it.parent].text for items, _ in prepared for it in items
                   if it.parent is not None]
        self._fit_vectorizers(texts, parents or ["none"])
        x, y = self._features(prepared), np.asarray(labels)
        with threadpool_limits(1):  # BLAS threads only fight each other on small fits
            self._model = LinearSVC(C=self.c, class_weight="balanced", random_state=0).fit(
                x, y, sample_weight=weights)
        self._cols = [index[c] for c in self._model.classes_]
        return self

    def _log_probs(self, x: sparse.csr_matrix) -> np.ndarray:
        """Log-softmax of the sharpened margins, one column per section type (types never
        seen in training: -inf)."""
        d = self.sharpness * self._model.decision_function(x)
        d = d - d.max(axis=1, keepdims=True)
        logp = d - np.log(np.exp(d).sum(axis=1, keepdims=True))
        out = np.full((x.shape[0], len(self.classes_)), -1e9)
        out[:, self._cols] = logp
        return out

    def predict(self, headings: Sequence[str], levels: Sequence[int] | None = None) -> list[str]:
        """Types for one report's headings, in order."""
        if not headings:
            return []
        items = _items(headings, levels)
        emit = self._log_probs(self._features([(items, _dense(items, headings))]))
        appendix = SECTION_TYPES.index("appendix")
        for i, h in enumerate(headings):  # "Appendix C ..." is an appendix, whatever it holds
            if _APPENDIX_NUMBER.match(h):
                emit[i, [j for j in range(len(SECTION_TYPES)) if j != appendix]] = -1e9
        n = len(items)
        children: list[list[int]] = [[] for _ in range(n)]
        for i, it in enumerate(items):
            if it.parent is not None:
                children[it.parent].append(i)
        # bottom-up: a node's score per type includes its best-typed subtree
        local = emit.copy()
        best_child: dict[int, np.ndarray] = {}
        for i in reversed(range(n)):
            for c in children[i]:
                cand = local[c][None, :] + self.parent_weight * self._log_child  # [t, t_c]
                best_child[c] = cand.argmax(axis=1)
                local[i] += cand.max(axis=1)
        # Viterbi over the top-level headings
        roots = [i for i, it in enumerate(items) if it.parent is None]
        score = local[roots[0]].copy()
        back = []
        for r in roots[1:]:
            cand = score[:, None] + self.chain_weight * self._log_chain[_chain_relation(items, r)]
            back.append(cand.argmax(axis=0))
            score = cand.max(axis=0) + local[r]
        types = [0] * n
        types[roots[-1]] = int(score.argmax())
        for j in range(len(roots) - 1, 0, -1):
            types[roots[j - 1]] = int(back[j - 1][types[roots[j]]])
        for i in range(n):  # parents come before their children
            if items[i].parent is not None:
                types[i] = int(best_child[i][types[items[i].parent]])
        return [str(self.classes_[j]) for j in types]


_APPENDIX_NUMBER = re.compile(r"(?i)\s*(appendix|annexe?)\s+(\d+[a-z]?|[a-z]|[ivx]+)\b")
def _first_conjunct(text: str) -> str:
    """The part before the first "and" of a two-part heading, else nothing."""
    first, sep, _ = re.sub(r"\s*&\s*", " and ", text).partition(" and ")
    return first if sep and first else ""


_CHAIN_RELATIONS = ("numbered", "unnumbered after numbered", "other")


def _chain_relation(items: list[_Item], i: int) -> int:
    """How top-level heading ``i`` relates to the previous one (index into _CHAIN_RELATIONS):
    an unnumbered heading after a numbered one is often an unnumbered sub-heading."""
    if items[i].depth >= 1:
        return 0
    return 1 if items[i].anchor is not None else 2


def heading_string(h: dict) -> str:
    """The one-string form of a stored heading: its numbering (if any) then its text."""
    return f"{h['number']} {h['text']}" if h.get("number") else h["text"]


def load_reports(path: str | Path, weight: float = 1.0) -> list[Report]:
    """Read a heading-list JSONL file (title, year, headings[{number, text, level, type}])."""
    reports = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                hs = json.loads(line)["headings"]
                reports.append(Report([heading_string(h) for h in hs], [h["type"] for h in hs],
                                      weight, [int(h.get("level") or 1) for h in hs]))
    return reports


_NAMED_NUMBER = re.compile(r"(?i)\s*(appendix|appendices|annex|part|section|chapter)\b")


def augment(reports: Iterable[Report], copy_weight: float = 0.5) -> list[Report]:
    """Add an unnumbered copy of every numbered report (many reports number nothing).

    Named numbering ("Appendix C", "Part 2") is kept: it is part of what the heading says.
    """
    out = list(reports)
    for r in list(out):
        stripped = [h if _NAMED_NUMBER.match(h) else split_number(h)[1] or h for h in r.headings]
        if stripped != list(r.headings):
            out.append(Report(stripped, r.types, r.weight * copy_weight, r.levels))
    return out


def train_typer(files: Iterable[tuple[str | Path, float]] = TRAINING_FILES) -> HeadingTyper:
    """Train a typer on the given (heading-list file, weight) pairs, skipping missing files."""
    reports: list[Report] = []
    for f, weight in files:
        if Path(f).exists():
            reports += load_reports(f, weight)
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


def answer_request(line: str) -> dict:
    """Answer one ``classify-headings`` JSON line: ``{"id", "headings"[, "levels"]}`` ->
    ``{"id", "types"}``. Raises ValueError with a one-line reason for a bad request."""
    try:
        request = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(request, dict):
        raise ValueError("expected a JSON object with \"id\" and \"headings\"")
    headings = request.get("headings")
    if not isinstance(headings, list) or not all(isinstance(h, str) for h in headings):
        raise ValueError("\"headings\" must be a list of strings")
    levels = request.get("levels")
    if levels is not None and (not isinstance(levels, list) or len(levels) != len(headings)
                               or not all(isinstance(v, int) and v >= 1 for v in levels)):
        raise ValueError("\"levels\" must be a list of positive integers, one per heading")
    return {"id": request.get("id"), "types": classify_headings(headings, levels)}
