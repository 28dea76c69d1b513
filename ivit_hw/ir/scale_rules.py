"""Scale rules: what every op's output scale must be, given its input scales
and attributes (spec sections 2-9). The verifier compares each claim with
the scale stored on the tensor (:func:`ivit_hw.ir.scales.scale_rule_problems`).

A scale is the real value of one integer step, a compile-time float64. A
rule sees every input scale as a per-element array broadcastable to that
input's per-sample shape (see :class:`ivit_hw.ir.registry.ScaleInputs`) and
returns :class:`ScaleClaim` s; each docstring says where its formula comes
from and how precise it is. A rule returns no claim when an input it needs
has no scale (the graph then says nothing checkable about that tensor).
"""

from __future__ import annotations

import numpy as np

from ..ops import ERF_SHIFT, LOG_ATTN_SHIFT, SIGMOID_SHIFT
from ..ops.params import IBERT_ERF_A, IBERT_ERF_K
from .registry import ScaleClaim, ScaleInputs
from .types import IRError

#: A dyadic multiplier m (2^30 <= |m| <= 2^31 at the default 31 bits, rounded half up) is within a
#: relative 2^-31 of its ratio; twice that leaves room for float64 rounding. A narrower m (the
#: quantizer's ``dyadic_bits``) is within 1/(2|m|): :func:`dyadic_rtol` gives the bound of a node.
DYADIC_RTOL = 2.0**-30


def dyadic_rtol(m: np.ndarray) -> float:
    """The relative precision of the claims of multipliers ``m``: twice the rounding error 1/(2|m|) of
    the smallest nonzero |m|, and never below :data:`DYADIC_RTOL` (a 31-bit m)."""
    nz = np.abs(np.asarray(m, dtype=np.float64))
    nz = nz[nz > 0]
    return max(DYADIC_RTOL, 1.0 / float(nz.min())) if nz.size else DYADIC_RTOL
#: Claims that repeat the export's own float64 formula, possibly associated
#: differently (s_q * s_k * c vs s_q * (s_k * c)): a few ulps.
FLOAT_RTOL = 1e-12

Claims = tuple[ScaleClaim, ...]


def _uniform(si: ScaleInputs, role: str) -> float | None:
    """The scale of ``role`` as one float (None without a scale); IRError when it varies."""
    s = si.scales.get(role)
    if s is None:
        return None
    if s.size and float(s.min()) != float(s.max()):
        raise IRError(f"{si.node}: the scale of input {role!r} varies per channel; this op needs one scale")
    return float(s.ravel()[0])


def _full(si: ScaleInputs, role: str) -> np.ndarray | None:
    """The per-element scale of ``role`` broadcast to its whole per-sample shape."""
    s = si.scales.get(role)
    return None if s is None else np.broadcast_to(s, si.shapes[role])


def fixed(value_of_attrs, why: str):
    """A rule whose output scale depends only on attributes (Shiftmax, I-BERT softmax)."""

    def rule(si: ScaleInputs) -> Claims:
        return (ScaleClaim(np.asarray(float(value_of_attrs(si.attrs))), 0.0, why),)

    rule.__doc__ = f"Output scale {why}, whatever the input scale (the op normalises it away)."
    return rule


def no_scale(si: ScaleInputs) -> Claims:
    """Codes and indices (argmax, Log-Int-Softmax codes) have no scale."""
    return (ScaleClaim(None, 0.0, "no scale"),)


def free(si: ScaleInputs) -> Claims:
    """The LayerNorms: S_out = gamma * unit per channel is fixed by a float weight the graph
    does not hold, so nothing about it follows from the inputs (the input scale cancels in
    the normalisation). Their ``bias_int`` must be on the output scale: the verifier checks
    every ``out_scale`` role generically."""
    return ()


def _dyadic(s_in: np.ndarray | None, m: np.ndarray, e: np.ndarray, si: ScaleInputs, why: str) -> list[ScaleClaim]:
    if s_in is None:
        return []
    m = np.asarray(m, dtype=np.float64)
    if m.size and not m.any():
        raise IRError(f"{si.node}: a multiplier of 0 maps every input to 0 (its ratio S_in/S_out is undefined)")
    # a channel with m = 0 outputs 0 at any scale (an exporter's dead channel): NaN, no claim there
    with np.errstate(divide="ignore", invalid="ignore"):
        claim = np.where(m == 0, np.nan, s_in * np.ldexp(1.0, np.asarray(e, dtype=np.int64)) / m)
    return [ScaleClaim(claim, dyadic_rtol(m), why)]


def requantize(si: ScaleInputs) -> Claims:
    """m / 2^e ~= S_acc / S_out (spec section 2), so S_out ~= S_acc * 2^e / m per channel
    (m, e along the last axis), to the dyadic's precision (:func:`dyadic_rtol`). With an
    identity term the same holds for S_identity * 2^e_id / m_id: both terms land on S_out."""
    c = si.consts
    claims = _dyadic(si.scales.get("acc"), c["m"], c["e"], si, "S_acc * 2^e / m")
    if "identity" in si.scales:
        claims += _dyadic(si.scales["identity"], c["m_id"], c["e_id"], si, "S_identity * 2^e_id / m_id")
    return tuple(claims)


def gemm(si: ScaleInputs) -> Claims:
    """acc = sum_k x_k * w[c, k] is on S_x * S_w[c] (spec section 3): S_x must be one scale
    (it multiplies every k), S_w runs along the weight's axis 0 (output channels), so the
    output scale runs along its last axis. The bias is added on the same scale. Exact up
    to float association (:data:`FLOAT_RTOL`)."""
    s_x, w = _uniform(si, "x"), si.scales.get("weight")
    if s_x is None or w is None:
        return ()
    if w.ndim and any(d != 1 for d in w.shape[1:]):
        raise IRError(f"{si.node}: the weight scale must run along axis 0 (output channels)")
    claim = np.asarray(s_x * w.reshape(-1)) if w.ndim else np.asarray(s_x * float(w))
    out = [ScaleClaim(claim, FLOAT_RTOL, "S_x * S_weight")]
    if "bias" in si.shapes:
        out.append(ScaleClaim(claim, FLOAT_RTOL, "S_x * S_weight", target="bias"))
    return tuple(out)


def matmul(si: ScaleInputs) -> Claims:
    """a @ b sums a_ik * b_kj: one scale each, product S_a * S_b (spec section 3). With
    ``fold_rsqrt_k`` the output stands for the attention scores (a @ b) / sqrt(K), K the
    summed length (the head dim): the factor is folded into the scale, S_a * S_b / sqrt(K)."""
    s_a, s_b = _uniform(si, "a"), _uniform(si, "b")
    if s_a is None or s_b is None:
        return ()
    if si.attrs["fold_rsqrt_k"]:
        k = si.shapes["a"][-1]
        return (ScaleClaim(np.asarray(s_a * s_b * k**-0.5), FLOAT_RTOL, "S_a * S_b / sqrt(K)"),)
    return (ScaleClaim(np.asarray(s_a * s_b), FLOAT_RTOL, "S_a * S_b"),)


def add(si: ScaleInputs) -> Claims:
    """An integer add is a real add only on one scale: S_b = S_a = S_out, exactly."""
    s_a = si.scales.get("a")
    if s_a is None:
        return ()
    return (ScaleClaim(s_a, 0.0, "S_a"), ScaleClaim(s_a, 0.0, "S_a", target="b"))


def shiftgelu(si: ScaleInputs) -> Claims:
    """y = x * g with g = sigmoid * 2^(31 - 24) (prod ~ sigmoid * 2^31, then >> 24): S_in / 128
    (spec section 6), per channel if the input is."""
    s = si.scales.get("x")
    if s is None:
        return ()
    return (ScaleClaim(s * 2.0 ** -(31 - SIGMOID_SHIFT), 0.0, "S_in / 2^(31 - SIGMOID_SHIFT)"),)


def ibert_gelu(si: ScaleInputs) -> Claims:
    """i-GELU (spec section 9): S_e = S / k, S_u = S_e^2 * a * 2^14 (negative: a < 0),
    y = x * (u + one) on S * S_u / 2; computed as :func:`ivit_hw.ops.params.ibert_gelu_params`
    does."""
    s = _uniform(si, "x")
    if s is None:
        return ()
    s_e = s / IBERT_ERF_K
    s_u = s_e**2 * IBERT_ERF_A * 2**ERF_SHIFT
    return (ScaleClaim(np.asarray(s * s_u / 2), FLOAT_RTOL, "S * S_u / 2 with S_u = (S/k)^2 * a * 2^14"),)


def log_attn_v(si: ScaleInputs) -> Claims:
    """sum_j v_j << (15 - code_j) is sum_j v_j * 2^-code_j * 2^15: S_v / 2^15 (spec section 9).
    S_v may vary along v's last axis (it becomes the output's) but not along the summed one."""
    s = si.scales.get("v")
    if s is None:
        return ()
    if s.ndim >= 2 and s.shape[-2] != 1:
        raise IRError(f"{si.node}: the scale of 'v' varies along the summed axis")
    return (ScaleClaim(s * 2.0**-LOG_ATTN_SHIFT, 0.0, "S_v / 2^15"),)


def reduce_sum(si: ScaleInputs) -> Claims:
    """An integer sum of N values on scale S stands for their mean on S / N (spec section 8:
    the average pool's 1/N goes into the scale). S must not vary along the summed axis."""
    s = _full(si, "x")
    if s is None:
        return ()
    ax = si.attrs["axis"] % len(si.shapes["x"])
    first = np.take(s, [0], axis=ax)
    if not np.array_equal(s, np.broadcast_to(first, s.shape)):
        raise IRError(f"{si.node}: the scale of 'x' varies along the summed axis {ax}")
    return (ScaleClaim(np.squeeze(first, axis=ax) / s.shape[ax], FLOAT_RTOL, "S_x / N"),)


# -------------------------------------------------------------- layout ops --
# Reshape, transpose, slice, gather and concat move values without changing
# them, so they move each element's scale with it: the rule applies the op to
# the per-element scale map. The output scale is exact (rtol 0).


def _moved(si: ScaleInputs, move, why: str) -> Claims:
    s = _full(si, "x")
    if s is None:
        return ()
    return (ScaleClaim(np.asarray(move(s, si.attrs)), 0.0, why),)


def reshape(si: ScaleInputs) -> Claims:
    """Each element keeps its scale: the scale map, reshaped."""
    return _moved(si, lambda s, a: s.reshape(a["shape"]), "the input's scales, reshaped")


def transpose(si: ScaleInputs) -> Claims:
    """Each element keeps its scale: the scale map, permuted."""
    return _moved(si, lambda s, a: s.transpose(a["perm"]), "the input's scales, permuted")


def slice_(si: ScaleInputs) -> Claims:
    """Each element keeps its scale: the scale map, sliced."""
    return _moved(si, lambda s, a: np.take(s, np.arange(a["start"], a["stop"]), axis=a["axis"]),
                  "the input's scales, sliced")


def gather(si: ScaleInputs) -> Claims:
    """Each element keeps its scale: the scale map at the index."""
    return _moved(si, lambda s, a: np.take(s, a["index"], axis=a["axis"]), "the input's scales at the index")


def concat(si: ScaleInputs) -> Claims:
    """Each element keeps its scale: the two scale maps, concatenated."""
    a, b = _full(si, "a"), _full(si, "b")
    if a is None or b is None:
        return ()
    return (ScaleClaim(np.concatenate([a, b], axis=si.attrs["axis"]), 0.0, "the inputs' scales, concatenated"),)
