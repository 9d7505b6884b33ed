"""What importing the library costs a fresh process: no module it only needs later."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_importing_the_pipeline_leaves_pandas_unloaded() -> None:
    # pyarrow imports pandas (~0.3 s) on a process's first pa.array: no module-level array may
    # make one (the flow's steps and the dedup's tables make theirs on first use)
    code = "import sys, flows.steps, cleaning.pipeline, cleaning.dedup; print('pandas' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
