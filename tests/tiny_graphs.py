"""Small hand-built graphs and broken-folder cases shared by the IR, runtime and
CLI tests (each test module puts ``tests/`` on ``sys.path`` to import this)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from ivit_hw import ops
from ivit_hw.ir import Graph, GraphBuilder, Interval, IntType
from ivit_hw.ops.params import exp_x0

I8, I16, I32 = IntType(8), IntType(16), IntType(32)
U8 = IntType(8, signed=False)


def tiny_graph(seed: int = 0) -> Graph:
    """x[4, 8] i8 -> linear(6) -> requantize per channel -> reshape [4, 2, 3] -> transpose
    -> matmul(t, t^T) -> requantize -> y[2, 4, 4] i8. Exercises per-channel scales (also on
    the weight's axis 0), int, bool, str and list attributes; no non-linear op."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder("tiny")
    x = b.input("x", (4, 8), I8, 0.05, Interval(-127, 127))
    w_int = rng.integers(-127, 128, (6, 8))
    s_w = 0.01 * (1 + rng.random(6))
    acc_scale = 0.05 * s_w
    w = b.const("fc.weight", w_int, I8, s_w, scale_axis=0)
    bias = b.const("fc.bias", rng.integers(-500, 500, 6), I32, acc_scale)
    acc = b.node("linear", {"x": x, "weight": w, "bias": bias}, "fc.acc", I32, acc_scale)
    m, e = ops.dyadic(acc_scale / 0.2)
    q = b.node("requantize", {"acc": acc, "m": b.const("fc.q.m", m, I32), "e": b.const("fc.q.e", e, U8)},
               "fc.q", I8, 0.2, {"out_bits": 8})
    r = b.node("reshape", {"x": q}, "r", I8, 0.2, {"shape": [4, 2, 3]})
    t = b.node("transpose", {"x": r}, "t", I8, 0.2, {"perm": [1, 0, 2]})
    s = b.node("matmul", {"a": t, "b": t}, "s.acc", I32, 0.04, {"transpose_b": True})
    m2, e2 = ops.dyadic(0.04 / 30.0)
    y = b.node("requantize", {"acc": s, "m": b.const("y.m", np.asarray(m2), I32),
                              "e": b.const("y.e", np.asarray(e2), U8)},
               "y", I8, 30.0, {"out_bits": 8, "rounding": "half_up"})
    b.meta.update(purpose="tests", version=3)
    return b.finish([y])


def softmax_graph() -> Graph:
    """x[3, 5] i8 -> shiftmax (16 bit) -> y: a graph with node internals."""
    b = GraphBuilder("softmax")
    x = b.input("x", (3, 5), I8, 0.1, Interval(-128, 127))
    y = b.node("shiftmax", {"x": x}, "y", I16, 2.0**-15, {"x0": exp_x0(0.1)}, name="sm")
    return b.finish([y])


def tiny_input(batch: int | None = None, seed: int = 1) -> np.ndarray:
    """Random int8 input for :func:`tiny_graph` (per-sample, or with a batch axis)."""
    rng = np.random.default_rng(seed)
    shape = (4, 8) if batch is None else (batch, 4, 8)
    return rng.integers(-127, 128, shape).astype(np.int8)


# ----------------------------------------------------------------------------- broken graph folders
# Each case edits a folder written by save_graph(tiny_graph()) so that exactly one thing is
# wrong; ``expect`` are substrings the single error line must contain (the culprit's name first).


def _yaml(fn):
    def edit(folder: Path) -> None:
        path = folder / "graph.yaml"
        doc = yaml.safe_load(path.read_text())
        fn(doc)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return edit


def _text(fn):
    def edit(folder: Path) -> None:
        path = folder / "graph.yaml"
        path.write_text(fn(path.read_text()))
    return edit


def _npz(fn):
    def edit(folder: Path) -> None:
        path = folder / "constants.npz"
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
        fn(arrays)
        np.savez(path, **arrays)
    return edit


def _set(path: tuple, value):
    def fn(doc):
        for key in path[:-1]:
            doc = doc[key]
        doc[path[-1]] = value
    return fn


def _delete(path: tuple):
    def fn(doc):
        for key in path[:-1]:
            doc = doc[key]
        del doc[path[-1]]
    return fn


def _swap_nodes(doc):
    doc["nodes"][2], doc["nodes"][3] = doc["nodes"][3], doc["nodes"][2]


def _dup_tensor(text: str) -> str:
    start = text.index("  x:\n")
    end = text.index("  fc.weight:\n")
    return text[:end] + text[start:end] + text[end:]


def _orphan(doc):
    doc["tensors"]["orphan"] = {"shape": [2], "bits": 8, "signed": True, "scale": 0.1, "const": False}


T, N = "tensors", "nodes"
BROKEN: list[tuple[str, object, list[str]]] = [
    ("missing-yaml", lambda f: (f / "graph.yaml").unlink(), ["graph.yaml is missing"]),
    ("missing-npz", lambda f: (f / "constants.npz").unlink(), ["constants.npz is missing"]),
    ("bad-yaml", _text(lambda t: t + "\n  oops: [unclosed\n"), ["graph.yaml is not valid YAML"]),
    ("top-not-mapping", _text(lambda t: "- a\n- b\n"), ["top level must be a mapping"]),
    ("missing-top-key", _yaml(_delete(("nodes",))), ["missing key(s) ['nodes']"]),
    ("unknown-top-key", _yaml(_set(("colour",), "red")), ["unknown key(s) ['colour']"]),
    ("bad-version", _yaml(_set(("ivit_hw_ir",), 2)), ["unsupported format version 2"]),
    ("unknown-tensor-key", _yaml(_set((T, "x", "colour"), "red")), ["tensor 'x'", "unknown key(s) ['colour']"]),
    ("missing-tensor-key", _yaml(_delete((T, "fc.acc", "bits"))), ["tensor 'fc.acc'", "missing key(s) ['bits']"]),
    ("bad-shape", _yaml(_set((T, "x", "shape"), "4x8")), ["tensor 'x'", "shape must be a list"]),
    ("bad-signed", _yaml(_set((T, "x", "signed"), 1)), ["tensor 'x'", "signed must be true or false"]),
    ("bits-too-high", _yaml(_set((T, "fc.acc", "bits"), 70)), ["tensor 'fc.acc'", "[1, 64]", "70"]),
    ("bits-zero", _yaml(_set((T, "fc.acc", "bits"), 0)), ["tensor 'fc.acc'", "[1, 64]"]),
    ("nan-scale", _yaml(_set((T, "x", "scale"), float("nan"))), ["tensor 'x'", "finite"]),
    ("inf-scale", _yaml(_set((T, "x", "scale"), float("inf"))), ["tensor 'x'", "finite"]),
    ("zero-scale", _yaml(_set((T, "x", "scale"), 0.0)), ["tensor 'x'", "positive"]),
    ("negative-scale", _yaml(_set((T, "fc.q", "scale"), -0.2)), ["tensor 'fc.q'", "positive"]),
    ("bad-scale-type", _yaml(_set((T, "x", "scale"), "small")), ["tensor 'x'", "scale must be"]),
    ("scale-length", _yaml(_set((T, "fc.acc", "scale"), [0.1] * 5)),
     ["tensor 'fc.acc'", "5 entries", "last axis", "[4, 6]"]),
    ("weight-scale-axis", _yaml(_set((T, "fc.weight", "scale"), [0.1] * 8)),
     ["tensor 'fc.weight'", "8 entries", "axis 0"]),
    ("bad-range", _yaml(_set((T, "x", "range"), [5, 1])), ["tensor 'x'", "empty"]),
    ("no-producer", _yaml(_orphan), ["tensor 'orphan'", "neither a graph input, a constant nor the output"]),
    ("duplicate-tensor", _text(_dup_tensor), ["duplicate key 'x'"]),
    ("undefined-output", _yaml(_set(("outputs",), ["zz"])), ["graph output 'zz' is not a defined tensor"]),
    ("unknown-node-key", _yaml(_set((N, 0, "colour"), "red")), ["node 'fc.acc'", "unknown key(s) ['colour']"]),
    ("unknown-op", _yaml(_set((N, 1, "op"), "requantise")), ["node 'fc.q'", "unknown op 'requantise'", "requantize"]),
    ("unknown-role", _yaml(_set((N, 0, "inputs", "scale"), "fc.bias")),
     ["node 'fc.acc'", "unknown input role(s) ['scale']"]),
    ("missing-role", _yaml(_delete((N, 1, "inputs", "acc"))), ["node 'fc.q'", "missing input role(s) ['acc']"]),
    ("missing-attr", _yaml(_delete((N, 1, "attrs", "out_bits"))), ["node 'fc.q'", "missing attribute 'out_bits'"]),
    ("bad-attr-type", _yaml(_set((N, 1, "attrs", "out_bits"), "eight")), ["node 'fc.q'", "'out_bits' must be an int"]),
    ("bad-attr-choice", _yaml(_set((N, 5, "attrs", "rounding"), "nearest")),
     ["node 'y'", "'rounding' must be one of"]),
    ("bad-attr-list", _yaml(_set((N, 3, "attrs", "perm"), "102")), ["node 't'", "'perm' must be a list of ints"]),
    ("unknown-attr", _yaml(_set((N, 2, "attrs", "order"), "C")), ["node 'r'", "unknown attribute(s) ['order']"]),
    ("undefined-tensor", _yaml(_set((N, 2, "inputs", "x"), "nope")), ["node 'r'", "'nope' is not a defined tensor"]),
    ("param-not-const", _yaml(_set((N, 1, "inputs", "m"), "x")), ["node 'fc.q'", "m='x' must be a constant"]),
    ("duplicate-node", _yaml(_set((N, 3, "name"), "r")), ["node name 'r' is used by 2 nodes"]),
    ("shape-mismatch", _yaml(_set((T, "y", "shape"), [2, 4, 5])),
     ["node 'y'", "declares shape [2, 4, 5]", "[2, 4, 4]"]),
    ("not-topological", _yaml(_swap_nodes), ["node 't'", "written later by node 'r'", "topologically"]),
    ("const-missing", _npz(lambda a: a.pop("fc.bias")), ["constant 'fc.bias'", "missing"]),
    ("const-shape", _npz(lambda a: a.update({"fc.bias": np.zeros(5, np.int32)})), ["constant 'fc.bias'", "shape [5]"]),
    ("const-float", _npz(lambda a: a.update({"fc.weight": a["fc.weight"].astype(np.float32)})),
     ["constant 'fc.weight'", "non-integer"]),
    ("const-out-of-type", _yaml(_set((T, "fc.weight", "bits"), 4)), ["constant 'fc.weight'", "do not fit", "i4"]),
    ("npz-extra", _npz(lambda a: a.update({"ghost": np.zeros(2, np.int8)})), ["'ghost'", "not a tensor"]),
    ("width-violation", _yaml(_set((T, "fc.acc", "bits"), 16)), ["tensor 'fc.acc'", "needs i18", "i16 is declared"]),
]
