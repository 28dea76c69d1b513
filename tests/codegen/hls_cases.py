"""Per-op golden vectors for the HLS kernels, in the golden-case ``.npz`` format of
``ivit_hw.runtime.golden`` (one file per op and configuration), and the one-graph
"suite" that puts every case into a single C-simulation binary.

Every case has at least 1000 random rows (8 samples of >= 128 rows) plus edge rows:
all-equal, all-negative, extreme values, exact rounding ties, masked rows, and
ShiftGELU rows whose exp(-max) term saturates. Expected values come from the numpy
golden kernels (the registry's), never from the HLS code under test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ivit_hw import ops
from ivit_hw.ir import Graph, GraphBuilder, Interval, IntType, infer_ranges
from ivit_hw.ir.registry import get_op
from ivit_hw.ops.params import exp_x0, gelu_x0, ibert_exp_params, ibert_gelu_params
from ivit_hw.runtime.golden import dump_golden_case, load_golden_case

S = 8  # samples per case (every case of a suite shares it)
I8, I16, I32 = IntType(8), IntType(16), IntType(32)
U8 = IntType(8, signed=False)


def _rows(rng: np.random.Generator, t: IntType, rows: int, cols: int, edges: list[np.ndarray]) -> np.ndarray:
    """[S, rows + len(edges), cols]: random rows over the type's range, then the edge rows (in sample 0..)."""
    data = rng.integers(t.min, t.max, size=(S, rows, cols), endpoint=True)
    if edges:
        block = np.stack(edges)
        reps = -(-len(block) // S)
        pad = np.concatenate([block] + [block[:1]] * (reps * S - len(block)))
        data = np.concatenate([data, pad.reshape(S, reps, cols)], axis=1)
    return data.astype(np.int64)


def _edges(t: IntType, cols: int) -> list[np.ndarray]:
    lo, hi = t.min, t.max
    alt = np.where(np.arange(cols) % 2 == 0, lo, hi)
    return [np.full(cols, lo), np.full(cols, hi), np.full(cols, 0), np.full(cols, -1), np.full(cols, 7),
            alt, np.r_[hi, np.full(cols - 1, lo)], np.r_[np.full(cols - 1, lo), hi],
            np.linspace(lo, -1, cols).astype(np.int64), np.full(cols, lo // 3)]


def _dyadic(ratios: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m, e = ops.dyadic(np.asarray(ratios, dtype=np.float64))
    return np.asarray(m), np.asarray(e)


def requantize_cases(rng: np.random.Generator) -> list[dict[str, Any]]:
    out = []
    cols = 16
    for rounding in ("floor", "half_up", "half_even"):
        for per_channel in (False, True):
            for ident in (False, True):
                acc = _rows(rng, I32, 128, cols, _edges(I32, cols))
                acc[:, :4] = rng.integers(-40, 40, size=(S, 4, cols))  # small values: many exact ties below
                if per_channel:
                    ratios = rng.uniform(1e-6, 2e-2, cols) * rng.choice([-1, 1], cols)
                    ratios[0], ratios[1] = 0.5, 40.0  # an exact half (ties on odd acc) and a saturating channel
                    m, e = _dyadic(ratios)
                else:
                    m, e = _dyadic(np.array(0.5 if rounding != "half_even" else 3e-4))
                inputs = {"acc": acc, "m": m, "e": e}
                types = {"acc": I32}
                if ident:
                    inputs["identity"] = _rows(rng, I16, 128, cols, _edges(I16, cols))[:, : acc.shape[1]]
                    types["identity"] = I16
                    mid, eid = _dyadic(rng.uniform(0.2, 0.9, cols) if per_channel else np.array(0.75))
                    inputs["m_id"], inputs["e_id"] = mid, eid
                bits = 8 if per_channel else 16
                name = f"requantize_{rounding}_{'pc' if per_channel else 'scalar'}{'_id' if ident else ''}"
                out.append({"name": name, "op": "requantize", "inputs": inputs, "types": types,
                            "attrs": {"out_bits": bits, "rounding": rounding}})
    return out


def gemm_cases(rng: np.random.Generator) -> list[dict[str, Any]]:
    out = []
    k, n = 24, 8
    for par in (1, 5):
        for bias in (True, False):
            x = _rows(rng, I8, 128, k, _edges(I8, k))
            inputs = {"x": x, "weight": rng.integers(-128, 128, (n, k))}
            inputs["weight"][0] = -128
            if bias:
                inputs["bias"] = rng.integers(-2**20, 2**20, n)
            out.append({"name": f"linear_p{par}{'_bias' if bias else ''}", "op": "linear", "inputs": inputs,
                        "types": {"x": I8}, "attrs": {}, "par": par})
    for tb in (False, True):
        for par in (1, 4):
            a = rng.integers(-128, 128, (S, 4, 32, 12))
            b = rng.integers(-128, 128, (S, 4, 9, 12) if tb else (S, 4, 12, 9))
            a[0, 0] = -128
            b[0, 0] = -128
            out.append({"name": f"matmul_t{int(tb)}_p{par}", "op": "matmul", "inputs": {"a": a, "b": b},
                        "types": {"a": I8, "b": I8}, "attrs": {"transpose_b": tb}, "par": par})
    # the attention's attn @ v: 16-bit probabilities times 8-bit values
    a = rng.integers(0, 2**15, (S, 2, 64, 17))
    v = rng.integers(-128, 128, (S, 2, 17, 8))
    out.append({"name": "matmul_probs_v", "op": "matmul", "inputs": {"a": a, "b": v},
                "types": {"a": IntType(16), "b": I8}, "attrs": {"transpose_b": False}, "par": 3})
    for par, (chans, p, side) in ((1, (3, 2, 24)), (5, (1, 4, 48))):
        x = rng.integers(0, 256, (S, chans, side, side))
        x[0] = 255
        inputs = {"x": x, "weight": rng.integers(-128, 128, (6, chans, p, p)), "bias": rng.integers(-5000, 5000, 6)}
        out.append({"name": f"patch_embed_p{par}_c{chans}", "op": "patch_embed", "inputs": inputs,
                    "types": {"x": U8}, "attrs": {"patch": p}, "par": par})
    code = rng.integers(0, 17, (S, 2, 64, 20))
    code[0, 0, 0] = 16
    code[0, 0, 1] = 0
    out.append({"name": "log_attn_v", "op": "log_attn_v",
                "inputs": {"code": code, "v": rng.integers(-128, 128, (S, 2, 20, 8))},
                "types": {"code": IntType(5, signed=False), "v": I8}, "attrs": {}, "par": 4})
    return out


def softmax_cases(rng: np.random.Generator) -> list[dict[str, Any]]:
    out = []
    cols = 20
    for t, scale, bits in ((I8, 0.05, 16), (I8, 0.2, 8), (I16, 0.002, 16)):
        x = _rows(rng, t, 128, cols, _edges(t, cols))
        out.append({"name": f"shiftmax_{t}_{bits}", "op": "shiftmax", "inputs": {"x": x}, "types": {"x": t},
                    "attrs": {"x0": exp_x0(scale), "n": 15, "out_bits": bits}})
    x = _rows(rng, I8, 128, cols, _edges(I8, cols))
    mask = rng.random((x.shape[1], cols)) > 0.3
    mask[0] = False  # a fully masked row
    mask[1, 1:] = False  # one kept position
    out.append({"name": "shiftmax_masked", "op": "shiftmax", "inputs": {"x": x, "mask": mask.astype(np.int64)},
                "types": {"x": I8}, "attrs": {"x0": exp_x0(0.08), "n": 15, "out_bits": 16}})
    for coef in ("scale", "shift"):
        for t, scale in ((I8, 0.05), (I16, 0.01)):
            edges = _edges(t, cols) + [np.full(cols, -20000 if t.bits == 16 else -100)]  # saturated exp(-max)
            x = _rows(rng, t, 128, cols, edges)
            out.append({"name": f"shiftgelu_{coef}_{t}", "op": "shiftgelu", "inputs": {"x": x}, "types": {"x": t},
                        "attrs": {"x0": gelu_x0(scale, coef), "n": 23, "coef": coef}})
    for scale in (0.05, 0.4):
        p = ibert_exp_params(scale)
        x = _rows(rng, I8, 128, cols, _edges(I8, cols))
        out.append({"name": f"ibert_softmax_{scale}", "op": "ibert_softmax", "inputs": {"x": x}, "types": {"x": I8},
                    "attrs": {"x0": p["x0"], "b_int": p["b_int"], "c_int": p["c_int"], "n": p["n"], "h": p["h"],
                              "out_bits": 16}})
    for masked in (False, True):
        p = ibert_exp_params(0.08)
        x = _rows(rng, I8, 128, cols, _edges(I8, cols))
        inputs: dict[str, np.ndarray] = {"x": x}
        if masked:
            mask = rng.random((x.shape[1], cols)) > 0.3
            mask[0] = False
            inputs["mask"] = mask.astype(np.int64)
        out.append({"name": f"log_int_softmax{'_masked' if masked else ''}", "op": "log_int_softmax",
                    "inputs": inputs, "types": {"x": I8},
                    "attrs": {"x0": p["x0"], "b_int": p["b_int"], "c_int": p["c_int"], "n": p["n"]}})
    for scale in (0.05, 0.002):
        p = ibert_gelu_params(scale)
        x = _rows(rng, I8, 128, cols, _edges(I8, cols))
        out.append({"name": f"ibert_gelu_{scale}", "op": "ibert_gelu", "inputs": {"x": x}, "types": {"x": I8},
                    "attrs": {"b_int": p["b_int"], "c_int": p["c_int"], "one": p["one"]}})
    return out


def norm_cases(rng: np.random.Generator) -> list[dict[str, Any]]:
    out = []
    for op, attrs in (("ilayernorm", {}), ("ilayernorm", {"sqrt": "exact"}), ("ibert_layernorm", {}),
                      ("l1_layernorm", {})):
        for t, cols in ((I16, 48), (I8, 7)):
            x = _rows(rng, t, 128, cols, _edges(t, cols))
            bias = rng.integers(-2**20, 2**20, cols)
            tag = f"{op}{'_exact' if attrs else ''}_{t}_{cols}"
            out.append({"name": tag, "op": op, "inputs": {"x": x, "bias_int": bias}, "types": {"x": t},
                        "attrs": dict(attrs)})
    return out


def layout_cases(rng: np.random.Generator) -> list[dict[str, Any]]:
    def r(*shape: int, t: IntType = I8) -> np.ndarray:
        return rng.integers(t.min, t.max, size=(S, *shape), endpoint=True)

    x4 = r(4, 32, 2, 8)
    return [
        {"name": "reshape", "op": "reshape", "inputs": {"x": r(256, 8)}, "types": {"x": I8},
         "attrs": {"shape": [128, 16]}},
        {"name": "transpose", "op": "transpose", "inputs": {"x": x4}, "types": {"x": I8},
         "attrs": {"perm": [2, 0, 1, 3]}},
        {"name": "slice", "op": "slice", "inputs": {"x": r(130, 8)}, "types": {"x": I8},
         "attrs": {"axis": 0, "start": 1, "stop": 129}},
        {"name": "gather", "op": "gather", "inputs": {"x": r(3, 128, 8)}, "types": {"x": I8},
         "attrs": {"axis": 0, "index": 2}},
        {"name": "concat", "op": "concat", "inputs": {"a": r(1, 8, t=I16), "b": r(128, 8, t=I16)},
         "types": {"a": I16, "b": I16}, "attrs": {"axis": 0}},
        {"name": "concat_const", "op": "concat", "inputs": {"a": rng.integers(-300, 300, (1, 1, 8)), "b": r(128, 8)},
         "types": {"b": I8}, "const": ("a",), "attrs": {"axis": 0}},
        {"name": "add_bcast", "op": "add", "inputs": {"a": r(128, 8, t=I16), "b": r(1, 8, t=I16)},
         "types": {"a": I16, "b": I16}, "attrs": {}},
        {"name": "add_const", "op": "add", "inputs": {"a": r(128, 8), "b": rng.integers(-1000, 1000, (1, 128, 8))},
         "types": {"a": I8}, "const": ("b",), "attrs": {}},
        {"name": "reduce_sum", "op": "reduce_sum", "inputs": {"x": r(5, 128, 2, t=I16)}, "types": {"x": I16},
         "attrs": {"axis": 0}},
        {"name": "argmax", "op": "argmax", "inputs": {"x": rng.integers(-3, 3, (S, 128, 10))},
         "types": {"x": IntType(3)}, "attrs": {}},
    ]


def all_cases(seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return (requantize_cases(rng) + gemm_cases(rng) + softmax_cases(rng) + norm_cases(rng) + layout_cases(rng))


def write_cases(folder: Path, seed: int = 0) -> Path:
    """Write one golden case per op and configuration, and ``index.yaml``; returns the index path."""
    folder.mkdir(parents=True, exist_ok=True)
    index = []
    for case in all_cases(seed):
        opdef = get_op(case["op"])
        consts = set(case.get("const", ()))
        kernel_in = {r: (v if opdef.role(r).param or r not in consts else v) for r, v in case["inputs"].items()}
        trace: dict = {}
        outv = np.asarray(opdef.kernel(kernel_in, opdef.check_attrs(case["attrs"], case["name"]), trace))
        internals = {k: np.asarray(trace[k]) for k in opdef.internals if k in trace}
        file = f"{case['name']}.npz"
        dump_golden_case(folder / file, case["op"], case["inputs"], outv, case["attrs"], internals, case["name"])
        index.append({"case": case["name"], "op": case["op"], "file": file, "par": case.get("par", 1),
                      "types": {r: str(t) for r, t in case["types"].items()}, "const": sorted(consts)})
    path = folder / "index.yaml"
    path.write_text(yaml.safe_dump({"format": 1, "cases": index}, sort_keys=False), encoding="utf-8")
    return path


def _itype(text: str) -> IntType:
    return IntType(int(text[1:]), text[0] == "i")


def suite_graph(index_path: Path) -> tuple[Graph, dict[str, np.ndarray], dict[str, int], list[str]]:
    """One graph holding every case as an independent node; (graph, vectors, parallelism by node, case names)."""
    doc = yaml.safe_load(index_path.read_text(encoding="utf-8"))
    b = GraphBuilder("hls_op_suite")
    vectors: dict[str, np.ndarray] = {}
    par: dict[str, int] = {}
    names = []
    for entry in doc["cases"]:
        case = load_golden_case(index_path.parent / entry["file"])
        opdef = get_op(case.op)
        cname = entry["case"]
        ins = {}
        for role, arr in case.params.items():
            ins[role] = b.const(f"{cname}.{role}", arr, IntType.fitting(Interval(int(arr.min()), int(arr.max()))))
        for role, arr in case.inputs.items():
            if role in entry["const"]:
                vals = arr[0]
                vt = IntType.fitting(Interval(int(vals.min()), int(vals.max())))
                ins[role] = b.const(f"{cname}.{role}", vals, vt)
                continue
            t = _itype(entry["types"][role])
            ins[role] = b.input(f"{cname}.{role}", arr.shape[1:], t, None, Interval.of_type(t))
            vectors[ins[role]] = arr
        out = b.node(case.op, ins, f"{cname}.out", IntType(64), None, case.attrs, name=cname)
        vectors[out] = case.output
        par[cname] = entry["par"]
        names.append(cname)
        assert opdef.name == case.op
    graph = infer_ranges(b.finish([f"{n}.out" for n in names]))
    return graph, vectors, par, names
