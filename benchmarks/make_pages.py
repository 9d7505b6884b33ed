"""Realistic page dumps with ground truth, built from real text.

A page is a sequence of *units* (a headline line, a body paragraph, a byline
line, a caption, a page-furniture line), each knowing the paragraph and the
article it belongs to. :func:`render` lays the units out the way OCR dumps
and typeset text files arrive:

* hard-wrapped at a column width measured in **display cells** (a Han
  character is 2 cells, ASCII 1; ambiguous punctuation such as “” — … counts 2
  as printed in Chinese typesetting); ASCII runs (``2020``, ``5G``) are never
  split; punctuation that may not start a line hangs at the end of the previous
  one (GB/T 15834 line breaking); a break at a space keeps the space as the
  line's trailing space;
* body paragraphs (and captions) start with a ``　　`` indent (or not), with or
  without blank lines between paragraphs; headlines and bylines are not
  indented;
* page furniture (running header with paper, date, weekday, page label) at the
  top of every page of ``page_lines`` lines, i.e. also in the middle of an
  article;
* CRLF line ends and legacy encodings (GB18030, Big5) via :func:`encode_page`.

Everything is deterministic for a given ``random.Random`` seed. The line →
unit map of a :class:`RenderedPage` is the ground truth the layout scorer
(``benchmarks/layout_eval.py``) compares against.

``make_page(articles, rng, generation)`` is the entry point
``benchmarks/corpus.py`` uses for its benchmark page sets.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from cleaning.layout import display_width

INDENT = "\u3000\u3000"
# May not start a line (hangs at the end of the previous one instead).
_NO_LINE_START = frozenset("、，。：；！？）」』”’〕】》〉…,.;:!?)")
# May not end a line (moves to the next one).
_NO_LINE_END = frozenset("“‘「『（〔【《〈(")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.,'%\-]*[A-Za-z0-9%]|[A-Za-z0-9]| |.", re.S)

_PAPERS_HANS = ("东方日报", "城市晚报", "法制周刊", "滨海商报")
_PAPERS_HANT = ("中央日報", "民生晚報", "新聞週刊", "港都時報")
_SECTIONS_HANS = ("要闻", "本地新闻", "综合", "法治", "经济")
_SECTIONS_HANT = ("要聞", "地方新聞", "綜合", "政治", "經濟")
_WEEKDAYS = "一二三四五六日"
_NUMERALS = "〇一二三四五六七八九十"
# Byline names for assembled pages: common surnames and given-name characters.
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂华建国志红"


@dataclass(slots=True)
class Unit:
    """One printed unit. ``para``: ground-truth paragraph id (several units may share one,
    e.g. a broken paragraph); ``article``: ground-truth item id (``None``: furniture)."""

    text: str
    role: str  # kicker | title | subtitle | headline | body | lead | byline | caption | furniture
    para: int
    article: int | None
    indent: bool = False


@dataclass(slots=True)
class TruthItem:
    kind: str
    headline: list[str] = field(default_factory=list)
    title: str | None = None
    kicker: str | None = None
    subtitle: str | None = None
    paragraphs: list[str] = field(default_factory=list)
    byline: list[tuple[str, str]] = field(default_factory=list)
    byline_text: str | None = None


@dataclass(slots=True)
class RenderedPage:
    lines: list[str]
    line_unit: list[int | None]  # index into ``units`` per line (None: blank line)
    units: list[Unit]
    truth: list[TruthItem]
    width: int | None
    meta: dict[str, Any] = field(default_factory=dict)

    def text(self, crlf: bool = False) -> str:
        return ("\r\n" if crlf else "\n").join(self.lines) + ("\r\n" if crlf else "\n")

    def line_para(self) -> list[int | None]:
        return [None if u is None else self.units[u].para for u in self.line_unit]

    def line_article(self) -> list[int | None]:
        return [None if u is None else self.units[u].article for u in self.line_unit]


# ---------------------------------------------------------------- wrapping


def wrap_cells(text: str, width: int, first_prefix: str = "", ambiguous_wide: bool = True) -> list[str]:
    """Hard-wrap ``text`` at ``width`` display cells the way Chinese typesetting does.

    ASCII words are never split (unless longer than a line); line-start-forbidden
    punctuation hangs on the previous line; opening brackets move to the next
    line; a break at a space leaves the space at the end of the line.
    """
    lines: list[str] = []
    cur = first_prefix
    cur_w = display_width(cur, ambiguous_wide)
    for tok in _TOKEN.findall(text):
        w = display_width(tok, ambiguous_wide)
        if cur_w + w <= width or not cur.strip():
            if tok == " " and not cur.strip():
                continue
            cur += tok
            cur_w += w
            continue
        if tok == " ":
            cur += " "  # the break falls at the space: it stays as trailing space
            lines.append(cur)
            cur, cur_w = "", 0
            continue
        if tok[0] in _NO_LINE_START:
            cur += tok  # hanging punctuation
            cur_w += w
            continue
        carry = ""
        while cur and cur[-1] in _NO_LINE_END:
            carry = cur[-1] + carry
            cur = cur[:-1]
        if not cur.strip():
            cur, carry = cur + carry, ""
            cur += tok
            cur_w = display_width(cur, ambiguous_wide)
            continue
        lines.append(cur)
        cur = carry + tok
        cur_w = display_width(cur, ambiguous_wide)
        while cur_w > width and len(cur) > 1 and tok.isascii():
            # an ASCII run longer than the line: split it by cells
            cut = 0
            acc = 0
            for i, ch in enumerate(cur):
                acc += display_width(ch, ambiguous_wide)
                if acc > width:
                    cut = i
                    break
            if cut == 0:
                break
            lines.append(cur[:cut])
            cur = cur[cut:]
            cur_w = display_width(cur, ambiguous_wide)
    if cur.strip():
        lines.append(cur)
    return lines or [first_prefix]


# ---------------------------------------------------------------- rendering


@dataclass(slots=True)
class Layout:
    """How to print units. ``width``: column width in display cells (``None``: one unit per line)."""

    width: int | None = 24
    indent: bool = True
    blank_lines: bool = False
    page_lines: int | None = None  # insert running-header furniture every so many lines
    header: str | None = None  # the furniture text (page label digits are advanced per page)
    ambiguous_wide: bool = True


def render(units: list[Unit], truth: list[TruthItem], layout: Layout) -> RenderedPage:
    """Lay the units out as page lines; the line → unit map is kept."""
    lines: list[str] = []
    line_unit: list[int | None] = []
    all_units = list(units)
    page_no = 1

    def header_lines() -> None:
        nonlocal page_no
        if layout.header is None:
            return
        text = re.sub(r"第\d+版", f"第{page_no}版", layout.header)
        page_no += 1
        all_units.append(Unit(text=text, role="furniture", para=-len(all_units) - 1, article=None))
        lines.append(text)
        line_unit.append(len(all_units) - 1)

    if layout.page_lines:
        header_lines()
    for ui, u in enumerate(units):
        prefix = INDENT if (u.indent and layout.indent) else ""
        if layout.width is None:
            printed = [prefix + u.text]
        else:
            printed = wrap_cells(u.text, layout.width, prefix, layout.ambiguous_wide)
        for pl in printed:
            if layout.page_lines and lines and len(lines) % layout.page_lines == 0:
                header_lines()
            lines.append(pl)
            line_unit.append(ui)
        if layout.blank_lines:
            lines.append("")
            line_unit.append(None)
    while lines and lines[-1] == "":
        lines.pop()
        line_unit.pop()
    return RenderedPage(lines, line_unit, all_units, truth, layout.width, {"layout": layout})


def encode_page(text: str, encoding: str = "utf-8", crlf: bool = False) -> bytes:
    """The page's bytes in ``encoding``; characters the code page lacks raise ``UnicodeEncodeError``."""
    if crlf:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return text.encode(encoding)


# ---------------------------------------------------------------- pages from articles


def _name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))


def _fold_hant(text: str, hant: bool) -> str:
    return to_traditional(text) if hant else text


def _cn_date(date: str, hant: bool, rng: random.Random) -> str:
    y, m, d = ([*date.split("-"), "1", "1"] if date else ["2020", "1", "1"])[:3]
    try:
        return f"{int(y)}年{int(m)}月{int(d)}日 星期{rng.choice(_WEEKDAYS)}"
    except ValueError:
        return f"2020年1月1日 星期{rng.choice(_WEEKDAYS)}"


def article_units(
    articles: list[Any],
    rng: random.Random,
    bylines: float = 0.5,
    leads: float = 0.0,
    max_paragraphs: int | None = None,
) -> tuple[list[Unit], list[TruthItem]]:
    """Units and ground truth for a list of ``benchmarks.corpus.Article``.

    ``bylines``: probability of a trailing byline line (``记者 A 通讯员 B``);
    ``leads``: probability that the first paragraph opens with ``本报讯 （记者 A）``.
    """
    units: list[Unit] = []
    truth: list[TruthItem] = []
    para = 0
    for art in articles:
        hant = getattr(art, "script", "hans") == "hant"
        aid = len(truth)
        t = TruthItem(kind="article")
        title = art.title.strip()
        if not title:
            continue
        units.append(Unit(title, "title", para, aid))
        t.headline.append(title)
        t.title = title
        para += 1
        sub = (getattr(art, "subtitle", "") or "").strip()
        if sub:
            text = sub if sub.startswith("—") else "——" + sub
            units.append(Unit(text, "subtitle", para, aid))
            t.headline.append(text)
            t.subtitle = text.lstrip("—")
            para += 1
        paras = [p for p in art.paragraphs if p.strip()]
        if max_paragraphs:
            paras = paras[:max_paragraphs]
        for k, p in enumerate(paras):
            if k == 0 and rng.random() < leads and re.search(r"[。！？」”]$", p):
                reporter = _name(rng)
                marker = "本報訊" if hant else "本报讯"
                role = "記者" if hant else "记者"
                p = f"{marker}（{role} {reporter}）{p}"
                t.byline.append(("reporter", _fold_hant(reporter, hant)))
            units.append(Unit(p, "body", para, aid, indent=True))
            t.paragraphs.append(p)
            para += 1
        if rng.random() < bylines:
            a, b = _name(rng), _name(rng)
            if hant:
                a, b = _fold_hant(a, True), _fold_hant(b, True)
            text = f"{'記者' if hant else '记者'} {a} {'通訊員' if hant else '通讯员'} {b}"
            units.append(Unit(text, "byline", para, aid))
            t.byline += [("reporter", a), ("correspondent", b)]
            t.byline_text = text
            para += 1
        truth.append(t)
    return units, truth


def page_header(articles: list[Any], rng: random.Random) -> str:
    hant = getattr(articles[0], "script", "hans") == "hant"
    paper = rng.choice(_PAPERS_HANT if hant else _PAPERS_HANS)
    section = rng.choice(_SECTIONS_HANT if hant else _SECTIONS_HANS)
    date = _cn_date(getattr(articles[0], "date", "") or "", hant, rng)
    return f"{paper} {date} 第1版 {section}"


def assemble_page(
    articles: list[Any],
    rng: random.Random,
    width: int | None,
    indent: bool = True,
    blank_lines: bool = False,
    furniture: bool = True,
    page_lines: int = 60,
    bylines: float = 0.5,
    leads: float = 0.3,
    max_paragraphs: int | None = 12,
) -> RenderedPage:
    """A rendered page with ground truth from real articles."""
    units, truth = article_units(articles, rng, bylines=bylines, leads=leads, max_paragraphs=max_paragraphs)
    layout = Layout(
        width=width,
        indent=indent,
        blank_lines=blank_lines,
        page_lines=page_lines if furniture else None,
        header=page_header(articles, rng) if furniture else None,
    )
    return render(units, truth, layout)


def make_page(articles: list[Any], rng: random.Random | None = None, generation: int = 0) -> str:
    """Page text for ``benchmarks.corpus`` (its ``generation`` > 0 reprints with variation)."""
    rng = rng or random.Random(0)
    if generation:
        from benchmarks.corpus import _vary_paragraphs

        articles = [
            type(a)(a.title, a.subtitle, _vary_paragraphs(a.paragraphs, rng, generation), a.date, a.script)
            for a in articles
        ]
    width = rng.choice((20, 24, 30, 36, 44, 60)) if rng.random() < 0.85 else None
    page = assemble_page(
        articles,
        rng,
        width=width,
        indent=rng.random() < 0.85 or width is None,
        blank_lines=width is None or rng.random() < 0.3,
        furniture=True,
        page_lines=rng.choice((40, 60, 80)),
        max_paragraphs=None,
    )
    return page.text()


# ---------------------------------------------------------------- the seed in other shapes


def seed_units(lines: list[str], roles: dict[int, str]) -> tuple[list[Unit], dict[int, int]]:
    """Units of a one-paragraph-per-line page (the seed); ``roles``: 1-based line → role for the
    non-body lines (headline, byline). Returns the units and the source line → unit index map."""
    units: list[Unit] = []
    where: dict[int, int] = {}
    for i, ln in enumerate(lines, start=1):
        if not ln.strip():
            continue
        role = roles.get(i, "body")
        where[i] = len(units)
        units.append(Unit(ln.strip(), role, para=i, article=None, indent=role in ("body", "caption", "lead")))
    return units, where


SHAPES: dict[str, dict[str, Any]] = {
    "as-given": {},
    "crlf": {"crlf": True},
    "gb18030": {"encoding": "gb18030"},
    "big5": {"encoding": "big5", "traditional": True},
    "fullwidth-punct": {"fullwidth": True},
    "wrap18-indent": {"width": 18},
    "wrap24-indent": {"width": 24},
    "wrap24-crlf-gb18030": {"width": 24, "crlf": True, "encoding": "gb18030", "fullwidth": True},
    "wrap30-blank": {"width": 30, "blank_lines": True},
}

_HALF_TO_FULL = str.maketrans({",": "，", ":": "：", ";": "；", "?": "？", "!": "！", "(": "（", ")": "）"})
_BETWEEN_HAN = re.compile(r"(?<=[\u3400-\u9fff”“）])([,:;?!()])|([,:;?!()])(?=[\u3400-\u9fff“”（])")


def fullwidth_punct(text: str) -> str:
    """Half-width punctuation next to Han characters → full-width (what normalization produces)."""
    text = re.sub(r"(?<=[\u3400-\u9fff]) (?=[（(])|(?<=[）)]) (?=[\u3400-\u9fff])", "", text)
    return _BETWEEN_HAN.sub(lambda m: (m.group(1) or m.group(2)).translate(_HALF_TO_FULL), text)


@cache
def _s2tw() -> Any:
    import opencc

    return opencc.OpenCC("s2tw")  # building the converter loads its dictionaries (~0.4 s)


def to_traditional(text: str) -> str:
    return _s2tw().convert(text)


def seed_shape(seed_text: str, roles: dict[int, str], shape: str) -> tuple[bytes, dict[str, Any]]:
    """The seed page in one of :data:`SHAPES`; returns its bytes and the shape's options."""
    opts = SHAPES[shape]
    text = seed_text.replace("\r\n", "\n")
    if opts.get("fullwidth"):
        text = fullwidth_punct(text)
    if opts.get("traditional"):
        text = to_traditional(text)
    lines = text.split("\n")
    if opts.get("width"):
        units, _ = seed_units(lines, roles)
        page = render(units, [], Layout(width=opts["width"], blank_lines=opts.get("blank_lines", False)))
        text = page.text()
    return encode_page(text, opts.get("encoding", "utf-8"), opts.get("crlf", False)), opts
