"""A temporary Prefect API server for one ``presswash run``, started before anything else.

Without ``PREFECT_API_URL``, Prefect starts a temporary ("ephemeral") API server
the first time a flow needs its API. To do so the calling process imports
Prefect's whole server package (FastAPI, SQLAlchemy, every model: about 4 s of
CPU) only to launch ``uvicorn … prefect.server.api.server:create_app`` in a
subprocess, and it does this once the flow has already started, so the
server's own start (imports, database check, ~5–10 s) adds to the run.

``presswash run`` launches that same subprocess, with the same command and
environment Prefect uses, as its first step: the server boots on another core
while the command imports Prefect and the pipeline, and the run then talks to
it through ``PREFECT_API_URL`` like to any server. When ``PREFECT_API_URL`` is
set (a long-lived server, as in production) or Prefect's ephemeral mode is
switched off, nothing is started and Prefect decides as before.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# uvicorn's exit status when it cannot bind its port: another process took it, so try another.
_PORT_IN_USE = 3
_POLL_SECONDS = 0.05


def may_be_wanted() -> bool:
    """Cheap first guess: no ``PREFECT_API_URL`` in the environment (and, if Prefect is imported
    already, as in a test harness or a notebook, none in its settings either)."""
    if os.environ.get("PREFECT_API_URL"):
        return False
    return "prefect.settings" not in sys.modules or wanted()


def wanted() -> bool:
    """True when Prefect would start a temporary server: no API URL (environment or profile)
    and ephemeral mode allowed. Imports Prefect's settings."""
    if os.environ.get("PREFECT_API_URL"):
        return False
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    return not settings.api.url and bool(settings.server.ephemeral.enabled)


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerStartError(RuntimeError):
    """The temporary server exited or did not answer in time."""


class EphemeralServer:
    """The uvicorn subprocess serving Prefect's API app on a free local port."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen[Any] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        """Launch the subprocess and return at once (Prefect is not imported here, so this is cheap).

        The environment is this process's plus the three variables Prefect's own temporary server
        sets; settings from the active Prefect profile are read by the server process itself.
        """
        spec = importlib.util.find_spec("prefect")
        if spec is None or spec.origin is None:
            raise RuntimeError("prefect is not installed")
        self.port = _free_port()
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(Path(spec.origin).parent.parent),
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env=env,
        )

    def wait_ready(self, timeout: float) -> None:
        """Block until ``/health`` answers; a clear RuntimeError if the server exits or times out."""
        import httpx

        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5) as client:
            while True:
                assert self.process is not None
                code = self.process.poll()
                if code == _PORT_IN_USE:
                    self.start()
                    continue
                if code is not None:
                    raise ServerStartError(f"the temporary Prefect API server exited with status {code}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    self.stop()
                    raise ServerStartError(
                        f"the temporary Prefect API server did not answer within {timeout:.0f} s "
                        "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS raises the limit)"
                    )
                time.sleep(_POLL_SECONDS)

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def launch_early() -> EphemeralServer | None:
    """Start the server now if Prefect will probably need one (see :func:`may_be_wanted`)."""
    if not may_be_wanted():
        return None
    server = EphemeralServer()
    try:
        server.start()
    except (OSError, RuntimeError):
        return None  # Prefect will start its own, or say what is wrong
    return server


@contextlib.contextmanager
def api_server(
    launched: EphemeralServer | None, while_waiting: Callable[[], object] | None = None
) -> Iterator[None]:
    """Run the body against ``launched`` once it answers, and stop it afterwards.

    ``while_waiting`` runs first, while the server boots (seconds of its own imports): work
    the run needs anyway, such as :func:`cleaning.warmup.warm_up`. If Prefect turns out not
    to want a temporary server (an API URL in the active profile, ephemeral mode off), the
    launched one is stopped unused and Prefect's own settings apply.
    """
    if launched is None:
        yield
        return
    try:
        if not wanted():
            launched.stop()
            yield
            return
        from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

        if while_waiting is not None:
            with contextlib.suppress(Exception):  # filling idle time must never fail the run
                while_waiting()
        launched.wait_ready(float(get_current_settings().server.ephemeral.startup_timeout_seconds))
        with temporary_settings(updates={PREFECT_API_URL: launched.api_url}):
            try:
                yield
            finally:
                _drain_prefect_workers()
    finally:
        launched.stop()


def _drain_prefect_workers(timeout: float = 30.0) -> None:
    """Send the logs and events Prefect still queues, while the server is up to take them.

    Prefect's background workers otherwise flush at interpreter exit, after the
    server is gone, and retry the dead address (as Prefect's test harness, we drain first).
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):  # a worker that never started has nothing to send
            worker.drain_all(timeout=timeout)
