"""The README's scheduling commands against a real local Prefect server.

Starts ``prefect server start`` on a free loopback port (private PREFECT_HOME,
SQLite, no scheduler service so the cron schedules never start a run on their
own), then: ``presswash serve --cron …``, read back through the REST API;
``prefect work-pool create`` + ``prefect --no-prompt deploy --all`` from
prefect.yaml; ``prefect worker start --pool presswash`` running a
``prefect deployment run clean-corpus/daily`` to completion. Every process is
started in its own session and its whole group is stopped at the end. Skips only
if the server does not come up within 90 seconds.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import psutil
import pytest

from flows.steps import validate_output

pytestmark = pytest.mark.flow

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"
PRESSWASH = [sys.executable, "-c", "import sys; from flows.cli import main; sys.exit(main())"]
PREFECT = [sys.executable, "-m", "prefect"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Stop ``proc``'s process group, and any descendant that left it (a worker's flow-run process)."""
    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    else:
        try:  # the leader is gone; its group may not be
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for child in descendants:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(descendants, timeout=10)


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
        # The deployments carry a cron schedule: without the scheduler service the server never
        # creates a run of its own (with the deployment's default, repository-relative paths).
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
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


@pytest.fixture(scope="module")
def work_pool_deployment(prefect_server):
    """The commands of prefect.yaml's header, as a team running workers would type them."""
    api, env = prefect_server
    env = {**env, "PRESSWASH_WORKDIR": str(REPO)}
    for cmd in (
        [*PREFECT, "work-pool", "create", "presswash", "--type", "process"],
        [*PREFECT, "--no-prompt", "deploy", "--all"],
    ):
        r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stdout + r.stderr
    return api, env


def test_prefect_yaml_deploys_to_a_work_pool(work_pool_deployment) -> None:
    api, _ = work_pool_deployment
    deployment = httpx.get(f"{api}/deployments/name/clean-corpus/daily", timeout=5).json()
    assert deployment["work_pool_name"] == "presswash"
    assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["0 3 * * *"]
    assert deployment["parameters"]["params"]["out"] == "data/clean"
    assert deployment["parameters"]["params"]["worker_processes"] is True  # the steps in processes
    assert deployment["entrypoint"] == "flows/clean_corpus.py:clean_corpus"


TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _most_at_once(api: str, flow_run_id: str, task_name: str) -> int:
    """The most runs of ``task_name`` a flow run had running at the same time (from their start
    and end times on the server)."""
    runs = httpx.post(
        f"{api}/task_runs/filter", json={"flow_runs": {"id": {"any_": [flow_run_id]}}}, timeout=10
    ).json()
    edges = sorted(
        (datetime.fromisoformat(t[edge]), step)
        for t in runs
        if t["name"].startswith(task_name)
        for edge, step in (("start_time", 1), ("end_time", -1))
    )
    most = now = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        now += step
        most = max(most, now)
    return most


def test_worker_runs_the_daily_deployment(work_pool_deployment, tmp_path: Path) -> None:
    """``prefect worker start --pool presswash`` picks up a ``prefect deployment run`` and publishes,
    with as many shard tasks at once as the run's ``workers`` (the flow decorator's runner, which
    a deployment runs with, used to allow two)."""
    api, env = work_pool_deployment
    inp = tmp_path / "dumps"
    inp.mkdir()
    seed = SEED.read_text(encoding="utf-8")
    for k in range(4):  # four files of a few KB: four shards of shard_bytes=1024
        (inp / f"page{k}.txt").write_text(seed.replace("本报讯", f"本报讯{k}"), encoding="utf-8")
    out = tmp_path / "clean"
    # Poll every second rather than every 10 s; the worker starts outside the checkout so that
    # only PRESSWASH_WORKDIR (prefect.yaml's pull step) can lead the flow run to the code.
    worker_env = {**env, "PREFECT_WORKER_QUERY_SECONDS": "1"}
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [*PREFECT, "worker", "start", "--pool", "presswash"],
            cwd=tmp_path,
            env=worker_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        params = {
            "params": {
                "inputs": [str(inp)],
                "out": str(out),
                "workers": 3,
                "shard_bytes": 1024,
                "min_shard_bytes": 1024,
            }
        }
        r = subprocess.run(
            [*PREFECT, "deployment", "run", "clean-corpus/daily", "--params", json.dumps(params)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        run_id = re.search(r"UUID:\s*([0-9a-f-]{36})", r.stdout)
        assert run_id, r.stdout
        state = None
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and worker.poll() is None:
            run = httpx.get(f"{api}/flow_runs/{run_id.group(1)}", timeout=5).json()
            state = run["state"]["type"] if run.get("state") else None
            if state in TERMINAL:
                break
            time.sleep(1)
        assert state == "COMPLETED", f"flow run {state}; worker log:\n{log_path.read_text()[-3000:]}"
        assert run["parameters"]["params"]["out"] == str(out)
        assert validate_output(out) == []
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        assert [i["status"] for i in manifest["inputs"]] == ["processed"] * 4
        assert manifest["counts"]["articles"] > 0
        assert _most_at_once(api, run_id.group(1), "process-shard") == 3
    finally:
        _stop(worker)
