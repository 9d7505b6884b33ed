"""flows.ephemeral: the temporary Prefect API server `presswash run` starts itself, early."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from flows import ephemeral

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"


def _servers_of(home: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if "prefect.server.api.server:create_app" in " ".join(proc.info["cmdline"] or []):
                if proc.environ().get("PREFECT_HOME") == str(home):
                    found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _run_without_a_server(
    tmp_path: Path, *extra: str, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """``presswash run`` on the seed with no API URL and a private ``PREFECT_HOME``."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "home")
    env["PREFECT_LOGGING_LEVEL"] = "INFO"
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", str(SEED), "--out", str(tmp_path / "out"), *extra],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_run_without_a_server_uses_a_temporary_one_and_stops_it(tmp_path: Path) -> None:
    r = _run_without_a_server(tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "paragraphs: 40 (37 kept, 1 duplicate, 2 truncated)" in r.stdout
    out = r.stdout + r.stderr
    # the run talked to our server, and every log and event reached it before it stopped
    assert "View at http://127.0.0.1:" in out
    assert "Error logging to API" not in out and "Traceback" not in out
    assert not _servers_of(tmp_path / "home")


def test_ctrl_c_stops_the_run_and_its_server(tmp_path: Path) -> None:
    """One Ctrl-C while the shard tasks run: exit 130, nothing published, no server left."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    text = SEED.read_text(encoding="utf-8")
    for i in range(60):  # one shard each: the run lasts seconds after its first task
        (inputs / f"p{i:02}.txt").write_text(f"第{i}版\n\n{text}", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(tmp_path / "home"), PREFECT_LOGGING_LEVEL="INFO")
    argv = [sys.executable, "-m", "flows.cli", "run", str(inputs), "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(
        [*argv, "--shard-bytes", "8000"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # as from a terminal: a job started in the background (nohup, `&`) ignores SIGINT, and
        # a child inherits that, so Python would never raise KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # wait for the first finished shard task
            seen.append(line)
            if "Task run 'process-shard" in line:
                break
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(seen) + rest
    assert proc.returncode == 130, out[-3000:]
    assert "presswash: interrupted" in out and "published" not in out
    assert not (tmp_path / "out" / "manifest.json").exists()
    assert not _servers_of(tmp_path / "home")


def test_invalid_parameters_stop_the_early_server(tmp_path: Path) -> None:
    # the server is launched before the parameters are read; a usage error must not leave it running
    r = _run_without_a_server(tmp_path, "--shard-bytes", "5", timeout=120)
    assert r.returncode == 2 and "shard_bytes" in r.stderr
    assert not _servers_of(tmp_path / "home")
    assert not (tmp_path / "out").exists()


def test_nothing_is_started_when_an_api_url_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert not ephemeral.may_be_wanted()
    assert not ephemeral.wanted()
    assert ephemeral.launch_early() is None


def test_api_server_of_none_is_a_no_op() -> None:
    with ephemeral.api_server(None):
        pass


def test_a_launched_server_prefect_does_not_want_is_stopped_unused(monkeypatch: pytest.MonkeyPatch) -> None:
    server = ephemeral.EphemeralServer()
    server.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    monkeypatch.setattr(ephemeral, "wanted", lambda: False)
    proc = server.process
    with ephemeral.api_server(server):
        assert proc.poll() is not None  # stopped before the body ran
    assert server.process is None


def test_a_server_that_exits_is_a_clear_error() -> None:
    server = ephemeral.EphemeralServer()
    server.process = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(5)"])
    server.process.wait()
    with pytest.raises(ephemeral.ServerStartError, match="exited with status 5"):
        server.wait_ready(timeout=10)


def test_a_server_that_never_answers_times_out_and_is_stopped() -> None:
    server = ephemeral.EphemeralServer()
    server.port = 9  # discard: nothing answers HTTP there
    server.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    proc = server.process
    with pytest.raises(ephemeral.ServerStartError, match="did not answer within 1 s"):
        server.wait_ready(timeout=1)
    assert proc.poll() is not None


def test_work_given_for_the_wait_runs_before_waiting_and_never_fails_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order: list[str] = []
    server = ephemeral.EphemeralServer()
    server.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    monkeypatch.setattr(ephemeral, "wanted", lambda: True)
    monkeypatch.setattr(server, "wait_ready", lambda timeout: order.append("wait"))

    def failing_warm_up() -> None:
        order.append("warm up")
        raise RuntimeError("no kernels today")

    with ephemeral.api_server(server, while_waiting=failing_warm_up):
        order.append("body")
    assert order == ["warm up", "wait", "body"]
    assert server.process is None  # stopped afterwards


def test_no_work_is_given_when_prefect_does_not_want_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    server = ephemeral.EphemeralServer()
    server.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    monkeypatch.setattr(ephemeral, "wanted", lambda: False)
    called: list[bool] = []
    with ephemeral.api_server(server, while_waiting=lambda: called.append(True)):
        pass
    assert not called  # the body starts at once: nothing to wait for
