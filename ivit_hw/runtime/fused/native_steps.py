"""The fused steps on the native CPU row kernels (:mod:`ivit_hw.runtime.native`): one threaded pass
per row for each element-wise chain instead of a dozen int64 torch passes.

:func:`prepare` decides per step from the proven ranges whether the native kernels hold it exactly
(else the step keeps its torch body) and gathers its constants; :func:`run` executes it. GEMMs run
on the native VNNI GEMM with the requantize as its epilogue where the build has AVX512-VNNI (in
float64 where the plan proved ``ops.requant.float_requantize_ok``, else int64), otherwise on torch
(int8 ``_int_mm`` or the exact float routes) with the native requantize rows after them. Every
formula is the ``ops`` one: ShiftExp and the GELU coefficient multiply arrive as tables built by the
ops kernels, ``em`` of ShiftGELU by ``ops.shift_exp``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from ... import ops
from ...ir.graph import Graph
from ...ops.intmath import INT32_MAX, value_hull
from ...ops.linear import im2col_patches
from ...ops.shiftgelu import SIGMOID_SHIFT, gelu_coef_mul
from ..int_gemm import FLOAT32_EXACT, choose_route, row_gemm
from ..native import NativeKernels
from ..torch_namespace import TorchOps
from .steps import Step

I64 = torch.int64
XP = TorchOps()
INT64_SAFE = 2**62
ZTAB_MAX = 2**16  # widest x range whose GELU coefficient multiply is tabulated


def _const(graph: Graph, name: str) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(graph.constants[name]).astype(np.int64).reshape(-1))


def _per_channel(graph: Graph, name: str, n: int) -> torch.Tensor:
    """A scalar or per-channel constant as n contiguous int64 values (the native requantize's fast rows)."""
    return _const(graph, name).expand(n).contiguous()


def _f64(t: torch.Tensor, n: int) -> torch.Tensor:
    """A scalar or per-channel float64 scale as n contiguous values."""
    return t.to(torch.float64).reshape(-1).expand(n).contiguous()


def _range_any(graph: Graph, tensor: str) -> tuple[int, int] | None:
    """The proven range of a tensor, or a constant's value range."""
    if tensor in graph.constants:
        return value_hull(graph.constants[tensor])
    return _range(graph, tensor)


def _range(graph: Graph, tensor: str) -> tuple[int, int] | None:
    rng = graph.tensor(tensor).range
    return None if rng is None else (int(rng.lo), int(rng.hi))


def prepare(kernels: NativeKernels, graph: Graph, step: Step, prep: Mapping, out_dtype: torch.dtype) -> dict | None:
    """What :func:`run` needs for ``step`` (``prep``: the torch step's own preparation), or None when
    the native kernels do not cover it (the step then runs its torch body)."""
    i, g = step.info, graph
    if step.kind not in ("gemm", "attention", "layernorm", "gelu"):
        return None
    base = {"out_dtype": out_dtype}
    if step.kind == "gemm":
        w = g.constants[i["weight"]]
        w = np.asarray(w, dtype=np.int64).reshape(w.shape[0], -1)
        bias = (_const(g, i["bias"]) if i["bias"] else torch.zeros(w.shape[0], dtype=I64))
        bias = bias + i["offset"] * torch.from_numpy(w.sum(axis=1))
        n = w.shape[0]
        p = {**base, "w": prep["w"], "bias": bias, "m": _per_channel(g, i["m"], n), "e": _per_channel(g, i["e"], n),
             "wide": bool(i["split"] or i.get("split_id", False)),
             "gemm": row_gemm(prep["route"], prep["chunk"], torch.int32 if prep["route"] == "int_mm" else I64)}
        if kernels.vnni and prep["route"] == "int_mm" and 255 * 128 * w.shape[1] < 2**31:
            packed = kernels.pack_b(torch.from_numpy(np.array(w)))  # (x + 128) @ w.T: subtract 128 * colsum in the bias
            p.update(packed=packed, bias=bias - 128 * packed.colsum)
            id_rng = None if i["identity"] is None else _range_any(g, i["identity"])
            id32 = i["identity"] is None or (id_rng is not None and -(2**31) <= id_rng[0] and id_rng[1] < 2**31)
            narrow = out_dtype in (torch.int8, torch.int16, torch.int32)
            if prep["fscale"] is not None and id32 and narrow:  # the plan proved the float64 requantize exact
                p.update(bias_f=p["bias"].to(torch.float64), scale=_f64(prep["fscale"], n),
                         scale_id=None if i["identity"] is None else _f64(prep["fscale_id"], n))
        if i["identity"] is not None:
            p.update(m_id=_per_channel(g, i["m_id"], n), e_id=_per_channel(g, i["e_id"], n))
        return p
    if step.kind == "attention":
        k = g.tensor(i["q"]).shape[-1]
        route, _ = choose_route(128, 128, k, torch.device("cpu"), int8=False)
        if route != "float32" or 128 * 128 * k > FLOAT32_EXACT:
            return None
        # the plan proved q, k, v int8, the Shiftmax output in [0, 2^16) and direct requantize products
        return {**base, "table": prep["table"].e, "span": 2 ** i["scores_bits"] - 1, "vnni": kernels.vnni}
    if step.kind == "layernorm":
        rng = _range(g, i["x"])
        if rng is None:
            return None
        a, c = 2 * max(-rng[0], rng[1]), g.tensor(i["x"]).shape[-1]
        if c * a * a >= INT64_SAFE or a * 2**31 >= INT64_SAFE:
            return None
        return {**base, "bias": _const(g, i["bias_int"]), "m": _per_channel(g, i["m"], c),
                "e": _per_channel(g, i["e"], c), "wide": bool(i["split"])}
    if step.kind == "gelu":
        rng = _range(g, i["x"])
        if not i["span"] or rng is None:
            return None
        ztab = None
        if i["coef"] != "scale":
            if rng[1] - rng[0] >= ZTAB_MAX:
                return None
            ztab = torch.from_numpy(gelu_coef_mul(np.arange(rng[0], rng[1] + 1, dtype=np.int64)))
        p = {**base, "table": prep["table"].e, "ztab": ztab, "zlo": rng[0], "wide": bool(i["split"]), "em": None}
        zlo, zhi = (rng[0], rng[1]) if ztab is None else (int(ztab.min()), int(ztab.max()))
        if zhi - zlo < ZTAB_MAX:  # em = ShiftExp(-zmax) saturated (ops.shift_exp) for every possible row max
            em = ops.shift_exp(-np.arange(zlo, zhi + 1, dtype=np.int64), i["x0"], i["n"], INT32_MAX)
            p.update(em=torch.from_numpy(np.ascontiguousarray(em, dtype=np.int64)), em_lo=zlo)
        return p
    return None


def run(k: NativeKernels, step: Step, np_: dict, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Run ``step`` natively; ``x`` holds its data inputs by role (the fused executor's tensors)."""
    i = step.info
    if step.kind == "gemm":
        a = x["x"]
        if i["patch"]:
            a = im2col_patches(a, i["patch"], xp=XP)
        rows = a.reshape(-1, a.shape[-1])
        rows = (rows.to(torch.int16) - i["offset"]).to(torch.int8) if i["offset"] else rows.to(torch.int8)
        n = np_["bias"].numel()
        ident = x.get("identity")
        if ident is not None:
            ident = ident.expand(*a.shape[:-1], n)
        args = (np_["m"], np_["e"], i["out_bits"], i["rounding"], np_["wide"], np_["out_dtype"], np_["bias"], ident,
                np_.get("m_id"), np_.get("e_id"))
        if "scale" in np_:
            if ident is not None and ident.dtype not in (torch.int8, torch.int16, torch.int32):
                ident = ident.to(torch.int32)  # proven to fit (prepare)
            y = k.gemm_requant_f64(rows, np_["packed"], np_["bias_f"], np_["scale"], i["out_bits"], i["rounding"],
                                   np_["out_dtype"], ident, np_["scale_id"])
        elif "packed" in np_:
            y = k.gemm_requant(rows, np_["packed"], *args)
        else:
            y = k.requant(np_["gemm"](rows, np_["w"]), n, *args)
        return y.reshape(*a.shape[:-1], n)
    if step.kind == "attention":
        q, kk, v = x["q"], x["k"], x["v"]
        if np_["vnni"]:
            return k.attention(q, kk, v, i["scores_m"], i["scores_e"], i["scores_bits"], i["rounding"], np_["table"],
                               np_["span"], i["out_bits"], i["out_m"], i["out_e"], i["o_bits"], np_["out_dtype"])
        scores = torch.matmul(q.to(torch.float32), kk.to(torch.float32).transpose(-1, -2))
        y = k.shiftmax(scores, i["scores_m"], i["scores_e"], i["scores_bits"], i["rounding"], False, np_["table"],
                       np_["span"], i["out_bits"], torch.float64)
        o = torch.matmul(y, v.to(torch.float64))  # exact: |sum| < 2^16 * 2^7 * 1024 < 2^53
        dh = o.shape[-1]
        m, e = torch.tensor([i["out_m"]]), torch.tensor([i["out_e"]])
        out = k.requant(o.reshape(-1, dh), dh, m, e, i["o_bits"], i["rounding"], False, np_["out_dtype"])
        return out.reshape(o.shape)
    if step.kind == "layernorm":
        return k.layernorm(x["x"], np_["bias"], i["iters"], i["k0"], np_["m"], np_["e"], i["out_bits"],
                           i["rounding"], np_["wide"], np_["out_dtype"])
    xin = x["x"]
    zmax = k.gelu_rowmax(xin, np_["ztab"], np_["zlo"])
    if np_["em"] is not None:
        em = np_["em"][zmax - np_["em_lo"]]
    else:
        em = ops.shift_exp(-zmax, i["x0"], i["n"], INT32_MAX, xp=XP)
    return k.gelu(xin, np_["ztab"], np_["zlo"], zmax, em, np_["table"], i["span"], SIGMOID_SHIFT, i["m_val"],
                  i["e_val"], i["out_bits"], i["rounding"], np_["wide"], np_["out_dtype"])
