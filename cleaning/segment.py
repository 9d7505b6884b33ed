"""Stage 6, segment: split a page's paragraphs into items without layout boxes.

Each block (paragraph from the layout stage) is tagged by a named rule:

* ``furniture``: page headers, dates, page numbers, ``第二版``, ``星期四``,
  ``VOL. XXXVI. NO 6``, ``Continued on Page 6``, and lines that recur across
  the pages of one issue (:func:`repeated_furniture`);
* ``lead``: a paragraph opening with a dateline or news-agency marker
  (``本报讯 （记者 …）``, ``本报6月11日讯``, ``新华社北京6月11日电（记者 …）``,
  ``据新华社电``, ``（倫敦廿日哈瓦斯電）``, ``WASHINGTON (AP) —``); it is a body
  paragraph, its marker goes to ``Item.lead`` and its names to ``Item.byline``;
* ``byline``: a line made only of roles and names (``记者 焦同帅 通讯员 牛树志``,
  ``（责任编辑：王五）``, ``By JOHN SMITH``);
* ``caption``: a photo caption (ending ``记者 A 摄``, ``供图``, ``新华社发``, or
  starting ``图为``), an item of its own with the photographer as byline;
* ``headline``: short text without terminal punctuation; consecutive headline
  lines form a group with kicker / title / subtitle (``——…``);
* ``section_heading``: a numbered heading inside an article (``第一章``, ``一、``),
  kept as a body paragraph;
* ``end_marker``: ``（完）`` closes the article;
* ``body``: everything else.

A headline group followed by body (or a lead) starts an article; a lead starts
one even without headline; body after a caption or furniture continues the
article it interrupted.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from operator import attrgetter

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cleaning import jit, textscan
from cleaning.model import Block, Byline, Event, EventRecord, Item, Paragraph
from cleaning.rules import register

STAGE = "segment"


class SegmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_headline_cells: int = Field(
        100,
        ge=4,
        description="A paragraph wider than this (display cells) is never a headline line.",
    )
    max_headline_lines: int = Field(
        5,
        ge=1,
        description="Most lines in one headline group; older pending lines beyond it become body text.",
    )
    max_split_title_cells: int = Field(
        32,
        ge=4,
        description="Two or more short headline lines whose total width stays within this many cells are "
        "one title broken over lines (`持续推进` + `“三规范”建设`), not kicker + title.",
    )
    max_byline_cells: int = Field(
        60, ge=8, description="A byline line (roles and names only) is at most this wide."
    )
    max_furniture_cells: int = Field(
        70, ge=4, description="Page furniture (headers, dates, page numbers) is at most this wide."
    )
    furniture_min_pages: int = Field(
        2, ge=2, description="A line must recur on at least this many pages to count as repeated furniture."
    )
    furniture_min_page_fraction: float = Field(
        0.3,
        gt=0.0,
        le=1.0,
        description="... and on at least this fraction of the pages of the issue/shard.",
    )
    detect_captions: bool = Field(True, description="Tag photo captions as items of kind `caption`.")
    indented_short_lines_are_body: bool = Field(
        True,
        description="A short unpunctuated paragraph carrying the paragraph indent (　　) is a subhead "
        "inside the article, not a headline: headlines are not indented.",
    )
    unindented_lines_are_headlines: bool = Field(
        True,
        description="On a page whose body paragraphs carry the indent, a paragraph without it (and not a "
        "byline, lead or furniture) is a headline line even if it ends with punctuation.",
    )
    indented_page_fraction: float = Field(
        0.9,
        gt=0.0,
        le=1.0,
        description="A page is indented when at least this share of its long paragraphs is indented.",
    )
    indented_page_min_chars: int = Field(
        40, ge=1, description="Paragraphs at least this long (characters) decide whether a page is indented."
    )
    max_unindented_headline_cells: int = Field(
        160,
        ge=4,
        description="On an indented page, the widest unindented paragraph still taken as a headline line.",
    )
    detect_section_headings: bool = Field(
        True,
        description="Keep numbered headings (`第一章`, `一、`, `（三）`) inside the current article as body "
        "paragraphs instead of starting a new article.",
    )


# ---------------------------------------------------------------- width

_WIDE_CORE = (
    "\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf"
    "\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\U00020000-\U0003fffd"
)
# East Asian *ambiguous* punctuation, printed full-width in Chinese typesetting.
_AMBIGUOUS_PUNCT = "\u2018\u2019\u201c\u201d\u2014\u2015\u2026\u00b7\u2022\u203b\u2116\u00a7"
_ZERO_WIDTH_CH = "\u0300-\u036f\u200b-\u200f\u2060\ufeff\u00ad"
# Counting the (few) narrow characters of Chinese text is an order of magnitude faster
# than counting the (many) wide ones.
_NARROW = re.compile(f"[^{_WIDE_CORE}{_AMBIGUOUS_PUNCT}{_ZERO_WIDTH_CH}]")
_NARROW_STRICT = re.compile(f"[^{_WIDE_CORE}{_ZERO_WIDTH_CH}]")
_ZERO_WIDTH = re.compile(f"[{_ZERO_WIDTH_CH}]")
_ZERO_WIDTH_ONLY = re.compile(f"[{_ZERO_WIDTH_CH}]*")  # fullmatch: a text 0 cells wide


def display_width(text: str, ambiguous_wide: bool = True) -> int:
    """Width of ``text`` in terminal display cells (wide East Asian characters count 2)."""
    if text.isascii():
        return len(text)
    narrow = _NARROW if ambiguous_wide else _NARROW_STRICT
    return 2 * len(text) - len(narrow.findall(text)) - 2 * len(_ZERO_WIDTH.findall(text))


@lru_cache(maxsize=4096)
def _cells(text: str) -> int:
    # a block's text is measured by several rules in turn: measured once
    return display_width(text)


def _wider_than(text: str, limit: int) -> bool:
    """``_cells(text) > limit``, mostly without measuring: a character is 0, 1 or 2 cells wide."""
    n = len(text)
    if 2 * n <= limit:
        return False  # even if every character were wide
    if n > limit:
        # a prefix wider than the limit settles it; without zero-width characters any
        # limit + 1 characters are
        if _ZERO_WIDTH.search(text, 0, limit + 1) is None or _cells(text[: limit + 1]) > limit:
            return True
    return _cells(text) > limit


# ---------------------------------------------------------------- patterns

_HAN_CH = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_NUM_CH = r"0-9０-９一二三四五六七八九十百零〇廿卅"
_OPEN_B = r"[（(〔\[]"
_CLOSE_B = r"[）)〕\]]"

# Roles: keyword → role name. Longest keywords first in the regex.
_ROLE_WORDS: dict[str, str] = {
    "本报记者": "reporter",
    "本報記者": "reporter",
    "特约记者": "reporter",
    "特約記者": "reporter",
    "见习记者": "reporter",
    "見習記者": "reporter",
    "新华社记者": "reporter",
    "新華社記者": "reporter",
    "记者": "reporter",
    "記者": "reporter",
    "通讯员": "correspondent",
    "通訊員": "correspondent",
    "特约通讯员": "correspondent",
    "实习生": "intern",
    "實習生": "intern",
    "责任编辑": "editor",
    "責任編輯": "editor",
    "责编": "editor",
    "責編": "editor",
    "编辑": "editor",
    "編輯": "editor",
    "校对": "proofreader",
    "校對": "proofreader",
    "摄影": "photographer",
    "攝影": "photographer",
    "撰文": "author",
    "撰稿": "author",
    "作者": "author",
    "文": "author",
    "图": "photographer",
    "圖": "photographer",
}
_POSTFIX_ROLES: dict[str, str] = {"摄": "photographer", "攝": "photographer", "供图": "photographer"}
# One-character roles ("文/张三", "图：李四") only count before a separator: "图书馆" is no byline.
_ROLE_RE = "|".join(
    re.escape(w) if len(w) > 1 else rf"{re.escape(w)}(?=[\s/：:|｜])"
    for w in sorted(_ROLE_WORDS, key=len, reverse=True)
)
_POSTFIX_RE = "|".join(sorted(map(re.escape, _POSTFIX_ROLES), key=len, reverse=True))
_NAME = rf"[{_HAN_CH}]{{2,4}}(?:[·•][{_HAN_CH}]{{1,6}})*"
_HAN_ONE = re.compile(rf"[{_HAN_CH}]")
_BYLINE_TOKEN = re.compile(
    rf"(?P<role>{_ROLE_RE})|(?P<post>{_POSTFIX_RE})|(?P<name>{_NAME})|(?P<sep>[\s\u3000、，,：:/|]+)"
)

_LEAD_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("本报讯", re.compile(r"^(本[报報][讯訊])")),
    (
        "本报…讯/电",
        re.compile(rf"^(本[报報](?:[{_HAN_CH}]{{1,6}}?)?[{_NUM_CH}]{{1,3}}月[{_NUM_CH}]{{1,3}}日[讯訊电電])"),
    ),
    (
        "agency dateline",
        re.compile(
            rf"^((?:新[华華]社|中新社|中新[网網]|人民[网網]|央[视視][网網]|中央社|法新社|路透社|美联社|美聯社)"
            rf"[{_HAN_CH}{_NUM_CH}\s]{{1,16}}?[电電])"
        ),
    ),
    ("according to agency", re.compile(rf"^(据[{_HAN_CH}]{{2,8}}?(?:[电電]|[报報]道|消息))")),
    ("old-style dateline", re.compile(rf"^({_OPEN_B}[{_HAN_CH}{_NUM_CH}]{{2,16}}[电電]{_CLOSE_B})")),
    (
        "English dateline",
        re.compile(
            r"^([A-Z][A-Z.'\-]+(?: [A-Z][A-Z.'\-]+){0,3}"
            r"(?:,\s*(?:[A-Z][a-z]{2,4}\.?|[A-Z][A-Z.]{2,5})\s*\d{1,2}\.?)?"
            r"\s*(?:\((?:AP|UP|UPI|INS|Reuters|Special|[A-Z][A-Za-z. ]{1,20})\))?"
            r"\s*(?:[—–]|--|-\s))"
        ),
    ),
]
# Every lead pattern starts with one of these (a cheap test before six patterns).
_LEAD_FIRST_CHARS = frozenset("本新華华中人央中法路美据（(〔[ABCDEFGHIJKLMNOPQRSTUVWXYZ")
# Matches where any lead pattern does: one call rules out a paragraph that only starts like one.
_LEAD_ANY = re.compile("|".join(f"(?:{pat.pattern})" for _, pat in _LEAD_PATTERNS))
# The byline in brackets right after a lead marker: （记者 黄啟峰 通讯员 刘光红）
_LEAD_BYLINE = re.compile(rf"^\s*{_OPEN_B}\s*([^（()）]{{2,60}}?)\s*{_CLOSE_B}")

_END_MARKER = re.compile(r"^[（(](?:完|完结|全文完|END|end)[)）]$")
_EDITOR_LINE = re.compile(
    rf"^{_OPEN_B}?\s*(?:责任编辑|責任編輯|责编|責編|编辑|編輯)\s*[：:]\s*(.+?)\s*{_CLOSE_B}?$"
)
_ENGLISH_BYLINE = re.compile(r"^By\s+((?:Miss |Mrs\. |Mr\. |Dr\. )?[A-Z][A-Za-z.'\- ]{2,40}?)(?:,.*)?$")

_CAPTION_TAIL = re.compile(
    rf"(?:^|(?<=[\s。！？”」』）)\]（(]))"
    rf"((?:(?:{_ROLE_RE})\s*)?((?:{_NAME}[\s、]+)*{_NAME})\s*(?:{_POSTFIX_RE}))"
    rf"\s*{_CLOSE_B}?$"
)
_CAPTION_SOURCE = re.compile(
    r"(供图|供圖|新华社发|新華社發|资料图片|資料圖片|资料照片|資料照片|图片来源[：:].{1,20}|"
    r"圖片來源[：:].{1,20}|Photo by .{2,40})\s*[）)]?$"
)
_CAPTION_START = re.compile(r"^(图为|圖為|上图|下图|左图|右图|图[：:]|圖[：:])")
# Every match of _CAPTION_START opens with one of these (a test generates matches and checks).
_CAPTION_START_FIRST = "图圖上下左右"
# Pre-filters: every byline has a role word (or a postfix role such as 摄); every credit at the end
# of a caption has a postfix role or one of the source words. Text without any is neither, and most
# paragraphs are spared the full patterns.
_ROLE_HINT = re.compile(f"{_ROLE_RE}|{_POSTFIX_RE}")
_SOURCE_HINT = "供圖|新华社发|新華社發|资料图片|資料圖片|资料照片|資料照片|图片来源|圖片來源|Photo by"
_CREDIT_HINT = re.compile(f"{_ROLE_RE}|{_POSTFIX_RE}|{_SOURCE_HINT}")
_CAPTION_HINT = re.compile(f"{_POSTFIX_RE}|{_SOURCE_HINT}")

_FURNITURE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("page label", re.compile(rf"第[{_NUM_CH}]+版|^[A-Z]?\d{{1,3}}\s*版$")),
    ("weekday", re.compile(r"^(?:星期|週|周|礼拜|禮拜)[一二三四五六日天]$")),
    (
        "date and weekday",
        re.compile(
            rf"[{_NUM_CH}]{{2,4}}\s*年\s*[{_NUM_CH}]{{1,3}}\s*月\s*[{_NUM_CH}]{{1,3}}\s*日"
            rf"\s*(?:星期|週|周|礼拜|禮拜)[一二三四五六日天]"
        ),
    ),
    (
        "date",
        re.compile(
            rf"^\D{{0,20}}[{_NUM_CH}]{{2,4}}\s*年\s*[{_NUM_CH}]{{1,3}}\s*月\s*[{_NUM_CH}]{{1,3}}\s*日"
            rf"(?:\s*(?:星期|週|周|礼拜|禮拜)[一二三四五六日天])?(?:\s*\S{{0,20}})?$"
        ),
    ),
    ("page number", re.compile(r"^[\-—–·\s]*(?:[A-Z]\d{1,2}|\d{1,3})[\-—–·\s]*$")),
    ("English page label", re.compile(r"^(?:PAGE|Page)\s+[A-Z0-9]+$|^VOL\.?\s+[A-Z0-9]+", re.I)),
    (
        "English date line",
        re.compile(
            r"^[A-Z][A-Za-z.,' ]{0,60}\b(?:JANUARY|FEBRUARY|MARCH|APRIL|MAY|JUNE|JULY|AUGUST|SEPTEMBER|"
            r"OCTOBER|NOVEMBER|DECEMBER|January|February|March|April|May|June|July|August|September|"
            r"October|November|December)\s+\d{1,2},?\s+1[6-9]\d\d\.?$"
        ),
    ),
    (
        "jump line",
        re.compile(r"^\(?\s*(?:Continued|Concluded)\s+(?:on|from)\s+(?:Page|page)\s+\w+\.?\s*\)?$"),
    ),
    ("jump line", re.compile(rf"^{_OPEN_B}?\s*(?:下转|上接|转下|接上)[^）)]{{0,12}}版{_CLOSE_B}?$")),
]

# Sentence punctuation: a line carrying it is prose, never page furniture.
_PROSE_PUNCT = re.compile(r"[。，；！？、]")


def _has_prose_punct(t: str) -> bool:
    """``_PROSE_PUNCT.search(t)``: substring tests are about twice as fast as the regex."""
    return "，" in t or "。" in t or "、" in t or "；" in t or "！" in t or "？" in t


_SECTION_HEADING = re.compile(
    rf"^(?:第[{_NUM_CH}]+[章节節编編篇部条條]|[一二三四五六七八九十]{{1,3}}、|"
    rf"{_OPEN_B}[一二三四五六七八九十]{{1,3}}{_CLOSE_B}|\d{{1,2}}[.、．]\D)"
)
# Every match of _SECTION_HEADING opens with one of these (a test generates matches and checks).
_SECTION_FIRST = r"第一二三四五六七八九十（(〔\[\d"
_SUBTITLE = re.compile(r"^(?:——|—|－－|--)\s*")
_TERMINAL = re.compile(r"[。！？!?…][”’」』）)\"']*$|[。；;]")
_SENTENCE_INSIDE = re.compile(r"[。；;]|[.!?]\s+[A-Z]")
_LATIN_SENTENCE_END = re.compile(r"[.!?]\s+[A-Z]")


def _sentence_inside(text: str) -> bool:
    """``_SENTENCE_INSIDE.search(text)``, by substring tests first (several times faster)."""
    if "。" in text or "；" in text or ";" in text:
        return True
    return ("." in text or "!" in text or "?" in text) and _LATIN_SENTENCE_END.search(text) is not None


_LATIN = re.compile(r"[A-Za-z]")
# what r"[。．]$" matches: the text ends with one, or with one and a final newline
_FULL_STOPS = ("。", "．")
_FULL_STOPS_NL = ("。\n", "．\n")


# ---------------------------------------------------------------- parsing helpers


def parse_byline(text: str, partial: bool = False) -> list[Byline] | None:
    """Roles and names when ``text`` consists only of byline tokens (and has a role), else ``None``.

    ``记者 焦同帅 通讯员 牛树志`` → reporter 焦同帅, correspondent 牛树志;
    ``记者 黄啟峰 摄`` → photographer 黄啟峰.
    """
    s = text.strip().strip("（()）〔〕[]")
    if not _ROLE_HINT.search(s):
        return None  # no role: never a byline (``saw_role`` below)
    pos = 0
    groups: list[list] = []  # [role, [names]]
    saw_role = False
    kind: str | None = None
    last: str | None = None
    while pos < len(s):
        m = _BYLINE_TOKEN.match(s, pos)
        if m is None:
            if partial and last != "name" and _HAN_ONE.fullmatch(s, pos):
                break  # the byline wraps inside its last name ("通訊員 胡" + "超")
            return None
        pos = m.end()
        last, kind = kind, m.lastgroup
        if m.group("role"):
            groups.append([_ROLE_WORDS[m.group("role")], []])
            saw_role = True
        elif m.group("post"):
            role = _POSTFIX_ROLES[m.group("post")]
            if not groups or not groups[-1][1]:
                return None
            groups[-1][0] = role
            saw_role = True
            groups.append([None, []])
        elif m.group("name"):
            name = m.group("name")
            if last == "name":
                return None  # two names need a separator: "林濤總統接見" is prose
            # "记者黄啟峰" written without a space: the role regex took the keyword already.
            if not groups:
                groups.append([None, []])
            groups[-1][1].append(name)
    if not saw_role:
        return None
    out: list[Byline] = []
    for role, names in groups:
        if not names:
            continue
        if role is None:
            return None  # names with no role: not a byline we can attribute
        out.extend(Byline(role=role, name=n) for n in names)
    return out or None


_ROLE_START = re.compile(rf"^(?:{_ROLE_RE})")
_ROLE_FIRST_CHARS = frozenset(w[0] for w in _ROLE_WORDS)


def starts_with_role(text: str) -> bool:
    """``text`` opens with a byline role keyword (记者, 通讯员, 責任編輯, …)."""
    return text[:1] in _ROLE_FIRST_CHARS and bool(_ROLE_START.match(text))


def lead_marker(text: str) -> tuple[str, list[Byline], str] | None:
    """(marker, byline, pattern name) when ``text`` opens with a lead marker."""
    if text[:1] not in _LEAD_FIRST_CHARS or _LEAD_ANY.match(text) is None:
        return None
    for name, pat in _LEAD_PATTERNS:
        m = pat.match(text)
        if m is None:
            continue
        marker = m.group(1).strip()
        if name == "English dateline" and len(marker) < 5:
            continue
        byline: list[Byline] = []
        rest = text[m.end() :]
        bm = _LEAD_BYLINE.match(rest)
        if bm is not None:
            byline = parse_byline(bm.group(1)) or []
        return marker, byline, name
    return None


def caption_credit(text: str) -> tuple[str, list[Byline]] | None:
    """(evidence, photographers) when ``text`` is a photo caption, else ``None``."""
    if not _CAPTION_HINT.search(text):
        # no credit (postfix role or source word) anywhere: only the opening can make a caption
        m = _CAPTION_START.match(text)
        return (f"starts with '{m.group(1)}'", []) if m else None
    m = _CAPTION_TAIL.search(text)
    if m is not None and len(text) > len(m.group(1)):
        names = re.split(r"[\s、]+", m.group(2).strip())
        return f"ends with credit '{m.group(1)}'", [Byline("photographer", n) for n in names if n]
    m2 = _CAPTION_SOURCE.search(text)
    if m2 is not None and len(text) > len(m2.group(1)) + 4:
        return f"ends with '{m2.group(1)}'", []
    if _CAPTION_START.match(text):
        return f"starts with '{_CAPTION_START.match(text).group(1)}'", []
    return None


def furniture_pattern(text: str, max_cells: int = 70) -> str | None:
    """Name of the page-furniture pattern ``text`` matches, if any."""
    t = text.strip()
    if not t or _has_prose_punct(t):
        return None
    return _furniture_pattern_of(t, max_cells)


def _weekday_inside(t: str) -> bool:
    """``t`` holds a character every weekday word (星期, 週, 周, 礼拜, 禮拜) opens with."""
    return "星" in t or "周" in t or "週" in t or "礼" in t or "禮" in t


@lru_cache(maxsize=4096)
def _furniture_pattern_of(t: str, max_cells: int) -> str | None:
    """:func:`furniture_pattern` of a stripped text without prose punctuation. Each pattern runs
    only on text holding what every match of it holds (a test generates matches and checks): on
    the date lines of Taiwan news that spares two of the three searches before the match.

    Cached: layout tests a page's lines for liftable furniture, and segment tests the same texts
    again as the paragraphs they became (running heads, date lines); the second test is a look-up."""
    if not t or _wider_than(t, max_cells):
        return None
    has_year = "年" in t
    for name, pat in _FURNITURE_PATTERNS:
        if name == "page label":
            if "版" not in t or not pat.search(t) or _TERMINAL.search(t):
                continue  # "…在第二版刊登。": prose that mentions a page
            return name
        if name == "weekday":
            if t[0] not in "星週周礼禮":
                continue
        elif name == "date and weekday":
            if not has_year or not _weekday_inside(t):
                continue
        elif name == "date" and not has_year:
            continue
        if pat.search(t):
            return name
    return None


_SPACE = re.compile(r"\s+")
# _SPACE without "\n", for a text of "\n"-joined lines; spelled out (what str.isspace accepts), as a
# literal class scans about twice as fast as the negated category [^\S\n]. A lone " " is already
# its own key, so only runs that are longer or hold another space character are matched: on
# English OCR (a space between every two words) that is 3x fewer replacements and time.
_SPACE_CHARS_BUT_BLANK = "\t\x0b\x0c\r\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_SPACE_IN_LINE = re.compile(
    f"[{_SPACE_CHARS_BUT_BLANK}][ {_SPACE_CHARS_BUT_BLANK}]*| [ {_SPACE_CHARS_BUT_BLANK}]+"
)
_DIGITS = re.compile(r"\d+")


def furniture_key(line: str) -> str:
    """Repetition key of a line: whitespace collapsed, digits folded (page numbers, dates vary)."""
    return _DIGITS.sub("0", _SPACE.sub(" ", line.strip()))


def starts_new_item(text: str) -> bool:
    """``text`` opens a new item (lead marker, byline, caption, furniture): never a continuation."""
    t = text.strip()
    return (
        lead_marker(t) is not None
        or parse_byline(t) is not None
        or furniture_pattern(t) is not None
        or bool(_CAPTION_START.match(t))
    )


def is_byline_or_caption(text: str) -> bool:
    """``text`` is a byline line or ends with a photo credit (never continued by another line)."""
    t = text.strip()
    if not _CREDIT_HINT.search(t):
        return False
    if not _wider_than(t, 80) and parse_byline(t) is not None:
        return True
    tail = t[-60:]  # credits sit at the end; do not scan long paragraphs
    return _CAPTION_TAIL.search(tail) is not None or _CAPTION_SOURCE.search(tail) is not None


# ---------------------------------------------------------------- rules


def _byline_case(text: str) -> str:
    b = parse_byline(text) or (
        [Byline("editor", n) for n in re.split(r"[\s、，,]+", m.group(1)) if n]
        if (m := _EDITOR_LINE.match(text.strip()))
        else None
    )
    if b is None and (m := _ENGLISH_BYLINE.match(text.strip())):
        b = [Byline("author", m.group(1).strip())]
    return " ".join(f"{x.role}:{x.name}" for x in b) if b else text


def _lead_case(text: str) -> str:
    r = lead_marker(text)
    if r is None:
        return text
    marker, byline, _ = r
    return " ".join([marker, *(f"{x.role}:{x.name}" for x in byline)])


def _caption_case(text: str) -> str:
    r = caption_credit(text)
    if r is None:
        return text
    return " ".join(["caption", *(f"{x.role}:{x.name}" for x in r[1])])


def _furniture_case(text: str) -> str:
    return "furniture" if furniture_pattern(text) else text


def _headline_case(text: str) -> str:
    """Case function: a headline group, one line each, followed by a body paragraph."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    blocks = [Block(text=ln, line_start=i + 1, line_end=i + 1) for i, ln in enumerate(lines)]
    items, _ = segment_blocks(blocks, SegmentConfig())
    if not items or not items[0].headline:
        return text
    it = items[0]
    return f"kicker={it.kicker or ''}|title={it.title or ''}|subtitle={it.subtitle or ''}"


R_FURN_PATTERN = register(
    "segment.furniture_pattern",
    STAGE,
    "Page furniture recognised by pattern (第二版, dates, 星期四, page numbers, Continued on Page 6).",
    case_fn=_furniture_case,
)
R_FURN_REPEAT = register(
    "segment.furniture_repeated",
    STAGE,
    "Page furniture recognised by recurring on several pages of the same issue/shard.",
)
R_LEAD = register(
    "segment.lead",
    STAGE,
    "A paragraph opening with a lead marker (本报讯, 新华社…电, WASHINGTON (AP) —) starts an article body; "
    "its bracketed names are the byline.",
    case_fn=_lead_case,
)
R_BYLINE = register(
    "segment.byline",
    STAGE,
    "A line made only of roles and names (记者 A 通讯员 B, （责任编辑：C）, By JOHN SMITH) is the byline, "
    "not a body paragraph.",
    case_fn=_byline_case,
)
R_CAPTION = register(
    "segment.caption",
    STAGE,
    "A photo caption (… 记者 A 摄, 供图, 新华社发, 图为…) is an item of its own; the credit is the byline.",
    case_fn=_caption_case,
)
R_HEADLINE = register(
    "segment.headline",
    STAGE,
    "Short text without terminal punctuation before body text is a headline line; a group of them is "
    "split into kicker / title / subtitle.",
    case_fn=_headline_case,
)
R_SECTION = register(
    "segment.section_heading",
    STAGE,
    "A numbered heading inside an article (第一章, 一、) stays in the article as a body paragraph.",
)
R_END = register("segment.end_marker", STAGE, "（完） ends the current article.")
R_BODY = register("segment.body", STAGE, "A body paragraph of the current article.")
R_ORPHAN = register(
    "segment.orphan_body",
    STAGE,
    "Body text with no headline or lead before it (page start, after a closing byline) forms an item "
    "of kind `other`.",
)


# ---------------------------------------------------------------- classification


@dataclass(slots=True)
class _Tagged:
    block: Block
    tag: str
    rule: str
    detail: str
    marker: str | None = None
    # read only (copied into the item): a shared empty default spares a list per paragraph
    byline: Sequence[Byline] = ()


def _headline_like(text: str, cfg: SegmentConfig) -> bool:
    if _wider_than(text, cfg.max_headline_cells) or _ZERO_WIDTH_ONLY.fullmatch(text):  # 0 cells
        return False
    if _sentence_inside(text) or text.endswith(_FULL_STOPS) or text.endswith(_FULL_STOPS_NL):
        return False
    if text.endswith(("，", ",", "、", "：", ":")):
        return False
    if _LATIN.search(text) and not _HAN_ONE.search(text):
        # English headlines are set in capitals (or Title Case) and do not end a sentence.
        letters = [c for c in text if c.isalpha()]
        upper = sum(1 for c in letters if c.isupper())
        words = text.split()
        title_case = sum(1 for w in words if w[:1].isupper()) >= 0.6 * len(words)
        return bool(letters) and (upper >= 0.6 * len(letters) or title_case) and not text.endswith(".")
    return True


def _lead_tagged(b: Block, lead: tuple[str, list[Byline], str]) -> _Tagged:
    marker, byline, pat = lead
    names = ", ".join(f"{x.role} {x.name}" for x in byline)
    return _Tagged(
        b,
        "lead",
        R_LEAD.name,
        f"{pat} '{marker}'" + (f"; byline {names}" if names else ""),
        marker,
        byline,
    )


def _widest_special(cfg: SegmentConfig, indented_page: bool) -> int:
    """The widest paragraph (cells) that may be furniture, a byline, a section heading or a
    headline line: a wider one can only be an end marker, a lead, a caption or body text."""
    widths = [cfg.max_furniture_cells, cfg.max_byline_cells, cfg.max_headline_cells]
    if indented_page:
        widths.append(cfg.max_unindented_headline_cells)
    return max(widths)


def _classify(
    b: Block,
    t: str,
    cfg: SegmentConfig,
    furniture: frozenset[str],
    indented_page: bool = False,
    widest: int | None = None,
) -> _Tagged:
    """The tag of ``b`` (``t``: its text stripped), test by test."""
    if t[:1] in "（(" and _END_MARKER.match(t):
        return _Tagged(b, "end", R_END.name, f"end marker '{t}'")
    if widest is None:
        widest = _widest_special(cfg, indented_page)
    if _wider_than(t, widest):
        # most body paragraphs: only the tests that take any width are left (same order as below)
        lead = lead_marker(t) if t[:1] in _LEAD_FIRST_CHARS else None
        if lead is not None:
            return _lead_tagged(b, lead)
        if cfg.detect_captions and (_CAPTION_HINT.search(t) or _CAPTION_START.match(t)):
            cap = caption_credit(t)
            if cap is not None:
                return _Tagged(b, "caption", R_CAPTION.name, cap[0], byline=cap[1])
        return _Tagged(b, "body", R_BODY.name, _RUNNING_TEXT)
    if (
        furniture
        and (t in furniture or furniture_key(t) in furniture)
        and not _wider_than(t, cfg.max_furniture_cells)
    ):
        return _Tagged(b, "furniture", R_FURN_REPEAT.name, f"'{t[:30]}' recurs across pages of the issue")
    # The cheap necessary conditions of furniture_pattern, lead_marker and caption_credit are
    # tested here: most paragraphs fail them, and the calls cost more than the tests.
    fp = None if _has_prose_punct(t) else _furniture_pattern_of(t, cfg.max_furniture_cells)
    if fp is not None:
        return _Tagged(b, "furniture", R_FURN_PATTERN.name, f"{fp}: '{t[:30]}'")
    lead = lead_marker(t) if t[:1] in _LEAD_FIRST_CHARS else None
    if lead is not None:
        return _lead_tagged(b, lead)
    # every byline form has a role word (the editor line's 编辑 too) or starts with "By"
    if (_ROLE_HINT.search(t) or t.startswith("By")) and not _wider_than(t, cfg.max_byline_cells):
        by = parse_byline(t)
        if by is not None:
            names = ", ".join(f"{x.role} {x.name}" for x in by)
            return _Tagged(b, "byline", R_BYLINE.name, f"roles and names only: {names}", byline=by)
        m = _EDITOR_LINE.match(t)
        if m is not None:
            by = [Byline("editor", n) for n in re.split(r"[\s、，,]+", m.group(1)) if n]
            return _Tagged(b, "byline", R_BYLINE.name, f"editor line: {m.group(1)}", byline=by)
        m = _ENGLISH_BYLINE.match(t)
        if m is not None:
            return _Tagged(
                b,
                "byline",
                R_BYLINE.name,
                f"English byline '{t[:40]}'",
                byline=[Byline("author", m.group(1))],
            )
    if cfg.detect_captions and (_CAPTION_HINT.search(t) or _CAPTION_START.match(t)):
        cap = caption_credit(t)
        if cap is not None:
            return _Tagged(b, "caption", R_CAPTION.name, cap[0], byline=cap[1])
    if (
        cfg.detect_section_headings
        and _SECTION_HEADING.match(t)
        and not _wider_than(t, cfg.max_headline_cells)
    ):
        return _section_tagged(b, t)
    # Body paragraphs on this page carry the indent; a line without it is a headline even
    # when it is a whole sentence ("李總統今天參加…，並應邀致詞。").
    unindented = indented_page and not b.indented and not _wider_than(t, cfg.max_unindented_headline_cells)
    return _plain_tagged(b, t, unindented, not unindented and _headline_like(t, cfg), cfg)


def _planned_tag(
    b: Block,
    text: str,
    how: int,
    cfg: SegmentConfig,
    furniture: frozenset[str],
    indented_page: bool,
    widest: int,
) -> _Tagged:
    """The tag of ``b`` (``text``: stripped) by what :func:`_page_plan` found (``how``)."""
    if how & _P_SECTION:
        if _SECTION_HEADING.match(text):
            return _section_tagged(b, text)
        how -= _P_SECTION
    if how == _P_BODY:
        return _Tagged(b, "body", R_BODY.name, _RUNNING_TEXT)
    if how == _P_CLASSIFY:
        return _classify(b, text, cfg, furniture, indented_page, widest)
    headline_like = how == _P_HEADLINE_LIKE or (how == _P_ASK_HEADLINE_LIKE and _headline_like(text, cfg))
    return _plain_tagged(b, text, how == _P_UNINDENTED, headline_like, cfg)


def _section_tagged(b: Block, t: str) -> _Tagged:
    return _Tagged(b, "section", R_SECTION.name, f"numbered heading '{t[:20]}'")


def _plain_tagged(b: Block, t: str, unindented: bool, headline_like: bool, cfg: SegmentConfig) -> _Tagged:
    """The tag of a paragraph that is no furniture, lead, byline, caption or numbered heading:
    ``unindented``: a line without the indent on an indented page; ``headline_like``: what
    :func:`_headline_like` says of ``t`` (read only when not ``unindented``)."""
    if unindented:
        return _Tagged(b, "headline", R_HEADLINE.name, f"{_cells(t)} cells, not indented on an indented page")
    if headline_like:
        if b.indented and cfg.indented_short_lines_are_body:
            return _Tagged(b, "section", R_SECTION.name, f"short line indented like body text: '{t[:20]}'")
        return _Tagged(b, "headline", R_HEADLINE.name, f"{_cells(t)} cells, no terminal punctuation")
    return _Tagged(b, "body", R_BODY.name, _RUNNING_TEXT)


_RUNNING_TEXT = "running text"


# ---------------------------------------------------------------- page classification
#
# Most paragraphs fail every special test of _classify (furniture, lead, byline, caption,
# numbered heading) and end as body text, a headline line or an indented short line. Whether a
# paragraph may pass a special test is read for the whole page at once: each paragraph's cells
# and character classes by one compiled pass over the page's code points, its first and last
# character's classes, and the credit words (byline roles, caption credits) by one regex pass.
# Only a paragraph one of them flags goes through _classify; the others are tagged from the
# arrays. Each flag is a necessary condition of its test (a test checks each against the
# patterns), so both ways give the same tags.

# character classes of a paragraph (``_block_scan``'s ``flags``)
(
    _CH_PROSE,
    _CH_FURNITURE,
    _CH_DIGIT,
    _CH_NOT_PAGE_NUMBER,
    _CH_SENTENCE,
    _CH_LATIN_STOP,
    _CH_LATIN,
    _CH_HAN,
    _CH_ZERO,
    _CH_WIDE,
    _CH_ROLE_HINT,
    _CH_ZUO,
    _CH_ZHE,
    _CH_CAPTION_HINT,
    _CH_LEAD_TAIL,
) = (1 << k for k in range(15))
# Every match of _ROLE_HINT holds one of _ROLE_HINT_CHARS or both 作 and 者 (作者: each of the two
# is common alone), every match of _CAPTION_HINT one of _CAPTION_HINT_CHARS (a test checks each
# keyword and generated matches): the hint regex then runs over the paragraphs holding them only,
# a tenth of the page, as it costs ten times what the compiled scan does per character. The
# characters are the rarer ones of each keyword (记 rather than 者, 讯 rather than 员).
_ROLE_HINT_CHARS = "记記讯訊习習编編校摄攝撰文图圖"
_CAPTION_HINT_CHARS = "摄攝图圖片华華P"
# Every match of a lead pattern ends with one of these (讯, 电, 报道, 消息, the English dash): a
# paragraph opening like a lead without one is spared _LEAD_ANY (a test checks generated matches).
_LEAD_TAIL_CHARS = "讯訊电電道息—–-"
# The widest match of _END_MARKER ("（全文完）"), in cells.
_END_MARKER_CELLS = 10


def _role_hint_candidates(flags: np.ndarray) -> np.ndarray:
    """Which paragraphs (by their ``_CH_*`` flags) may hold a match of _ROLE_HINT: _plan_lines's
    condition as array expressions, which the tests check against the pattern."""
    return ((flags & _CH_ROLE_HINT) != 0) | ((flags & (_CH_ZUO | _CH_ZHE)) == (_CH_ZUO | _CH_ZHE))


# A furniture pattern matches only text holding one of these characters, or digits and nothing a
# page number cannot hold, or digits after a capital (an English date line), or text opening like
# an English page label or jump line (a test generates matches of each pattern and checks).
_FURNITURE_NEEDS = r"[版星週周礼禮年]"
_PAGE_NUMBER_CHARS = r"[\d\sA-Z\-—–·]"
# classes of the first and the last character (``_block_scan``'s ``first`` and ``last``)
(
    _EDGE_END,
    _EDGE_LEAD,
    _EDGE_CAPTION,
    _EDGE_SECTION,
    _EDGE_BY,
    _EDGE_NOT_HEADLINE_END,
    _EDGE_CAPITAL,
    _EDGE_FURNITURE,
) = (1 << k for k in range(8))
# what the page arrays decide (``_P_CLASSIFY``: _classify decides); ``_P_SECTION`` is added to
# the others when the paragraph is a numbered heading if _SECTION_HEADING matches it
_P_CLASSIFY, _P_BODY, _P_UNINDENTED, _P_HEADLINE_LIKE, _P_ASK_HEADLINE_LIKE = range(5)
_P_SECTION = 8
# _classify decides, and the paragraph is no repeated furniture (the plan found its key is no
# entry's): _classify is given no furniture, so it does not key the paragraph again
_P_CLASSIFY_UNREPEATED = 16
_UNREPEATED: frozenset[str] = frozenset()


def _may_be_furniture(flags: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Which paragraphs (by their ``_CH_*`` flags and first character's ``_EDGE_*``) a furniture
    pattern may match: _plan_lines's condition as array expressions, which the tests check
    against the patterns."""
    digits = (flags & _CH_DIGIT) != 0
    return (
        ((flags & _CH_FURNITURE) != 0)
        | (digits & (((flags & _CH_NOT_PAGE_NUMBER) == 0) | ((first & _EDGE_CAPITAL) != 0)))
        | ((first & _EDGE_FURNITURE) != 0)
    )


@cache
def _char_table() -> np.ndarray:
    """:func:`_build_char_table`, kept on disk between processes (~15 ms to build)."""
    return textscan.cached_array("segment-char-table", _build_char_table)


def _build_char_table() -> np.ndarray:
    """``_CH_*`` of every code point, from the classes the tests themselves use."""
    table = textscan.class_table(
        (
            (_PROSE_PUNCT.pattern, _CH_PROSE),
            (_FURNITURE_NEEDS, _CH_FURNITURE),
            (r"\d", _CH_DIGIT),
            ("[。；;]", _CH_SENTENCE),  # _sentence_inside without a regex, and the full stop
            ("[.!?]", _CH_LATIN_STOP),  # _sentence_inside with one
            (_LATIN.pattern, _CH_LATIN),
            (_HAN_ONE.pattern, _CH_HAN),
            (_ZERO_WIDTH.pattern, _CH_ZERO),  # 0 cells (display_width)
        ),
        np.uint16,
    ).copy()
    # a few literal characters each: set directly (matching a class against every code point
    # costs some 15 ms a class)
    for chars, bit in (
        (_ROLE_HINT_CHARS, _CH_ROLE_HINT),
        ("作", _CH_ZUO),
        ("者", _CH_ZHE),
        (_CAPTION_HINT_CHARS, _CH_CAPTION_HINT),
        (_LEAD_TAIL_CHARS, _CH_LEAD_TAIL),
    ):
        table[[ord(c) for c in chars]] |= bit
    table[~textscan.code_points_matching(_PAGE_NUMBER_CHARS)] |= _CH_NOT_PAGE_NUMBER
    # 2 cells (the characters _NARROW leaves out), by ranges: they are too many to match one by one
    for lo, hi in textscan.class_ranges(_WIDE_CORE + _AMBIGUOUS_PUNCT):
        table[lo : hi + 1] |= _CH_WIDE
    table.setflags(write=False)
    return table


@cache
def _edge_table() -> np.ndarray:
    """``_EDGE_*`` of every code point: bits of the first character of a paragraph, and the
    last character's bit."""
    return textscan.class_table(
        (
            ("[（(]", _EDGE_END),  # what _classify tests before _END_MARKER
            (f"[{re.escape(''.join(sorted(_LEAD_FIRST_CHARS)))}]", _EDGE_LEAD),
            (f"[{_CAPTION_START_FIRST}]", _EDGE_CAPTION),
            (f"[{_SECTION_FIRST}]", _EDGE_SECTION),
            ("B", _EDGE_BY),  # "By JOHN SMITH"
            ("[．，,、：:]", _EDGE_NOT_HEADLINE_END),  # _headline_like's endings, bar "。" (a class)
            ("[A-Z]", _EDGE_CAPITAL),  # an English date line ("JANUARY 5, 1916.")
            ("[PpVvC(]", _EDGE_FURNITURE),  # "PAGE 3", "VOL. XXXVI", "(Continued on Page 6)"
        )
    )


@jit.kernel
def _block_scan(
    codes: np.ndarray,
    table: np.ndarray,
    edge_table: np.ndarray,
    cells: np.ndarray,
    flags: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
) -> int:
    """Per ``"\\n"``-separated line ``k`` of ``codes``: ``cells[k]`` its :func:`display_width`,
    ``flags[k]`` the OR of ``table`` over its characters, ``first[k]`` / ``last[k]`` the
    ``edge_table`` bits of its first and last character (0 for an empty line). Returns the number
    of lines; those past the arrays' size are counted only (a paragraph held a line feed)."""
    size = cells.shape[0]
    k = 0
    width = 0
    acc = 0
    start = True
    prev = 0
    for i in range(codes.shape[0] + 1):
        if i == codes.shape[0] or codes[i] == 10:
            if k < size:
                cells[k] = width
                flags[k] = acc
                last[k] = 0 if start else edge_table[prev]
            k += 1
            width = 0
            acc = 0
            start = True
            continue
        c = codes[i]
        f = table[c]
        acc |= f
        if f & _CH_ZERO:
            pass
        elif f & _CH_WIDE:
            width += 2
        else:
            width += 1
        if start:
            if k < size:
                first[k] = edge_table[c]
            start = False
        prev = c
    return k


# what _plan_lines leaves to the patterns (``cand``): the paragraph opens like an end marker or a
# lead, holds a character of a caption credit or of a byline role, is narrow (``cells <=
# widest``); the first four only on a paragraph not already left to _classify
_C_END, _C_LEAD, _C_CAPTION, _C_ROLE, _C_NARROW = (1 << k for k in range(5))
_C_PATTERNS = _C_END | _C_LEAD | _C_CAPTION | _C_ROLE
# _plan_lines's ``params``
_PP_WIDEST, _PP_FURNITURE, _PP_HEADLINE, _PP_UNINDENTED, _PP_INDENTED_PAGE, _PP_CAPTIONS, _PP_SECTIONS = (
    range(7)
)


@jit.kernel
def _plan_lines(
    cells: np.ndarray,
    flags: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    indented: np.ndarray,
    params: np.ndarray,
    plan: np.ndarray,
    cand: np.ndarray,
) -> int:
    """Per paragraph ``k`` (its :func:`_block_scan` columns and indent): ``plan[k]`` what the page
    arrays decide (``_P_*``; ``_P_CLASSIFY`` where a flag already sends it to _classify) and
    ``cand[k]`` its ``_C_*`` bits, the tests left to the patterns. ``params``: ``_PP_*``. Returns
    the last narrow paragraph (``_C_NARROW``), -1 when there is none.

    Numpy's whole-array expressions cost a microsecond or more each, some sixty per page,
    whatever the page's size; this is one loop (tests compare it with those expressions)."""
    widest = params[_PP_WIDEST]
    max_furniture = params[_PP_FURNITURE]
    max_headline = params[_PP_HEADLINE]
    max_unindented = params[_PP_UNINDENTED]
    indented_page = params[_PP_INDENTED_PAGE] != 0
    captions = params[_PP_CAPTIONS] != 0
    sections = params[_PP_SECTIONS] != 0
    last_narrow = -1
    for k in range(cells.shape[0]):
        c = cells[k]
        f = np.int64(flags[k])
        fi = np.int64(first[k])
        wide = c > widest
        special = c == 0
        cb = 0
        if captions and (fi & _EDGE_CAPTION) != 0:
            special = True
        if not wide:
            cb = _C_NARROW
            last_narrow = k
            if (fi & _EDGE_BY) != 0:
                special = True
            elif (
                (f & _CH_PROSE) == 0
                and c <= max_furniture
                and (
                    (f & _CH_FURNITURE) != 0
                    or (
                        (f & _CH_DIGIT) != 0 and ((f & _CH_NOT_PAGE_NUMBER) == 0 or (fi & _EDGE_CAPITAL) != 0)
                    )
                    or (fi & _EDGE_FURNITURE) != 0
                )
            ):
                special = True
        if special:
            cand[k] = cb
            plan[k] = _P_CLASSIFY
            continue
        if (fi & _EDGE_END) != 0 and c <= _END_MARKER_CELLS:
            cb |= _C_END
        if (fi & _EDGE_LEAD) != 0 and (f & _CH_LEAD_TAIL) != 0:
            cb |= _C_LEAD
        if captions and (f & _CH_CAPTION_HINT) != 0:
            cb |= _C_CAPTION
        if not wide and ((f & _CH_ROLE_HINT) != 0 or (f & (_CH_ZUO | _CH_ZHE)) == (_CH_ZUO | _CH_ZHE)):
            cb |= _C_ROLE
        cand[k] = cb
        # _headline_like: False when too wide, a sentence mark or a full stop, or a comma-like end;
        # the Latin sentence ends and Latin-only text take the function itself
        not_headline = (
            c > max_headline or (f & _CH_SENTENCE) != 0 or (np.int64(last[k]) & _EDGE_NOT_HEADLINE_END) != 0
        )
        p = _P_BODY
        if not wide and not not_headline:
            p = _P_HEADLINE_LIKE
        if not not_headline and ((f & _CH_LATIN_STOP) != 0 or ((f & _CH_LATIN) != 0 and (f & _CH_HAN) == 0)):
            p = _P_ASK_HEADLINE_LIKE
        if indented_page and not wide and c <= max_unindented and not indented[k]:
            p = _P_UNINDENTED
        if sections and (fi & _EDGE_SECTION) != 0 and c <= max_headline:
            p += _P_SECTION
        plan[k] = p
    return last_narrow


def _lines_matching_among(rx: re.Pattern[str], texts: list[str], among: list[int], last: int) -> list[int]:
    """The ``texts[k]``, ``k`` in ``among`` (ascending), that :func:`textscan.lines_matching` flags
    over a joined text of lines among which ``texts[last]`` is the final one.

    A search per line: the candidates are a few per page, and a pass over their joined text cost
    some 20 us a page in setting up alone. A match of the credit words holds no line feed, so it
    starts in a line exactly when a search of that line finds it; only a lookahead at the line's
    end (``文(?=\\s)``) reads past it, the joining line feed, which every line but ``texts[last]``
    is given here too."""
    search = rx.search
    return [k for k in among if search(texts[k] + "\n" if k != last else texts[k])]


def _page_plan(
    texts: list[str],
    indented: np.ndarray,
    cfg: SegmentConfig,
    furniture: frozenset[str],
    indented_page: bool,
    widest: int,
) -> np.ndarray | None:
    """What the page arrays decide for each paragraph (``_P_*``), or ``None`` (kernels
    off, or a paragraph holds a line feed): then _classify decides every paragraph.
    ``texts``: the paragraphs' stripped texts; ``widest``: :func:`_widest_special`."""
    if not jit.enabled() or not texts:
        return None
    n = len(texts)
    cells = np.empty(n, dtype=np.int64)
    flags = np.empty(n, dtype=np.uint16)
    first = np.zeros(n, dtype=np.uint8)
    last = np.zeros(n, dtype=np.uint8)
    codes = textscan.codes_of("\n".join(texts))
    if _block_scan(codes, _char_table(), _edge_table(), cells, flags, first, last) != n:
        return None  # a paragraph holds a line feed
    params = np.array(
        [
            widest,
            cfg.max_furniture_cells,
            cfg.max_headline_cells,
            cfg.max_unindented_headline_cells,
            indented_page,
            cfg.detect_captions,
            cfg.detect_section_headings,
        ],
        dtype=np.int64,
    )
    plan = np.empty(n, dtype=np.int8)
    cand = np.empty(n, dtype=np.uint8)
    narrow_last = _plan_lines(cells, flags, first, last, indented, params, plan, cand)
    # The paragraphs a pattern may still send to _classify: an end marker or a lead marker (its
    # pattern settles it: the lines of a numbered list open with "（一）" as the old-style dateline
    # "（倫敦廿日哈瓦斯電）" does), a caption's credit, a byline's role (as one pass over the
    # narrow paragraphs would flag it), a repeated line.
    todo = np.flatnonzero(cand & _C_PATTERNS)
    hits: list[int] = []
    if len(todo):
        ks = todo.tolist()
        bits = cand[todo].tolist()
        end_match, lead_match = _END_MARKER.match, _LEAD_ANY.match
        hits = [
            k
            for k, b in zip(ks, bits, strict=True)
            if (b & _C_END and end_match(texts[k])) or (b & _C_LEAD and lead_match(texts[k]))
        ]
        among = [k for k, b in zip(ks, bits, strict=True) if b & _C_CAPTION]
        hits += _lines_matching_among(_CAPTION_HINT, texts, among, n - 1)
        among = [k for k, b in zip(ks, bits, strict=True) if b & _C_ROLE]
        if among:
            hits += _lines_matching_among(_ROLE_HINT, texts, among, narrow_last)
    if furniture:
        maybe_repeated = _furniture_candidates(codes, cand, furniture)
        if len(maybe_repeated):
            short = [texts[k] for k in maybe_repeated.tolist()]
            keys = _page_keys(short)
            repeated = [t in furniture or key in furniture for t, key in zip(short, keys, strict=True)]
            plan[maybe_repeated[repeated]] = _P_CLASSIFY
    if hits:
        plan[hits] = _P_CLASSIFY
    if furniture:
        # every paragraph left to _classify that is no candidate fails its repeated-furniture
        # test (a wide one never reaches it)
        unrepeated = plan == _P_CLASSIFY
        unrepeated[maybe_repeated] = False
        plan[unrepeated] = _P_CLASSIFY_UNREPEATED
    return plan


def _furniture_candidates(codes: np.ndarray, cand: np.ndarray, furniture: frozenset[str]) -> np.ndarray:
    """The narrow paragraphs (``cand``'s ``_C_NARROW``) that may be repeated furniture: their key's
    hash (:func:`_line_key_hashes` over ``codes``, the page's paragraphs joined by line feeds) is
    the hash of an entry's key. A paragraph that is an entry, or whose key is one, has the key of
    that entry (a key is its own key), so every hit is among them; the caller tests them exactly.

    Keying every narrow paragraph by two regex passes over their joined text cost more than the
    rest of the page's plan on pages with furniture; the hashes are one compiled pass."""
    narrow = (cand & _C_NARROW) != 0
    wanted = _furniture_hashes(furniture, _KEY_HASH_BITS)
    if wanted is None:  # an entry holds a line feed: every narrow paragraph is keyed
        return np.flatnonzero(narrow)
    hashes = np.empty(len(cand), dtype=np.int64)
    _line_key_hashes(codes, _key_flags(), (1 << _KEY_HASH_BITS) - 1, hashes, narrow)
    at = np.minimum(np.searchsorted(wanted, hashes), len(wanted) - 1)
    return np.flatnonzero(narrow & (wanted[at] == hashes))


@lru_cache(maxsize=8)
def _furniture_hashes(furniture: frozenset[str], bits: int) -> np.ndarray | None:
    """The sorted :func:`_line_key_hashes` of the keys of ``furniture``'s entries (``bits`` of
    each), once per set (a shard's pages share one); ``None`` when an entry holds a line feed."""
    entries = list(furniture)
    text = "\n".join(entries)
    if text.count("\n") != len(entries) - 1:
        return None
    out = np.empty(len(entries), dtype=np.int64)
    _line_key_hashes(textscan.codes_of(text), _key_flags(), (1 << bits) - 1, out, _EVERY_LINE)
    return np.unique(out)


def _assign_headline_roles(item: Item, lines: list[str], cfg: SegmentConfig) -> str:
    """Fill kicker/title/subtitle from the group's lines (page order); returns the evidence."""
    subs = [ln for ln in lines if _SUBTITLE.match(ln)]
    main = [ln for ln in lines if not _SUBTITLE.match(ln)]
    subtitle = [_SUBTITLE.sub("", ln) for ln in subs]
    why: str
    if not main:
        main, subtitle = [subtitle[0]], subtitle[1:]
    if len(main) == 1:
        item.title = main[0]
        why = "one main line"
    elif all(_LATIN.search(ln) and not _HAN_ONE.search(ln) for ln in main):
        item.title = " ".join(main[:1])
        subtitle = main[1:] + subtitle
        why = "English deck: first line is the title, the rest subtitle"
    elif sum(_cells(ln) for ln in main) <= cfg.max_split_title_cells and not any(" " in ln for ln in main):
        item.title = "".join(main)
        why = (
            f"short lines ({sum(_cells(ln) for ln in main)} cells together): one title over {len(main)} lines"
        )
    else:
        widest = max(range(len(main)), key=lambda i: (_cells(main[i]), i))
        item.title = main[widest]
        if widest > 0:
            item.kicker = " ".join(main[:widest])
        subtitle = main[widest + 1 :] + subtitle
        why = (
            f"widest line is the title ({_cells(main[widest])} cells); lines before: kicker, after: subtitle"
        )
    item.subtitle = " ".join(subtitle) if subtitle else None
    return why


_TEXT_OF = attrgetter("text")
_INDENTED_OF = attrgetter("indented")


def _paragraph(b: Block) -> Paragraph:
    return Paragraph(b.text, b.line_start, b.line_end, list(b.joins))


class SegmentEvents(EventRecord):
    """A page's segment decisions as one object: the rule, detail and lines of each, in the
    order :func:`segment_blocks` made them (:meth:`expand` gives the events)."""

    __slots__ = ("_details", "_ends", "_rules", "_starts")

    def __init__(self, rules: list[str], details: list[str], starts: list[int], ends: list[int]) -> None:
        super().__init__("segment.decisions", STAGE, f"{len(rules)} segment decisions of the page")
        self._rules, self._details, self._starts, self._ends = rules, details, starts, ends

    def spans(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        ids = {name: k for k, name in enumerate(dict.fromkeys(self._rules))}
        rule = np.fromiter(map(ids.__getitem__, self._rules), dtype=np.int64, count=len(self._rules))
        return list(ids), rule, np.array(self._starts, dtype=np.int64), np.array(self._ends, dtype=np.int64)

    def expand(self) -> list[Event]:
        return [
            Event(rule, STAGE, detail, line=start, line_end=end)
            for rule, detail, start, end in zip(
                self._rules, self._details, self._starts, self._ends, strict=True
            )
        ]


def segment_blocks(
    blocks: list[Block], cfg: SegmentConfig, furniture: frozenset[str] = frozenset(), compact: bool = False
) -> tuple[list[Item], list[Event]]:
    """Group a page's paragraphs into items (articles, captions, furniture, other).

    ``compact``: the page's decisions come as one :class:`SegmentEvents` object instead of an
    event each (:func:`cleaning.model.expand_events` expands it).
    """
    items: list[Item] = []
    # the events, as the columns of a SegmentEvents
    rules: list[str] = []
    details: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pending: list[_Tagged] = []
    cur: Item | None = None  # the article body text goes to
    closed = False  # cur was closed by a trailing byline or end marker

    def ev(t: _Tagged, rule: str | None = None, detail: str | None = None) -> None:
        rules.append(rule or t.rule)
        details.append(detail or t.detail)
        starts.append(t.block.line_start)
        ends.append(t.block.line_end)

    def extend(item: Item, b: Block) -> None:
        item.line_start = min(item.line_start, b.line_start) if item.line_start else b.line_start
        item.line_end = max(item.line_end, b.line_end)

    def start_article(first: _Tagged) -> Item:
        item = Item(kind="article", line_start=first.block.line_start, line_end=first.block.line_end)
        if pending:
            lines = [p.block.text.strip() for p in pending]
            item.headline = lines
            why = _assign_headline_roles(item, lines, cfg)
            for p in pending:
                ev(p, detail=f"{p.detail}; group of {len(pending)}: {why}")
                extend(item, p.block)
            pending.clear()
        items.append(item)
        return item

    def flush_pending_as_body() -> None:
        nonlocal cur, closed
        while pending:
            p = pending.pop(0)
            if cur is None or closed:
                cur = Item(kind="other", line_start=p.block.line_start, line_end=p.block.line_end)
                items.append(cur)
                closed = False
            cur.paragraphs.append(_paragraph(p.block))
            extend(cur, p.block)
            ev(p, R_BODY.name, "short line with no body after it: kept as text")

    # the page's columns by C-level maps: a comprehension per column costs several times more
    n = len(blocks)
    raw = list(map(_TEXT_OF, blocks))
    indented = np.fromiter(map(_INDENTED_OF, blocks), dtype=bool, count=n)
    indented_page = False
    if cfg.unindented_lines_are_headlines:
        long = np.fromiter(map(len, raw), dtype=np.int64, count=n) >= cfg.indented_page_min_chars
        n_long = int(np.count_nonzero(long))
        indented_page = (
            n_long >= 3 and int(np.count_nonzero(indented & long)) >= cfg.indented_page_fraction * n_long
        )
    widest = _widest_special(cfg, indented_page)
    texts = list(map(str.strip, raw))
    planned = _page_plan(texts, indented, cfg, furniture, indented_page, widest)
    plan = planned.tolist() if planned is not None else [_P_CLASSIFY] * n
    body_rule = R_BODY.name
    section_rule = R_SECTION.name
    section_match = _SECTION_HEADING.match
    new_paragraph = Paragraph
    append_rule, append_detail, append_start, append_end = (
        rules.append,
        details.append,
        starts.append,
        ends.append,
    )
    for b, text, how in zip(blocks, texts, plan, strict=True):
        if how == _P_BODY and cur is not None and not closed and not pending:
            # running text going on in the open article: the path of most paragraphs
            rule, detail = body_rule, _RUNNING_TEXT
        elif how & _P_SECTION and cur is not None and not closed and not pending and section_match(text):
            # a numbered heading inside the open article (what _planned_tag and the lead, section
            # or body branch below make of it): common in laws ("第十七条 …")
            rule, detail = section_rule, f"numbered heading '{text[:20]}'"
        else:
            if how == _P_CLASSIFY:
                t = _classify(b, text, cfg, furniture, indented_page, widest)
            elif how == _P_CLASSIFY_UNREPEATED:
                t = _classify(b, text, cfg, _UNREPEATED, indented_page, widest)
            else:
                t = _planned_tag(b, text, how, cfg, furniture, indented_page, widest)
            if t.tag == "headline":
                pending.append(t)
                if len(pending) > cfg.max_headline_lines:
                    extra = pending[: len(pending) - cfg.max_headline_lines]
                    del pending[: len(extra)]
                    keep = list(pending)
                    pending[:] = extra
                    flush_pending_as_body()
                    pending[:] = keep
                continue
            if t.tag == "furniture":
                if items and items[-1].kind == "furniture" and not pending:
                    fi = items[-1]
                else:
                    fi = Item(kind="furniture", line_start=b.line_start, line_end=b.line_end)
                    items.append(fi)
                # _paragraph, extend and ev written out: a page's running heads and dates
                start, end = b.line_start, b.line_end
                fi.paragraphs.append(new_paragraph(b.text, start, end, list(b.joins)))
                fi.line_start = min(fi.line_start, start) if fi.line_start else start
                fi.line_end = max(fi.line_end, end)
                append_rule(t.rule)
                append_detail(t.detail)
                append_start(start)
                append_end(end)
                continue
            if t.tag == "end":
                ev(t)
                if cur is not None:
                    extend(cur, b)
                    closed = True
                continue
            if t.tag == "caption":
                item = Item(kind="caption", line_start=b.line_start, line_end=b.line_end)
                if pending:
                    item.headline = [p.block.text.strip() for p in pending]
                    _assign_headline_roles(item, item.headline, cfg)
                    for p in pending:
                        ev(p)
                        extend(item, p.block)
                    pending.clear()
                item.paragraphs.append(_paragraph(b))
                item.byline = list(t.byline)
                items.append(item)
                ev(t)
                continue
            if t.tag == "byline":
                if pending or cur is None or closed:
                    # a leading byline (By JOHN SMITH after the headline) opens the article
                    item = start_article(t)
                    item.byline.extend(t.byline)
                    item.byline_text = b.text.strip()
                    extend(item, b)
                    cur, closed = item, False
                    ev(t, detail=t.detail + "; leading byline")
                else:
                    cur.byline.extend(t.byline)
                    cur.byline_text = (
                        b.text.strip() if not cur.byline_text else f"{cur.byline_text}\n{b.text.strip()}"
                    )
                    extend(cur, b)
                    # a trailing byline closes the article; a leading one (no body yet) does not
                    closed = bool(cur.paragraphs)
                    ev(t, detail=t.detail + ("; trailing byline" if closed else "; leading byline"))
                continue
            # lead, section heading or body
            if t.tag == "lead":
                if pending or cur is None or closed or cur.paragraphs or cur.lead:
                    cur = start_article(t)
                # else: the article was opened by its headline and a leading byline ("By JOHN SMITH")
                closed = False
                cur.lead = t.marker
                cur.byline.extend(t.byline)
            elif pending:
                cur = start_article(t)
                closed = False
            elif cur is None or closed:
                cur = Item(kind="other", line_start=b.line_start, line_end=b.line_end)
                items.append(cur)
                closed = False
                ev(t, R_ORPHAN.name, "body text with no headline or lead before it")
            rule, detail = t.rule, t.detail
        # _paragraph, extend and ev written out: this is the path of nearly every block
        start, end = b.line_start, b.line_end
        cur.paragraphs.append(new_paragraph(b.text, start, end, list(b.joins)))
        if not cur.line_start or start < cur.line_start:
            cur.line_start = start
        if end > cur.line_end:
            cur.line_end = end
        append_rule(rule)
        append_detail(detail)
        append_start(start)
        append_end(end)
    if pending:
        # headline lines with no body after them (end of page): an item of their own
        item = Item(kind="other", line_start=pending[0].block.line_start, line_end=pending[-1].block.line_end)
        item.headline = [p.block.text.strip() for p in pending]
        _assign_headline_roles(item, item.headline, cfg)
        for p in pending:
            ev(p, detail=p.detail + "; no body follows")
        items.append(item)
        pending.clear()
    if not rules:
        return items, []
    record = SegmentEvents(rules, details, starts, ends)
    return items, [record] if compact else record.expand()


def _page_keys(page: list[str], text: str | None = None) -> list[str]:
    """:func:`furniture_key` of every line of ``page``, by a few passes over the joined page text.

    Two ``re.sub`` per line cost more in call overhead than in matching on pages of short OCR
    lines; over the joined text they run once per page. The newline joining the lines is no
    ``\\d`` and is kept out of the whitespace class, so no match crosses it. ``text``: the lines
    joined by line feeds, when the caller has it.
    """
    if text is None:
        text = "\n".join(page)
    if text.count("\n") != len(page) - 1:
        return [furniture_key(line) for line in page]  # a line holding "\n": one by one
    folded = _DIGITS.sub("0", _SPACE_IN_LINE.sub(" ", text))
    # each line's leading/trailing whitespace is now at most one space: strip it at the seams
    return folded.replace(" \n", "\n").replace("\n ", "\n").strip(" ").split("\n")


def _furniture_line(t: str, cfg: SegmentConfig) -> bool:
    """A stripped, non-empty line that may be repeated furniture (bylines recur and are not)."""
    return not (
        _wider_than(t, cfg.max_furniture_cells) or _END_MARKER.match(t) or parse_byline(t) is not None
    )


def _candidate_lines_keyed(pages: list[list[str]], need: int) -> list[list[tuple[str, str]]]:
    """Per page, ``(line, key)`` of the lines whose key is not empty and on at least ``need`` pages,
    counted as strings; whether the line is short and no byline is tested by the caller."""
    page_keys = [_page_keys(page) for page in pages]
    counts: Counter[str] = Counter()
    for keys in page_keys:
        counts.update(set(keys))
    candidates = {k for k, n in counts.items() if n >= need and k}
    return [
        [(line, key) for line, key in zip(page, keys, strict=True) if key in candidates]
        for page, keys in zip(pages, page_keys, strict=True)
    ]


# _line_key_hashes's ``only`` that hashes every line
_EVERY_LINE = np.zeros(0, dtype=bool)
# Flags of the key's two character classes, per code point (what ``\s`` and ``\d`` match).
_K_SPACE = 1
_K_DIGIT = 2
# Most bits of a key hash kept (fewer when the page number needs more than 62 - this); tests
# narrow it to force collisions, which cost time only.
_KEY_HASH_BITS = 52


@cache
def _key_flags() -> np.ndarray:
    """:data:`_K_SPACE` / :data:`_K_DIGIT` of every code point, from the classes of
    :func:`furniture_key` themselves."""
    return textscan.class_table(((r"\s", _K_SPACE), (r"\d", _K_DIGIT)))


@jit.kernel
def _line_key_hashes(
    codes: np.ndarray, flags: np.ndarray, mask: int, out: np.ndarray, only: np.ndarray
) -> int:
    """``out[k]``: a hash of :func:`furniture_key` of the ``k``-th ``"\\n"``-separated line of
    ``codes``; 0 for an empty key and only for it. Returns the number of lines, of which those past
    ``out``'s size are counted only: the caller that expects as many lines as ``out`` holds learns
    from it whether one of its lines held a line feed, without counting them in the text first.

    ``only``: per line, whether to hash it (an empty array: every line); a line not hashed is
    only searched for its end (one comparison a character) and gets 0. A page's candidates for
    repeated furniture are its narrow paragraphs, and most of a page's text is in wide ones.

    The key is never built: whitespace runs inside the line count as one space, leading and
    trailing ones as nothing, a digit run as one ``0``. Two polynomial hashes, reduced modulo
    2**31 - 1 by one fold (so only to below 2**31 + 2**21), stay inside int64 in the compiled and
    the plain definition alike; their overlap in the combined value only adds collisions.
    """
    n = codes.shape[0]
    n_only = only.shape[0]
    line = 0
    h1 = 0
    h2 = 0
    size = 0
    pending = False  # whitespace since the key's last character
    digits = False  # the key's last character is a folded digit run
    skip = n_only > 0 and not only[0]  # the line is not hashed
    for i in range(n + 1):
        if i == n or codes[i] == 10:
            if line < out.shape[0]:
                if size == 0:
                    out[line] = 0
                else:
                    v = (h1 * 2147483648 + h2) & mask
                    out[line] = v if v != 0 else 1
            line += 1
            h1 = 0
            h2 = 0
            size = 0
            pending = False
            digits = False
            skip = line < n_only and not only[line]
            continue
        if skip:
            continue
        c = np.int64(codes[i])
        f = flags[c]
        if f & _K_SPACE:
            pending = size > 0
            digits = False
            continue
        if pending:
            x = h1 * 1000003 + 33
            h1 = (x & 2147483647) + (x >> 31)
            x = h2 * 999983 + 33
            h2 = (x & 2147483647) + (x >> 31)
            size += 1
            pending = False
        if f & _K_DIGIT:
            if digits:
                continue
            digits = True
            c = 48  # "0"
        else:
            digits = False
        # h * m + c + 1 modulo the prime 2**31 - 1, by folding the high bits onto the low ones: a
        # division per character costs more than the rest of the loop
        x = h1 * 1000003 + c + 1
        h1 = (x & 2147483647) + (x >> 31)
        x = h2 * 999983 + c + 1
        h2 = (x & 2147483647) + (x >> 31)
        size += 1
    return line


def _run_lengths(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of the sorted ``v`` and how often each occurs (``np.unique`` hashes
    int64 in numpy 2, several times slower on these arrays)."""
    if not len(v):
        return v, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], v[1:] != v[:-1])))
    return v[starts], np.diff(np.append(starts, len(v)))


def _candidate_lines_hashed(pages: list[list[str]], need: int) -> list[list[tuple[str, str]]] | None:
    """:func:`_candidate_lines_keyed` with keys counted as hashes by one compiled pass over all the
    pages' lines; only candidate lines get their key string. ``None``: a line holds ``"\\n"``.

    A hash is on at least as many pages as each key it stands for, so every candidate key is
    found; a collision only adds lines, whose exact count the caller takes anyway.
    """
    sizes = np.fromiter(map(len, pages), dtype=np.int64, count=len(pages))
    n_lines = int(sizes.sum())
    if not n_lines:
        return [[] for _ in pages]
    # each page joined, then the pages: twice the copying, yet some two times quicker than joining
    # the one list of all the lines (or making that list)
    codes = textscan.codes_of("\n".join(["\n".join(page) for page in pages if page]))
    # a hash and a page number share one int64, the hash in the high bits: one sort then finds the
    # distinct (key, page) pairs, grouped by key, so the pages of a key are counted without a
    # second sort
    page_bits = len(pages).bit_length()
    bits = min(_KEY_HASH_BITS, 62 - page_bits)
    hashes = np.empty(n_lines, dtype=np.int64)
    if _line_key_hashes(codes, _key_flags(), (1 << bits) - 1, hashes, _EVERY_LINE) != n_lines:
        return None
    page_of = np.repeat(np.arange(len(pages), dtype=np.int64), sizes)
    pairs = np.sort((hashes << page_bits) | page_of)
    distinct = np.empty(len(pairs), dtype=bool)
    distinct[0] = True
    np.not_equal(pairs[1:], pairs[:-1], out=distinct[1:])
    values, counts = _run_lengths(pairs[distinct] >> page_bits)
    wanted = values[(counts >= need) & (values != 0)]
    out: list[list[tuple[str, str]]] = [[] for _ in pages]
    if not len(wanted):
        return out
    # ``wanted`` is sorted: a binary search per line (np.isin sorts both arrays together)
    at = np.minimum(np.searchsorted(wanted, hashes), len(wanted) - 1)
    found = np.flatnonzero(wanted[at] == hashes)
    first_line = (np.cumsum(sizes) - sizes).tolist()
    for k, p in zip(found.tolist(), page_of[found].tolist(), strict=True):
        line = pages[p][k - first_line[p]]
        out[p].append((line, furniture_key(line)))
    return out


def repeated_furniture(pages: list[list[str]], cfg: SegmentConfig) -> frozenset[str]:
    """Keys (:func:`furniture_key`) of short lines recurring across the pages of one issue/shard.

    A key counts once per page on which some line with that key is short, no end marker and no
    byline. Those tests cost far more than the key, and only keys on many pages matter: every
    key is counted first (as a hash, by a compiled pass, when kernels are on), then the lines of
    the few that reach the threshold are recounted with the tests.
    """
    if len(pages) < cfg.furniture_min_pages:
        return frozenset()
    need = max(cfg.furniture_min_pages, math.ceil(cfg.furniture_min_page_fraction * len(pages)))
    candidates = _candidate_lines_hashed(pages, need) if jit.enabled() else None
    if candidates is None:
        candidates = _candidate_lines_keyed(pages, need)
    exact: Counter[str] = Counter()
    for page in candidates:
        found = set()
        for line, key in page:
            if key not in found and _furniture_line(line.strip(), cfg):
                found.add(key)
        exact.update(found)
    return frozenset(k for k, n in exact.items() if n >= need)
