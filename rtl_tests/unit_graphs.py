"""One-node analysed graphs for the RTL tests: two width/parameter configurations of every unit."""

from __future__ import annotations

import numpy as np

from ivit_hw import ops
from ivit_hw.ir import Graph, GraphBuilder, Interval, IntType, infer_ranges
from ivit_hw.ops.params import exp_x0, gelu_x0, ibert_exp_params, ibert_gelu_params


def _one(op: str, shape, bits: int, iv: Interval, out_bits: int, attrs: dict, consts: dict | None = None,
         name: str = "u", scale: float = 0.1, out_scale=None) -> Graph:
    b = GraphBuilder(f"{op}_{name}")
    x = b.input("x", shape, IntType(bits), scale, iv)
    ins = {"x": x}
    for role, (vals, dtype) in (consts or {}).items():
        ins[role] = b.const(f"{name}.{role}", vals, dtype)
    y = b.node(op, ins, "y", IntType(out_bits), out_scale, attrs, name=name)
    return infer_ranges(b.finish([y]))  # analysed, as load_graph returns it: the renderer reads its ranges


def shiftmax_a() -> Graph:
    return _one("shiftmax", (2, 40), 8, Interval(-128, 127), 16, {"x0": exp_x0(0.1)}, name="sm_a",
                out_scale=2.0**-15)


def shiftmax_b() -> Graph:
    """Narrow 6-bit scores, 8-bit output, a keep-mask (one masked column per row, one fully masked row)."""
    mask = np.ones((3, 36), dtype=bool)
    mask[:, 5] = False
    mask[1, :] = False
    return _one("shiftmax", (3, 36), 6, Interval(-32, 31), 8, {"x0": exp_x0(0.25), "out_bits": 8},
                {"mask": (mask.astype(np.int64), IntType(2))}, name="sm_b", scale=0.25)


def ibert_softmax_a() -> Graph:
    p = ibert_exp_params(0.1)
    return _one("ibert_softmax", (2, 40), 8, Interval(-128, 127), 17, {**p}, name="is_a")


def ibert_softmax_b() -> Graph:
    p = ibert_exp_params(0.3)
    return _one("ibert_softmax", (2, 48), 7, Interval(-64, 63), 17, {**p, "out_bits": 16}, name="is_b", scale=0.3)


def log_int_softmax_a() -> Graph:
    p = ibert_exp_params(0.1)
    p.pop("h")
    return _one("log_int_softmax", (2, 40), 8, Interval(-128, 127), 8, p, name="ls_a")


def log_int_softmax_b() -> Graph:
    p = ibert_exp_params(0.2)
    p.pop("h")
    mask = np.ones((36,), dtype=np.int64)
    mask[7] = 0
    return _one("log_int_softmax", (3, 36), 8, Interval(-100, 100), 8, p,
                {"mask": (mask, IntType(2))}, name="ls_b", scale=0.2)


def _gelu(scale: float, shape, bits: int, iv: Interval, name: str) -> Graph:
    p = ibert_gelu_params(scale)
    p.pop("out_scale")
    return _one("ibert_gelu", shape, bits, iv, 32, p, name=name, scale=scale)


def ibert_gelu_a() -> Graph:
    return _gelu(0.05, (4, 16), 8, Interval(-128, 127), "ig_a")


def ibert_gelu_b() -> Graph:
    return _gelu(0.01, (2, 24), 12, Interval(-2048, 2047), "ig_b")


def _requant(shape, acc_bits: int, iv: Interval, ratios, out_bits: int, rounding: str, identity: bool,
             name: str, bits: int = 31, id_ratio: float = 0.37) -> Graph:
    b = GraphBuilder(f"requantize_{name}")
    acc = b.input("acc", shape, IntType(acc_bits), 1.0, iv)
    m, e = ops.dyadic(np.asarray(ratios, dtype=np.float64), bits)
    ins = {"acc": acc, "m": b.const(f"{name}.m", np.asarray(m), IntType(32)),
           "e": b.const(f"{name}.e", np.asarray(e), IntType(8, signed=False))}
    if identity:
        ins["identity"] = b.input("identity", shape, IntType(16), 1.0, Interval(-32768, 32767))
        m2, e2 = ops.dyadic(id_ratio, bits)
        ins["m_id"] = b.const(f"{name}.m_id", np.asarray(m2), IntType(32))
        ins["e_id"] = b.const(f"{name}.e_id", np.asarray(e2), IntType(8, signed=False))
    scale = 2.0 ** np.asarray(e, dtype=np.float64) / np.asarray(m, dtype=np.float64)  # S_acc = 1
    out_scale = float(scale.reshape(-1)[0]) if scale.size == 1 else tuple(float(v) for v in np.broadcast_to(
        scale, (shape[-1],)))
    if identity:
        out_scale = None
    y = b.node("requantize", ins, "y", IntType(out_bits), out_scale, {"out_bits": out_bits, "rounding": rounding},
               name=name)
    return infer_ranges(b.finish([y]))  # analysed, as load_graph returns it: the renderer reads its ranges


def requantize_a() -> Graph:
    """Per-channel multipliers, 32-bit accumulator, half-even rounding, 8-bit output."""
    ratios = 0.001 * (1 + np.arange(12) / 7.0)
    return _requant((3, 12), 32, Interval(-(2**31), 2**31 - 1), ratios, 8, "half_even", False, "rq_a")


def requantize_b() -> Graph:
    """Residual add: identity term, scalar multipliers, half-up rounding, 16-bit output."""
    return _requant((2, 20), 24, Interval(-(2**23), 2**23 - 1), [0.013], 16, "half_up", True, "rq_b")


def requantize_c() -> Graph:
    """Floor rounding, exact-tie multipliers (ratio 2^-k)."""
    return _requant((2, 8), 16, Interval(-32768, 32767), [0.25, 0.5, 0.125, 0.0625, 0.25, 0.5, 0.125, 0.03125],
                    8, "floor", False, "rq_c")


def requantize_d() -> Graph:
    """17-bit multipliers (``dyadic_bits`` 17), all scalar: both terms are shifted-digit sums in the fabric
    (no hard multiplier), a negative m on the identity term, a 24-bit accumulator proven to 20 bits."""
    return _requant((2, 16), 24, Interval(-(2**19), 2**19 - 1), [0.0137], 16, "half_even", True, "rq_d", 17,
                    -0.61)


def shiftgelu_a() -> Graph:
    return _one("shiftgelu", (2, 48), 8, Interval(-128, 127), 16, {"x0": gelu_x0(0.05)}, name="sg_a", scale=0.05)


def shiftgelu_b() -> Graph:
    return _one("shiftgelu", (2, 40), 8, Interval(-128, 127), 16, {"x0": gelu_x0(0.1, "shift"), "coef": "shift"},
                name="sg_b")


def shiftmax_short() -> Graph:
    """The digits model's attention rows: 17 tokens, shorter than one 31-step division (three dividers in turn)."""
    return _one("shiftmax", (5, 17), 8, Interval(-128, 127), 16, {"x0": exp_x0(0.1)}, name="sm_s",
                out_scale=2.0**-15)


def shiftmax_deit() -> Graph:
    """deit_tiny's attention: 197 tokens, x0 = -400 (scores at scale 1/400), n = 15."""
    return _one("shiftmax", (2, 197), 8, Interval(-128, 127), 16, {"x0": -400, "n": 15, "out_bits": 16},
                name="sm_d", scale=0.0025, out_scale=2.0**-15)


def shiftgelu_deit() -> Graph:
    """deit_tiny's GELU widths (x0 = -63, n = 23) on 96-element rows."""
    return _one("shiftgelu", (3, 96), 8, Interval(-128, 127), 16, {"x0": -63, "n": 23}, name="sg_d", scale=0.0093)


CONFIGS = {
    "shiftmax": (shiftmax_a, shiftmax_b, shiftmax_short, shiftmax_deit),
    "ibert_softmax": (ibert_softmax_a, ibert_softmax_b),
    "log_int_softmax": (log_int_softmax_a, log_int_softmax_b),
    "ibert_gelu": (ibert_gelu_a, ibert_gelu_b),
    "requantize": (requantize_a, requantize_b, requantize_c, requantize_d),
    "shiftgelu": (shiftgelu_a, shiftgelu_b, shiftgelu_deit),
}


def _norm(op: str, shape, bits: int, iv: Interval, name: str, out_bits: int = 32, attrs: dict | None = None,
          seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    bias = rng.integers(-3000, 3000, shape[-1])
    return _one(op, shape, bits, iv, out_bits, attrs or {}, {"bias_int": (bias, IntType(32))}, name=name)


def ilayernorm_a() -> Graph:
    """16-bit residual stream, 128 channels."""
    return _norm("ilayernorm", (2, 128), 16, Interval(-32768, 32767), "ln_a")


def ilayernorm_b() -> Graph:
    """8-bit input, 96 channels, 6 Newton steps from 2^12."""
    return _norm("ilayernorm", (2, 96), 8, Interval(-128, 127), "ln_b", attrs={"iters": 6, "k0": 4096})


def ibert_layernorm_a() -> Graph:
    return _norm("ibert_layernorm", (2, 64), 16, Interval(-32768, 32767), "bl_a")


def ibert_layernorm_b() -> Graph:
    return _norm("ibert_layernorm", (2, 48), 8, Interval(-128, 127), "bl_b")


def l1_layernorm_a() -> Graph:
    return _norm("l1_layernorm", (2, 64), 16, Interval(-32768, 32767), "l1_a")


def l1_layernorm_b() -> Graph:
    return _norm("l1_layernorm", (2, 40), 8, Interval(-128, 127), "l1_b")


def ilayernorm_short() -> Graph:
    """The digits model's LayerNorm: 64 channels of a 16-bit stream, 10 Newton steps (six spread engines in turn)."""
    return _norm("ilayernorm", (4, 64), 16, Interval(-32768, 32767), "ln_s")


def ilayernorm_deit() -> Graph:
    """deit_tiny's LayerNorm: 192 channels of a 16-bit stream, 10 Newton steps (two spread engines)."""
    return _norm("ilayernorm", (2, 192), 16, Interval(-32768, 32767), "ln_d")


CONFIGS.update({
    "ilayernorm": (ilayernorm_a, ilayernorm_b, ilayernorm_short, ilayernorm_deit),
    "ibert_layernorm": (ibert_layernorm_a, ibert_layernorm_b),
    "l1_layernorm": (l1_layernorm_a, l1_layernorm_b),
})


def config_names() -> list[str]:
    """``<op>/<builder>`` for every configuration."""
    return [f"{op}/{fn.__name__}" for op, fns in CONFIGS.items() for fn in fns]
