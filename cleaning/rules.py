"""The registry of named cleaning rules.

Every change or decision presswash makes is attributed to a rule registered
here. A rule has a dotted name (``stage.what_it_does``), a one-line summary
users see in ``presswash rules`` and ``presswash explain``, and a *case
function* that the maintainers' case files (``tests/cases/*.json``) call with a
case's input to get the output to compare against the case's ``expected``.

Stage modules register their rules at import time with :func:`rule`;
:func:`all_rules` imports every stage module so the registry is complete.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Modules that register rules. Kept explicit (not discovered) so the registry's
# contents never depend on what happens to be importable.
RULE_MODULES: tuple[str, ...] = (
    "cleaning.reader",
    "cleaning.decode",
    "cleaning.mojibake",
    "cleaning.repair",
    "cleaning.normalize",
    "cleaning.layout",
    "cleaning.segment",
    "cleaning.dedup",
)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    stage: str
    summary: str
    # Maps a case's input (str, or bytes for byte-level rules) to the output that
    # the case's ``expected`` is compared with. ``None``: the rule has no cases
    # of its own (it is covered by the stage tests).
    case_fn: Callable[[Any], Any] | None = None


_REGISTRY: dict[str, Rule] = {}


def register(name: str, stage: str, summary: str, case_fn: Callable[[Any], Any] | None = None) -> Rule:
    """Register a rule (idempotent for the same name and stage)."""
    if not name.startswith(stage + "."):
        raise ValueError(f"rule name {name!r} must start with its stage {stage!r}")
    existing = _REGISTRY.get(name)
    if existing is not None and existing.stage != stage:
        raise ValueError(f"rule {name!r} registered twice with different stages")
    r = Rule(name=name, stage=stage, summary=summary, case_fn=case_fn)
    _REGISTRY[name] = r
    return r


def rule(name: str, stage: str, summary: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register a text rule whose function is also its case function.

    The decorated function must accept the case input as its only required
    argument (config arguments need defaults).
    """

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        register(name, stage, summary, case_fn=fn)
        fn.rule_name = name  # type: ignore[attr-defined]
        return fn

    return deco


def all_rules() -> dict[str, Rule]:
    """Every registered rule, by name (imports all stage modules first)."""
    for mod in RULE_MODULES:
        importlib.import_module(mod)
    return dict(sorted(_REGISTRY.items()))


def get_rule(name: str) -> Rule:
    rules = all_rules()
    try:
        return rules[name]
    except KeyError:
        raise KeyError(f"unknown rule {name!r}; known: {', '.join(rules)}") from None
