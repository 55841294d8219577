"""Find mentions of professional groups (agencies and roles) in a passage.

A blank English spaCy pipeline with two PhraseMatchers built from the codebook's group
aliases plus the role phrases below: acronyms (GP, HV, ED, DSL, CAIT, MASH...) match only
as written in capitals, everything else case-insensitively. Overlaps keep the longest
span ("housing officer" beats "officer"); "blocker" phrases such as "mental health" or
"in good faith" are matched only to stop a shorter alias inside them from counting.
Mentions feed the features and the pairing candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from corpus.codebook import Codebook

BLOCK = "_none"

# The codebook's own group aliases (version 1), kept here as well so that extraction
# does not depend on how the YAML happens to be written.
CODEBOOK_ALIASES: dict[str, list[str]] = {
    "csc": ["children's social care", "CSC", "social worker", "social care", "children's services",
        "MASH", "duty team", "first response", "local authority", "LADO"],
    "police": ["police", "officer", "PPU", "public protection unit", "CAIT",
        "child abuse investigation team"],
    "school": ["school", "teacher", "head teacher", "designated safeguarding lead", "DSL",
        "college", "pupil", "education welfare"],
    "early_years": ["nursery", "childminder", "children's centre", "pre-school", "early years"],
    "school_nurse": ["school nurse", "school nursing"],
    "gp": ["GP", "general practitioner", "practice nurse", "surgery"],
    "health_visitor": ["health visitor", "health visiting", "HV", "0-19 service"],
    "midwifery": ["midwife", "midwifery", "maternity", "antenatal"],
    "hospital": ["hospital", "emergency department", "A&E", "ED", "paediatrician", "ward",
        "consultant", "minor injuries unit", "urgent care"],
    "health_other": ["health", "NHS trust", "community health", "designated nurse", "named nurse",
        "sexual health", "dentist", "ambulance", "paramedic"],
    "camhs": ["CAMHS", "child and adolescent mental health"],
    "adult_mental_health": ["adult mental health", "psychiatrist", "community mental health team",
        "CMHT", "crisis team"],
    "adult_social_care": ["adult social care", "adult services", "adults' social care"],
    "substance_misuse": ["substance misuse", "drug service", "alcohol service",
        "drug and alcohol"],
    "probation": ["probation", "CRC", "offender manager", "MAPPA"],
    "youth_justice": ["youth offending", "YOT", "youth justice"],
    "housing": ["housing", "housing officer", "landlord", "homelessness"],
    "domestic_abuse_service": ["MARAC", "IDVA", "refuge", "domestic abuse service",
        "domestic violence service"],
    "voluntary": ["voluntary", "charity", "family support worker", "church", "faith"],
    "legal": ["court", "Cafcass", "legal", "solicitor", "CPS", "Crown Prosecution Service"],
    "network": ["multi-agency", "all agencies", "professional network", "professionals"],
}

# Role phrases and common wordings beyond the codebook's aliases (lower case unless acronym).
EXTRA_ALIASES: dict[str, list[str]] = {
    "csc": ["social services", "social work", "social work team", "children's social work",
            "duty social worker", "duty team", "front door", "multi-agency safeguarding hub",
            "safeguarding hub", "the hub", "MASH", "IRO", "independent reviewing officer",
            "conference chair", "child protection chair", "EDT", "emergency duty team",
            "assessment team", "children's services department", "social care staff",
            "local authorities", "council", "the council", "team manager",
            "early help team", "early help service", "family support service",
            "agency social worker", "agency worker", "locum social worker"],
    "police": ["police officer", "detective", "constable", "police force", "police service",
               "PPU", "CAIT", "public protection", "the force", "investigating officer",
               "officers"],
    "school": ["headteacher", "deputy head", "class teacher", "teaching assistant", "SENCO",
               "head of year", "academy", "education", "education staff",
               "education welfare officer", "pastoral", "pastoral lead",
               "safeguarding lead", "school staff", "teachers", "pupil referral unit",
               "DSL"],
    "early_years": ["playgroup", "nursery staff", "key worker at the nursery",
                    "nursery manager", "early years setting"],
    "school_nurse": ["school nurse", "school nursing service"],
    "gp": ["GP practice", "GP surgery", "the surgery", "the practice", "family doctor",
           "general practice", "GPs"],
    "health_visitor": ["health visiting team", "health visiting service", "HV",
                       "community nursery nurse", "health visitors"],
    "midwifery": ["midwives", "community midwife", "maternity unit", "maternity services",
                  "labour ward", "antenatal clinic", "booking appointment",
                  "specialist midwife", "safeguarding midwife"],
    "hospital": ["paediatric", "paediatrics", "paediatric team", "radiologist", "radiology",
                 "hospital staff", "hospital doctor", "A&E", "ED", "accident and emergency",
                 "children's ward", "paediatric ward", "registrar", "hospital trust",
                 "acute trust", "child protection medical", "skeletal survey",
                 "the doctor", "a doctor", "doctors", "surgeon", "neurosurgeon"],
    "health_other": ["health professionals", "health professional", "health staff",
                     "health workers", "health services", "health service",
                     "nurse", "nurses", "CCG", "clinical commissioning group",
                     "NHS", "safeguarding nurse", "community nurse", "health colleagues"],
    "camhs": ["CAMHS", "child and adolescent mental health service",
              "children's mental health service", "young people's mental health service"],
    "adult_mental_health": ["mental health services", "mental health service",
                            "mental health team", "mental health unit", "psychiatric unit",
                            "psychiatric ward", "psychiatric hospital", "mental health nurse",
                            "perinatal mental health", "perinatal mental health team",
                            "mental health professionals", "mental health practitioner",
                            "home treatment team", "CPN", "community psychiatric nurse",
                            "CMHT"],
    "adult_social_care": ["adult safeguarding", "adults' services", "adult services"],
    "substance_misuse": ["drug and alcohol service", "drug and alcohol services",
                         "drug service", "drugs service", "drugs worker", "recovery service",
                         "substance misuse service", "substance misuse worker",
                         "alcohol services", "drug services", "treatment service"],
    "probation": ["probation service", "probation officer", "National Probation Service",
                  "NPS", "offender management", "prison", "prison service"],
    "youth_justice": ["youth offending team", "youth offending service", "YOT", "YOS",
                      "youth justice service"],
    "housing": ["housing provider", "housing association", "housing department",
                "housing services", "housing service", "homeless", "homelessness team",
                "housing officers", "housing support"],
    "domestic_abuse_service": ["MARAC", "IDVA", "domestic abuse services",
                               "domestic abuse worker", "domestic abuse support service",
                               "Women's Aid", "outreach worker"],
    "voluntary": ["voluntary sector", "third sector", "voluntary organisation",
                  "charity worker", "family support worker", "community group", "mentor"],
    "legal": ["lawyers", "lawyer", "legal services",
              "legal department", "family court", "judge", "magistrates", "care proceedings",
              "legal advice", "public law outline", "PLO", "CPS"],
    "network": ["agencies", "network", "the network", "wider network", "other agencies",
                "partner agencies", "practitioners", "the professionals", "all professionals",
                "multi-agency meeting", "professionals' meeting", "professionals meeting",
                "every agency", "any agency", "each agency", "other agency", "services",
                "partner organisations", "the partnership"],
    BLOCK: ["mental health", "ill health", "health needs", "health problems",
            "physical health", "health and wellbeing", "health and safety", "good faith",
            "bad faith", "voluntary accommodation", "voluntary agreement",
            "underwent surgery", "emergency surgery", "surgery on", "legal status",
            "health appointments", "health visit", "court order", "officer's",
            "the practice of", "practice", "in practice", "good practice", "practice issue",
            "practice framework", "practice guidance", "school holidays", "school age",
            "school-age", "pre-school age", "education, health and care plan",
            "mental health problems", "mental health needs", "mental health difficulties",
            "her mental health", "his mental health", "mother's mental health",
            "father's mental health", "the mother's mental health", "parental mental health",
            "adult social care needs", "services focused", "drug and alcohol use",
            "drug and alcohol misuse", "alcohol use", "drug use", "substance use",
            "parental substance misuse", "her substance misuse", "his substance misuse",
            "agency staff", "legal planning meeting", "legal planning meetings"],
}

_ABBREV = {"mr.", "mrs.", "ms.", "dr.", "st.", "no.", "e.g.", "i.e.", "etc.", "cf.", "para.",
           "vs.", "prof.", "rev.", "approx."}


@Language.component("vivid_sentences")
def vivid_sentences(doc: Doc) -> Doc:
    """Sentence starts after . ! ? (also fused, as in 'Child A.') unless an abbreviation."""
    for i, tok in enumerate(doc):
        if i == 0:
            tok.is_sent_start = True
            continue
        prev = doc[i - 1]
        ends = prev.text in {".", "!", "?"} or (prev.text.endswith((".", "!", "?"))
                                                 and prev.lower_ not in _ABBREV)
        first = tok.text[:1]
        tok.is_sent_start = bool(ends and (first.isupper() or first.isdigit()
                                           or first in "'\"‘“("))
    return doc


_ACRONYM = re.compile(r"^[A-Z0-9&]{2,}s?$")


def is_acronym(alias: str) -> bool:
    """Aliases written in capitals (GP, HV, A&E, ED) are matched case-sensitively."""
    return bool(_ACRONYM.match(alias)) and any(c.isalpha() for c in alias)


def _variants(alias: str) -> list[str]:
    """The alias and its plural (case kept), so 'midwife' also finds 'midwives'."""
    if is_acronym(alias):
        return [alias, alias + "s"]
    words = alias.split(" ")
    last = words[-1]
    if last.endswith("wife"):
        plural = last[:-4] + "wives"
    elif last.endswith("y") and not last.endswith(("ay", "ey", "oy")):
        plural = last[:-1] + "ies"
    elif last.endswith(("s", "x", "ch", "sh")):
        plural = last + "es" if not last.endswith("s") else last
    else:
        plural = last + "s"
    out = [alias]
    if plural != last:
        out.append(" ".join(words[:-1] + [plural]))
    return out


@dataclass(frozen=True)
class Mention:
    """One matched agency or role: group id, text and character offsets in the passage."""

    group: str
    text: str
    start: int
    end: int
    sent: int  # index of the sentence it is in
    token: int  # index of its first token


class AgencyExtractor:
    """Rule-based mention finder built from one codebook."""

    def __init__(self, codebook: Codebook) -> None:
        self.codebook = codebook
        self.nlp = spacy.blank("en")
        self.nlp.add_pipe("vivid_sentences")
        self._lower = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self._exact = PhraseMatcher(self.nlp.vocab, attr="ORTH")
        aliases: dict[str, set[str]] = {}
        for group in codebook.groups:
            aliases.setdefault(group.id, set()).update(group.aliases)
            if not re.search(r"[,:/()\[\]]", group.label):  # "Police", not "A / B (c)"
                aliases[group.id].add(group.label)
        known = set(codebook.group_ids) | {BLOCK}
        for table in (CODEBOOK_ALIASES, EXTRA_ALIASES):
            for gid, extra in table.items():
                if gid in known:
                    aliases.setdefault(gid, set()).update(extra)
        for gid, names in sorted(aliases.items()):
            exact, lower = set(), set()
            for name in names:
                for v in _variants(name.strip()):
                    (exact if is_acronym(v) else lower).add(v)
            if exact:
                self._exact.add(gid, [self.nlp.make_doc(v) for v in sorted(exact)])
            if lower:
                self._lower.add(gid, [self.nlp.make_doc(v.lower()) for v in sorted(lower)])

    def doc(self, text: str) -> Doc:
        return self.nlp(text)

    def spans(self, doc: Doc) -> list[Span]:
        found = [Span(doc, s, e, label=m) for m, s, e in self._lower(doc)]
        found += [Span(doc, s, e, label=m) for m, s, e in self._exact(doc)]
        kept = [s for s in filter_spans(found) if s.label_ != BLOCK]
        merged: list[Span] = []
        for span in kept:  # "CAIT officer": one mention, not two
            if merged and merged[-1].label_ == span.label_ and merged[-1].end == span.start:
                merged[-1] = Span(doc, merged[-1].start, span.end, label=span.label_)
            else:
                merged.append(span)
        return merged

    def mentions_in(self, doc: Doc) -> list[Mention]:
        sent_of = {}
        for i, sent in enumerate(doc.sents):
            for t in range(sent.start, sent.end):
                sent_of[t] = i
        return [Mention(s.label_, s.text, s.start_char, s.end_char, sent_of.get(s.start, 0),
                        s.start) for s in self.spans(doc)]

    def mentions(self, text: str) -> list[Mention]:
        """Mentions of codebook groups in ``text``, in order of appearance."""
        return self.mentions_in(self.doc(text))


_CACHE: dict[str, AgencyExtractor] = {}


def extractor(codebook: Codebook) -> AgencyExtractor:
    """A shared extractor per codebook (building the matchers takes a moment)."""
    key = codebook.sha256 or codebook.version
    if key not in _CACHE:
        _CACHE[key] = AgencyExtractor(codebook)
    return _CACHE[key]
