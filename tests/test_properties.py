"""Property tests: reading and the per-document pipeline never raise on arbitrary input.

``cleaning.pipeline.process_document`` must turn any bytes and any Unicode text
into a ``DocResult`` or a ``Reject`` with a known reason code, and a
``DocResult`` must give rows the Parquet schemas accept. The reader must turn
any bytes, under any supported file name, into documents and rejects only.
"""

from __future__ import annotations

import gzip
import io
import os
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaning import reader
from cleaning.config import CleaningConfig
from cleaning.model import Reject, SourceDoc
from cleaning.pipeline import DocResult, document_rows, process_document, split_lines
from cleaning.reader import REASON_CODES, InputFile, ReadConfig, read_file
from cleaning.rules import all_rules
from cleaning.schema import ARTICLES, PARAGRAPHS, table_from_rows

CFG = CleaningConfig()
RULES = all_rules()
# PRESSWASH_PROP_EXAMPLES=1000 for a deeper local search; CI keeps the default small.
PROPS = settings(
    max_examples=int(os.environ.get("PRESSWASH_PROP_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Characters the stages treat specially, mixed into arbitrary text so examples hit them often.
SPECIAL = list(
    "，。、；：？！“”‘’（）《》【】—…·　\u3000\u200b\u200d\ufeff\u00ad\u2028\u2029\x85\x0c\x0b\r\n\t\x00\x1b"
    "本报讯记者通讯员摄完善具体积极臺灣新聞ＡＢＣ１２３ｱ가"
)
texts = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(SPECIAL)),
    max_size=400,
)
# Line-structured text: headline-like short lines, blank lines, long body lines.
paged = st.lists(
    st.one_of(st.just(""), texts, st.text(alphabet=st.sampled_from(SPECIAL), min_size=5, max_size=80)),
    max_size=25,
).map("\n".join)


def _check_result(result: DocResult | Reject, doc: SourceDoc) -> None:
    if isinstance(result, Reject):
        assert result.reason in REASON_CODES, result
        assert result.source_path == doc.source_path
        return
    assert isinstance(result, DocResult)
    n = len(result.lines)
    for event in result.expanded_events():
        assert event.rule in RULES, f"event names unregistered rule {event.rule!r}"
        assert RULES[event.rule].stage == event.stage
        if event.line is not None:
            assert 1 <= event.line <= max(n, 1), event
    for item in result.items:
        for p in item.paragraphs:
            assert 1 <= p.line_start <= p.line_end <= n
    articles, paragraphs = document_rows(result, CFG)
    # The rows must be storable: valid UTF-8 strings, the exact schema types.
    table_from_rows(articles, ARTICLES)
    table_from_rows(paragraphs, PARAGRAPHS)


def _doc(data: bytes | str) -> SourceDoc:
    return SourceDoc(source_path="prop.txt", source_sha256="0" * 64, data=data)


@PROPS
@given(st.binary(max_size=3000))
def test_pipeline_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    doc = _doc(data)
    _check_result(process_document(doc, CFG), doc)


@PROPS
@given(paged, st.sampled_from(["utf-8", "gb18030", "big5", "utf-16", "utf-16-le", "cp1252", "shift_jis"]))
def test_pipeline_never_raises_on_encoded_text(text: str, encoding: str) -> None:
    doc = _doc(text.encode(encoding, errors="replace"))
    _check_result(process_document(doc, CFG), doc)


@PROPS
@given(paged)
def test_pipeline_never_raises_on_arbitrary_text(text: str) -> None:
    doc = _doc(text)  # a JSONL record: already str
    _check_result(process_document(doc, CFG), doc)


@PROPS
@given(
    st.binary(max_size=2000) | paged.map(lambda t: t.encode("utf-8")),
    st.sampled_from(["p.txt", "p.jsonl", "p.txt.gz", "p.jsonl.gz", "p.zip", "zipped.zip", "gz.txt.gz"]),
)
def test_reader_never_raises_on_arbitrary_bytes_under_any_name(data: bytes, name: str) -> None:
    if name == "zipped.zip":  # arbitrary bytes as members of a valid archive
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("a.txt", data)
            zf.writestr("b.jsonl", data)
        data = buf.getvalue()
    elif name == "gz.txt.gz":
        data = gzip.compress(data)
    cfg = ReadConfig(max_line_bytes=1000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        f = InputFile(path=path, source_path=name, size=len(data))
        for item in read_file(f, cfg):
            assert isinstance(item, SourceDoc | Reject)
            if isinstance(item, Reject):
                assert item.reason in REASON_CODES, item
                continue
            assert item.source_path.startswith(name)
            item.source_path.encode("utf-8")
            if isinstance(item.data, str):
                item.data.encode("utf-8")  # no lone surrogates reach the pipeline
            _check_result(process_document(item, CFG), item)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"\xe4\xb8\xad", b"\x00", b"\n", b"\r", b"\r\n", b" "]), max_size=300))
def test_strip_nul_bytes_counts_every_nul_on_its_line(parts: list[bytes]) -> None:
    data = b"".join(parts)
    stripped, events = reader.strip_nul_bytes(data)
    assert stripped == data.replace(b"\x00", b"")
    if b"\x00" not in data:
        assert events == []
        return
    line_events = [e for e in events if e.line is not None]
    total = sum(int(e.detail.split()[1]) for e in line_events[: reader._MAX_LINE_EVENTS])
    assert total == data.count(0)
    n_lines = len(split_lines(stripped.decode("utf-8")))
    assert all(1 <= e.line <= max(n_lines, 1) for e in line_events)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from([b"x", b"yy", b"\n", b"\r", b"\r\n", b"z" * 50]), max_size=200),
    st.integers(min_value=1, max_value=64),
)
def test_line_tracker_agrees_with_split_lines_at_any_chunking(parts: list[bytes], chunk: int) -> None:
    data = b"".join(parts)
    expected = max((len(line) for line in split_lines(data.decode("ascii"))), default=0)
    assert reader.longest_line_bytes(data) == expected
    tracker = reader._LineTracker()
    for off in range(0, len(data), chunk):
        tracker.feed(data[off : off + chunk])
    assert tracker.longest == expected


@pytest.mark.parametrize("n", [0, 1, 5])
def test_sniff_never_calls_text_binary_when_it_is_only_han(n: int) -> None:
    text = ("中華民國總統府新聞稿" * 30 + "\n") * (n + 1)
    for enc in ("utf-8", "gb18030", "big5", "utf-16-le", "utf-16-be"):
        assert reader.sniff_bytes(text.encode(enc), ReadConfig()).binary is None, enc


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab中\r\n\u2028\x85 ")), max_size=30))
def test_split_lines_is_the_line_break_regex(text: str) -> None:
    """``\\r\\n``, ``\\r`` and ``\\n`` end a line (and nothing else), with or without a CR in the text."""
    import re

    expected = re.split(r"\r\n|\r|\n", text)
    if len(expected) > 1 and expected[-1] == "":
        expected.pop()
    assert split_lines(text) == expected
