"""Compiled kernels for the hot numeric loops, with the plain numpy definitions as the reference.

A kernel is a plain Python function over numpy arrays and scalars, written in
the subset numba compiles (loops, arithmetic, no Python objects). Wrapped in
:class:`Kernel`, it is compiled by numba on its first call, in nopython mode,
with the GIL released (so the thread and Dask runners run kernels of two
shards at once) and with the machine code cached on disk beside the module
(``__pycache__``; numba falls back to a user cache directory when that is not
writable), so a machine compiles each kernel once and later processes load it
in milliseconds.

A step several kernels of one module share (a hash finalizer, a sort) is a
:class:`Device`: written once, a plain function when called from Python, and
compiled inline into each kernel that calls it.

Every kernel has a numpy definition next to it that gives the same result; the
tests compare the two. The numpy definition runs when numba is missing or
cannot be imported (a platform without a wheel, a numba older than the installed
numpy), or when ``PRESSWASH_JIT=0`` is set, for example to rule the compiler out
when chasing a difference. Nothing here imports numba before a kernel is used:
importing :mod:`cleaning` stays cheap.
"""

from __future__ import annotations

import contextlib
import os
import threading
import types
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

ENV_VAR = "PRESSWASH_JIT"
_OFF = {"0", "false", "no", "off"}


@cache
def _numba() -> Any | None:
    if os.environ.get(ENV_VAR, "1").strip().lower() in _OFF:
        return None
    try:
        import numba
    except Exception:  # not installed, or built against another numpy: fall back, never fail
        return None
    _load_array_functions_without_blas_probe()
    return numba


# The module whose import numba's ``numba.np.arraymath`` uses as a BLAS probe.
_BLAS_PROBE = "scipy.linalg.cython_blas"


def _load_array_functions_without_blas_probe() -> None:
    """Import ``numba.np.arraymath`` with its BLAS probe answered "absent".

    numba imports ``numba.np.arraymath`` when it starts its compiler in a process, and that
    module's import probes for a BLAS by importing ``scipy.linalg.cython_blas``, which imports all
    of ``scipy.linalg``: 0.3-0.5 CPU s in every fresh process, a tenth of a small shard task, for
    a library no kernel uses. The probe's answer only picks how ``np.convolve`` and
    ``np.correlate`` compute a float inner product (BLAS or a plain loop); ``np.dot`` and
    ``np.linalg`` in compiled code look for the BLAS again when they are compiled, so other
    compiled code in the process keeps them. The probe's module is hidden only for this one
    import and never when scipy.linalg is already loaded (then the probe costs nothing).
    """
    import sys

    if "numba.np.arraymath" in sys.modules or _BLAS_PROBE in sys.modules:
        return
    sys.modules[_BLAS_PROBE] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import numba.np.arraymath  # noqa: F401
    except Exception:  # numba starts its compiler the usual way on the first kernel
        pass
    finally:
        if sys.modules.get(_BLAS_PROBE, 0) is None:
            del sys.modules[_BLAS_PROBE]


_switched_off = False


def enabled() -> bool:
    """True when kernels are compiled (numba importable, ``PRESSWASH_JIT`` not off, and not inside
    :func:`numpy_definitions`)."""
    return not _switched_off and _numba() is not None


@contextlib.contextmanager
def numpy_definitions() -> Iterator[None]:
    """Run the numpy definitions instead of the kernels for the duration (tests, chasing a difference).

    Process-wide, like ``PRESSWASH_JIT=0``: not meant for use while other threads run the stages.
    """
    global _switched_off
    before = _switched_off
    _switched_off = True
    try:
        yield
    finally:
        _switched_off = before


class Kernel:
    """A function compiled by numba on first call; calling it when :func:`enabled` is false is an error."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.py_func = fn
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__
        self._compiled: Callable[..., Any] | None = None
        self._lock = threading.Lock()

    def _compile(self) -> Callable[..., Any]:
        numba = _numba()
        if numba is None:
            raise RuntimeError(f"{self.__name__}: compiled kernels are off; use the numpy definition")
        with self._lock:  # two shard threads may call a kernel for the first time together
            if self._compiled is None:
                self._compiled = numba.njit(cache=True, nogil=True)(_with_devices(self.py_func, numba))
        return self._compiled

    def __call__(self, *args: Any) -> Any:
        compiled = self._compiled or self._compile()
        return compiled(*args)


def kernel(fn: Callable[..., Any]) -> Kernel:
    """Decorator: ``fn`` becomes a :class:`Kernel` (compiled lazily, cached on disk, GIL released)."""
    return Kernel(fn)


class Device:
    """A small function that kernels call, so a step several kernels share is written once.

    Called from Python (a kernel's numpy definition, or any caller) it is the plain function. When
    a kernel that names it is compiled, the kernel sees it compiled and inlined in its place, so the
    call costs nothing in a hot loop. numba's on-disk cache of a kernel is invalidated by edits to
    the kernel's own source file only, so a device must be defined in the module of the kernels
    that call it (checked when they compile).
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.py_func = fn
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__
        self._compiled: Any = None

    def __call__(self, *args: Any) -> Any:
        return self.py_func(*args)

    def compiled(self, numba: Any) -> Any:
        if self._compiled is None:
            self._compiled = numba.njit(inline="always", nogil=True)(_with_devices(self.py_func, numba))
        return self._compiled


def device(fn: Callable[..., Any]) -> Device:
    """Decorator: ``fn`` becomes a :class:`Device`, a helper kernels of its module call inline."""
    return Device(fn)


def _with_devices(fn: Callable[..., Any], numba: Any) -> Callable[..., Any]:
    """``fn`` itself, or when it names devices, a copy of it whose globals hold them compiled (numba
    reads a global's value when it compiles, so the module's own names are left alone)."""
    devices = {
        name: fn.__globals__[name]
        for name in fn.__code__.co_names
        if isinstance(fn.__globals__.get(name), Device)
    }
    if not devices:
        return fn
    for name, dev in devices.items():
        if dev.py_func.__module__ != fn.__module__:
            raise ValueError(
                f"{fn.__name__} calls device {name} of {dev.py_func.__module__}: a device must be "
                f"defined in its callers' module ({fn.__module__}), whose edits renew their cache"
            )
    namespace = dict(fn.__globals__)
    namespace.update({name: dev.compiled(numba) for name, dev in devices.items()})
    copy = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__qualname__, copy.__module__, copy.__doc__ = fn.__qualname__, fn.__module__, fn.__doc__
    return copy
