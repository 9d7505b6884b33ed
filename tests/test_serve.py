"""``presswash serve`` against a real local Prefect server: the deployment, its schedule and parameters.

Starts ``prefect server start`` on a free loopback port (private PREFECT_HOME,
SQLite), runs ``presswash serve --cron …`` pointed at it, reads the deployment
back through the REST API, then stops both. Skips only if the server does not
come up within 90 seconds.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.flow

REPO = Path(__file__).resolve().parent.parent
PRESSWASH = [sys.executable, "-c", "import sys; from flows.cli import main; sys.exit(main())"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory):
    tmp_path = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_LOGGING_LEVEL="WARNING",
        PREFECT_UI_ENABLED="false",
    )
    log = open(tmp_path / "server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 90
    up = False
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                up = True
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    if not up:
        _stop(server)
        log.close()
        pytest.skip(
            f"Prefect server did not start within 90 s: {(tmp_path / 'server.log').read_text()[-500:]}"
        )
    env["PREFECT_API_URL"] = api
    try:
        yield api, env
    finally:
        _stop(server)
        log.close()


def test_serve_creates_the_scheduled_deployment(prefect_server, tmp_path: Path) -> None:
    api, env = prefect_server
    out = tmp_path / "clean"
    serve = subprocess.Popen(
        [
            *PRESSWASH,
            "serve",
            "--cron",
            "0 3 * * *",
            "--name",
            "nightly",
            "data/raw",
            "--out",
            str(out),
            "--force",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deployment = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and serve.poll() is None:
            r = httpx.get(f"{api}/deployments/name/clean-corpus/nightly", timeout=5)
            if r.status_code == 200:
                deployment = r.json()
                break
            time.sleep(0.5)
        assert deployment is not None, (
            f"no deployment; serve said: {serve.stdout.read() if serve.poll() else ''}"
        )
        crons = [s["schedule"].get("cron") for s in deployment["schedules"]]
        assert crons == ["0 3 * * *"]
        assert deployment["schedules"][0]["schedule"]["timezone"] == "UTC"
        params = deployment["parameters"]["params"]
        assert params["inputs"] == ["data/raw"] and params["out"] == str(out) and params["force"] is True
        assert "layout" in params and "dedup" in params  # the full parameter model, cleaning included
    finally:
        _stop(serve)


def test_prefect_yaml_deploys_to_a_work_pool(prefect_server) -> None:
    """The commands of prefect.yaml's header, as a team running workers would type them."""
    api, env = prefect_server
    env = {**env, "PRESSWASH_WORKDIR": str(REPO)}
    prefect = [sys.executable, "-m", "prefect"]
    for cmd in (
        [*prefect, "work-pool", "create", "presswash", "--type", "process"],
        [*prefect, "--no-prompt", "deploy", "--all"],
    ):
        r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stdout + r.stderr
    deployment = httpx.get(f"{api}/deployments/name/clean-corpus/daily", timeout=5).json()
    assert deployment["work_pool_name"] == "presswash"
    assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["0 3 * * *"]
    assert deployment["parameters"]["params"]["out"] == "data/clean"
    assert deployment["entrypoint"] == "flows/clean_corpus.py:clean_corpus"
