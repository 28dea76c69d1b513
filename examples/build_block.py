"""Build one DeiT-style transformer block as an integer IR graph, calibrated
the way a real export is: a float forward of the same random block on random
float input gives every activation range, those give the scales
(``symmetric_scale``), and the scale ratios give the dyadic multipliers.

    python examples/build_block.py OUT_DIR [--tokens 65] [--seed 0] [--sample-input X.npy]

writes the graph folder OUT_DIR (graph.yaml + constants.npz) and prints the
relative error of the integer block against the float block on a fresh
input. Widths follow spec section 8: 16-bit residual stream, 8-bit GEMM
inputs, int8 per-channel weights, 32-bit biases and accumulators, 16-bit
Shiftmax output. numpy only.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field, replace

import numpy as np

from ivit_hw import ops
from ivit_hw.ir import Graph, GraphBuilder, Interval, IntType
from ivit_hw.ir.serialize import save_graph
from ivit_hw.ir.verify import verify
from ivit_hw.ops import params as P
from ivit_hw.runtime import run_graph

I8, I16, I32 = IntType(8), IntType(16), IntType(32)
SHIFT_T = IntType(8, signed=False)
ATTN_BITS = 16


@dataclass(frozen=True)
class BlockConfig:
    """Shape and seed of the sample block."""

    tokens: int = 65
    dim: int = 192
    heads: int = 3
    mlp: int = 768
    seed: int = 0
    calib: int = 4  # calibration samples

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads


@dataclass
class BlockExample:
    """The built block: its (analysed) graph, scales, and a test input with both outputs."""

    config: BlockConfig
    graph: Graph
    scales: dict[str, float]
    x_float: np.ndarray
    x_int: np.ndarray
    y_float: np.ndarray
    y_int: np.ndarray
    rel_error: float
    branch_rel_error: float
    weights: dict[str, np.ndarray] = field(default_factory=dict)


# ----------------------------------------------------------------------------- float block


def random_weights(cfg: BlockConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A random DeiT block in torch layout (Linear weights [out, in])."""
    d, h = cfg.dim, cfg.mlp

    def lin(out: int, inp: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.standard_normal((out, inp)) / math.sqrt(inp), 0.02 * rng.standard_normal(out)

    w: dict[str, np.ndarray] = {}
    for ln in ("ln1", "ln2"):
        w[f"{ln}.gamma"] = 1.0 + 0.1 * rng.standard_normal(d)
        w[f"{ln}.beta"] = 0.1 * rng.standard_normal(d)
    for name, (o, i) in {"qkv": (3 * d, d), "proj": (d, d), "fc1": (h, d), "fc2": (d, h)}.items():
        w[f"{name}.weight"], w[f"{name}.bias"] = lin(o, i)
    return w


def random_residual(cfg: BlockConfig, rng: np.random.Generator, batch: int) -> np.ndarray:
    """A residual-stream-like float input: per-channel spread and offset."""
    chan_std = np.exp(0.5 * rng.standard_normal(cfg.dim))
    chan_mean = 0.2 * rng.standard_normal(cfg.dim)
    return rng.standard_normal((batch, cfg.tokens, cfg.dim)) * chan_std + chan_mean


def _layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-6) * gamma + beta


_erf = np.vectorize(math.erf)


def float_block(w: dict[str, np.ndarray], x: np.ndarray, cfg: BlockConfig) -> dict[str, np.ndarray]:
    """The float block on x [B, N, D]; returns every calibration point (and ``y``)."""
    b, n, d, hh, hd = x.shape[0], cfg.tokens, cfg.dim, cfg.heads, cfg.head_dim
    t = {"x": x}
    t["h1"] = _layernorm(x, w["ln1.gamma"], w["ln1.beta"])
    qkv = t["h1"] @ w["qkv.weight"].T + w["qkv.bias"]
    t["q"], t["k"], t["v"] = qkv[..., :d], qkv[..., d : 2 * d], qkv[..., 2 * d :]
    q, k, v = (t[c].reshape(b, n, hh, hd).transpose(0, 2, 1, 3) for c in "qkv")
    t["scores"] = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd)
    s = np.exp(t["scores"] - t["scores"].max(-1, keepdims=True))
    attn = s / s.sum(-1, keepdims=True)
    t["ctx"] = attn @ v
    o = t["ctx"].transpose(0, 2, 1, 3).reshape(b, n, d)
    t["x1"] = x + o @ w["proj.weight"].T + w["proj.bias"]
    t["h2"] = _layernorm(t["x1"], w["ln2.gamma"], w["ln2.beta"])
    t["f1"] = t["h2"] @ w["fc1.weight"].T + w["fc1.bias"]
    t["g"] = 0.5 * t["f1"] * (1.0 + _erf(t["f1"] / math.sqrt(2.0)))
    t["y"] = t["x1"] + t["g"] @ w["fc2.weight"].T + w["fc2.bias"]
    return t


def calibrate(points: dict[str, np.ndarray]) -> dict[str, float]:
    """Symmetric scales from observed ranges: 16 bits for the residual stream, 8 for the rest."""
    bits = {"x": 16, "x1": 16, "y": 16}
    return {k: float(P.symmetric_scale(v.min(), v.max(), bits.get(k, 8))) for k, v in points.items()}


# ----------------------------------------------------------------------------- integer graph


class _Block:
    """Emits the integer block into a GraphBuilder, one helper per recurring pattern."""

    def __init__(self, cfg: BlockConfig, w: dict[str, np.ndarray], s: dict[str, float]) -> None:
        self.cfg, self.w, self.s = cfg, w, s
        self.b = GraphBuilder("deit_block")

    def requant(self, name: str, acc: str, ratio: np.ndarray | float, bits: int, out_scale: float,
                identity: str | None = None, id_ratio: float | None = None) -> str:
        m, e = ops.dyadic(ratio)
        ins = {"acc": acc, "m": self.b.const(f"{name}.m", np.asarray(m), I32),
               "e": self.b.const(f"{name}.e", np.asarray(e), SHIFT_T)}
        if identity is not None:
            m_id, e_id = ops.dyadic(id_ratio)
            ins.update(identity=identity, m_id=self.b.const(f"{name}.m_id", np.asarray(m_id), I32),
                       e_id=self.b.const(f"{name}.e_id", np.asarray(e_id), SHIFT_T))
        return self.b.node("requantize", ins, name, IntType(bits), out_scale, {"out_bits": bits})

    def linear(self, name: str, x: str, x_scale: float) -> tuple[str, np.ndarray]:
        w_int, s_w = P.quantize_weight(self.w[f"{name}.weight"], 8)
        b_int = P.quantize_bias(self.w[f"{name}.bias"], x_scale, s_w, 32)
        acc_scale = x_scale * s_w
        ins = {"x": x, "weight": self.b.const(f"{name}.weight", w_int, I8, s_w, scale_axis=0),
               "bias": self.b.const(f"{name}.bias", b_int, I32, acc_scale)}
        return self.b.node("linear", ins, f"{name}.acc", I32, acc_scale), acc_scale

    def layernorm(self, name: str, x: str, out_scale: float) -> str:
        s_ln, bias_int = P.layernorm_params(self.w[f"{name}.gamma"], self.w[f"{name}.beta"])
        ins = {"x": x, "bias_int": self.b.const(f"{name}.bias_int", bias_int, I32, s_ln)}
        out = self.b.node("ilayernorm", ins, f"{name}.out", I32, s_ln)
        return self.requant(f"{name}.q", out, s_ln / out_scale, 8, out_scale)

    def heads(self, name: str, x: str) -> str:
        c = self.cfg
        r = self.b.node("reshape", {"x": x}, f"{name}.r", I8, self.s[name],
                        {"shape": [c.tokens, c.heads, c.head_dim]})
        return self.b.node("transpose", {"x": r}, f"{name}.h", I8, self.s[name], {"perm": [1, 0, 2]})

    def attention(self, x: str) -> str:
        c, s, b = self.cfg, self.s, self.b
        h1 = self.layernorm("ln1", x, s["h1"])
        acc, acc_scale = self.linear("qkv", h1, s["h1"])
        qkv = {}
        for i, part in enumerate("qkv"):
            lo, hi = i * c.dim, (i + 1) * c.dim
            sl = b.node("slice", {"x": acc}, f"{part}.acc", I32, acc_scale[lo:hi],
                        {"axis": 1, "start": lo, "stop": hi})
            qkv[part] = self.heads(part, self.requant(part, sl, acc_scale[lo:hi] / s[part], 8, s[part]))
        score_scale = s["q"] * s["k"] / math.sqrt(c.head_dim)  # 1/sqrt(hd) folded into the scale
        sc = b.node("matmul", {"a": qkv["q"], "b": qkv["k"]}, "scores.acc", I32, score_scale,
                    {"transpose_b": True, "fold_rsqrt_k": True})
        sc = self.requant("scores", sc, score_scale / s["scores"], 8, s["scores"])
        attn_scale = 2.0 ** -(ATTN_BITS - 1)
        attn = b.node("shiftmax", {"x": sc}, "attn", I16, attn_scale,
                      {"x0": P.exp_x0(s["scores"]), "n": 15, "out_bits": ATTN_BITS})
        ctx = b.node("matmul", {"a": attn, "b": qkv["v"]}, "ctx.acc", I32, attn_scale * s["v"])
        ctx = self.requant("ctx", ctx, attn_scale * s["v"] / s["ctx"], 8, s["ctx"])
        ctx = b.node("transpose", {"x": ctx}, "ctx.t", I8, s["ctx"], {"perm": [1, 0, 2]})
        ctx = b.node("reshape", {"x": ctx}, "ctx.r", I8, s["ctx"], {"shape": [c.tokens, c.dim]})
        proj, proj_scale = self.linear("proj", ctx, s["ctx"])
        return self.requant("x1", proj, proj_scale / s["x1"], 16, s["x1"], identity=x, id_ratio=s["x"] / s["x1"])

    def mlp(self, x1: str) -> str:
        s, b = self.s, self.b
        h2 = self.layernorm("ln2", x1, s["h2"])
        fc1, fc1_scale = self.linear("fc1", h2, s["h2"])
        f = self.requant("fc1.q", fc1, fc1_scale / s["f1"], 8, s["f1"])
        gelu_scale = s["f1"] / 128
        g = b.node("shiftgelu", {"x": f}, "gelu", I16, gelu_scale, {"x0": P.gelu_x0(s["f1"]), "n": 23})
        g = self.requant("gelu.q", g, gelu_scale / s["g"], 8, s["g"])
        fc2, fc2_scale = self.linear("fc2", g, s["g"])
        return self.requant("y", fc2, fc2_scale / s["y"], 16, s["y"], identity=x1, id_ratio=s["x1"] / s["y"])

    def build(self) -> Graph:
        c, b = self.cfg, self.b
        x = b.input("x", (c.tokens, c.dim), I16, self.s["x"], Interval(-(2**15), 2**15 - 1))
        b.tensors[x] = replace(b.tensors[x], doc="16-bit residual stream, declared range")
        y = self.mlp(self.attention(x))
        b.meta.update(example="examples/build_block.py", tokens=c.tokens, dim=c.dim, heads=c.heads, mlp=c.mlp,
                      seed=c.seed)
        return b.finish([y])


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def build_block(cfg: BlockConfig | None = None) -> BlockExample:
    """Build, calibrate, verify and test-run the block; returns the analysed graph and the sanity check."""
    cfg = cfg or BlockConfig()
    if cfg.dim % cfg.heads:
        raise ValueError(f"dim {cfg.dim} is not divisible by heads {cfg.heads}")
    rng = np.random.default_rng(cfg.seed)
    w = random_weights(cfg, rng)
    scales = calibrate(float_block(w, random_residual(cfg, rng, cfg.calib), cfg))
    graph = verify(_Block(cfg, w, scales).build())
    x_float = random_residual(cfg, rng, 1)[0]
    ref = float_block(w, x_float[None], cfg)
    x_int = P.quantize(x_float, scales["x"], 16)
    y_int = run_graph(graph, {"x": x_int}).outputs["y"][0]
    y_hat, x_hat = y_int * scales["y"], x_int * scales["x"]
    y_f = ref["y"][0]
    return BlockExample(cfg, graph, scales, x_float, x_int, y_f, y_int, _rel(y_hat, y_f),
                        _rel(y_hat - x_hat, y_f - x_float), w)


def main(argv: list[str] | None = None) -> int:
    """Command line: build the block into OUT_DIR."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", metavar="OUT_DIR", help="graph folder to write (graph.yaml + constants.npz)")
    ap.add_argument("--tokens", type=int, default=BlockConfig.tokens)
    ap.add_argument("--dim", type=int, default=BlockConfig.dim)
    ap.add_argument("--heads", type=int, default=BlockConfig.heads)
    ap.add_argument("--mlp", type=int, default=BlockConfig.mlp)
    ap.add_argument("--seed", type=int, default=BlockConfig.seed)
    ap.add_argument("--sample-input", metavar="X.npy", help="also write the test input (int16) here")
    args = ap.parse_args(argv)
    try:
        ex = build_block(BlockConfig(args.tokens, args.dim, args.heads, args.mlp, args.seed))
        save_graph(ex.graph, args.out_dir)
        if args.sample_input:
            np.save(args.sample_input, ex.x_int.astype(np.int16))
    except (ValueError, OSError) as exc:
        print(f"build_block: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out_dir}: {len(ex.graph.nodes)} nodes, {len(ex.graph.tensors)} tensors")
    print(f"relative error vs float block: output {ex.rel_error:.4f}, block branch (y - x) {ex.branch_rel_error:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
