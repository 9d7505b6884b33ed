"""The README documents every CLI command and every column of every public table.

The README is the one home of the production guide, the CLI reference and the
output reference.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from cleaning.schema import PUBLIC_TABLES
from flows.cli import build_parser
from flows.params import FlowParams

REPO = Path(__file__).resolve().parent.parent


def cli_commands() -> list[str]:
    """Every command line a user can type: ``presswash run``, ``presswash config show``, ..."""
    found = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                        walk(sub, f"{prefix} {name}")
                    else:
                        found.append(f"{prefix} {name}")

    walk(build_parser(), "presswash")
    return found


def cli_options() -> dict[str, list[str]]:
    opts: dict[str, list[str]] = {}
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        opts[name] = [s for a in p._actions for s in a.option_strings if s.startswith("--") and s != "--help"]
    return opts


def _text(name: str) -> str:
    return (REPO / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("doc", ["README.md"])
def test_every_cli_command_and_option_is_documented(doc: str) -> None:
    text = _text(doc)
    missing = [c for c in cli_commands() if c not in text]
    assert not missing, f"{doc} does not show: {missing}"
    missing_opts = [f"{cmd} {o}" for cmd, opts in cli_options().items() for o in opts if o not in text]
    assert not missing_opts, f"{doc} does not mention the options: {missing_opts}"


@pytest.mark.parametrize("doc", ["README.md"])
def test_every_public_column_is_documented(doc: str) -> None:
    text = _text(doc)
    missing = [
        f"{table}.{field.name}"
        for table, schema in PUBLIC_TABLES.items()
        for field in schema
        if not re.search(rf"`{re.escape(field.name)}`", text)
    ]
    assert not missing, f"{doc} does not document the columns: {missing}"


def test_presswash_toml_is_valid_and_names_every_run_setting() -> None:
    text = _text("presswash.toml")
    params = FlowParams.from_toml(REPO / "presswash.toml")
    assert params.out == "data/clean"
    run_fields = set(FlowParams.model_fields) - set(FlowParams.__mro__[1].model_fields)
    missing = [f for f in run_fields if not re.search(rf"^#? ?{f} = ", text, re.M)]
    assert not missing, f"presswash.toml does not show: {missing}"


def test_readme_command_lines_parse() -> None:
    """Every ``presswash …`` command line in the README parses."""
    parser = build_parser()
    code = "\n".join(re.findall(r"^```[a-z]*\n(.*?)^```", _text("README.md"), re.M | re.S))
    lines = [m.group(1) for m in re.finditer(r"^\s*(?:\$ )?presswash (.+)$", code, re.M)]
    assert lines
    for line in lines:
        argv = [a.strip("'\"") for a in re.findall(r"\"[^\"]*\"|'[^']*'|\S+", line.split(" #")[0])]
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            if exc.code != 0:  # --help exits 0
                raise AssertionError(f"not a valid command line: presswash {line}") from None


def test_readme_bad_input_table_names_every_reason_code() -> None:
    from cleaning.reader import REASON_CODES

    text = _text("README.md")
    section = text[text.index("## What happens to bad input") :]
    missing = [code for code in REASON_CODES if f"`{code}`" not in section]
    assert not missing, f"README's bad-input table does not name: {missing}"


def test_readme_opens_with_the_two_setup_commands() -> None:
    text = _text("README.md")
    block = text[text.index("```bash") : text.index("```", text.index("```bash") + 3)]
    assert "presswash run data/raw" in block
    assert "pytest" in block
    assert text.index("```bash") < text.index("## ")
