"""From page lines to clean blocks: furniture, footnotes and the contents page set apart.

Everything here is measured on the document itself (its body font size, its left margin,
its usual line pitch, what repeats from page to page), so that the same rules hold for
reports from different boards and word processors rather than for one template.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from corpus.document import Footnote
from corpus.pdf import Line, PdfDocument

# --- text normalisation -------------------------------------------------------------

_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi",
                            "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st", "\u00a0": " ",
                            "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u202f": " ",
                            "\u200b": None, "\u200c": None, "\u200d": None, "\ufeff": None,
                            "\u2010": "-", "\u2011": "-"})
_BULLET_CHARS = set("•·▪▫■□●○◦◆◇►▸▶➢➤➣✓✔✗❖⁃∙‣⦁*>-–—o§Øüq")
_SYMBOL_FONT = re.compile(r"symbol|dingbat|wingding|webding|marlett|zapf", re.IGNORECASE)
_CID = re.compile(r"\(cid:\d+\)")
_PUA = re.compile("[\ue000-\uf8ff]")
_SPACES = re.compile(r"[ \t]{2,}")
_LEADING_BULLET = re.compile(r"^(?:[•·▪▫■□●○◦◆◇►▸▶➢➤➣✓✔❖⁃∙‣⦁]|\(cid:\d+\)|[\ue000-\uf8ff])\s*")
_PARA_NUMBER = re.compile(r"^(\d{1,2}(?:\.\d{1,3}){1,3})\.?$")
_LIST_NUMBER = re.compile(r"^(?:\(?\d{1,2}[.)]|\(?[a-z][.)]|\(?[ivx]{1,4}[.)]|\d{1,2})$")
_INLINE_NUMBER = re.compile(r"^(\d{1,2}(?:\.\d{1,3}){1,3})\.?\s+(?=\S)")
_TERMINAL = re.compile(r"[.!?:;…][\"'”’)\]]*$")
_PAGE_NUMBER = re.compile(
    r"^(?:page\s*)?[-–—]?\s*(?:\d{1,4}|[ivx]{1,5})\s*[-–—]?"
    r"(?:\s*(?:of|/)\s*\d{1,4})?(?:\s*\|?\s*(?:page|p\s?a\s?g\s?e))?$", re.IGNORECASE)
_MARKING = re.compile(
    r"^(?:official(?:[\s:–-]*(?:sensitive|sensitive[\s:–-]*personal))?|confidential|"
    r"restricted|protect|not protectively marked|draft|final|"
    r"strictly confidential|for publication)$", re.IGNORECASE)
_CONTENTS_TITLE = re.compile(r"^(?:table\s+of\s+)?contents?$|^index$|^contents\s+page$",
                             re.IGNORECASE)
_LEADER = re.compile(r"(?:\s*[.·…_]\s*){2,}\s*(\d{1,3}|[ivxlc]{1,6})$", re.IGNORECASE)
_ENDS_NUMBER = re.compile(r"\s(\d{1,3})$")


def normalise(text: str) -> str:
    """Ligatures, odd spaces, unmapped glyphs and runs of spaces in one line of text."""
    text = text.translate(_LIGATURES)
    text = _CID.sub("", text) if "(cid:" in text else text
    text = _PUA.sub("", text) if _PUA.search(text) else text
    return _SPACES.sub(" ", text).strip()


def is_bullet_glyph(text: str, font: str = "") -> bool:
    """A list marker: a bullet-like glyph, a private-use or unmapped glyph, or any single
    character drawn in a symbol font (Wingdings "§" and "q", Symbol "·", dingbats)."""
    t = text.strip()
    if not t:
        return False
    if _CID.fullmatch(t) or _PUA.fullmatch(t):
        return True
    if len(t) == 1 and (t in _BULLET_CHARS or _SYMBOL_FONT.search(font or "")):
        return True
    return len(t) <= 2 and bool(_SYMBOL_FONT.search(font or ""))


# --- blocks ---------------------------------------------------------------------------

@dataclass(slots=True)
class Block:
    """A paragraph, list item, table or candidate heading, in reading order."""

    kind: str  # "para" | "bullet" | "table"
    lines: list[Line]
    text: str
    number: str | None = None  # paragraph number as printed, e.g. "4.12"
    size: float = 0.0
    bold: bool = False
    italic: bool = False
    x0: float = 0.0  # left edge of the text (after any number or bullet)
    gap_before: float | None = None  # baseline distance from the line above (same page)
    caps: bool = False
    in_contents: bool = False  # its text matches a contents-page entry

    @property
    def page_start(self) -> int:
        return self.lines[0].page

    @property
    def page_end(self) -> int:
        return self.lines[-1].page


@dataclass(slots=True)
class CleanDocument:
    blocks: list[Block]
    footnotes: list[Footnote]
    contents: list[str]
    contents_pages: list[int]
    body_size: float
    body_left: float
    body_right: float
    line_pitch: float
    page_count: int
    first_page: list[Line]  # page 1 as printed (title, board, author, date), furniture-free
    furniture: list[str] = field(default_factory=list)


def _dominant_size(lines: list[Line]) -> float:
    weights: Counter[float] = Counter()
    for ln in lines:
        weights[round(ln.size * 2) / 2] += len(ln.text)
    return weights.most_common(1)[0][0] if weights else 11.0


def _key(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower()).strip()


def _furniture(doc: PdfDocument) -> tuple[set[int], list[str]]:
    """ids of lines that are running headers/footers, page numbers or markings."""
    n_pages = len(doc.pages)
    where: dict[str, list[tuple[int, float]]] = defaultdict(list)
    edge: list[tuple[Line, str]] = []
    for page in doc.pages:
        lines = page.lines
        candidates = lines[:3] + lines[-4:] if len(lines) > 7 else lines
        for ln in {id(x): x for x in candidates}.values():
            band = "t" if ln.top < page.height * 0.2 else "b" if ln.bottom > page.height * 0.8 \
                else None
            if band is None:
                continue
            keys = {_key(ln.text)} | {_key(c.text) for c in ln.cells if len(ln.cells) > 1}
            for k in keys:
                where[f"{band}|{k}"].append((page.number, ln.top))
            edge.append((ln, band))
    need = max(2, round(0.3 * n_pages)) if n_pages > 2 else 99

    def repeated(text: str, band: str, top: float) -> bool:
        """On enough pages at (nearly) the same height: a running header or footer."""
        seen = where.get(f"{band}|{_key(text)}", ())
        return len({p for p, t in seen if abs(t - top) < 6}) >= need

    out: set[int] = set()
    seen: list[str] = []
    for ln, band in edge:
        def junk(text: str, band: str = band, top: float = ln.top) -> bool:
            t = normalise(text)
            return (not t or bool(_PAGE_NUMBER.match(t)) or bool(_MARKING.match(t))
                    or repeated(text, band, top))

        if junk(ln.text) or all(junk(c.text) for c in ln.cells):
            out.add(id(ln))
            label = re.sub(r"\s*(?:page\s*)?\d+(?:\s*of\s*\d+)?\s*$", "", ln.text,
                           flags=re.IGNORECASE).strip()
            if label and label not in seen:
                seen.append(label)
    for page in doc.pages:  # protective markings are furniture wherever they are
        for ln in page.lines:
            if _MARKING.match(normalise(ln.text)) and ln.text.isupper():
                out.add(id(ln))
    return out, seen[:10]


def _is_contents_entry(ln: Line) -> bool:
    text = normalise(ln.text)
    if _LEADER.search(text):
        return True
    if len(ln.cells) >= 2 and re.fullmatch(r"\d{1,3}|[ivxlc]{1,6}", ln.cells[-1].text.strip(),
                                           re.IGNORECASE):
        return len(text) < 160
    return False


def _contents_pages(doc: PdfDocument, drop: set[int]) -> list[int]:
    """Pages near the front whose lines are mostly "heading .... page" entries."""
    limit = max(6, len(doc.pages) // 4)
    found: list[int] = []
    for page in doc.pages[:limit]:
        lines = [ln for ln in page.lines if id(ln) not in drop and normalise(ln.text)]
        if not lines:
            continue
        entries = sum(_is_contents_entry(ln) for ln in lines)
        titled = any(_CONTENTS_TITLE.match(normalise(ln.text)) for ln in lines[:4])
        if (titled and entries >= 3) or (entries >= 5 and entries >= 0.5 * len(lines)) or (
                found and found[-1] == page.number - 1 and entries >= max(1, 0.5 * len(lines))):
            found.append(page.number)
        elif found:
            break
    return found


def _contents_text(ln: Line) -> str:
    text = normalise(ln.text)
    text = _LEADER.sub("", text)
    if len(ln.cells) >= 2 and re.fullmatch(r"\d{1,3}|[ivxlc]{1,6}", ln.cells[-1].text.strip(),
                                           re.IGNORECASE):
        text = _ENDS_NUMBER.sub("", text)
    return text.strip(" .")


def _footnotes(lines: list[Line], page_h: float, body_size: float) -> tuple[list[Line],
                                                                             list[Footnote]]:
    """Split a page's lines into body and footnotes: small type at the foot of the page,
    each footnote starting with its (usually raised) number."""
    zone_start = len(lines)
    for i in range(len(lines) - 1, -1, -1):
        ln = lines[i]
        if ln.size < body_size * 0.93 and ln.top > page_h * 0.45 and len(ln.cells) <= 2:
            zone_start = i
        else:
            break
    notes: list[Footnote] = []
    first_start = None
    for i in range(zone_start, len(lines)):
        ln = lines[i]
        mark = ln.lead_mark
        text = normalise(ln.text)
        if mark is None:
            if len(ln.cells) >= 2 and re.fullmatch(r"\d{1,3}|[*†‡]", ln.cells[0].text.strip()):
                mark = ln.cells[0].text.strip()
                text = normalise(" ".join(c.text for c in ln.cells[1:]))
            else:
                m = re.match(r"^(\d{1,3})\s+(?=[A-Z(‘'\"“])", text)
                last = notes[-1].mark if notes else None
                if m and (last is None or not last.isdigit() or int(m.group(1)) > int(last)):
                    mark, text = m.group(1), text[m.end():]
        if mark is not None:
            if first_start is None:
                first_start = i
            notes.append(Footnote(page=ln.page, mark=mark, text=text))
        elif notes:
            notes[-1].text = _join_two(notes[-1].text, text, set())
    if first_start is None:
        return lines, []
    return lines[:first_start], notes


def _join_two(left: str, right: str, hyphenated: set[str]) -> str:
    """Join two lines of one paragraph, mending words hyphenated across the break."""
    if not left:
        return right
    if not right:
        return left
    if left.endswith("\u00ad"):
        return left[:-1] + right
    if left.endswith("-") and len(left) > 1 and left[-2].isalpha() and right[:1].islower():
        head = re.search(r"(\w+)-$", left)
        tail = re.match(r"\w+", right)
        if head and tail and f"{head.group(1)}-{tail.group(0)}".lower() in hyphenated:
            return left + right  # a real compound, e.g. "well-being"
        return left[:-1] + right
    return f"{left} {right}"


def _marker(ln: Line) -> tuple[str | None, str | None, float, str]:
    """(number, bullet, text_x0, text) of a line that starts with a marker cell."""
    cells = ln.cells
    if len(cells) >= 2:
        first = cells[0].text.strip()
        if _PARA_NUMBER.match(first) or _LIST_NUMBER.match(first):
            rest = " ".join(c.text for c in cells[1:])
            return first.rstrip("."), None, cells[1].x0, rest
        if is_bullet_glyph(first, cells[0].font):
            return None, "•", cells[1].x0, " ".join(c.text for c in cells[1:])
    text = ln.text
    m = _LEADING_BULLET.match(text)
    if m:
        return None, "•", ln.x0, text[m.end():]
    if cells and is_bullet_glyph(text[:1], cells[0].font) and text[1:2] == " " \
            and text[:1] in "o-–*>§q":
        return None, "•", ln.x0, text[2:]
    if _SYMBOL_FONT.search(cells[0].font if cells else "") and len(text) > 2 \
            and text[1] == " ":
        return None, "•", ln.x0, text[2:]
    return None, None, ln.x0, text


def _table_rows(lines: list[Line], start: int, pitch: float) -> int:
    """How many lines from ``start`` form a table (0 if none): rows of several cells whose
    columns line up, plus the wrapped continuation lines of their cells."""
    first = lines[start]
    if len(first.cells) < 2 or _marker(first)[0] or _marker(first)[1]:
        return 0
    cols = [c.x0 for c in first.cells]
    multi = 1
    end = start + 1
    last = first
    while end < len(lines):
        ln = lines[end]
        if ln.page != first.page or ln.top - last.bottom > 2.2 * max(pitch, ln.size):
            break
        if len(ln.cells) >= 2 and not _marker(ln)[1]:
            aligned = sum(any(abs(c.x0 - x) < 4 for x in cols) for c in ln.cells)
            if aligned < 2 and not (aligned >= 1 and multi >= 2):
                break
            multi += 1
        else:
            near = [x for x in cols if abs(ln.x0 - x) < 4]
            if not near:
                break
            nxt = [x for x in cols if x > near[0] + 4]
            if nxt and ln.x1 > nxt[0]:
                break
        last = ln
        end += 1
    if multi < 2:
        return 0
    return end - start


def _table_text(rows: list[Line]) -> str:
    cols = sorted({round(c.x0) for ln in rows if len(ln.cells) >= 2 for c in ln.cells})

    def col_of(x: float) -> int:
        return min(range(len(cols)), key=lambda i: abs(cols[i] - x))

    out: list[list[str]] = []
    for ln in rows:
        if len(ln.cells) >= 2 or not out:
            row = [""] * len(cols)
            for c in ln.cells:
                i = col_of(c.x0)
                row[i] = _join_two(row[i], normalise(c.text), set())
            out.append(row)
        else:
            i = col_of(ln.x0)
            out[-1][i] = _join_two(out[-1][i], normalise(ln.text), set())
    return "\n".join(" | ".join(cell for cell in row) .strip() for row in out)


def _pitch(lines: list[Line], body_size: float) -> float:
    gaps = [b.bottom - a.bottom for a, b in zip(lines, lines[1:], strict=False)
            if a.page == b.page and abs(a.size - body_size) < 0.6
            and abs(b.size - body_size) < 0.6 and 0.9 * body_size < b.bottom - a.bottom
            < 2.6 * body_size]
    if not gaps:
        return body_size * 1.25
    gaps.sort()
    return gaps[len(gaps) // 4]  # the lower quartile: line spacing, not paragraph spacing


def _room_for_next_word(prev: Line, ln: Line, text: str, right: float,
                        slack: float = 1.0) -> bool:
    """Did ``prev`` end early by choice? True when the next line's first word would have
    fitted after it (its width estimated from the next line's own characters, capitals
    counted wider; ``slack`` > 1 asks for more room than that)."""
    word = text.split(" ", 1)[0]
    per_char = (ln.x1 - ln.x0) / max(len(ln.text), 1)
    units = sum(1.4 if ch.isupper() else 1.0 for ch in word) + 1.0
    return prev.x1 + per_char * units * slack < right - 0.3 * ln.size


def _blocks(lines: list[Line], body_size: float, right: float, pitch: float,
            hyphenated: set[str]) -> list[Block]:
    blocks: list[Block] = []
    cur: Block | None = None
    prev: Line | None = None
    i = 0
    while i < len(lines):
        ln = lines[i]
        n_table = _table_rows(lines, i, pitch)
        gap = ln.bottom - prev.bottom if prev is not None and prev.page == ln.page else None
        if n_table:
            rows = lines[i:i + n_table]
            blocks.append(Block("table", rows, _table_text(rows), size=ln.size,
                                x0=ln.x0, gap_before=gap))
            cur, prev = None, rows[-1]
            i += n_table
            continue
        number, bullet, text_x0, text = _marker(ln)
        text = normalise(text)
        if not number and not bullet:
            m = _INLINE_NUMBER.match(text)
            if m:
                number, text = m.group(1), text[m.end():]
        caps = text.isupper() and sum(ch.isalpha() for ch in text) >= 3
        new = (cur is None or number is not None or bullet is not None
               or gap is None and cur.kind == "table"
               or gap is not None and gap > 1.3 * max(pitch, ln.size * 1.1)
               or gap is not None and gap < 0  # a new column or a jump back up the page
               or abs(ln.size - cur.size) > 0.6 or ln.bold != cur.bold
               or caps != cur.caps and len(text) > 3)
        if not new and cur is not None and prev is not None:
            ended = bool(_TERMINAL.search(cur.text))
            if prev.page != ln.page:
                new = True  # pages are mended later, when the whole layout is known
            elif ended and _room_for_next_word(prev, ln, text, right) or (
                    (text[:1].isupper() or text[:1].isdigit() or text[:1] in "'‘\"“")
                    and _room_for_next_word(prev, ln, text, right, slack=2.0)):
                new = True  # the line above stopped short although the next word would fit
            elif ln.x0 > prev.x0 + 1.5 * ln.size and cur.kind == "para" and ended \
                    and len(cur.lines) > 1:
                new = True  # first-line indent
        if new:
            cur = Block("bullet" if bullet else "para", [ln], text, number=number,
                        size=ln.size, bold=ln.bold, italic=ln.italic, x0=text_x0,
                        gap_before=gap, caps=caps)
            blocks.append(cur)
        else:
            cur.lines.append(ln)
            cur.text = _join_two(cur.text, text, hyphenated)
        prev = ln
        i += 1
    return blocks


def _mend_pages(blocks: list[Block], right: float, hyphenated: set[str]) -> list[Block]:
    """Join a paragraph that runs on from the foot of one page to the top of the next.

    Runs on when the text at the top of the page carries no paragraph number or bullet,
    is set like the paragraph above, and either the sentence is unfinished, or the
    paragraph above is numbered and this one sits at its text indent (a new paragraph
    would have its own number), or the last line above is full (paragraphs rarely end
    exactly at the margin, sentences inside them often do).
    """
    out: list[Block] = []
    for b in blocks:
        if out:
            a = out[-1]
            last = a.lines[-1]
            per_char = (last.x1 - last.x0) / max(len(last.text), 1)
            if (a.kind == b.kind == "para" or a.kind == "bullet" and b.kind == "para") \
                    and b.page_start == a.page_end + 1 and b.number is None \
                    and abs(a.size - b.size) < 0.6 and a.bold == b.bold \
                    and b.gap_before is None and abs(b.x0 - a.x0) < 3 * b.size + 2 \
                    and (not _TERMINAL.search(a.text) or b.text[:1].islower()
                         or (a.number is not None and abs(b.x0 - a.x0) < 2)
                         or last.x1 >= right - 2.5 * per_char) \
                    and last.x1 > right - max(0.2 * (right - a.x0), 6 * a.size):
                a.lines.extend(b.lines)
                a.text = _join_two(a.text, b.text, hyphenated)
                continue
        out.append(b)
    return out


def clean(doc: PdfDocument) -> CleanDocument:
    """Lines of a PDF -> blocks of body text, with furniture, footnotes and contents out."""
    drop, furniture = _furniture(doc)
    all_lines = [ln for p in doc.pages for ln in p.lines if id(ln) not in drop]
    body_size = _dominant_size(all_lines)
    contents_pages = _contents_pages(doc, drop)
    contents: list[str] = []
    footnotes: list[Footnote] = []
    body: list[Line] = []
    first_page: list[Line] = []
    for page in doc.pages:
        lines = [ln for ln in page.lines if id(ln) not in drop]
        if page.number == 1:
            first_page = list(lines)
        if page.number in contents_pages:
            pending = ""
            for ln in lines:
                if _CONTENTS_TITLE.match(normalise(ln.text)):
                    continue
                entry = _contents_text(ln)
                if not entry or _PAGE_NUMBER.match(entry):
                    continue
                if _is_contents_entry(ln):  # an entry wrapped over lines ends with its page
                    contents.append(_join_two(pending, entry, set()))
                    pending = ""
                else:
                    pending = _join_two(pending, entry, set())
            if pending:
                contents.append(pending)
            continue
        lines, notes = _footnotes(lines, page.height, body_size)
        footnotes.extend(notes)
        body.extend(lines)
    sizes = [ln for ln in body if abs(ln.size - body_size) < 0.6]
    lefts = Counter(round(ln.x0) for ln in sizes)
    body_left = float(lefts.most_common(1)[0][0]) if lefts else 72.0
    rights = sorted(ln.x1 for ln in sizes) or [500.0]
    body_right = rights[int(0.9 * (len(rights) - 1))]
    pitch = _pitch(body, body_size)
    hyphenated = {w.lower() for ln in body for w in re.findall(r"\b\w+-\w+\b", ln.text)}
    blocks = _mend_pages(_blocks(body, body_size, body_right, pitch, hyphenated),
                         body_right, hyphenated)
    keys = {_entry_key(c) for c in contents}
    for b in blocks:
        if keys and len(b.text) < 200:
            full = f"{b.number} {b.text}" if b.number else b.text
            b.in_contents = _entry_key(full) in keys or _entry_key(b.text) in keys
    return CleanDocument(blocks=[b for b in blocks if b.text], footnotes=footnotes,
                         contents=contents, contents_pages=contents_pages,
                         body_size=body_size, body_left=body_left, body_right=body_right,
                         line_pitch=pitch, page_count=len(doc.pages),
                         first_page=first_page, furniture=furniture)


def _entry_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()
