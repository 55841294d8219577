"""Turn a passage into model inputs: a text for the n-gram models and pair features.

Everything here is a pure function of the passage (and its optional context), so the
persisted models hold only scikit-learn objects and the same code runs at training and
suggestion time. Long passages are cut to ``MAX_CHARS`` before any work so that a
50,000-word paragraph costs no more than a long page.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from models.agencies import AgencyExtractor, Mention

MAX_CHARS = 12_000  # features look at the first ~2,000 words of a passage
PAIR_PARTIES = ("csc", "network")  # always candidate parties: often implied, not named

TRANSFER = {
    "refer", "referred", "referral", "referrals", "referring", "tell", "told", "telling",
    "inform", "informed", "informing", "share", "shared", "sharing", "pass", "passed",
    "send", "sent", "notify", "notified", "notification", "report", "reported", "contact",
    "contacted", "rang", "phoned", "called", "call", "alert", "alerted", "ask", "asked",
    "request", "requested", "wrote", "write", "emailed", "email", "letter", "faxed",
    "copied", "escalate", "escalated", "raise", "raised", "discuss", "discussed", "advise",
    "advised", "invite", "invited", "update", "updated", "handed", "forwarded",
    "transferred", "flagged", "signposted", "sought", "seek", "consulted", "consult",
    "challenged", "challenge", "telephoned", "message", "task", "aware", "knew", "know",
    "relay", "relayed", "explained", "warned", "disclosed", "gave", "provided",
}
NEGATION = {"not", "no", "never", "nobody", "neither", "nor", "without", "n't", "failed",
            "unaware", "none", "nothing"}
BACKWARD = {"from", "by"}
INTERNAL = {"within", "internal", "internally", "between", "colleague", "colleagues",
            "manager", "supervisor", "another", "other", "new", "previous", "handover",
            "transfer", "record", "records", "team", "teams", "departments", "own"}
KEYWORDS = (
    "referral", "refer", "strategy", "section 47", "s47", "conference", "core group",
    "child in need", "assessment", "early help", "caf", "common assessment", "meeting",
    "record", "records", "threshold", "escalat", "told", "shared", "not shared", "letter",
    "discharge", "injur", "bruis", "medical", "disclos", "prosecut", "investigat",
    "visit", "plan", "closed", "transfer", "within", "internal", "network", "agencies",
    "professionals", "mental health", "school", "police", "hospital", "consent",
)
_WORD = re.compile(r"[a-z][a-z'\-]+")


def truncate(text: str) -> str:
    """The part of a passage the models look at (all of it, unless it is very long)."""
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS]


def context_tokens(context: dict | None) -> list[str]:
    """Heading words and section type as extra tokens (absent context adds nothing)."""
    if not context:
        return []
    out = []
    st = context.get("section_type")
    if st:
        out.append(f"sectype_{re.sub(r'[^a-z_]', '', str(st).lower())}")
    for w in _WORD.findall(str(context.get("heading") or "").lower())[:12]:
        out.append(f"head_{w.replace(chr(39), '').replace('-', '')}")
    return out


@dataclass
class Prepared:
    """A passage after agency extraction: what every model reads."""

    text: str
    mentions: list[Mention]
    tokens: list[str]  # lower-cased token texts of the (truncated) passage
    sent_bounds: list[tuple[int, int]]  # token ranges of sentences
    context: dict = field(default_factory=dict)

    @property
    def groups(self) -> list[str]:
        """Mentioned groups in order of first mention."""
        return list(dict.fromkeys(m.group for m in self.mentions))

    def model_text(self) -> str:
        """Text for the n-gram models: passage + group tokens + context tokens."""
        extra = [f"grp_{g}" for g in self.groups] + context_tokens(self.context)
        return self.text + (" \n" + " ".join(extra) if extra else "")


def prepare(text: str, extractor: AgencyExtractor, context: dict | None = None) -> Prepared:
    doc = extractor.doc(truncate(text))
    mentions = extractor.mentions_in(doc)
    return Prepared(text=doc.text, mentions=mentions, tokens=[t.lower_ for t in doc],
                    sent_bounds=[(s.start, s.end) for s in doc.sents],
                    context=dict(context or {}))


def candidate_pairs(prep: Prepared) -> list[tuple[str, str]]:
    """Every ordered pair over the mentioned groups plus the usually implied parties."""
    parties = list(dict.fromkeys(prep.groups + list(PAIR_PARTIES)))
    return [(s, r) for s in parties for r in parties]


def _bucket(x: int, edges=(0, 1, 2, 3, 5, 8, 13, 21)) -> str:
    for e in edges:
        if x <= e:
            return str(e)
    return "more"


class PairContext:
    """Per-passage statistics shared by all candidate pairs (computed once)."""

    def __init__(self, prep: Prepared) -> None:
        self.prep = prep
        self.by_group: dict[str, list[Mention]] = defaultdict(list)
        for m in prep.mentions:
            self.by_group[m.group].append(m)
        self.order = {g: i for i, g in enumerate(prep.groups)}
        self.n_groups = len(prep.groups)
        low = prep.text.lower()
        self.keywords = [k for k in KEYWORDS if k in low]
        self.sent_starts = {s for s, _ in prep.sent_bounds}
        self.sent_of_token = {}
        for i, (s, e) in enumerate(prep.sent_bounds):
            for t in range(s, e):
                self.sent_of_token[t] = i
        self.n_tokens = max(1, len(prep.tokens))

    def window(self, a: Mention, b: Mention) -> list[str]:
        """Tokens strictly between two mentions (a before b), at most 15."""
        start = a.token + len(a.text.split())
        return self.prep.tokens[start:b.token][:15]


def pair_features(ctx: PairContext, sender: str, receiver: str) -> dict[str, float]:
    """Features of one candidate ordered pair: who, where, how close, which cue words."""
    f: dict[str, float] = {}
    s_m, r_m = ctx.by_group.get(sender, []), ctx.by_group.get(receiver, [])
    pair = f"{sender}>{receiver}"
    f[f"pair={pair}"] = 1.0
    f[f"snd={sender}"] = 1.0
    f[f"rcv={receiver}"] = 1.0
    same = sender == receiver
    f["same"] = float(same)
    f["s_ment"], f["r_ment"] = float(bool(s_m)), float(bool(r_m))
    f[f"ment={int(bool(s_m))}{int(bool(r_m))}{int(same)}"] = 1.0
    f["s_cnt"], f["r_cnt"] = math.log1p(len(s_m)), math.log1p(len(r_m))
    f[f"ngroups={min(ctx.n_groups, 6)}"] = 1.0
    f[f"ngroups={min(ctx.n_groups, 6)}&same={int(same)}"] = 1.0
    s_rank = ctx.order.get(sender, 9)
    r_rank = ctx.order.get(receiver, 9)
    f[f"s_rank={min(s_rank, 4)}"] = 1.0
    f[f"r_rank={min(r_rank, 4)}"] = 1.0
    f[f"ranks={min(s_rank, 4)},{min(r_rank, 4)}"] = 1.0
    if s_m:
        f["s_first_pos"] = s_m[0].token / ctx.n_tokens
        f["s_subject"] = float(any(m.token in ctx.sent_starts or
                                   (m.token - 1) in ctx.sent_starts for m in s_m))
    if r_m:
        f["r_first_pos"] = r_m[0].token / ctx.n_tokens
        f["r_after_to"] = float(any("to" in ctx.prep.tokens[max(0, m.token - 3):m.token]
                                    for m in r_m))
        f["r_after_with"] = float(any("with" in ctx.prep.tokens[max(0, m.token - 3):m.token]
                                      for m in r_m))
    if s_m and r_m and not same:
        f["s_before_r"] = float(s_m[0].token < r_m[0].token)
        fwd = [(a, b) for a in s_m for b in r_m if a.token < b.token and a.sent == b.sent]
        bwd = [(b, a) for a in s_m for b in r_m if b.token < a.token and a.sent == b.sent]
        f["same_sent"] = float(bool(fwd or bwd))
        f["n_fwd"] = math.log1p(len(fwd))
        words: Counter[str] = Counter()
        if fwd:
            a, b = min(fwd, key=lambda p: p[1].token - p[0].token)
            f["fwd_dist"] = math.log1p(b.token - a.token)
            for x, y in fwd:
                win = set(ctx.window(x, y))
                if win & TRANSFER:
                    f["fwd_cue"] = 1.0
                    if win & NEGATION:
                        f["fwd_cue_neg"] = 1.0
                words.update(w for w in win if w.isalpha())
        if bwd:
            for x, y in bwd:
                win = set(ctx.window(x, y))
                if win & BACKWARD:
                    f["bwd_from"] = 1.0
                    if win & TRANSFER:
                        f["bwd_from_cue"] = 1.0
                if win & TRANSFER:
                    f["bwd_cue"] = 1.0
        for w in words:
            f[f"btw={w}"] = 1.0
    if same and s_m:
        f["same_multi"] = float(len(s_m) > 1)
        f["same_forms"] = math.log1p(len({m.text.lower() for m in s_m}))
        toks = set(ctx.prep.tokens)
        for w in toks & INTERNAL:
            f[f"same&{w}"] = 1.0
    for k in ctx.keywords:
        f[f"r={receiver}&kw={k}"] = 1.0
        f[f"s={sender}&kw={k}"] = 1.0
        if same:
            f[f"same&kw={k}"] = 1.0
    return f


def all_pair_features(prep: Prepared) -> tuple[list[str], list[dict[str, float]]]:
    """Candidate pair ids and their features for one passage."""
    ctx = PairContext(prep)
    pairs = candidate_pairs(prep)
    return [f"{s}>{r}" for s, r in pairs], [pair_features(ctx, s, r) for s, r in pairs]


def looks_like_english(text: str) -> str | None:
    """None for plausible English prose, otherwise why not (for a clear error)."""
    stripped = "".join(text.split())
    if not stripped:
        return "empty text"
    letters = sum(c.isascii() and c.isalpha() for c in stripped)
    if letters / len(stripped) < 0.5:
        return "text does not look like English (too few Latin letters)"
    words = _WORD.findall(text[:MAX_CHARS].lower())
    if len(words) >= 6:
        common = sum(w in _COMMON for w in words)
        if common / len(words) < 0.12:
            return "text does not look like English (too few common English words)"
    elif not words:
        return "text does not look like English (no words)"
    return None


_COMMON = {
    "the", "a", "an", "and", "or", "of", "to", "in", "on", "at", "for", "with", "by", "from",
    "was", "were", "is", "are", "be", "been", "had", "has", "have", "not", "no", "that",
    "this", "it", "he", "she", "they", "his", "her", "their", "who", "which", "as", "but",
    "did", "do", "would", "could", "should", "there", "when", "after", "before", "about",
    "child", "mother", "father", "review", "school", "police", "social", "care", "health",
    "said", "told", "what", "all", "any", "also", "into", "than", "then", "so", "if", "its",
    "him", "them", "we", "our", "i", "you", "my", "one", "two", "what", "where", "how",
}
