"""The presswash command line: every command, fast ones without Prefect."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from cleaning.rules import all_rules
from cleaning.schema import PUBLIC_TABLES, SCHEMA_VERSION
from flows.cli import main
from flows.params import FlowParams

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"


def _py(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, env=env
    )


def test_help_and_light_commands_do_not_import_prefect() -> None:
    code = (
        "import sys\n"
        "from flows.cli import main\n"
        "for argv in (['schema'], ['rules'], ['config', 'show']):\n"
        "    assert main(argv) == 0\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'prefect' not in sys.modules, 'prefect imported'\n"
    )
    r = _py(code)
    assert r.returncode == 0, r.stderr
    assert "run the clean-corpus flow" in r.stdout


_EXIT_PROBE = (
    "import atexit, sys\n"
    "from flows.cli import run_then_exit\n"
    "class Teardown:\n"
    "    def __del__(self):\n"
    "        sys.stderr.write('torn down')\n"
    "kept = Teardown()\n"
    "def command():\n"
    "    atexit.register(lambda: print('a later handler ran'))\n"
    "    sys.stdout.write('x' * 100_000)  # still in the buffer at exit\n"
    "    {body}\n"
    "run_then_exit(command)\n"
)


def test_the_command_exits_with_its_status_after_its_handlers_without_teardown() -> None:
    r = _py(_EXIT_PROBE.format(body="return 3"))
    assert r.returncode == 3, r.stderr
    assert r.stdout.count("x") == 100_000 and "a later handler ran" in r.stdout
    assert "torn down" not in r.stderr  # the interpreter's teardown was skipped


def test_an_uncaught_exception_exits_the_usual_way() -> None:
    r = _py(_EXIT_PROBE.format(body="raise ValueError('boom')"))
    assert r.returncode == 1
    assert "ValueError: boom" in r.stderr and "torn down" in r.stderr
    assert r.stdout.count("x") == 100_000 and "a later handler ran" in r.stdout
    r = _py(_EXIT_PROBE.format(body="raise SystemExit(2)"))
    assert r.returncode == 2 and "a later handler ran" in r.stdout


def test_the_console_script_is_the_quick_exit_entry() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["presswash"] == "flows.cli:entry"


def test_schema_lists_every_public_column(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert f"schema version {SCHEMA_VERSION}" in out
    for name, schema in PUBLIC_TABLES.items():
        assert f"{name}/*.parquet" in out
        for field in schema:
            assert f"  {field.name} " in out
    assert main(["schema", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["tables"]) == set(PUBLIC_TABLES)


def test_rules_lists_every_registered_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    for name, r in all_rules().items():
        assert name in out and r.summary in out


def test_config_show_round_trips_and_applies_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "show", "--config", str(REPO / "presswash.toml")]) == 0
    shown = capsys.readouterr().out
    assert FlowParams.model_validate(tomllib.loads(shown)) == FlowParams.from_toml(REPO / "presswash.toml")
    cfg = tmp_path / "c.toml"
    cfg.write_text('out = "elsewhere"\n[layout]\n', encoding="utf-8")
    assert main(["config", "show", "--config", str(cfg)]) == 0
    assert 'out = "elsewhere"' in capsys.readouterr().out


def test_invalid_config_is_reported_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("shard_bytes = -1\n[layout]\nno_such_key = 3\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["config", "show", "--config", str(cfg)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "shard_bytes" in err and "layout.no_such_key" in err and str(cfg) in err
    with pytest.raises(SystemExit):
        main(["run", "--config", str(tmp_path / "missing.toml")])
    assert "cannot read config" in capsys.readouterr().err


def test_explain_shows_rules_lines_and_duplicates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(SEED)]) == 0
    out = capsys.readouterr().out
    assert "decode   utf-8" in out
    assert "layout.join_" in out and "完['⏎'→'']善" in out  # the 完|善 join, with its rule
    assert "segment.headline" in out and "segment.lead" in out
    assert "byline    黄啟峰" in out
    assert "-- duplicates within this file" in out and "repeats 史燕推介的第二款产品" in out
    assert main(["explain", str(SEED), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["documents"][0]["items"]) == 9
    assert sorted(d["status"] for d in report["dedup"]) == ["duplicate", "truncated", "truncated"]


def test_explain_reports_a_rejected_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    assert main(["explain", str(p)]) == 0
    assert "empty" in capsys.readouterr().out


def test_serve_without_a_server_explains_what_to_do(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path)
    r = _py("import sys\nfrom flows.cli import main\nsys.exit(main(['serve', '--cron', '0 3 * * *']))", env)
    assert r.returncode == 2
    assert "prefect server start" in r.stderr and "PREFECT_API_URL" in r.stderr


def test_runner_options_are_checked() -> None:
    from flows.runners import make_task_runner

    with pytest.raises(ValueError, match="--address needs --runner dask"):
        make_task_runner("thread", address="tcp://x:1")
    with pytest.raises(ValueError, match="unknown runner"):
        make_task_runner("fibers")
    # process: Prefect's tasks on threads; the flow's worker_processes puts the steps in processes
    runner = make_task_runner("process", 2)
    assert type(runner).__name__ == "ThreadPoolTaskRunner"


@pytest.mark.flow
def test_run_validate_and_lock_through_the_cli(
    prefect_harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cleaning.state import RunLock, StateDir

    (tmp_path / "in").mkdir()
    shutil.copy(SEED, tmp_path / "in")
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "in"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "articles:   9" in printed and "37 kept, 1 duplicate, 2 truncated" in printed
    assert f"output:     {out}" in printed
    assert main(["validate", str(out)]) == 0
    assert "OK" in capsys.readouterr().out
    with RunLock(StateDir(out), "cron job"):
        assert main(["run", str(tmp_path / "in"), "--out", str(out)]) == 3
    assert "in use by another presswash run (run cron job" in capsys.readouterr().err
    # a broken output is caught by validate
    (out / "manifest.json").write_text(
        json.dumps({**json.loads((out / "manifest.json").read_text()), "counts": {"articles": 1}}),
        encoding="utf-8",
    )
    assert main(["validate", str(out)]) == 1
    assert "manifest counts 1 rows" in capsys.readouterr().out
