"""Compiled kernels: numba, with its machine code cached on disk.

Only the kernel modules (``_*_kernels.py``) import this, and the numeric modules import those
lazily, on the first measurement: a process that never measures (a web process, a management
command) does not pay numba's import (~0.4 s). ``cache=True`` keeps the compiled code beside the
source (``__pycache__``), so the compile cost (a few seconds, once per machine and code version)
does not land on every process start; a process then only loads the cached code (tens of ms on
its first measurement, reported by ``make bench-metrics``).

Where the source tree is not writable (a read-only image) and ``NUMBA_CACHE_DIR`` is not set,
the cache goes to ``$TMPDIR/tessera-numba-<uid>`` instead of failing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast


def _writable(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=directory).close()
    except OSError:
        return False
    return True


def _cache_dir() -> str | None:
    """Where numba should cache, when its own choice (beside the source) cannot work."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    if _writable(Path(__file__).resolve().parent / "__pycache__"):
        return None
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return str(Path(tempfile.gettempdir()) / f"tessera-numba-{uid}")


_fallback = _cache_dir()
if _fallback is not None:
    os.environ["NUMBA_CACHE_DIR"] = _fallback

import numba  # noqa: E402  (the cache location must be settled before numba reads its config)

if _fallback is not None:
    numba.config.CACHE_DIR = _fallback  # type: ignore[attr-defined]  # numba was imported before us

F = TypeVar("F", bound=Callable[..., Any])


def kernel(function: F) -> F:
    """Compile ``function`` in nopython mode on its first call; cached on disk."""
    return cast(F, numba.njit(cache=True, nogil=True)(function))


def unmanaged_kernel(function: F) -> F:
    """Compile ``function`` without numba's reference counting of arrays (cached on disk).

    numba counts references to every array a variable takes, and cannot always prune the counts
    where inlined helpers with array arguments and branches sit in a loop: there the atomic
    counting dominates. A function compiled without it cannot allocate arrays; its caller (a
    :func:`kernel`) allocates them and keeps them alive for the call. Called from another
    unmanaged kernel, a small one is inlined by LLVM: as fast as an :func:`inline_kernel`, and
    numba compiles it once instead of once per call site.
    """
    options: dict[str, Any] = {"_nrt": False}  # an option numba's stubs do not list
    return cast(F, numba.njit(cache=True, nogil=True, **options)(function))


def inline_kernel(function: F) -> F:
    """A helper inlined into the kernels that call it (array arguments of a non-inlined call
    cost reference counting on every call, which dominates small helpers)."""
    return cast(F, numba.njit(cache=True, nogil=True, inline="always")(function))
