"""The torch executor: any IR graph, exactly, on a torch device.

Every node runs the same spec kernel as the golden executor, on the torch
namespace (:mod:`ivit_hw.runtime.torch_namespace`): int8 GEMMs through
``torch._int_mm``, element-wise chains in int64, batch first, no host
synchronisation in :meth:`TorchExecutor.forward`. The per-op dispatch is a
table (op name -> builder, :data:`TORCH_BUILDERS`) that callers may
override, e.g. with fused kernels, through ``impls=``.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ..ir.graph import Graph
from ..ir.types import IRError
from .node_builders import BUILDERS, Builder
from .numpy_exec import PlannedGraph, RunResult, check_input
from .torch_namespace import TorchOps

#: The default op -> builder table of the torch executor: its own entries (none today) over the shared spec
#: builders, read through, so a builder patched or registered in ``BUILDERS`` reaches it (as
#: ``golden_fast.GOLDEN_BUILDERS`` does for the golden executor).
TORCH_BUILDERS: ChainMap[str, Builder] = ChainMap({}, BUILDERS)


def to_numpy(value: Any) -> np.ndarray:
    """A tensor (any device) or array as a numpy array (int64 for integer tensors)."""
    if isinstance(value, torch.Tensor):
        arr = value.detach().cpu().numpy()
        return arr.astype(np.int64) if arr.dtype.kind in "iub" else arr
    return np.asarray(value)


class TorchExecutor:
    """Runs ``graph`` on ``device`` with int64 torch tensors, exactly equal to the golden executor.

    ``impls`` overrides entries of :data:`TORCH_BUILDERS` (op name -> builder
    taking a :class:`~ivit_hw.runtime.node_builders.NodeContext`). ``int8_gemm`` forces the int8 GEMM route
    on or off (None: where the device has int8 dot products).
    """

    def __init__(self, graph: Graph, device: str | torch.device = "cpu",
                 impls: Mapping[str, Builder] | None = None, int8_gemm: bool | None = None) -> None:
        self.xp = TorchOps(device, int8_gemm)
        self.device = self.xp.device
        self.impls = {**TORCH_BUILDERS, **(impls or {})}
        self._plan = PlannedGraph(graph, self.xp, True, self.impls, to_numpy)
        self.graph = self._plan.graph

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Outputs by name for batched integer ``inputs`` ([B, *shape]); stays on the device, no checks."""
        env = {n: inputs[n].to(self.device, torch.int64) for n in self.graph.inputs}
        return self._plan.execute(env).outputs

    def run(self, inputs: Mapping[str, np.ndarray], trace: bool = False, check: bool = False) -> RunResult:
        """Like :func:`~ivit_hw.runtime.run_graph`: numpy inputs (checked), numpy int64 results."""
        missing = [n for n in self.graph.inputs if n not in inputs]
        if missing:
            raise IRError(f"graph {self.graph.name!r}: missing input(s) {missing}")
        env = {n: torch.as_tensor(check_input(self.graph, n, inputs[n]), device=self.device)
               for n in self.graph.inputs}
        self.xp.checking = check
        try:
            res = self._plan.execute(env, trace, check)
        finally:
            self.xp.checking = False
        return RunResult({k: to_numpy(v) for k, v in res.outputs.items()},
                         {k: to_numpy(v) for k, v in res.tensors.items()},
                         {k: to_numpy(v) for k, v in res.internals.items()})
