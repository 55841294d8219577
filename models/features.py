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

import numpy as np

from models.agencies import AgencyExtractor, Mention

FEATURES_VERSION = "f3"  # bump when a change here alters what saved models expect
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
# words just before a mention that make it the receiver ("told the GP", "referred to CSC")
RECV_BEFORE = {"to", "with", "told", "informed", "notified", "alerted", "asked", "contacted",
               "rang", "called", "telephoned", "invited", "involve", "involved", "copied",
               "updated", "advised", "warned", "inform", "tell", "alert", "contact", "ask",
               "emailed", "phoned", "approached", "consulted", "chased"}
SEND_BEFORE = {"from", "by"}
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

# Cue lexicons: each hit adds a token such as "cue_stage_d", so that a wording the
# training set never used still counts as evidence for the stage or reason it names.
CUES: dict[str, str] = {
    "stage_a": r"universal services?|within the (?:school|nursery|practice)|internal(?:ly)?|"
               r"did not (?:refer|pass|share)|no referral was made|not passed on|"
               r"health visit\w*|midwi\w+|nursery|\bGPs?\b|antenatal|booking",
    "stage_b": r"early help|common assessment|\bCAF\b|team around the (?:family|child)|\bTAF\b|"
               r"lead professional|family support|below the threshold|early help assessment|"
               r"stepp?(?:ed)? down to early help|\bEHA\b",
    "stage_c": r"referr\w*|front door|\bMASH\b|multi-agency safeguarding hub|threshold|"
               r"screen\w*|\bcontacts?\b|duty (?:team|social worker)|logged|no further action|"
               r"information only|for information|advice and information|re-?referr\w*",
    "stage_d": r"strategy (?:discussion|meeting)s?|section 47|\bs\.? ?47\b|child protection "
               r"medical|joint (?:visit|investigation)|investigat\w*|rapid response|"
               r"unexpected death|skeletal survey|fractures?|injur(?:y|ies)|bruis\w*|"
               r"medical examination|examined|achieving best evidence|\bABE\b|"
               r"(?:no|not) prosecut\w*|insufficient evidence",
    "stage_e": r"assessments?\b|pre-birth|parenting assessment|risk assessment|core assessment|"
               r"child and family assessment|analys\w+|information (?:gathered|fed)|"
               r"history (?:was|had) not",
    "stage_f": r"conferences?\b|core group|child in need (?:meeting|plan)|child protection plan|"
               r"\bchair\w*|\bCIN\b|\bICPC\b|\bRCPC\b|plan was (?:ended|discontinued)|"
               r"removed from the plan|subject to a (?:child protection )?plan",
    "stage_g": r"home visits?|professionals'? meetings?|transfer\w*|clos(?:ed|ure)|"
               r"case (?:records?|notes)|over (?:the )?(?:following |next )?(?:months|years)|"
               r"long(?:er)?-term|drift\w*|allocat\w*|case ?load|visits? (?:were|was)",
    "comm": r"\b(?:told|informed|shared|passed|referred|notified|contacted|telephoned|rang|"
            r"wrote|sent|emailed|alerted|asked|invited|discussed|escalated|challenged)\b",
    "comm_neg": r"\b(?:not|never|no one|nobody|without)\b(?:\s+\w+){0,3}\s+(?:told|informed|"
                r"shared|passed|referred|notified|contacted|invited|discussed|escalated|"
                r"challenged|aware)",
    "finding": r"the review (?:found|concluded|considers|noted|heard|was told)|"
               r"(?:was|were) not (?:told|informed|shared|invited)|a missed opportunity|"
               r"lost opportunity|should have",
    "r_workload": r"workload|caseloads?|capacity|staff(?:ing)? shortages?|understaffed|"
                  r"pressures?|vacanc\w+|agency (?:staff|social worker)|short-staffed|busy",
    "r_supervision": r"supervision|supervisor|management oversight|manager\w* (?:signed|agreed|"
                     r"did not)|oversight",
    "r_training": r"inexperienced|newly qualified|training|lack of (?:knowledge|experience)|"
                  r"unfamiliar|did not know (?:how|that)",
    "r_records": r"records?\b|IT system|electronic|systems? (?:did|could) not|not transferred|"
                 r"could not (?:see|access)|access to",
    "r_auto": r"letter|copied|notification|automatic\w*|discharge summary|electronic task|"
              r"fax\w*|e-?mail",
    "r_consent": r"consent|confidential\w*|data protection|information sharing (?:rules|"
                 r"guidance|agreement)|GDPR",
    "r_optimism": r"optimis\w+|accepted (?:the |her |his |their )?(?:carers'? |parents'? )?"
                  r"(?:account|explanation)s?|too readily|reassur\w+|fixed view|"
                  r"confirmation bias|benefit of the doubt",
    "r_compliance": r"disguised compliance|appeared to (?:co-?operate|engage)|engag\w+|"
                    r"cancelled|missed appointments|not brought|resist\w*",
    "r_escalation": r"escalat\w+|challeng\w+|disagree\w*|did not (?:pursue|chase)",
    "r_roles": r"assum\w+|responsib\w+|lead professional|whose (?:role|job)|"
               r"thought that (?:another|the other)|believed that .{0,40}(?:was|were) "
               r"(?:dealing|involved)",
    "r_threshold": r"thresholds?",
    "r_hierarchy": r"deferr?\w*|hierarch\w*|status|not valued|less weight|senior|consultant|"
                   r"overrul\w+|against the views",
    "r_family": r"in front of|presence of (?:the )?(?:parents?|family|mother|father)|"
                r"parents? (?:were|was) present|with (?:the )?parents present",
    "r_relationship": r"relationship with (?:the )?(?:family|parents?|mother|father)|"
                      r"damag\w+ (?:the|their|her|his) relationship|(?:upset|alienat\w+)",
    "r_language": r"language|euphemis\w+|sanitis\w+|described as|'[a-z ]{3,30}'|"
                  r"imprecise|vague|minimis\w+",
    "r_prosecution": r"prosecut\w+|criminal (?:threshold|standard|proceedings)|no further "
                     r"action|insufficient evidence|charge[sd]?",
    "r_medical": r"medical (?:opinion|view|explanation)|paediatrician'?s? (?:view|opinion)|"
                 r"consistent with|accidental|explanation for the injur\w+|categorical|"
                 r"definitive",
    "r_adult": r"adult (?:services|mental health|focus)|mother'?s? (?:mental health|needs)|"
               r"father'?s? (?:mental health|drinking)|as a parent|impact on the child\w*",
}
# matched on lower-cased text (four times faster than re.IGNORECASE; cues are soft evidence,
# so an acronym matched in lower case costs nothing)
_CUES = [(name, re.compile(rx.lower())) for name, rx in CUES.items()]


CUE_NAMES = list(CUES)


def cue_counts(text: str) -> list[int]:
    """Hits of each cue lexicon in ``text`` (order of ``CUE_NAMES``)."""
    low = text.lower()
    return [len(rx.findall(low)) for _, rx in _CUES]


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


def dense_features(prep: Prepared, group_ids: list[str]) -> list[float]:
    """Cue-lexicon counts (log), group indicators and counts: a small block kept apart from
    the n-grams so that its weight does not shrink with the length of the passage."""
    cues = [math.log1p(c) for c in cue_counts(prep.text)]
    present = set(prep.groups)
    groups = [float(g in present) for g in group_ids]
    n = len(present - {"network"})
    return cues + groups + [math.log1p(n), float(n >= 2), math.log1p(len(prep.tokens)) / 5]


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
        self.send: Counter[str] = Counter()
        self.recv: Counter[str] = Counter()
        toks = prep.tokens
        for m in prep.mentions:
            before = toks[max(0, m.token - 3):m.token]
            end = m.token + max(1, len(m.text.split()))
            after = toks[end:end + 4]
            if set(before) & RECV_BEFORE:
                self.recv[m.group] += 1
            if set(before) & SEND_BEFORE:
                self.send[m.group] += 1
            if set(after) & TRANSFER:
                self.send[m.group] += 1

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
    for role, g in (("s", sender), ("r", receiver)):
        snd, rcv = ctx.send.get(g, 0), ctx.recv.get(g, 0)
        f[f"{role}_send"] = math.log1p(snd)
        f[f"{role}_recv"] = math.log1p(rcv)
        f[f"{role}_net"] = float(np.sign(snd - rcv))
    s_net = np.sign(ctx.send.get(sender, 0) - ctx.recv.get(sender, 0))
    r_net = np.sign(ctx.send.get(receiver, 0) - ctx.recv.get(receiver, 0))
    f[f"nets={int(s_net)},{int(r_net)}&same={int(same)}"] = 1.0
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
                words.update(f"b:{w}" for w in win if w.isalpha())
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
    if not words:
        return "text does not look like English (no words)"
    common = sum(w in _COMMON for w in words)
    if len(words) >= 8 and common / len(words) < 0.1:  # English prose runs at 40-50%
        return "text does not look like English (too few common English words)"
    return None


_COMMON = {
    "the", "a", "an", "and", "or", "of", "to", "in", "on", "at", "for", "with", "by", "from",
    "was", "were", "is", "are", "be", "been", "had", "has", "have", "not", "no", "that",
    "this", "it", "he", "she", "they", "his", "her", "their", "who", "which", "as", "but",
    "did", "do", "would", "could", "should", "there", "when", "after", "before", "about",
    "child", "mother", "father", "review", "school", "police", "social", "care", "health",
    "said", "told", "what", "all", "any", "also", "into", "than", "then", "so", "if", "its",
    "him", "them", "we", "our", "i", "you", "my", "one", "two", "where", "how",
}
