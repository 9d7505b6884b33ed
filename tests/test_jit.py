"""cleaning.jit: numba kernels compiled lazily, with a switch back to the numpy definitions."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cleaning import jit
from cleaning.dedup.minhash import fmix64


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


@jit.device
def _mix(x: np.uint64) -> np.uint64:
    x ^= x >> np.uint64(31)
    return x * np.uint64(0x9E3779B97F4A7C15)


@jit.device
def _twice_mixed(x: np.uint64) -> np.uint64:
    return _mix(_mix(x))  # a device calling a device


@jit.kernel
def _mixed(values: np.ndarray, out: np.ndarray) -> None:
    for i in range(values.shape[0]):
        out[i] = _twice_mixed(values[i]) ^ _mix(values[i])


def test_a_device_is_the_same_function_in_a_kernel_and_in_python() -> None:
    values = np.array([0, 1, 2**40 + 7, 2**64 - 1], dtype=np.uint64)
    with np.errstate(over="ignore"):
        expected = np.zeros(4, dtype=np.uint64)
        _mixed.py_func(values, expected)
        assert expected[1] == _mix(_mix(np.uint64(1))) ^ _mix(np.uint64(1))
    if not jit.enabled():
        pytest.skip("numba is not importable here")
    got = np.zeros(4, dtype=np.uint64)
    _mixed(values, got)
    assert got.tolist() == expected.tolist()


def _mixes_elsewhere(values: np.ndarray, out: np.ndarray) -> None:
    for i in range(values.shape[0]):
        out[i] = fmix64(values[i])


def test_a_kernel_may_not_call_a_device_of_another_module() -> None:
    # numba renews a kernel's disk cache on edits to the kernel's own file only
    assert isinstance(fmix64, jit.Device)
    if not jit.enabled():
        pytest.skip("numba is not importable here")
    with pytest.raises(ValueError, match="a device must be defined in its callers' module"):
        jit.kernel(_mixes_elsewhere)(np.ones(2, dtype=np.uint64), np.zeros(2, dtype=np.uint64))


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
