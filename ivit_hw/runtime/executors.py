"""The registry of integer-graph executors, shared by ``run``, ``eval``, ``check-goldens`` and
``gpu_validate`` (like :mod:`ivit_hw.codegen.targets` for codegen targets).

Every executor is built by ``make(graph, device)`` and answers
``run(inputs, trace=False, check=False) -> RunResult`` on numpy integer inputs (per-sample
shape or batched), bit-exactly equal to the golden executor. Only ``numpy`` and ``torch`` can
trace or check (the fused ones run several nodes as one step). Builders import torch / triton
lazily, so this module imports with the core dependencies only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..errors import UserValueError
from ..ir.graph import Graph
from .numpy_exec import RunResult, run_graph


class Runner(Protocol):
    """What an executor answers."""

    def run(self, inputs: Mapping[str, np.ndarray], trace: bool = False, check: bool = False) -> RunResult: ...


@dataclass(frozen=True)
class ExecutorKind:
    """One executor: ``make(graph, device)`` builds it; ``needs`` names the extra it imports
    (None: core only); ``traces``: whether ``run(trace=True / check=True)`` is supported."""

    name: str
    help: str
    make: Callable[[Graph, str], Runner]
    needs: str | None = None
    traces: bool = False


class GoldenRunner:
    """The numpy golden executor (``fast=False``: the spec path of every kernel, no tables)."""

    def __init__(self, graph: Graph, fast: bool = True) -> None:
        self.graph, self.fast = graph, fast

    def run(self, inputs: Mapping[str, np.ndarray], trace: bool = False, check: bool = False,
            observe: Any = None) -> RunResult:
        return run_graph(self.graph, inputs, trace=trace, check=check, observe=observe, fast=self.fast)


class FusedRunner:
    """A :class:`~ivit_hw.runtime.fused.executor.FusedExecutor` behind the runner interface."""

    def __init__(self, graph: Graph, device: str, backend: str, compile: bool = False, **options: Any) -> None:
        from .fused.executor import FusedExecutor

        self.executor = FusedExecutor(graph, device, backend, compile=compile, **options)
        self.forward = self.executor.forward  # device tensors in and out (no checks), like TorchExecutor

    def run(self, inputs: Mapping[str, np.ndarray], trace: bool = False, check: bool = False) -> RunResult:
        if trace or check:
            raise UserValueError("the fused executors run several nodes as one step: --trace / --check need the "
                             "numpy or torch executor")
        return self.executor.run(inputs)


def _torch(graph: Graph, device: str) -> Runner:
    from .torch_exec import TorchExecutor

    return TorchExecutor(graph, device=device)


EXECUTORS: dict[str, ExecutorKind] = {}


def register_executor(kind: ExecutorKind) -> ExecutorKind:
    """Add ``kind`` (once per name)."""
    if kind.name in EXECUTORS:
        raise ValueError(f"executor {kind.name!r} registered twice")
    EXECUTORS[kind.name] = kind
    return kind


for _kind in (
    ExecutorKind("numpy", "the numpy golden executor (lookup tables, exact float BLAS GEMMs)",
                 lambda g, d: GoldenRunner(g), traces=True),
    ExecutorKind("numpy-spec", "the golden executor on the spec path of every kernel (no fast paths)",
                 lambda g, d: GoldenRunner(g, fast=False), traces=True),
    ExecutorKind("torch", "the per-node torch executor (the spec kernels on torch tensors)", _torch, "torch",
                 traces=True),
    ExecutorKind("fused", "fused steps: int8 GEMM routes per CPU and native row kernels for the element-wise "
                 "chains (the fast CPU path; torch steps where no compiler builds them)",
                 lambda g, d: FusedRunner(g, d, "torch"), "torch"),
    ExecutorKind("fused-torch", "the fused steps as exact torch code only (no native kernels)",
                 lambda g, d: FusedRunner(g, d, "torch", native=False), "torch"),
    ExecutorKind("fused-compiled", "the fused torch steps through torch.compile",
                 lambda g, d: FusedRunner(g, d, "torch", compile=True), "torch"),
    ExecutorKind("triton", "fused Triton kernels (CUDA; CPU only under TRITON_INTERPRET=1)",
                 lambda g, d: FusedRunner(g, d, "triton"), "triton"),
):
    register_executor(_kind)


def check_available(name: str) -> None:
    """ValueError (one line) unless executor ``name`` exists and its extra imports here."""
    if name not in EXECUTORS:
        raise UserValueError(f"unknown executor {name!r}; choose one of {sorted(EXECUTORS)}")
    needs = EXECUTORS[name].needs
    if needs is not None:
        import importlib

        try:
            importlib.import_module(needs)
        except ImportError as exc:
            raise UserValueError(f"executor {name} needs {needs}, which is not installed ({exc})") from None


def make_executor(name: str, graph: Graph, device: str = "cpu") -> Runner:
    """Build executor ``name``; ValueError (one line) for an unknown name or a missing extra."""
    check_available(name)
    kind = EXECUTORS[name]
    try:
        return kind.make(graph, device)
    except ModuleNotFoundError as exc:
        raise UserValueError(f"executor {name} needs {kind.needs or exc.name}, which is not installed "
                         f"({exc.name} missing)") from None
    except RuntimeError as exc:
        raise UserValueError(f"executor {name} on device {device}: {str(exc).splitlines()[0]}") from None
