"""The independent check: the digits model's integer logits from a from-scratch
Python-int forward (no ivit_hw kernels, executor or registry) equal the golden
executor's, exactly."""

from __future__ import annotations

import ast
import inspect

import numpy as np
import pytest

from ivit_hw.frontend import scratch_forward
from ivit_hw.frontend.data import load_digits_split
from ivit_hw.frontend.scratch_forward import ScratchViT, scratch_logits
from ivit_hw.runtime import run_graph

N_IMAGES = 3


def _imports(module) -> set[str]:
    tree = ast.parse(inspect.getsource(module))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    return imported | {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}


def test_scratch_forward_shares_no_code_with_the_model():
    from ivit_hw.frontend import scratch_swin

    imported = _imports(scratch_forward)
    assert imported <= {"__future__", "math", "fractions", "typing", "scratch_swin"}, imported
    assert _imports(scratch_swin) <= {"__future__", "typing", "scratch_forward"}


def test_scratch_logits_equal_the_golden_executor_on_test_images(digits_graph):
    images = load_digits_split().test_images[:N_IMAGES]
    golden = run_graph(digits_graph, {digits_graph.inputs[0]: images}).outputs[digits_graph.outputs[0]]
    scratch = np.asarray(scratch_logits(digits_graph, images), dtype=np.int64)
    assert scratch.shape == golden.shape == (N_IMAGES, 10)
    assert len(np.unique(scratch)) > 5  # real logits, not a constant
    np.testing.assert_array_equal(scratch, golden)


def test_scratch_forward_sees_a_changed_constant(digits_graph):
    # the check can fail: head weights changed in the scratch model's copy move its logits away from the golden's.
    # Random +-50 steps per weight, not a constant shift: the head's input is a LayerNorm output whose row sum is
    # near zero, so adding one constant to a whole row can vanish in the logits' requantize.
    images = load_digits_split().test_images[:1]
    model = ScratchViT(digits_graph)
    before = model.logits(images[0].tolist())
    rng = np.random.default_rng(0)
    model.c["head.weight"] = [[w + int(d) for w, d in zip(row, rng.choice([-50, 50], len(row)), strict=True)]
                              for row in model.c["head.weight"]]
    after = model.logits(images[0].tolist())
    assert sum(a != b for a, b in zip(after, before, strict=True)) >= 5


def test_scratch_forward_refuses_the_baseline_ops():
    class Other:
        meta = {"quant": {"softmax": "ibert_softmax"}}

    with pytest.raises(ValueError, match="softmax='ibert_softmax'"):
        ScratchViT(Other())
