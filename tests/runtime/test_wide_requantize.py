"""The golden executor runs every requantize the IR accepts, including products
beyond 2^62 with shifts below 17 (the Python-int product path), exactly."""

from __future__ import annotations

import ivit_ops_reference as ref
import numpy as np
import pytest

from ivit_hw.ir import GraphBuilder, Interval, IntType
from ivit_hw.runtime import run_graph

U8, I32 = IntType(8, signed=False), IntType(32)


def _wide_graph(rounding: str, with_identity: bool):
    """acc i40 (|acc| up to 2^39) times m ~ 2^30 with e = 16: |acc*m| reaches 2^69."""
    b = GraphBuilder("wide")
    acc = b.input("acc", (6,), IntType(40), 1.0, Interval(-(2**39), 2**39 - 1))
    m = np.array([2**30, 2**30 + 1, 2**31 - 1, -(2**30) - 7, 2**30 + 3, 2**31 - 5])
    e = np.array([16, 16, 9, 16, 12, 10])  # y stays below 2^62 (a 64-bit internal)
    inputs = {"acc": acc, "m": b.const("m", m, I32), "e": b.const("e", e, U8)}
    if with_identity:
        inputs["identity"] = b.input("id", (6,), IntType(40), 1.0, Interval(-(2**39), 2**39 - 1))
        inputs["m_id"] = b.const("m_id", np.full(6, 2**31 - 3), I32)
        inputs["e_id"] = b.const("e_id", np.array([9, 10, 16, 12, 9, 15]), U8)
    y = b.node("requantize", inputs, "y", IntType(64), None, {"out_bits": 64, "rounding": rounding})
    return b.finish([y]), m.tolist(), e.tolist()


@pytest.mark.parametrize("rounding", ["half_even", "half_up", "floor"])
@pytest.mark.parametrize("with_identity", [False, True])
def test_golden_executor_runs_products_beyond_int64_with_small_shifts(rounding, with_identity):
    g, m, e = _wide_graph(rounding, with_identity)
    rng = np.random.default_rng(3)
    acc = np.concatenate([np.array([[2**39 - 1] * 6, [-(2**39)] * 6, [65535, -65535, 3, -5, 2**38, 32768]]),
                          rng.integers(-(2**39), 2**39, (5, 6))]).astype(np.int64)
    ident = rng.integers(-(2**39), 2**39, acc.shape).astype(np.int64)
    inputs = {"acc": acc, "id": ident} if with_identity else {"acc": acc}
    out = run_graph(g, inputs, check=True).outputs["y"]
    want = ref.requantize(acc.tolist(), m, e, 64, rounding, ident.tolist() if with_identity else None,
                          [2**31 - 3] * 6, [9, 10, 16, 12, 9, 15])
    np.testing.assert_array_equal(out, np.array(want, dtype=np.int64))


def test_wide_product_hand_value():
    """(2^39 - 1) * 2^30 / 2^16 = 2^53 - 2^14: no rounding, worked by hand."""
    g, _, _ = _wide_graph("half_even", False)
    acc = np.full((1, 6), 2**39 - 1, np.int64)
    assert int(run_graph(g, {"acc": acc}).outputs["y"][0, 0]) == 2**53 - 2**14
