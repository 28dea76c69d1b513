"""The fused executor: runs an integer graph as a list of fused steps on a torch device.

``backend="triton"`` launches the Triton kernels of :mod:`.triton_kernels`
(CUDA, or CPU under ``TRITON_INTERPRET=1``); ``backend="torch"`` runs the same
steps as exact torch code (``torch._int_mm`` GEMMs, int64 element-wise
chains), optionally through ``torch.compile``. Both equal the numpy golden
executor bit for bit; outputs come back as int64 like ``run_graph``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from ...ir.analysis import infer_ranges
from ...ir.graph import Graph
from ...ir.registry import get_op
from ...ir.types import IntType, IRError
from ...ops.linear import im2col_patches
from ..int_gemm import choose_route, row_gemm
from ..native import NativeKernels
from ..native import load as load_native
from ..node_builders import build_node
from ..numpy_exec import RunResult
from ..torch_namespace import TorchOps
from . import native_steps
from . import torch_kernels as T
from .steps import Step, build_plan

BACKENDS = ("torch", "triton")
I64 = torch.int64
MOVE_OPS = frozenset({"reshape", "transpose", "concat", "slice", "gather"})  # ops that only move values
NATIVE_ROLES = ("x", "identity", "q", "k", "v")  # the step info keys naming data inputs


def storage_dtype(t: IntType) -> torch.dtype:
    """The narrowest torch dtype holding every value of ``t``."""
    if not t.signed and t.bits <= 8:
        return torch.uint8
    bits = t.bits if t.signed else t.bits + 1
    for b, dt in ((8, torch.int8), (16, torch.int16), (32, torch.int32)):
        if bits <= b:
            return dt
    return I64


def triton_available() -> bool:
    """Whether triton imports here (the Triton backend needs it)."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


# ----------------------------------------------------------------------------- torch step bodies
def requant(acc, m, e, out_bits: int, rounding: str, fscale=None, identity=None, m_id=None, e_id=None,
            fscale_id=None, split: bool = False, split_id: bool = False):
    """The step's requantize: in float64 when the plan proved it exact (``fscale`` = m / 2^e given,
    :func:`ivit_hw.ops.requant.float_requantize_ok`), else the int64 form."""
    if fscale is not None:
        return T.requantize_float(acc, fscale, out_bits, rounding, identity, fscale_id)
    return T.requantize(acc, m, e, out_bits, rounding, identity, m_id, e_id, split, split_id)


def gemm_step(x, w, bias, m, e, identity, m_id, e_id, out_bits: int, rounding: str, split: bool,
              split_id: bool, offset: int, n: int, route: str = "float32_chunked", chunk: int = 1024,
              fscale=None, fscale_id=None):
    """Exact requantize(x @ w.T + bias [, identity]); the GEMM on ``route`` (:mod:`..int_gemm`, chosen
    per layer from the proven bound and the CPU: int8 ``_int_mm`` where VNNI / AMX or CUDA, else float32
    BLAS over exact K-chunks), accumulated in float64 when the requantize runs there (the sum is below
    2^53 then). w is padded to N % 8 == 0."""
    rows = x.reshape(-1, x.shape[-1])
    rows = (rows.to(torch.int16) - offset).to(torch.int8) if offset else rows.to(torch.int8)
    acc = row_gemm(route, chunk, I64 if fscale is None else torch.float64)(rows, w)[:, :n] + bias
    ident = identity.reshape(-1, n) if identity is not None else None
    y = requant(acc, m, e, out_bits, rounding, fscale, ident, m_id, e_id, fscale_id, split, split_id)
    return y.reshape(*x.shape[:-1], n)


def attention_step(q, k, v, sm, se, x0, om, oe, scores_bits: int, n: int, out_bits: int, o_bits: int,
                   rounding: str, fs_scores=None, fs_out=None, table=None):
    """requantize(shiftmax(requantize(q @ k^T)) @ v), exact (float GEMMs below their exact bounds; ShiftExp
    looked up in ``table`` over the scores' spread)."""
    sc = requant(T.exact_matmul(q, k.transpose(-1, -2)), sm, se, scores_bits, rounding, fs_scores)
    y = T.shiftmax_lut(sc, x0, n, out_bits, 2**scores_bits - 1, table)
    o = T.attn_v_split(y, v) if out_bits > 8 else T.exact_matmul(y, v)
    return requant(o, om, oe, o_bits, rounding, fs_out)


def layernorm_step(x, bias, m, e, iters: int, k0: int, out_bits: int, rounding: str, split: bool, fscale=None):
    """requantize(ilayernorm(x)) per channel."""
    return requant(T.ilayernorm(x, bias, iters, k0), m, e, out_bits, rounding, fscale, split=split)


def gelu_step(x, x0, m, e, n: int, coef: str, out_bits: int, rounding: str, span: int = 0, fscale=None,
              table=None):
    """requantize(shiftgelu(x)); ``span`` > 0: the proven spread of z per row, for the sigmoid table."""
    g = T.shiftgelu_lut(x, x0, n, coef, span, table) if span else T.shiftgelu(x, x0, n, coef)
    return requant(g, m, e, out_bits, rounding, fscale)


class FusedExecutor:
    """Run ``graph`` as fused steps on ``device`` (API like the torch executor: ``run`` / ``forward``).

    ``backend``: "triton", "torch" or None (Triton on CUDA when it imports,
    else torch). ``compile=True`` wraps the torch step bodies in
    ``torch.compile``. ``fuse=False`` runs every node alone (for tests). ``int8_gemm`` forces the
    torch backend's int8 GEMM route on or off (None: where the device has int8 dot products);
    ``float_requant=False`` keeps every requantize in int64 (for comparisons). ``native``: run the
    element-wise chains on the native CPU row kernels (:mod:`.native_steps`; None: on a CPU torch
    backend without ``compile`` when they build here, False: never, True: required).
    """

    def __init__(self, graph: Graph, device: str | torch.device = "cpu", backend: str | None = None,
                 compile: bool = False, fuse: bool = True, int8_gemm: bool | None = None,
                 float_requant: bool = True, native: bool | None = None) -> None:
        self.device = torch.device(device)
        self.int8_gemm = int8_gemm
        self.float_requant = float_requant
        if backend is None:
            backend = "triton" if self.device.type == "cuda" and triton_available() else "torch"
        if backend not in BACKENDS:
            raise ValueError(f"unknown fused backend {backend!r}; choose one of {BACKENDS}")
        if backend == "triton" and not triton_available():
            raise RuntimeError("the triton backend needs the triton package (pip install triton)")
        self.backend = backend
        if any(graph.tensor(t).range is None for t in graph.tensors if t not in graph.constants):
            graph = infer_ranges(graph)
        self.graph = graph
        self._xp = TorchOps(self.device)
        self.steps = build_plan(graph, fuse)
        self.consts = {name: torch.from_numpy(np.ascontiguousarray(v).astype(np.int64)).to(self.device)
                       for name, v in graph.constants.items()}
        self.native = self._native_kernels(native, compile)
        self._prepared = [self._prepare(s) for s in self.steps]
        if self.native is not None:
            for s, p in zip(self.steps, self._prepared, strict=True):
                out_dtype = storage_dtype(graph.tensor(s.output).dtype)
                p["native"] = native_steps.prepare(self.native, graph, s, p, out_dtype)
        self._bodies = self._step_bodies(compile and backend == "torch")

    # ------------------------------------------------------------------ set-up
    def _native_kernels(self, native: bool | None, compile: bool) -> NativeKernels | None:
        """The native row kernels when this executor uses them (see the class docstring)."""
        usable = self.backend == "torch" and self.device.type == "cpu" and not compile
        if native is False or (native is None and not usable):
            return None
        if not usable:
            raise ValueError("native kernels need the torch backend on a CPU device, without compile")
        kernels = load_native()
        if kernels is None and native:
            raise RuntimeError("the native CPU kernels could not be built here (see the warning)")
        return kernels

    def _const(self, name: str | None, dtype: torch.dtype = I64) -> torch.Tensor | None:
        return None if name is None else self.consts[name].to(dtype)

    def _prepare(self, step: Step) -> dict:
        i = step.info
        if step.kind == "gemm":
            w = self.consts[i["weight"]]
            w = w.reshape(w.shape[0], -1)
            n = w.shape[0]
            bias = self._const(i["bias"]) if i["bias"] else torch.zeros(n, dtype=I64, device=self.device)
            bias = bias + i["offset"] * w.sum(dim=1)
            w8 = w.to(torch.int8)
            if self.backend == "torch":
                w8 = torch.nn.functional.pad(w8, (0, 0, 0, (-n) % 8))
            w_max = int(w.abs().max()) if w.numel() else 0
            route, chunk = choose_route(128, w_max, w.shape[1], self.device, int8=True, prefer_int8=self.int8_gemm)
            fs = self._fscale(i, "m", "e")
            p = {"w": w8.contiguous(), "bias": bias if fs is None else bias.to(torch.float64),
                 "m": self._const(i["m"]), "e": self._const(i["e"]), "n": n, "route": route, "chunk": chunk,
                 "fscale": fs}
            if i["identity"] is not None:
                p.update(m_id=self._const(i["m_id"]), e_id=self._const(i["e_id"]),
                         fscale_id=None if fs is None else self._fscale(i, "m_id", "e_id"))
            return p
        if step.kind == "layernorm":
            return {"bias": self._const(i["bias_int"]), "m": self._const(i["m"]), "e": self._const(i["e"]),
                    "fscale": self._fscale(i, "m", "e")}
        keys = ("scores_m", "scores_e", "x0", "out_m", "out_e")
        if step.kind == "attention":
            p = {k: torch.tensor(i[k], dtype=I64, device=self.device) for k in keys}
            p["par"] = torch.tensor([i[k] for k in keys], dtype=I64, device=self.device)
            p["fs_scores"] = T.float_scale(i["scores_m"], i["scores_e"], self.device) if i["scores_float"] else None
            p["fs_out"] = T.float_scale(i["out_m"], i["out_e"], self.device) if i["out_float"] else None
            p["table"] = T.lut(i["x0"], i["n"], 2 ** i["scores_bits"] - 1, self.device)
            return p
        if step.kind == "gelu":
            return {"x0": torch.tensor(i["x0"], dtype=I64, device=self.device),
                    "m": self._const(i["m"]), "e": self._const(i["e"]), "fscale": self._fscale(i, "m", "e"),
                    "table": T.lut(i["x0"], i["n"], i["span"], self.device) if i["span"] else None,
                    "par": torch.tensor([i["m_val"], i["e_val"], i["x0"]], dtype=I64, device=self.device)}
        # a node the plan does not fuse: the torch executor's spec builder, on this device
        return {"impl": build_node(self.graph, step.nodes[0], self._xp)}

    def _fscale(self, info: dict, m: str, e: str) -> torch.Tensor | None:
        """m / 2^e in float64 when the plan proved the float64 requantize exact (torch backend only)."""
        if self.backend != "torch" or not self.float_requant or not info.get("float"):
            return None
        return T.float_scale(self.graph.constants[info[m]], self.graph.constants[info[e]], self.device)

    def _step_bodies(self, compile: bool) -> dict[str, Callable]:
        bodies = {"gemm": gemm_step, "attention": attention_step, "layernorm": layernorm_step, "gelu": gelu_step}
        if not compile:
            return bodies
        import torch._dynamo as dynamo

        for key in ("cache_size_limit", "recompile_limit"):
            if hasattr(dynamo.config, key):
                setattr(dynamo.config, key, max(64, getattr(dynamo.config, key)))
        return {k: torch.compile(f, dynamic=False) for k, f in bodies.items()}

    # ------------------------------------------------------------------ run
    def _data(self, t: str, env: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """A data input as int64: from ``env``, or a constant with a batch axis of one."""
        return (env[t] if t in env else self.consts[t][None]).to(I64)

    def _run_step(self, step: Step, prep: dict, env: dict[str, torch.Tensor]) -> torch.Tensor:
        i, b = step.info, self._bodies
        if prep.get("native") is not None:
            roles = {r: t for r, t in i.items() if r in NATIVE_ROLES and t is not None}
            data = {r: env[t] if t in env else self.consts[t][None] for r, t in roles.items()}
            return native_steps.run(self.native, step, prep["native"], data)
        if step.kind == "op":
            node = step.nodes[0]
            opdef = get_op(node.op)
            data = [(role, t) for role, t in node.inputs.items() if not opdef.role(role).param]
            if node.op in MOVE_OPS:  # values pass through unchanged: keep the narrow storage type, no int64 copy
                dt = storage_dtype(self.graph.tensor(node.output).dtype)
                args = {role: (env[t] if t in env else self.consts[t][None]).to(dt) for role, t in data}
            else:
                args = {role: self._data(t, env) for role, t in data}
            return prep["impl"](args, None)
        if step.kind == "gemm":
            x = env[i["x"]] if i["x"] in env else self.consts[i["x"]][None]
            if i["patch"]:
                x = im2col_patches(x, i["patch"], xp=self._xp)
            ident = None
            if i["identity"] is not None:
                ident = env[i["identity"]] if i["identity"] in env else self.consts[i["identity"]][None]
                ident = ident.expand(*x.shape[:-1], prep["n"])
            if self.backend == "triton":
                return self._triton_gemm(x, ident, i, prep)
            return b["gemm"](x, prep["w"], prep["bias"], prep["m"], prep["e"], ident, prep.get("m_id"),
                             prep.get("e_id"), i["out_bits"], i["rounding"], i["split"], i.get("split_id", False),
                             i["offset"], prep["n"], prep["route"], prep["chunk"], prep["fscale"],
                             prep.get("fscale_id"))
        if step.kind == "attention":
            q, k, v = (env[i[r]] for r in ("q", "k", "v"))
            if self.backend == "triton":
                from . import triton_kernels as K

                return K.attention(q, k, v, i["scores_m"], i["scores_e"], i["scores_bits"], i["x0"], i["n"],
                                   i["out_bits"], i["out_m"], i["out_e"], i["o_bits"], i["rounding"], par=prep["par"])
            return b["attention"](q, k, v, prep["scores_m"], prep["scores_e"], i["x0"], prep["out_m"],
                                  prep["out_e"], i["scores_bits"], i["n"], i["out_bits"], i["o_bits"], i["rounding"],
                                  prep["fs_scores"], prep["fs_out"], prep["table"])
        if step.kind == "layernorm":
            x = env[i["x"]]
            if self.backend == "triton":
                from . import triton_kernels as K

                return K.layernorm_requant(x, prep["bias"], prep["m"], prep["e"], i["out_bits"], i["iters"],
                                           i["k0"], i["rounding"], i["split"])
            return b["layernorm"](x, prep["bias"], prep["m"], prep["e"], i["iters"], i["k0"], i["out_bits"],
                                  i["rounding"], i["split"], prep["fscale"])
        x = env[i["x"]]
        if self.backend == "triton":
            from . import triton_kernels as K

            return K.gelu_requant(x, i["x0"], i["n"], i["coef"], i["m_val"], i["e_val"], i["out_bits"], i["rounding"],
                                  par=prep["par"])
        return b["gelu"](x, i["x0"], prep["m"], prep["e"], i["n"], i["coef"], i["out_bits"], i["rounding"],
                         i["span"], prep["fscale"], prep["table"])

    def _triton_gemm(self, x: torch.Tensor, ident: torch.Tensor | None, i: dict, prep: dict) -> torch.Tensor:
        from . import triton_kernels as K

        rows = x.reshape(-1, x.shape[-1])
        rows = (rows.to(torch.int16) - i["offset"]).to(torch.int8) if i["offset"] else rows.to(torch.int8)
        n = prep["n"]
        id_rows = ident.reshape(-1, n) if ident is not None else None
        out = K.gemm_requant(rows, prep["w"], prep["bias"], prep["m"], prep["e"], i["out_bits"], i["rounding"],
                             id_rows, prep.get("m_id"), prep.get("e_id"), i["split"], i.get("split_id", False))
        return out.reshape(*x.shape[:-1], n)

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Run on device tensors (per-sample shape or with a batch axis); outputs stay on the device."""
        env: dict[str, torch.Tensor] = {}
        for name in self.graph.inputs:
            if name not in inputs:
                raise IRError(f"graph {self.graph.name!r}: missing input {name!r}")
            x = inputs[name]
            spec = self.graph.tensor(name)
            if tuple(x.shape) == spec.shape:
                x = x[None]
            if tuple(x.shape[1:]) != spec.shape:
                raise IRError(f"input {name!r}: expected shape {spec.shape} or (B, *{spec.shape}), "
                              f"got {tuple(x.shape)}")
            env[name] = x.to(self.device, storage_dtype(spec.dtype))
        for step, prep in zip(self.steps, self._prepared, strict=True):
            out = self._run_step(step, prep, env)
            env[step.output] = out.to(storage_dtype(self.graph.tensor(step.output).dtype))
        return {n: env[n] for n in self.graph.outputs}

    @torch.no_grad()
    def run(self, inputs: Mapping[str, np.ndarray]) -> RunResult:
        """Run on numpy integer inputs; outputs as int64 numpy arrays (like ``run_graph``)."""
        for name, arr in inputs.items():
            if np.asarray(arr).dtype.kind not in "iub":
                raise IRError(f"input {name!r}: expected an integer array, got dtype {np.asarray(arr).dtype}")
            if name in self.graph.tensors:
                self.graph.tensor(name).dtype.check_values(np.asarray(arr).astype(np.int64), f"input {name!r}")
        tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in inputs.items()}
        out = self.forward(tensors)
        return RunResult({k: v.to(I64).cpu().numpy() for k, v in out.items()})
