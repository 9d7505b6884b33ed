"""Plain data objects passed between the cleaning stages.

Every stage keeps the 1-based line numbers of the *decoded* source: repair and
normalization work line by line and never add or remove a line, so a paragraph
can always point back at ``source_line_start..source_line_end``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# A detail or before/after text may be given as a zero-argument callable: it is
# formatted only when someone reads it (explain, the JSON output). Layout records a
# decision for every line break of a page, and formatting those strings eagerly
# cost as much as making the decisions.
LazyText = str | Callable[[], str]


class Event:
    """One change or decision, made by a named rule.

    ``line``/``line_end`` are 1-based lines of the decoded source (``None`` for
    whole-file decisions such as the encoding). ``before``/``after`` hold the
    changed text where there is one, so ``presswash explain`` can show it.
    ``detail``, ``before`` and ``after`` may be passed as callables (see
    :data:`LazyText`); reading the attribute formats them once.
    """

    __slots__ = ("_after", "_before", "_detail", "line", "line_end", "rule", "stage")

    def __init__(
        self,
        rule: str,
        stage: str,
        detail: LazyText,
        line: int | None = None,
        line_end: int | None = None,
        before: LazyText | None = None,
        after: LazyText | None = None,
    ) -> None:
        self.rule = rule
        self.stage = stage
        self._detail = detail
        self.line = line
        self.line_end = line_end
        self._before = before
        self._after = after

    @property
    def detail(self) -> str:
        if not isinstance(self._detail, str):
            self._detail = self._detail()
        return self._detail

    @detail.setter
    def detail(self, value: LazyText) -> None:
        self._detail = value

    @property
    def before(self) -> str | None:
        if self._before is not None and not isinstance(self._before, str):
            self._before = self._before()
        return self._before

    @property
    def after(self) -> str | None:
        if self._after is not None and not isinstance(self._after, str):
            self._after = self._after()
        return self._after

    def _key(self) -> tuple:
        return (self.rule, self.stage, self.detail, self.line, self.line_end, self.before, self.after)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and self._key() == other._key()

    __hash__ = None  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        return (
            f"Event(rule={self.rule!r}, stage={self.stage!r}, detail={self.detail!r}, line={self.line!r}, "
            f"line_end={self.line_end!r}, before={self.before!r}, after={self.after!r})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "stage": self.stage,
            "detail": self.detail,
            "line": self.line,
            "line_end": self.line_end,
            "before": self.before,
            "after": self.after,
        }


class EventRecord(Event):
    """Many events of one stage and page kept as one object, so that a page of routine
    decisions does not cost an object per decision: :meth:`spans` gives what the ``rules``
    column needs, :meth:`expand` the events themselves, in the order they were made
    (:func:`expand_events`)."""

    __slots__ = ()

    def spans(self) -> tuple[list[str], Any, Any, Any]:
        """Rule names, and per event (numpy arrays) the index of its rule name, its first and
        last line."""
        raise NotImplementedError

    def expand(self) -> list[Event]:
        raise NotImplementedError


def expand_events(events: list[Event]) -> list[Event]:
    """``events`` with each :class:`EventRecord` replaced by the events it holds."""
    if not any(isinstance(e, EventRecord) for e in events):
        return events
    return [x for e in events for x in (e.expand() if isinstance(e, EventRecord) else (e,))]


@dataclass(slots=True)
class SourceDoc:
    """One document read from the input: a text file, a zip member or a JSONL record.

    ``source_path`` is relative to the input root the user gave (POSIX
    separators), with ``!member`` for archive members and ``#L<n>`` for JSONL
    records, so ids never depend on where the data sits on disk.
    ``data`` is raw bytes for text files and already-decoded ``str`` for JSONL
    records (JSON is UTF-8 by definition).
    """

    source_path: str
    source_sha256: str
    data: bytes | str
    metadata: dict[str, Any] = field(default_factory=dict)
    # changes the reader already made (e.g. stray NUL bytes stripped), with line numbers
    events: list[Event] = field(default_factory=list)


@dataclass(slots=True)
class Reject:
    """An input (or part of one) that produced no documents, with a stable reason code."""

    source_path: str
    reason: str
    detail: str
    source_sha256: str | None = None
    size_bytes: int | None = None


@dataclass(slots=True)
class DecodeInfo:
    encoding: str
    method: str
    confidence: float
    other_encoding_lines: int = 0
    replacement_chars: int = 0


@dataclass(slots=True)
class Block:
    """A paragraph rebuilt from one or more source lines by the layout stage."""

    text: str
    line_start: int
    line_end: int
    # rule names of the joins made inside this block, one per joined line break
    joins: list[str] = field(default_factory=list)
    # the block started with a paragraph indent (U+3000 or spaces)
    indented: bool = False
    # a blank line (or more) preceded this block in the source
    after_blank: bool = False


@dataclass(slots=True)
class Byline:
    role: str
    name: str


@dataclass(slots=True)
class Paragraph:
    text: str
    line_start: int
    line_end: int
    joins: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Item:
    """One unit of a page: an article, a photo caption, a brief or page furniture."""

    kind: str  # article | caption | furniture | other
    headline: list[str] = field(default_factory=list)
    title: str | None = None
    kicker: str | None = None
    subtitle: str | None = None
    lead: str | None = None  # the lead marker, e.g. "本报讯" or "WASHINGTON (AP) —"
    byline: list[Byline] = field(default_factory=list)
    byline_text: str | None = None  # a trailing byline line, kept verbatim (not a body paragraph)
    paragraphs: list[Paragraph] = field(default_factory=list)
    line_start: int = 0
    line_end: int = 0
