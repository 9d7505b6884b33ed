"""cleaning.jit: numba kernels compiled lazily, with a switch back to the numpy definitions."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cleaning import jit


@jit.kernel
def _running_min(values: np.ndarray) -> np.ndarray:
    out = np.empty_like(values)
    low = values[0]
    for i in range(values.shape[0]):
        low = min(low, values[i])
        out[i] = low
    return out


def test_kernel_matches_its_python_definition() -> None:
    values = np.array([5, 3, 4, 1, 2], dtype=np.uint32)
    expected = _running_min.py_func(values)
    if not jit.enabled():
        pytest.skip("numba is not importable here")
    assert np.array_equal(_running_min(values), expected)
    assert _running_min(values).dtype == np.uint32


def test_importing_cleaning_does_not_import_numba() -> None:
    code = "import sys, cleaning.pipeline, cleaning.dedup; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_starting_the_compiler_does_not_load_scipy_linalg() -> None:
    # numba's BLAS probe would import all of scipy.linalg (0.3-0.5 s per process); np.dot in
    # compiled code must still find the BLAS, and scipy.linalg must still import afterwards
    code = (
        "import sys\n"
        "from cleaning import jit\n"
        "if not jit.enabled(): print('off'); raise SystemExit\n"
        "import numpy as np\n"
        "from cleaning.textscan import _line_or\n"
        "_line_or(np.zeros(3, np.uint32), np.zeros(4, np.uint8), np.zeros(1, np.uint8))\n"
        "print('scipy.linalg' in sys.modules)\n"
        "import numba\n"
        "print(numba.njit(lambda a, b: np.dot(a, b))(np.ones(3), np.ones(3)))\n"
        "import scipy.linalg.cython_blas\n"
        "print('scipy.linalg' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    if out.stdout.strip() == "off":
        pytest.skip("numba is not importable here")
    assert out.stdout.split() == ["False", "3.0", "True"]


@pytest.mark.parametrize("value", ["0", "off", "False"])
def test_env_switch_turns_kernels_off(value: str) -> None:
    code = (
        "from cleaning import jit\n"
        "k = jit.kernel(lambda x: x)\n"
        "print(jit.enabled())\n"
        "try:\n    k(1)\nexcept RuntimeError as e:\n    print('off:', e)\n"
    )
    env = {"PRESSWASH_JIT": value, "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.splitlines()[0] == "False"
    assert "compiled kernels are off" in out.stdout


def test_numpy_definitions_switch_kernels_off_for_the_duration() -> None:
    before = jit.enabled()
    with jit.numpy_definitions():
        assert not jit.enabled()
        with jit.numpy_definitions():
            assert not jit.enabled()
        assert not jit.enabled()
    assert jit.enabled() == before
