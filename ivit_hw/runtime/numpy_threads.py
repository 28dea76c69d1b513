"""How many threads numpy's BLAS may use in the golden executor, and the process heap it allocates from.

The golden executor's integer GEMMs run as float BLAS matmuls (exact by their proven bounds); every
other kernel is single-threaded numpy. :func:`blas_threads` says how many threads the BLAS would use
now; :func:`limited_blas_threads` limits them for a block of code (through ``threadpoolctl``, an
optional package: it comes with the ``torch`` extra); the executor runs with
:data:`GOLDEN_BLAS_THREADS` unless told otherwise. Threads change no value: each output element of a
GEMM is one exact integer sum whichever thread computes it.

:func:`keep_heap_pages` is a speed setting of glibc's allocator (Linux): numpy allocates a fresh
array per step, megabytes each at ImageNet shapes, and glibc by default hands such blocks back to the
kernel when they are freed, so the next array faults every page in again (a linear layer plus
requantize of deit_small, 9.3 ms -> 5.5 ms when freed memory stays in the process: docs/benchmarks.md,
whose note says what that figure lacks). It raises the mmap and trim thresholds so freed blocks are
reused; freed memory at the top of the heap stays mapped up to 2 x :data:`HEAP_KEEP_BYTES`. It is process-wide and
permanent: the golden executor (``GoldenExecutor(graph)`` with ``fast=True``) calls it once, when the
first one is built, not at import; importing the package changes nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Iterator
from contextlib import contextmanager

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
HEAP_KEEP_BYTES = 32 * 2**20  # blocks below this come from the heap, and up to 2x it stays mapped when freed


@functools.cache
def keep_heap_pages() -> bool:
    """Make glibc keep freed blocks of up to :data:`HEAP_KEEP_BYTES` for reuse (once per process);
    returns whether the setting took (False off glibc)."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, HEAP_KEEP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, 2 * HEAP_KEEP_BYTES))


@functools.cache
def _controller():
    """threadpoolctl's controller of the loaded libraries (made once), or None without threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def blas_threads() -> int | None:
    """The number of threads numpy's BLAS uses now (None when ``threadpoolctl`` is not installed)."""
    ctl = _controller()
    if ctl is None:
        return None
    pools = [p for p in ctl.lib_controllers if p.user_api == "blas"]
    return max((p.num_threads for p in pools), default=None)


#: the golden executor's BLAS threads when a run names none (where threadpoolctl is installed). One:
#: on the 2-core machine under load (10-12), two BLAS threads made a deit_small run about 6x slower in
#: wall time (0.92 s -> 5.49 s, docs/benchmarks.md "Golden executor fast paths", 2026-12-07), and eval
#: runs the golden executor beside its loader processes.
GOLDEN_BLAS_THREADS = 1


@contextmanager
def limited_blas_threads(threads: int | None) -> Iterator[None]:
    """Run the block with numpy's BLAS limited to ``threads``: None is :data:`GOLDEN_BLAS_THREADS` where
    threadpoolctl is installed (else as configured), 0 leaves the BLAS as configured (e.g. by
    ``OPENBLAS_NUM_THREADS``), n >= 1 is n threads (ImportError in one line without threadpoolctl)."""
    if threads == 0:
        yield
        return
    if threads is not None and threads < 0:
        raise ValueError(f"BLAS threads must be 0 (as configured) or more, got {threads}")
    ctl = _controller()
    if ctl is None:
        if threads is not None:
            raise ImportError("limiting the golden executor's BLAS threads needs threadpoolctl "
                              "(pip install threadpoolctl, or the torch extra)")
        yield
        return
    with ctl.limit(limits=GOLDEN_BLAS_THREADS if threads is None else threads, user_api="blas"):
        yield
