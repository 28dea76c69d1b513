"""Soundness and tightness of the non-linear range rules, shown by sweeping.

Each case builds a one-node graph, runs :func:`infer_ranges` on it (input
range = the full 8-bit or 16-bit type), then executes the node with the
golden kernels and ``trace=True`` on every value the elementwise parts can
see (rows holding every int8 value, a row per (element, row-max) pair for
ShiftGELU, every int16 value for I-BERT GELU, every pair of int8 values for
the LayerNorms at C = 2) plus random and adversarial rows for the row
reductions: all-equal rows, all-negative rows, one-hot extremes, half-high /
half-low rows, rows of length 1 and long rows. Every traced intermediate and
the output must lie inside the proven interval and inside the type that
range analysis assigned (for an undeclared internal, the narrowest fitting).

Tightness: the slack of a value is the bits of the assigned type minus the
bits the observed hull needs (same signedness). ``pytest -s`` prints the
table. Allowed slack is 0 by default; larger allowances are listed in
:data:`ALLOW` with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest

from ivit_hw import ops
from ivit_hw.ir import GraphBuilder, Interval, IntType, infer_ranges
from ivit_hw.ir.registry import get_op
from ivit_hw.ops import params
from ivit_hw.runtime.numpy_exec import run_graph

INT32_MAX = 2**31 - 1
I8 = Interval(-128, 127)
I16 = Interval(-32768, 32767)
TABLE: list[tuple] = []

# (case label prefix, value) -> bits of slack allowed, with the reason. Everything else: 0.
ALLOW = {
    # Four Newton steps from 256 on rows of 3: the rule bounds |y*f| with k >= max(16, isqrt(v)),
    # but on small v the real k sits well above isqrt(v) (v = 300: k = 21, isqrt 17); the bound
    # 0.906 * 2^30 against 0.829 * 2^30 seen on every row of the [-24, 24] box is not a width
    # difference for z, only for out = z + bias when the bias pushes it past 2^30.
    ("ilayernorm_k256 C=3", "out"): 1,
    # The interval rule cannot know that a row's weights 2^-code sum to about 1 (a fact of the
    # Log-Int-Softmax producer), so it allows N * 2^15 where rows reach ~1.5 * 2^15: ~7 bits.
    ("log_attn_v", "out"): 7,
}


def _allowed(label: str, key: str) -> int:
    return max([bits for (prefix, k), bits in ALLOW.items() if k == key and label.startswith(prefix)], default=0)


@pytest.fixture(scope="module", autouse=True)
def _print_slack_table():
    """After the module: print every case's slack and a per-(op, value) summary (pytest -s)."""
    yield
    if not TABLE:
        return
    width = max(len(row[0]) for row in TABLE)
    print(f"\n{'case':<{width}}  {'value':<6} {'proven':<32} {'type':<5} {'observed':<32} seen slack")
    for label, key, proven, dtype, observed, seen_bits, slack in TABLE:
        print(f"{label:<{width}}  {key:<6} {proven:<32} {dtype:<5} {observed:<32} {seen_bits:>4} {slack:>5}")
    summary: dict[tuple[str, str], list[int]] = {}
    for label, key, *_, slack in TABLE:
        op = label.split(" ")[0]
        cur = summary.setdefault((op, key), [0, 0, 0])
        cur[0] += 1
        cur[1] = max(cur[1], slack)
        cur[2] += slack == 0
    print(f"\n{'op':<16} {'value':<6} cases max-slack cases-with-0")
    for (op, key), (count, worst, exact) in summary.items():
        print(f"{op:<16} {key:<6} {count:>5} {worst:>9} {exact:>13}")


def _graph(op: str, shape: tuple[int, ...], x_range: Interval, attrs: dict, consts: dict | None = None):
    b = GraphBuilder(op)
    b.input("x", shape, IntType.fitting(x_range), range=x_range)
    inputs = {"x": "x"}
    for role, val in (consts or {}).items():
        b.const(role, np.asarray(val), IntType(64) if role != "mask" else IntType(1, signed=False))
        inputs[role] = role
    b.node(op, inputs, "y", IntType(64), attrs=attrs)
    return infer_ranges(b.finish(["y"]))


def _check(label: str, op: str, shape, x_range: Interval, attrs: dict, batches, consts=None, extra=None) -> None:
    """Run every batch of rows through the analysed graph; check containment; record slack."""
    g = _graph(op, shape, x_range, attrs, consts)
    node = g.node("y")
    specs = {k: (s.range, s.dtype) for k, s in node.internals.items()}
    out_range = g.tensor("y").range
    specs["out"] = (out_range, IntType.fitting(out_range))
    seen: dict[str, list[int]] = {}
    for rows in batches:
        res = run_graph(g, {"x": np.asarray(rows, dtype=np.int64)}, trace=True)
        values = {k.split("/", 1)[1]: v for k, v in res.internals.items()}
        values["out"] = res.outputs["y"]
        if extra is not None:
            extra(values)
        for key, arr in values.items():
            lo, hi = int(np.min(arr)), int(np.max(arr))
            cur = seen.setdefault(key, [lo, hi])
            cur[0], cur[1] = min(cur[0], lo), max(cur[1], hi)
    assert set(seen) == set(get_op(op).internals) | {"out"}, f"{label}: trace keys {sorted(seen)}"
    for key, (lo, hi) in seen.items():
        proven, dtype = specs[key]
        assert dtype == IntType.fitting(proven), f"{label}/{key}: {dtype} is not the narrowest type for {proven}"
        assert proven.lo <= lo and hi <= proven.hi, f"{label}/{key}: observed [{lo}, {hi}] outside {proven}"
        assert dtype.holds(Interval(lo, hi)), f"{label}/{key}: observed [{lo}, {hi}] outside {dtype}"
        seen_bits = IntType.fitting(Interval(lo, hi), signed=dtype.signed).bits
        slack = dtype.bits - seen_bits
        TABLE.append((label, key, str(proven), str(dtype), f"[{lo}, {hi}]", seen_bits, slack))
        allowed = _allowed(label, key)
        assert slack <= allowed, f"{label}/{key}: {dtype} for {proven}, observed [{lo}, {hi}] needs {seen_bits}"


# ------------------------------------------------------------- row sets --


def _every(r: Interval) -> np.ndarray:
    return np.arange(r.lo, r.hi + 1, dtype=np.int64)


def _grid(r: Interval, count: int = 64) -> np.ndarray:
    vals = np.linspace(r.lo, r.hi, count).round().astype(np.int64)
    return np.unique(np.concatenate([vals, [r.lo, r.lo + 1, -1, 0, 1, r.hi - 1, r.hi]]))


def _rows(r: Interval, c: int, rng: np.random.Generator, random: int = 400) -> list[np.ndarray]:
    """Batches of rows of length c: structured extremes first, then random ones."""
    vals = _every(r) if r.hi - r.lo < 512 else _grid(r)
    lo, hi = r.lo, r.hi
    batches = [np.repeat(vals[:, None], c, axis=1)]  # all-equal rows, every value
    ext = [[hi] + [lo] * (c - 1), [lo] + [hi] * (c - 1), [hi] * (c // 2) + [lo] * (c - c // 2),
           [hi] * ((c + 1) // 2) + [lo] * (c // 2), [-1] + [lo] * (c - 1), [0] * (c - 1) + [hi]]
    batches.append(np.clip(np.array(ext, dtype=np.int64), lo, hi))
    if c >= 2:
        # every value in one row when it fits, and every value as the row max over a floor of lo
        every = np.resize(vals, c)
        batches.append(np.array([every, np.maximum(every, 0), np.minimum(every, -1)]))
        batches.append(np.concatenate([vals[:, None], np.full((vals.size, c - 1), lo)], axis=1))
    span = hi - lo
    batches.append(rng.integers(lo, hi + 1, (random, c)))
    centre = rng.integers(lo, hi + 1, (random, 1))
    gauss = centre + rng.normal(0, span / 12, (random, c)).round().astype(np.int64)
    batches.append(np.clip(gauss, lo, hi))
    batches.append(rng.integers(lo, min(hi, -1) + 1, (random // 4, c)))  # all negative
    narrow = centre[: random // 4] + rng.integers(-3, 4, (random // 4, c))
    batches.append(np.clip(narrow, lo, hi))
    return batches


def _stack(batch: np.ndarray, rows: int) -> np.ndarray:
    """Rows grouped into samples of ``rows`` rows (repeating rows to fill the last sample)."""
    count = -(-batch.shape[0] // rows) * rows
    return np.resize(batch, (count, batch.shape[1])).reshape(-1, rows, batch.shape[1])


def _pairs(r: Interval) -> list[np.ndarray]:
    """Every (element, row max) pair: row m holds min(v, m) for every value v."""
    vals = _every(r)
    return [np.minimum(vals[None, :], vals[:, None])]


# --------------------------------------------------------------- softmax --


SOFTMAX_CASES = [(s, c, ob) for s in (0.002, 0.02, 0.1, 0.2) for c in (1, 197, 256) for ob in (16, 8)
                 if ob == 16 or c == 197]


@pytest.mark.parametrize("scale,c,out_bits", SOFTMAX_CASES)
def test_shiftmax(scale, c, out_bits):
    attrs = {"x0": params.exp_x0(scale), "n": 15, "out_bits": out_bits}
    rng = np.random.default_rng(c)
    batches = _rows(I8, c, rng) + (_pairs(I8) if c == 256 else [])
    _check(f"shiftmax S={scale} C={c} out={out_bits}", "shiftmax", (c,), I8, attrs, batches)


@pytest.mark.parametrize("scale", [0.02, 0.2])
def test_shiftmax_masked(scale):
    rows, c = 6, 49
    mask = np.ones((rows, c), dtype=np.int64)
    mask[1, :] = 0  # nothing kept
    mask[2, 1:] = 0  # one kept
    mask[3, ::2] = 0
    mask[4, 20:] = 0
    rng = np.random.default_rng(7)
    batches = [_stack(np.roll(b, k, axis=0), rows) for b in _rows(I8, c, rng) for k in range(rows)]
    attrs = {"x0": params.exp_x0(scale), "n": 15, "out_bits": 8}
    _check(f"shiftmax masked S={scale}", "shiftmax", (rows, c), I8, attrs, batches, {"mask": mask})


IBERT_CASES = [(s, c) for s in (0.02, 0.05, 0.1, 0.2) for c in (1, 197, 256)]


@pytest.mark.parametrize("scale,c", IBERT_CASES)
def test_ibert_softmax(scale, c):
    p = params.ibert_exp_params(scale)
    attrs = {"x0": p["x0"], "b_int": p["b_int"], "c_int": p["c_int"], "n": p["n"], "h": p["h"], "out_bits": 16}
    rng = np.random.default_rng(c + 1)
    batches = _rows(I8, c, rng) + (_pairs(I8) if c == 256 else [])
    _check(f"ibert_softmax S={scale} C={c}", "ibert_softmax", (c,), I8, attrs, batches)


@pytest.mark.parametrize("scale,c", IBERT_CASES)
def test_log_int_softmax(scale, c):
    p = params.ibert_exp_params(scale)
    attrs = {"x0": p["x0"], "b_int": p["b_int"], "c_int": p["c_int"], "n": p["n"]}
    rng = np.random.default_rng(c + 2)
    batches = _rows(I8, c, rng) + (_pairs(I8) if c == 256 else [])
    _check(f"log_int_softmax S={scale} C={c}", "log_int_softmax", (c,), I8, attrs, batches)


def test_log_int_softmax_masked():
    p = params.ibert_exp_params(0.05)
    attrs = {"x0": p["x0"], "b_int": p["b_int"], "c_int": p["c_int"], "n": p["n"]}
    c = 16
    mask = np.ones((3, c), dtype=np.int64)
    mask[0, :] = 0
    mask[1, ::3] = 0
    rng = np.random.default_rng(3)
    batches = [_stack(np.roll(b, k, axis=0), 3) for b in _rows(I8, c, rng) for k in range(3)]
    _check("log_int_softmax masked", "log_int_softmax", (3, c), I8, attrs, batches, {"mask": mask})


def test_log_attn_v():
    p = params.ibert_exp_params(0.05)
    rng = np.random.default_rng(4)
    scores = np.concatenate([rng.integers(-128, 128, (60, 197)), np.full((1, 197), 3), [[127] + [-128] * 196]])
    codes = ops.log_int_softmax(scores, p["x0"], p["b_int"], p["c_int"], p["n"])
    b = GraphBuilder("lav")
    b.input("code", (codes.shape[0], 197), IntType(5, signed=False), range=Interval(0, 16))
    b.input("x", (197, 8), IntType(8))
    b.node("log_attn_v", {"code": "code", "v": "x"}, "y", IntType(64))
    g = infer_ranges(b.finish(["y"]))
    vs = np.concatenate([rng.integers(-128, 128, (4, 197, 8)), np.full((1, 197, 8), 127), np.full((1, 197, 8), -128)])
    out = run_graph(g, {"code": np.broadcast_to(codes, (vs.shape[0], *codes.shape)), "x": vs}).outputs["y"]
    proven = g.tensor("y").range
    lo, hi = int(out.min()), int(out.max())
    assert proven.lo <= lo and hi <= proven.hi
    dtype = IntType.fitting(proven)
    slack = dtype.bits - IntType.fitting(Interval(lo, hi), signed=True).bits
    TABLE.append(("log_attn_v N=197", "out", str(proven), str(dtype), f"[{lo}, {hi}]", dtype.bits - slack, slack))
    assert slack <= _allowed("log_attn_v", "out")


# ------------------------------------------------------------------ GELU --


def _em_trace(x0: int, n: int):
    """Add ShiftExp(-m)'s p, q, r, t, s to the observed values: the rule covers both calls."""

    def add(values: dict) -> None:
        tr: dict = {}
        ops.shift_exp(-values["m"], x0, n, saturate=INT32_MAX, trace=tr)
        for k in ("p", "q", "r", "t", "s"):
            values[k] = np.concatenate([np.ravel(values[k]), np.ravel(tr[k])])

    return add


GELU_CASES = [(s, coef, c) for s in (0.002, 0.02, 0.04, 0.06, 0.1) for coef in ("scale", "shift") for c in (1, 256)]


@pytest.mark.parametrize("scale,coef,c", GELU_CASES + [(0.04, "scale", 768), (0.04, "shift", 3072)])
def test_shiftgelu(scale, coef, c):
    x0 = params.gelu_x0(scale, coef)
    attrs = {"x0": x0, "n": 23, "coef": coef}
    rng = np.random.default_rng(c + 5)
    batches = _rows(I8, c, rng, random=100) + (_pairs(I8) if c == 256 else [])
    _check(f"shiftgelu S={scale} {coef} C={c}", "shiftgelu", (c,), I8, attrs, batches, extra=_em_trace(x0, 23))


@pytest.mark.parametrize("scale,r", [(2e-4, I16), (5e-4, I16), (1e-3, I16), (0.05, I8), (0.1, I8)])
def test_ibert_gelu(scale, r):
    p = params.ibert_gelu_params(scale)
    attrs = {"b_int": p["b_int"], "c_int": p["c_int"], "one": p["one"]}
    every = _every(r)
    _check(f"ibert_gelu S={scale} {IntType.fitting(r)}", "ibert_gelu", (every.size,), r, attrs, [every[None, :]])


# ------------------------------------------------------------- LayerNorm --


BOX3, BOX4 = Interval(-24, 24), Interval(-7, 8)
NORM_CASES = [(op, c, r) for op in ("ilayernorm", "ilayernorm_exact", "ilayernorm_k256", "ibert_layernorm",
                                     "l1_layernorm")
              for c, r in ((1, I16), (2, I8), (3, I16), (3, BOX3), (4, BOX4), (192, I16), (768, I16), (768, I8))]


def _norm_setup(name: str, c: int):
    rng = np.random.default_rng(c)
    gamma = rng.normal(1.0, 0.2, c)
    beta = rng.normal(0.0, 0.2, c)
    if name == "l1_layernorm":
        _, bias = params.l1_layernorm_params(gamma, beta)
        return "l1_layernorm", {}, bias
    _, bias = params.layernorm_params(gamma, beta)
    attrs = {"ilayernorm": {}, "ilayernorm_exact": {"sqrt": "exact"}, "ilayernorm_k256": {"iters": 4, "k0": 256},
             "ibert_layernorm": {}}[name]
    return ("ibert_layernorm" if name == "ibert_layernorm" else "ilayernorm"), attrs, bias


@pytest.mark.parametrize("name,c,r", NORM_CASES)
def test_layernorm(name, c, r):
    op, attrs, bias = _norm_setup(name, c)
    rng = np.random.default_rng(c + 9)
    batches = _rows(r, c, rng, random=200)
    if c == 2 and r == I8:
        v = _every(r)
        batches.append(np.stack(np.meshgrid(v, v), axis=-1).reshape(-1, 2))  # every pair
    if r in (BOX3, BOX4):
        v = _every(r)
        batches.append(np.stack(np.meshgrid(*[v] * c), axis=-1).reshape(-1, c))  # every row of the box
    if c >= 2:
        # the extreme element on the channel of the largest / smallest bias
        lo, hi = r.lo, r.hi
        for j in (int(np.argmax(bias)), int(np.argmin(bias))):
            for top, rest in ((hi, lo), (lo, hi)):
                row = np.full(c, rest)
                row[j] = top
                batches.append(row[None, :])
            # a spike s over -1s keeps the mean at 0 and |y| = isqrt(v): y*f near its bound N.
            # With C = 768 and s = 1024: k = 1024, and I-BERT's f = 2^31 // 1024 makes y*f = 2^31.
            for s in sorted({1, 2, c // 2 + 1, c, c + c // 2 - 1, 1024 if c == 768 else c}):
                if s > hi:
                    continue
                row = np.full(c, -1)
                row[j] = s
                batches.append(np.stack([row, -row]))
    _check(f"{name} C={c} {IntType.fitting(r)}", op, (c,), r, attrs, batches, {"bias_int": bias})
