"""One-node graphs for every op of the registry, with inputs that include the
edge rows (all-equal, all-negative, extremes), shared by the executor tests.
Loaded by path from the runtime tests (the tests tree has no packages)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ivit_hw.ir import Graph, GraphBuilder, Interval, IntType, IRError, infer_ranges
from ivit_hw.ir.scales import output_scale
from ivit_hw.ops import params

I8, I16, I32, I64 = IntType(8), IntType(16), IntType(32), IntType(64)
U1 = IntType(1, signed=False)


def edge_rows(rng: np.random.Generator, shape: tuple[int, ...], lo: int, hi: int) -> np.ndarray:
    """Random integers in [lo, hi] with the first rows all-equal, all-negative and alternating extremes."""
    x = rng.integers(lo, hi + 1, shape)
    flat = x.reshape(-1, shape[-1])
    flat[0] = lo
    if len(flat) > 1:
        flat[1] = rng.integers(lo, min(lo // 2, hi) + 1, shape[-1]) if lo < 0 else lo
    if len(flat) > 2:
        flat[2, ::2], flat[2, 1::2] = lo, hi
    if len(flat) > 3:
        flat[3] = hi
    return flat.reshape(shape)


def _one_node(op: str, data: dict[str, tuple[tuple[int, ...], Interval]], consts: dict, attrs: dict,
              seed: int = 0) -> tuple[Graph, dict[str, np.ndarray]]:
    b = GraphBuilder(op)
    inputs = {}
    rng = np.random.default_rng(seed)
    feeds = {}
    for role, (shape, iv) in data.items():
        inputs[role] = b.input(role, shape, IntType.fitting(iv), 0.1, iv)
        feeds[role] = edge_rows(rng, (3, *shape), iv.lo, iv.hi)
    for role, values in consts.items():
        values = np.asarray(values)
        dtype = U1 if role == "mask" else IntType.fitting(Interval(int(values.min()), int(values.max())))
        inputs[role] = b.const(f"c.{role}", values, dtype, 0.1)
    b.node(op, inputs, "y", I64, _rule_scale(op, data, consts, attrs), attrs=attrs)
    return infer_ranges(b.finish(["y"])), feeds


def _rule_scale(op: str, data: dict, consts: dict, attrs: dict):
    """The output scale the op's scale rule gives for these inputs (every one on scale 0.1), else None."""
    shapes = {**{r: shape for r, (shape, _) in data.items()}, **{r: np.shape(v) for r, v in consts.items()}}
    try:
        values = {r: np.asarray(v) for r, v in consts.items()}
        return output_scale(op, {r: 0.1 for r in (*data, *consts)}, attrs, values, shapes)
    except IRError:
        return None


R8, R16 = Interval(-128, 127), Interval(-32768, 32767)


def _cases() -> dict[str, Callable[[], tuple[Graph, dict]]]:
    rng = np.random.default_rng(7)
    ib = params.ibert_exp_params(0.05)
    ig = params.ibert_gelu_params(0.02)
    mask = np.tril(np.ones((6, 6), dtype=np.int64))
    w8 = rng.integers(-128, 128, (12, 20))
    return {
        "requantize": lambda: _one_node("requantize", {"acc": ((5, 12), Interval(-2**31, 2**31 - 1))},
                                        {"m": rng.integers(2**30, 2**31, 12), "e": rng.integers(30, 40, 12)},
                                        {"out_bits": 8}),
        "requantize_identity": lambda: _one_node(
            "requantize", {"acc": ((5, 12), Interval(-2**31, 2**31 - 1)), "identity": ((5, 12), R16)},
            {"m": 1_234_567_890, "e": 40, "m_id": 2**30, "e_id": 31}, {"out_bits": 16, "rounding": "half_up"}),
        "linear": lambda: _one_node("linear", {"x": ((5, 20), R8)},
                                    {"weight": w8, "bias": rng.integers(-1000, 1000, 12)}, {}),
        "linear_uint8": lambda: _one_node("linear", {"x": ((20, 20), Interval(0, 255))}, {"weight": w8}, {}),
        "matmul": lambda: _one_node("matmul", {"a": ((2, 5, 7), R8), "b": ((2, 6, 7), R8)}, {},
                                    {"transpose_b": True}),
        "patch_embed": lambda: _one_node("patch_embed", {"x": ((3, 8, 8), Interval(0, 255))},
                                         {"weight": rng.integers(-128, 128, (10, 3, 4, 4))}, {"patch": 4}),
        "add": lambda: _one_node("add", {"a": ((4, 6), R16), "b": ((4, 6), R16)}, {}, {}),
        "shiftmax": lambda: _one_node("shiftmax", {"x": ((2, 6, 6), R8)}, {"mask": mask},
                                      {"x0": params.exp_x0(0.08)}),
        "shiftmax_16": lambda: _one_node("shiftmax", {"x": ((4, 9), R16)}, {}, {"x0": params.exp_x0(0.001)}),
        "shiftgelu": lambda: _one_node("shiftgelu", {"x": ((5, 16), R8)}, {}, {"x0": params.gelu_x0(0.05)}),
        "shiftgelu_shift": lambda: _one_node("shiftgelu", {"x": ((5, 16), R8)}, {},
                                             {"x0": params.gelu_x0(0.05, "shift"), "coef": "shift"}),
        "ilayernorm": lambda: _one_node("ilayernorm", {"x": ((5, 16), R16)},
                                        {"bias_int": rng.integers(-100, 100, 16)}, {}),
        "ilayernorm_exact": lambda: _one_node("ilayernorm", {"x": ((5, 16), R16)},
                                              {"bias_int": rng.integers(-100, 100, 16)}, {"sqrt": "exact"}),
        "ibert_softmax": lambda: _one_node("ibert_softmax", {"x": ((4, 9), R8)}, {},
                                           {k: ib[k] for k in ("x0", "b_int", "c_int", "n", "h")}),
        "ibert_gelu": lambda: _one_node("ibert_gelu", {"x": ((5, 16), R8)}, {},
                                        {k: ig[k] for k in ("b_int", "c_int", "one")}),
        "ibert_layernorm": lambda: _one_node("ibert_layernorm", {"x": ((5, 16), R16)},
                                             {"bias_int": rng.integers(-100, 100, 16)}, {}),
        "l1_layernorm": lambda: _one_node("l1_layernorm", {"x": ((5, 16), R16)},
                                          {"bias_int": rng.integers(-100, 100, 16)}, {}),
        "log_int_softmax": lambda: _one_node("log_int_softmax", {"x": ((2, 6, 6), R8)}, {"mask": mask},
                                             {k: ib[k] for k in ("x0", "b_int", "c_int", "n")}),
        "log_attn_v": lambda: _one_node("log_attn_v", {"code": ((2, 6, 6), Interval(0, 16)),
                                                       "v": ((2, 6, 8), R8)}, {}, {}),
        "reshape": lambda: _one_node("reshape", {"x": ((4, 6), R8)}, {}, {"shape": [2, 12]}),
        "transpose": lambda: _one_node("transpose", {"x": ((2, 3, 4), R8)}, {}, {"perm": [2, 0, 1]}),
        "concat": lambda: _concat_case(),
        "slice": lambda: _one_node("slice", {"x": ((5, 6), R8)}, {}, {"axis": 0, "start": 1, "stop": 4}),
        "gather": lambda: _one_node("gather", {"x": ((5, 6), R8)}, {}, {"axis": -2, "index": 0}),
        "reduce_sum": lambda: _one_node("reduce_sum", {"x": ((5, 6), R16)}, {}, {"axis": 0}),
        "argmax": lambda: _one_node("argmax", {"x": ((5, 6), R8)}, {}, {}),
    }


def _concat_case() -> tuple[Graph, dict]:
    """A constant used as data (a batch of one, broadcast) concatenated with a batched input."""
    b = GraphBuilder("concat")
    x = b.input("x", (3, 4), I8, 0.1, R8)
    cls = b.const("cls", np.arange(4).reshape(1, 4) - 2, I8, 0.1)
    b.node("concat", {"a": cls, "b": x}, "y", I8, 0.1, {"axis": 0})
    feeds = {"x": edge_rows(np.random.default_rng(3), (3, 3, 4), -128, 127)}
    return infer_ranges(b.finish(["y"])), feeds


CASES = _cases()


def case_op(name: str) -> str:
    """The op a case name exercises (the name up to a known op, e.g. shiftmax_16 -> shiftmax)."""
    graph, _ = CASES[name]()
    return graph.nodes[0].op
