"""The fused executor equals the numpy golden executor exactly on whole graphs: the digits model,
DeiT-tiny (12 blocks) and the all-8-bit configuration, with the Triton kernels (interpreted on CPU)
and with the torch formulations; the plan must actually fuse (counted), so a silent fallback fails."""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton decorates the kernels

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ivit_hw.frontend.qconfig import QuantConfig  # noqa: E402
from ivit_hw.frontend.synthetic import synthetic_graph, synthetic_images  # noqa: E402
from ivit_hw.ir.types import IRError  # noqa: E402
from ivit_hw.runtime import run_graph  # noqa: E402
from ivit_hw.runtime.fused.executor import FusedExecutor  # noqa: E402
from ivit_hw.runtime.fused.steps import build_plan, plan_summary  # noqa: E402

DEV = "cuda" if torch.cuda.is_available() else "cpu"


def _images(graph, n, seed):
    c, h, _ = graph.tensor("pixels").shape
    img = synthetic_images(n, c, h, seed)
    img[0] = 255  # an extreme image (every pixel at the top of uint8)
    return img


def _check(graph, images, backend, fuse=True, ref=None):
    ref = ref or run_graph(graph, {"pixels": images})
    out = FusedExecutor(graph, DEV, backend, fuse=fuse).run({"pixels": images})
    assert ref.outputs.keys() == out.outputs.keys()
    for k, v in ref.outputs.items():
        assert np.array_equal(out.outputs[k], v), k
    return ref


def _depth(graph):
    return int(graph.meta.get("depth", sum(n.op == "shiftmax" for n in graph.nodes)))


def test_plan_fuses_every_block(deit_tiny_graph):
    counts = plan_summary(build_plan(deit_tiny_graph))
    depth = sum(n.op == "shiftmax" for n in deit_tiny_graph.nodes)
    assert depth == 12
    assert counts["attention"] == depth and counts["gelu"] == depth
    assert counts["layernorm"] == 2 * depth + 1
    assert counts["gemm"] == 4 * depth + 2  # qkv, proj, fc1, fc2 per block; patch embed; head
    assert not any(s.kind == "op" and s.nodes[0].op in ("requantize", "shiftmax", "linear") for s in
                   build_plan(deit_tiny_graph))


@pytest.mark.parametrize("backend", ("torch", "triton"))
def test_digits_graph_bit_exact(digits_graph, backend):
    _check(digits_graph, _images(digits_graph, 3, 11), backend)


def test_deit_tiny_triton_bit_exact(deit_tiny_graph):
    _check(deit_tiny_graph, _images(deit_tiny_graph, 1, 12), "triton")


def test_deit_tiny_torch_bit_exact_fused_and_unfused(deit_tiny_graph):
    images = _images(deit_tiny_graph, 2, 13)
    ref = _check(deit_tiny_graph, images, "torch")
    _check(deit_tiny_graph, images, "torch", fuse=False, ref=ref)


@pytest.mark.parametrize("backend", ("torch", "triton"))
def test_all_8bit_configuration(backend):
    graph = synthetic_graph("deit_tiny", depth=2, cfg=QuantConfig(act_bits=8))
    assert plan_summary(build_plan(graph))["attention"] == 2
    _check(graph, _images(graph, 2, 14), backend)


def test_bad_input_is_named():
    graph = synthetic_graph("deit_tiny", depth=1)
    ex = FusedExecutor(graph, DEV, "torch")
    with pytest.raises(IRError, match="pixels"):
        ex.run({"pixels": np.zeros((1, 3, 8, 8), dtype=np.uint8)})
    with pytest.raises(IRError, match="pixels"):
        ex.run({"pixels": np.zeros((1, 3, 224, 224), dtype=np.float32)})
    with pytest.raises(ValueError, match="backend"):
        FusedExecutor(graph, DEV, "cuda-magic")
