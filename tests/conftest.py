"""Session-wide test setup.

Prefect reads its settings when it is first imported, so the environment is set
here, at collection time, before any test module imports Prefect: a private
PREFECT_HOME per session, no telemetry, quiet logs. The Prefect test harness
(a temporary API server, ~10 s to start) is a session fixture used only by the
few end-to-end flow tests; task logic is tested without it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_PREFECT_HOME = tempfile.mkdtemp(prefix="presswash-test-prefect-")
atexit.register(shutil.rmtree, _PREFECT_HOME, True)
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
# A server the developer happens to run must not receive test flow runs.
os.environ.pop("PREFECT_API_URL", None)

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "data" / "raw" / "000_77a03ed607cd6b14.txt"


def shared_dir() -> Path:
    """The shared corpora (read-only), from PRESSWASH_SHARED or ../shared next to the repo."""
    return Path(os.environ.get("PRESSWASH_SHARED", REPO.parent / "shared"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests on the Prefect test harness run last, in their own order. Once the harness is up,
    Prefect's events client pings its server from a background thread, and each websocket ping
    draws from the global ``random``; a hypothesis test running then warns that its strategy
    touched the global random state (HypothesisDeprecationWarning), in whichever test it hit."""
    items.sort(key=lambda item: "prefect_harness" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect API for the whole session (only flow tests request it)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(scope="session")
def seed_path() -> Path:
    return SEED
