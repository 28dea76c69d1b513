"""The cases of the conformance suite: for every op of the registry, several
configurations (parameters and widths), each with a bulk of random rows and
the edge rows a hardware datapath gets wrong first.

A *row* is one vector along the last axis (the axis the row ops reduce
over). Per op and configuration the suite has

- ``<op>.<config>.random``: at least :data:`RANDOM_ROWS` random rows (no
  internals stored, to keep files small);
- ``<op>.<config>.edges``: all-equal rows, all-negative rows, rows at the
  type limits, plus the op's own edges (rounding ties, a saturated ShiftGELU
  ``em``, masked positions, a clamped Shiftmax sum, ...), internals stored;
- for the row ops, ``.len1``, ``.len197`` and ``.lenmax`` (:data:`MAX_ROW`).

Only inputs are made here; expected outputs come from the golden executor
(:mod:`ivit_hw.runtime.conformance`). Every array is drawn from a generator
seeded by the case name, so the suite is the same on every machine.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import ops
from ..ir.types import IntType
from ..ops.params import exp_x0, gelu_x0, ibert_exp_params, ibert_gelu_params

RANDOM_ROWS = 1000
MAX_ROW = 4096  # the longest row the suite commits every backend to (presets need at most 3072)
LENGTHS = {"len1": 1, "len197": 197, "lenmax": MAX_ROW}
INT32_MAX = 2**31 - 1

I8, I16, I32 = IntType(8), IntType(16), IntType(32)
U8, U15 = IntType(8, False), IntType(15, False)
BOOL = IntType(1, False)


@dataclass
class CaseSpec:
    """The inputs of one case: data arrays (with batch axis) and parameters, each with its declared type."""

    name: str
    op: str
    config: str
    data: dict[str, tuple[np.ndarray, IntType]]
    params: dict[str, tuple[np.ndarray, IntType]] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    covers: tuple[str, ...] = ()
    internals: bool = True


def rng_for(name: str) -> np.random.Generator:
    """A generator seeded by the case name (stable across runs and machines)."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def rand(rng: np.random.Generator, shape: tuple[int, ...], t: IntType, lo: int | None = None,
         hi: int | None = None) -> np.ndarray:
    """Uniform integers of type ``t`` (or in [lo, hi]), int64."""
    lo = t.min if lo is None else lo
    hi = t.max if hi is None else hi
    return rng.integers(lo, hi, shape, endpoint=True, dtype=np.int64)


def random_rows(rng: np.random.Generator, n: int, length: int, t: IntType) -> np.ndarray:
    """``n`` rows: half uniform over the type, half a narrow bell around a random centre (realistic scores)."""
    uni = rand(rng, (n - n // 2, length), t)
    centre = rng.integers(t.min // 2, t.max // 2 + 1, (n // 2, 1))
    bell = np.rint(centre + rng.normal(0.0, max(t.max, 1) / 8, (n // 2, length))).astype(np.int64)
    return np.clip(np.concatenate([uni, bell]), t.min, t.max)


def edge_rows(rng: np.random.Generator, length: int, t: IntType) -> tuple[np.ndarray, tuple[str, ...]]:
    """Rows every row op must get right: all-equal (at both limits, zero, mid), all-negative, type limits."""
    rows = [np.full(length, v) for v in (t.min, t.max, 0, (t.min + t.max) // 3)]
    covers = ["all_equal"]
    if t.signed:
        rows += [rand(rng, (length,), t, t.min, -1), np.full(length, -1), rand(rng, (length,), t, t.min, t.min // 2)]
        covers.append("all_negative")
    alt = np.where(np.arange(length) % 2 == 0, t.min, t.max)
    one_hi = np.full(length, t.min)
    one_hi[length // 2] = t.max
    one_lo = np.full(length, t.max)
    one_lo[0] = t.min
    rows += [alt, one_hi, one_lo, rand(rng, (length,), t)]
    covers.append("extremes")
    return np.stack(rows).astype(np.int64), tuple(covers)


def as_batch(rows: np.ndarray, per_sample: int) -> np.ndarray:
    """[R, L] rows -> [R / per_sample, per_sample, L] (R must divide)."""
    return rows.reshape(rows.shape[0] // per_sample, per_sample, rows.shape[1])


# ----------------------------------------------------------------------------- row ops


@dataclass(frozen=True)
class RowConfig:
    """A configuration of an op that reduces over rows: input type, default length, parameter maker."""

    name: str
    x_type: IntType
    length: int
    attrs: dict[str, Any]
    params: Callable[..., dict[str, tuple[np.ndarray, IntType]]] | None = None
    masked: bool = False


def _no_params(rng: np.random.Generator, length: int, limits: bool = False) -> dict[str, tuple[np.ndarray, IntType]]:
    return {}


def _norm_bias(rng: np.random.Generator, length: int, limits: bool = False) -> dict[str, tuple[np.ndarray, IntType]]:
    bias = rng.integers(-(2**20), 2**20, length, endpoint=True)
    if limits and length > 2:
        bias[:2] = [-(2**31), 2**31 - 1]  # bias at its type limits
    return {"bias_int": (bias, I32)}


def _mask_for(rng: np.random.Generator, rows: int, length: int) -> np.ndarray:
    """Keep ~70 % of positions; row 0 fully masked, row 1 keeps one position, row 2 keeps all."""
    keep = rng.random((rows, length)) < 0.7
    keep[0] = False
    if rows > 1:
        keep[1] = False
        keep[1, length // 2] = True
    if rows > 2:
        keep[2] = True
    return keep.astype(np.int64)


def _row_cases(op: str, cfg: RowConfig, extra_edges: Callable | None = None) -> Iterator[CaseSpec]:
    """random / edges / len1 / len197 / lenmax cases of one row-op configuration."""
    make_params = cfg.params or _no_params
    base = f"{op}.{cfg.name}"

    def spec(kind: str, rows: np.ndarray, per_sample: int, covers: tuple[str, ...], internals: bool) -> CaseSpec:
        name = f"{base}.{kind}"
        rng = rng_for(name + "/params")
        params = make_params(rng, rows.shape[1], kind == "edges")
        covers = tuple(covers)
        if cfg.masked:
            params["mask"] = (_mask_for(rng, per_sample, rows.shape[1]), BOOL)
            covers += ("masked", "fully_masked_row")
        return CaseSpec(name, op, cfg.name, {"x": (as_batch(rows, per_sample), cfg.x_type)}, params,
                        dict(cfg.attrs), covers, internals)

    rng = rng_for(f"{base}.random")
    yield spec("random", random_rows(rng, RANDOM_ROWS, cfg.length, cfg.x_type), 250, ("random",), False)
    rng = rng_for(f"{base}.edges")
    rows, covers = edge_rows(rng, cfg.length, cfg.x_type)
    if extra_edges is not None:
        more, more_covers = extra_edges(rng, cfg)
        rows, covers = np.concatenate([rows, more]), covers + more_covers
    yield spec("edges", rows, len(rows), covers, True)
    for kind, length in LENGTHS.items():
        rng = rng_for(f"{base}.{kind}")
        edges, covers = edge_rows(rng, length, cfg.x_type)
        rows = np.concatenate([edges, random_rows(rng, 6, length, cfg.x_type)])
        # the longest rows carry no internals (file size); their output is what backends check
        yield spec(kind, rows, len(rows), (f"row_length_{length}",) + covers + ("random",), length < MAX_ROW)


def _gelu_edges(rng: np.random.Generator, cfg: RowConfig) -> tuple[np.ndarray, tuple[str, ...]]:
    """All-negative rows whose max is far below zero: em = ShiftExp(-max) overflows and saturates."""
    t, n = cfg.x_type, cfg.length
    rows = [np.full(n, t.min), rand(rng, (n,), t, t.min, t.min + 8), np.full(n, t.min // 2)]
    return np.stack(rows), ("em_saturated",)


def _softmax_sum_edges(rng: np.random.Generator, cfg: RowConfig) -> tuple[np.ndarray, tuple[str, ...]]:
    """A row whose exponentials all sit near the maximum (sum clamped at 2^31-1 for fine scales)."""
    t, n = cfg.x_type, cfg.length
    near = rand(rng, (n,), t, t.max - 2, t.max)
    return np.stack([near]), ("near_max_row",)


def _shiftmax_configs() -> list[RowConfig]:
    return [
        RowConfig("s0.1_o16", I8, 64, {"x0": exp_x0(0.1), "n": 15, "out_bits": 16}),
        RowConfig("s0.02_o16", I8, 64, {"x0": exp_x0(0.02), "n": 15, "out_bits": 16}),
        RowConfig("s0.005_o16_sumclamp", I8, 64, {"x0": exp_x0(0.005), "n": 15, "out_bits": 16}),
        RowConfig("s0.05_o8_masked", I8, 49, {"x0": exp_x0(0.05), "n": 15, "out_bits": 8}, masked=True),
    ]


def _shiftgelu_configs() -> list[RowConfig]:
    return [
        RowConfig("scale_s0.03", I8, 128, {"x0": gelu_x0(0.03, "scale"), "n": 23, "coef": "scale"}),
        RowConfig("shift_s0.03", I8, 128, {"x0": gelu_x0(0.03, "shift"), "n": 23, "coef": "shift"}),
        RowConfig("scale_s0.06", I8, 128, {"x0": gelu_x0(0.06, "scale"), "n": 23, "coef": "scale"}),
    ]


def _norm_configs(op: str) -> list[RowConfig]:
    wide = 192 if op == "ilayernorm" else 64
    configs = [RowConfig(f"i16_c{wide}", I16, wide, {}, _norm_bias), RowConfig("i8_c64", I8, 64, {}, _norm_bias)]
    if op == "ilayernorm":
        configs += [
            RowConfig("i16_c64_exact", I16, 64, {"sqrt": "exact"}, _norm_bias),
            RowConfig("i16_c64_iters6_k0_4096", I16, 64, {"iters": 6, "k0": 4096}, _norm_bias),
        ]
    return configs


def _ibert_exp_attrs(scale: float) -> dict[str, int]:
    p = ibert_exp_params(scale)
    return {k: p[k] for k in ("x0", "b_int", "c_int", "n")}


def _ibert_softmax_configs() -> list[RowConfig]:
    return [
        RowConfig("s0.1_o16", I8, 64, {**_ibert_exp_attrs(0.1), "h": ibert_exp_params(0.1)["h"], "out_bits": 16}),
        RowConfig("s0.05_o8", I8, 64, {**_ibert_exp_attrs(0.05), "h": ibert_exp_params(0.05)["h"], "out_bits": 8}),
    ]


def _log_softmax_configs() -> list[RowConfig]:
    return [
        RowConfig("s0.1", I8, 64, _ibert_exp_attrs(0.1)),
        RowConfig("s0.05_masked", I8, 49, _ibert_exp_attrs(0.05), masked=True),
    ]


def _ibert_gelu_configs() -> list[RowConfig]:
    def attrs(scale: float) -> dict[str, int]:
        p = ibert_gelu_params(scale)
        return {k: int(p[k]) for k in ("b_int", "c_int", "one")}

    return [RowConfig("i16_s5e-4", I16, 128, attrs(5e-4)), RowConfig("i8_s0.03", I8, 128, attrs(0.03))]


def _argmax_configs() -> list[RowConfig]:
    return [RowConfig("i16_k10", I16, 10, {}), RowConfig("i32_k100", I32, 100, {})]


def _reduce_configs() -> list[RowConfig]:
    return [RowConfig("i32_last", I32, 49, {"axis": -1}), RowConfig("i8_last", I8, 64, {"axis": 1})]


ROW_OPS: dict[str, tuple[Callable[[], list[RowConfig]], Callable | None]] = {
    "shiftmax": (_shiftmax_configs, _softmax_sum_edges),
    "shiftgelu": (_shiftgelu_configs, _gelu_edges),
    "ilayernorm": (lambda: _norm_configs("ilayernorm"), None),
    "ibert_layernorm": (lambda: _norm_configs("ibert_layernorm"), None),
    "l1_layernorm": (lambda: _norm_configs("l1_layernorm"), None),
    "ibert_softmax": (_ibert_softmax_configs, _softmax_sum_edges),
    "log_int_softmax": (_log_softmax_configs, _softmax_sum_edges),
    "ibert_gelu": (_ibert_gelu_configs, None),
    "argmax": (_argmax_configs, None),
    "reduce_sum": (_reduce_configs, None),
}


# ----------------------------------------------------------------------------- requantize


def _requant_params(rng: np.random.Generator, channels: int, per_channel: bool, identity: bool,
                    e_range: tuple[int, int] = (20, 40)) -> dict[str, tuple[np.ndarray, IntType]]:
    size = channels if per_channel else 1
    shape = (channels,) if per_channel else ()
    m = rng.integers(2**30, 2**31 - 1, size, endpoint=True) * rng.choice([1, 1, 1, -1], size)
    e = rng.integers(*e_range, size, endpoint=True)
    params = {"m": (m.reshape(shape), I32), "e": (e.reshape(shape), U8)}
    if identity:
        params["m_id"] = (np.asarray(rng.integers(2**30, 2**31 - 1, endpoint=True)), I32)
        params["e_id"] = (np.asarray(rng.integers(28, 32, endpoint=True)), U8)
    return params


def _tie_rows(rng: np.random.Generator, channels: int, bound: int) -> np.ndarray:
    """Accumulators giving exact .5 ties under m = 2^30, e = 31 (x / 2): odd values of both signs in
    [-2 * bound, 2 * bound], so that the halves are not clamped away."""
    odd = rng.integers(-bound, bound, (4, channels)) * 2 + 1
    small = np.tile(np.array([-5, -3, -1, 1, 3, 5, 7, -7]), -(-channels // 8))[:channels]
    return np.concatenate([odd, small[None], -small[None]])


def requantize_cases() -> Iterator[CaseSpec]:
    """Per-channel and scalar multipliers, residual identity, every rounding mode, out_bits at its limits."""
    channels = 32
    for rounding in ops.ROUNDING_MODES:
        for ident in (False, True):
            cfg = f"i32_to_{'i16_identity' if ident else 'i8_perchannel'}_{rounding}"
            out_bits = 16 if ident else 8
            attrs = {"out_bits": out_bits, "rounding": rounding}
            base = f"requantize.{cfg}"
            rng = rng_for(f"{base}.random")
            acc = np.concatenate([rand(rng, (500, channels), I32, -(2**24), 2**24), rand(rng, (500, channels), I32)])
            data = {"acc": (as_batch(acc, 250), I32)}
            if ident:
                data["identity"] = (as_batch(rand(rng, (RANDOM_ROWS, channels), I16), 250), I16)
            yield CaseSpec(f"{base}.random", "requantize", cfg, data,
                           _requant_params(rng, channels, not ident, ident), attrs, ("random",), False)
            # ties: m = 2^30, e = 31 halves the accumulator exactly; the identity term ties the same way
            rng = rng_for(f"{base}.ties")
            acc = _tie_rows(rng, channels, 2 ** (out_bits - 2) - 1)
            data = {"acc": (acc[None], I32)}
            params = {"m": (np.full(channels if not ident else (), 2**30), I32),
                      "e": (np.full(channels if not ident else (), 31), U8)}
            if ident:
                data["identity"] = (_tie_rows(rng, channels, 2 ** (out_bits - 3))[None], I16)
                params.update(m_id=(np.asarray(2**30), I32), e_id=(np.asarray(31), U8))
            yield CaseSpec(f"{base}.ties", "requantize", cfg, data, params, attrs,
                           (f"rounding_ties_{rounding}",), True)
            rng = rng_for(f"{base}.edges")
            rows, covers = edge_rows(rng, channels, I32)
            data = {"acc": (rows[None], I32)}
            if ident:
                data["identity"] = (edge_rows(rng, channels, I16)[0][None], I16)
            params = _requant_params(rng, channels, not ident, ident, (0, 62) if not ident else (20, 40))
            if not ident:  # multipliers at their limits, shifts 0 and 62
                params["m"][0][:4] = [2**31 - 1, -(2**31 - 1), 2**30, -(2**30)]
                params["e"][0][:4] = [0, 62, 31, 1]
            yield CaseSpec(f"{base}.edges", "requantize", cfg, data, params, attrs,
                           covers + ("saturation", "multiplier_limits"), True)
    for out_bits in (2, 32):
        cfg = f"i32_to_i{out_bits}"
        for kind, length in (("random", channels), *LENGTHS.items()):
            name = f"requantize.{cfg}.{kind}"
            rng = rng_for(name)
            rows = RANDOM_ROWS if kind == "random" else 8
            acc = rand(rng, (rows, length), I32)
            covers = ("random", "out_bits_limit") if kind == "random" else (f"row_length_{length}", "out_bits_limit")
            yield CaseSpec(name, "requantize", cfg, {"acc": (as_batch(acc, rows // 4 if rows > 8 else rows), I32)},
                           _requant_params(rng, length, True, False, (0, 31)),
                           {"out_bits": out_bits, "rounding": "half_even"}, covers, kind != "random")


# ----------------------------------------------------------------------------- GEMMs


def _linear_weights(rng: np.random.Generator, n: int, k: int, bias: bool, edges: bool
                    ) -> dict[str, tuple[np.ndarray, IntType]]:
    w = rand(rng, (n, k), I8)
    if edges:
        w[0], w[1], w[2] = I8.min, I8.max, 0  # all-min, all-max and zero weight rows
    params = {"weight": (w, I8)}
    if bias:
        b = rng.integers(-(2**20), 2**20, n, endpoint=True)
        if edges:
            b[:2] = [-(2**30), 2**30]
        params["bias"] = (b, I32)
    return params


def linear_cases() -> Iterator[CaseSpec]:
    """int8 (or uint8) x int8 with and without bias; K (the row) of 1, 197 and up to MAX_ROW; limits."""
    for cfg, x_t, k, n, bias in (("i8_k64_n32_bias", I8, 64, 32, True), ("i8_k197_n16", I8, 197, 16, False),
                                 ("u8_k48_n16_bias", U8, 48, 16, True)):
        base = f"linear.{cfg}"
        rng = rng_for(f"{base}.random")
        x = random_rows(rng, RANDOM_ROWS, k, x_t)
        yield CaseSpec(f"{base}.random", "linear", cfg, {"x": (as_batch(x, 250), x_t)},
                       _linear_weights(rng, n, k, bias, False), {}, ("random",), False)
        rng = rng_for(f"{base}.edges")
        x, covers = edge_rows(rng, k, x_t)
        yield CaseSpec(f"{base}.edges", "linear", cfg, {"x": (x[None], x_t)}, _linear_weights(rng, n, k, bias, True),
                       {}, covers + ("weight_limits",), True)
        if k != 64:
            continue
        for kind, length in LENGTHS.items():  # other reduction lengths, same widths
            rng = rng_for(f"{base}.{kind}")
            x, covers = edge_rows(rng, length, x_t)
            x = np.concatenate([x, random_rows(rng, 6, length, x_t)])
            yield CaseSpec(f"{base}.{kind}", "linear", cfg, {"x": (x[None], x_t)},
                           _linear_weights(rng, n, length, bias, length > 2), {},
                           (f"row_length_{length}",) + covers + ("random",), True)


def matmul_cases() -> Iterator[CaseSpec]:
    """q @ k^T (int8, transposed) and attn @ v (15-bit Shiftmax output x int8), at 125 and 197 tokens."""
    for cfg, a_t, tb in (("qk_i8_transposed", I8, True), ("attnv_u15_i8", U15, False)):
        for kind, tokens, batch in (("random", 125, 2), ("len197", 197, 1), ("edges", 16, 1)):
            name = f"matmul.{cfg}.{kind}"
            rng = rng_for(name)
            heads, hd = 4, 32
            k_len = hd if tb else tokens
            a_shape = (batch, heads, tokens, k_len)
            if kind == "edges":
                rows, covers = edge_rows(rng, k_len, a_t)
                a = np.resize(rows, (heads * tokens, k_len)).reshape(a_shape)
                b_rows, _ = edge_rows(rng, hd, I8)
                b = np.resize(b_rows, (heads * tokens, hd)).reshape(batch, heads, tokens, hd)
            else:
                a = rand(rng, a_shape, a_t)
                b = rand(rng, (batch, heads, tokens, hd), I8)
                covers = ("random",) if kind == "random" else ("row_length_197", "random")
            yield CaseSpec(name, "matmul", cfg, {"a": (a, a_t), "b": (b, I8)}, {}, {"transpose_b": tb}, covers,
                           kind != "random")


def patch_embed_cases() -> Iterator[CaseSpec]:
    """uint8 pixels x int8 kernels: the digits layout (1 x 8 x 8, patch 2) and RGB (3 x 16 x 16, patch 4)."""
    for cfg, c, img, p, o in (("c1_img8_p2", 1, 8, 2, 32), ("c3_img16_p4", 3, 16, 4, 16)):
        base = f"patch_embed.{cfg}"
        batch = -(-RANDOM_ROWS // ((img // p) ** 2))
        rng = rng_for(f"{base}.random")
        params = {"weight": (rand(rng, (o, c, p, p), I8), I8), "bias": (rng.integers(-(2**20), 2**20, o), I32)}
        yield CaseSpec(f"{base}.random", "patch_embed", cfg, {"x": (rand(rng, (batch, c, img, img), U8), U8)}, params,
                       {"patch": p}, ("random",), False)
        rng = rng_for(f"{base}.edges")
        x = np.stack([np.full((c, img, img), 255), np.zeros((c, img, img)), rand(rng, (c, img, img), U8)])
        w = rand(rng, (o, c, p, p), I8)
        w[0], w[1] = I8.min, I8.max
        params = {"weight": (w, I8), "bias": (rng.integers(-(2**20), 2**20, o), I32)}
        yield CaseSpec(f"{base}.edges", "patch_embed", cfg, {"x": (x.astype(np.int64), U8)}, params, {"patch": p},
                       ("all_equal", "extremes", "weight_limits"), True)


# ----------------------------------------------------------------------------- data movement and add


def _shaped(rng: np.random.Generator, batch: int, shape: tuple[int, ...], t: IntType, kind: str) -> np.ndarray:
    """Random values, or (edges) rows cycling through the edge rows of the last axis."""
    if kind == "random":
        return rand(rng, (batch, *shape), t)
    rows, _ = edge_rows(rng, shape[-1], t)
    total = batch * math.prod(shape[:-1])
    return np.resize(rows, (total, shape[-1])).reshape(batch, *shape)


def _simple(op: str, cfg: str, shapes: dict[str, tuple[int, ...]], t: IntType, attrs: dict[str, Any]
            ) -> Iterator[CaseSpec]:
    """random and edges cases of an op whose data inputs all have type ``t``."""
    per_sample_rows = max(math.prod(shape[:-1]) for shape in shapes.values())
    for kind in ("random", "edges"):
        name = f"{op}.{cfg}.{kind}"
        rng = rng_for(name)
        batch = -(-RANDOM_ROWS // per_sample_rows) if kind == "random" else 2
        data = {role: (_shaped(rng, batch, shape, t, kind), t) for role, shape in shapes.items()}
        covers = ("random",) if kind == "random" else ("all_equal", "all_negative", "extremes")
        yield CaseSpec(name, op, cfg, data, {}, dict(attrs), covers, kind != "random")


def movement_cases() -> Iterator[CaseSpec]:
    """add, reshape, transpose, concat, slice and gather at two widths each."""
    yield from _simple("add", "i16_same_shape", {"a": (50, 16), "b": (50, 16)}, I16, {})
    yield from _simple("add", "i32_broadcast", {"a": (50, 16), "b": (1, 16)}, I32, {})
    yield from _simple("reshape", "i8_4x6_to_24", {"x": (4, 6)}, I8, {"shape": [24]})
    yield from _simple("reshape", "i32_2x3x4_to_6x4", {"x": (2, 3, 4)}, I32, {"shape": [6, 4]})
    yield from _simple("transpose", "i8_perm102", {"x": (3, 5, 4)}, I8, {"perm": [1, 0, 2]})
    yield from _simple("transpose", "i16_perm210", {"x": (3, 5, 4)}, I16, {"perm": [2, 1, 0]})
    yield from _simple("concat", "i16_axis0_cls", {"a": (1, 16), "b": (49, 16)}, I16, {"axis": 0})
    yield from _simple("concat", "i8_axis1", {"a": (10, 3), "b": (10, 5)}, I8, {"axis": -1})
    yield from _simple("slice", "i8_axis0", {"x": (17, 8)}, I8, {"axis": 0, "start": 1, "stop": 17})
    yield from _simple("slice", "i32_axis1", {"x": (10, 12)}, I32, {"axis": 1, "start": 3, "stop": 7})
    yield from _simple("gather", "i16_axis0_cls", {"x": (17, 16)}, I16, {"axis": 0, "index": 0})
    yield from _simple("gather", "i8_axis1_last", {"x": (10, 6, 4)}, I8, {"axis": 1, "index": 5})


def swin_cases() -> Iterator[CaseSpec]:
    """What a Swin graph adds: the scores + relative-position bias requantize (two terms, 8-bit
    identity, scalar multipliers), the cyclic shift's slice / concat and the window partition's
    5-D reshape / transpose on 3-D grids, and the average pool's sum over tokens (axis 0)."""
    for kind in ("random", "edges"):
        name = f"requantize.i32_i8_to_i8_bias_add.{kind}"
        rng = rng_for(name)
        rows = RANDOM_ROWS if kind == "random" else 8
        acc = rand(rng, (rows, 49), I32, -(2**20), 2**20) if kind == "random" else edge_rows(rng, 49, I32)[0]
        bias = rand(rng, acc.shape, I8) if kind == "random" else edge_rows(rng, 49, I8)[0][: len(acc)]
        per = 4 if kind == "random" else len(acc)
        params = {"m": (np.asarray(int(rng.integers(2**30, 2**31))), I32), "e": (np.asarray(38), U8),
                  "m_id": (np.asarray(int(rng.integers(2**30, 2**31))), I32), "e_id": (np.asarray(31), U8)}
        covers = ("random",) if kind == "random" else ("all_equal", "extremes", "saturation")
        yield CaseSpec(name, "requantize", "i32_i8_to_i8_bias_add",
                       {"acc": (as_batch(acc, per), I32), "identity": (as_batch(bias, per), I8)}, params,
                       {"out_bits": 8, "rounding": "half_even"}, covers, kind != "random")
    yield from _simple("slice", "i8_roll_axis1", {"x": (8, 8, 6)}, I8, {"axis": 1, "start": 3, "stop": 8})
    yield from _simple("concat", "i8_roll_axis0", {"a": (5, 8, 6), "b": (3, 8, 6)}, I8, {"axis": 0})
    yield from _simple("reshape", "i8_window_split", {"x": (8, 8, 6)}, I8, {"shape": [2, 4, 2, 4, 6]})
    yield from _simple("transpose", "i8_window_order", {"x": (2, 4, 2, 4, 6)}, I8, {"perm": [0, 2, 1, 3, 4]})
    yield from _simple("reduce_sum", "i8_pool_tokens_axis0", {"x": (49, 32)}, I8, {"axis": 0})


def log_attn_v_cases() -> Iterator[CaseSpec]:
    """Log-Int-Softmax codes (0..16, 16 = masked) x int8 values, at 64 and 197 tokens."""
    code_t = IntType(5, False)
    for cfg, tokens, d in (("n64_d16", 64, 16), ("n197_d32", 197, 32)):
        for kind in ("random", "edges"):
            name = f"log_attn_v.{cfg}.{kind}"
            rng = rng_for(name)
            batch, m = (4, 250) if kind == "random" else (1, 6)
            code = rng.integers(0, 16, (batch, m, tokens), endpoint=True)
            v = rand(rng, (batch, tokens, d), I8)
            covers: tuple[str, ...] = ("random",)
            if kind == "edges":
                code[0, 0], code[0, 1], code[0, 2] = 16, 0, 15  # fully masked, all weight 1, all weight 2^-15
                v[0, :, 0], v[0, :, 1] = I8.min, I8.max
                covers = ("fully_masked_row", "all_equal", "extremes")
            elif cfg == "n197_d32":
                covers += ("row_length_197",)
            yield CaseSpec(name, "log_attn_v", cfg, {"code": (code, code_t), "v": (v, I8)}, {}, {}, covers,
                           kind != "random")


def all_case_specs() -> Iterator[CaseSpec]:
    """Every case of the suite, op by op (the order of :func:`write_suite`'s index)."""
    yield from requantize_cases()
    yield from linear_cases()
    yield from matmul_cases()
    yield from patch_embed_cases()
    for op, (configs, extra) in ROW_OPS.items():
        for cfg in configs():
            yield from _row_cases(op, cfg, extra)
    yield from log_attn_v_cases()
    yield from movement_cases()
    yield from swin_cases()
