"""Lookup-table overrides of the ShiftExp-based kernels (the fast paths of every namespace).

When a tensor holds few distinct values (8-bit rows), ShiftExp is evaluated
once per distinct value with the spec kernel itself and looked up, as a
hardware LUT would. The table also holds the spec kernel's intermediates, so
a traced run takes the same path and records the same values.
:data:`HITS` counts each override taken (tests assert the fast path ran).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable

import numpy as np

from .xp import NP, ArrayOps

LUT_MIN_ELEMENTS = 4096
#: how often each fast path was taken (keys "shift_exp_table", "shiftgelu_table")
HITS: Counter = Counter()

ExpFn = Callable[..., np.ndarray]


def count_hit(key: str) -> None:
    """Count one fast path taken, except while ``torch.compile`` traces the caller: a counter
    changed inside a compiled region becomes a guard that fails on every call (a recompile per call)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.compiler.is_compiling():
        return
    HITS[key] += 1


class ExpTable:
    """ShiftExp and its intermediates for every integer in ``[lo, hi]``, computed once by the numpy
    spec kernel and held on namespace ``xp``."""

    def __init__(self, exp: ExpFn, lo: int, hi: int, xp: ArrayOps = NP) -> None:
        self.lo, self.hi, self.xp = int(lo), int(hi), xp
        trace: dict[str, np.ndarray] = {}
        self.e = xp.asarray(exp(np.arange(self.lo, self.hi + 1, dtype=np.int64), trace))
        self.trace = {k: xp.asarray(v) for k, v in trace.items()}

    @property
    def width(self) -> int:
        """Number of entries."""
        return self.hi - self.lo + 1

    def lookup(self, x: np.ndarray, trace: dict | None) -> np.ndarray:
        """ShiftExp of ``x`` (every value inside [lo, hi]); fills ``trace`` with the looked-up intermediates."""
        count_hit("shift_exp_table")
        idx = x - self.lo
        if trace is not None:
            for key, table in self.trace.items():
                trace[key] = self.xp.take(table, idx)
        return self.xp.take(self.e, idx)


def worth_table(width: int, size: int) -> bool:
    """A table of ``width`` entries pays for a tensor of ``size`` elements (few distinct values)."""
    return size > LUT_MIN_ELEMENTS and width < size // 4


def gelu_rows_worth_table(width: int, rows: int, size: int) -> bool:
    """ShiftGELU's per-row sigmoid table (rows x width entries) pays for ``size`` elements."""
    return size > LUT_MIN_ELEMENTS and 2 * rows * width < size


