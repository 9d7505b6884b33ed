"""Runs every case in ``tests/cases/*.json`` against its named rule.

A case file holds one family of cases::

    {"family": "normalize", "cases": [
      {"id": "comma-between-han", "rule": "normalize.halfwidth_punct_to_fullwidth",
       "input": "你好,世界", "expected": "你好，世界", "expect": "pass"}, ...]}

``input`` may be given as ``input_hex`` or ``input_b64`` (bytes) instead. A
negative case (text that must stay unchanged) omits ``expected`` or sets
``"unchanged": true``. ``expect: fail`` marks a known failure, run as strict xfail.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from cleaning.rules import all_rules

CASES_DIR = Path(__file__).parent / "cases"


def _load_cases() -> list[pytest.param]:
    params = []
    for path in sorted(CASES_DIR.glob("*.json")):
        family = json.loads(path.read_text(encoding="utf-8"))
        for case in family["cases"]:
            marks = []
            if case.get("expect", "pass") == "fail":
                marks.append(pytest.mark.xfail(strict=True, reason=case.get("note", "known failure")))
            params.append(pytest.param(case, id=f"{path.stem}:{case['id']}", marks=marks))
    return params


def _case_input(case: dict):
    if "input_hex" in case:
        return bytes.fromhex(case["input_hex"])
    if "input_b64" in case:
        return base64.b64decode(case["input_b64"])
    return case["input"]


CASES = _load_cases()


def test_case_ids_are_unique() -> None:
    ids = [p.id for p in CASES]
    assert len(ids) == len(set(ids))


def test_every_rule_with_a_case_function_has_positive_and_negative_cases() -> None:
    rules = all_rules()
    seen: dict[str, set[str]] = {}
    for p in CASES:
        case = p.values[0]
        kind = "negative" if ("expected" not in case or case.get("unchanged")) else "positive"
        if kind == "positive" and case.get("expected") == case.get("input"):
            kind = "negative"
        seen.setdefault(case["rule"], set()).add(kind)
    missing = [
        name
        for name, r in rules.items()
        if r.case_fn is not None and seen.get(name, set()) != {"positive", "negative"}
    ]
    assert not missing, f"rules without both positive and negative cases: {missing}"


@pytest.mark.parametrize("case", CASES)
def test_rule_case(case: dict) -> None:
    rules = all_rules()
    assert case["rule"] in rules, f"case names unknown rule {case['rule']!r}"
    r = rules[case["rule"]]
    assert r.case_fn is not None, f"rule {r.name} has no case function"
    given = _case_input(case)
    expected = given if ("expected" not in case or case.get("unchanged")) else case["expected"]
    assert r.case_fn(given) == expected
