"""``ivit-hw codegen GRAPH --target verilog --top model|block:NAME``: one top module and its golden images.

Writes ``rtl/`` (the top, its GEMM engines and units, the library),
``golden/top.npz`` (input and output streams of every test sample, from the
golden executor) and the manifest body (ports, layers with their MACs,
parallelism and cycles, the predicted interval).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...hwplan.parts import DEFAULT_PART, Part, bram_limit, get_part
from ...ir.graph import Graph
from ...ir.types import IRError
from ...runtime.numpy_exec import run_graph
from ..hls.project import select
from .logic_count import logic_limits
from .render import LIB_FILES, render_template, template_dir
from .top import build_top

TOP_LIB = (*LIB_FILES, "ivit_sfifo.v")
GOLDEN_TOP = "golden/top.npz"
GOLDEN_TRACE = "golden/trace.npz"
DEFAULT_SAMPLES = 3


def default_parallelism() -> str:
    """``--parallelism`` when none is given for ``--top``: ``budget:N`` with N the default part's hard
    multipliers (the ECP5-85k's 156), lowered until the block RAM and the estimated logic fit
    (:func:`_fit_part`): the largest plan that fits the part ``ivit-hw synth`` targets by default.
    ``--parallelism 1`` is P = 1."""
    return f"budget:{get_part(DEFAULT_PART).dsp}"


def parse_par(text: str | None) -> tuple[int, tuple[tuple[str, int], ...]]:
    """``--parallelism 16`` or ``--parallelism 16,blocks.*.mlp.*=32``: default P and per-node-glob overrides."""
    if text is None:
        return 1, ()
    default, layers = 1, []
    for part in str(text).split(","):
        key, _, val = part.rpartition("=")
        try:
            p = int(val)
        except ValueError:
            raise IRError(f"--parallelism {text!r}: {val!r} is not an integer") from None
        if p < 1:
            raise IRError(f"--parallelism {text!r}: P must be at least 1")
        if key:
            layers.append((key, p))
        else:
            default = p
    return default, tuple(layers)


def parallelism_of(graph: Graph, nodes: list, text: str | None):
    """``node -> P`` for ``--parallelism``: ``P[,GLOB=P...]`` (an explicit per-layer P must divide K), or
    ``budget:N``: the shared hardware plan's (:mod:`ivit_hw.hwplan`) balance of layer cycles under N hard
    multipliers (MULT18X18D), the units' counted with the GEMM lanes' (:mod:`.dsp_count`)."""
    import fnmatch

    from .gemm import gemm_shape

    if text is not None and str(text).startswith("budget:"):
        lanes = budget_lanes(graph, nodes, str(text))
        return lambda node: lanes[node.name]
    default, layers = parse_par(text)

    def par_of(node) -> int:
        k = gemm_shape(graph, node)["k"]
        for pattern, p in layers:
            if fnmatch.fnmatchcase(node.name, pattern):
                if k % p:
                    raise IRError(f"--parallelism {pattern}={p}: P does not divide K = {k} of node {node.name!r}")
                return p
        return default
    return par_of


def budget_lanes(graph: Graph, nodes: list, text: str) -> dict[str, int]:
    """``node name -> lanes`` of ``budget:N``: the shared hardware plan's balance of layer cycles under N
    hard multipliers; IRError when N is below one lane per layer."""
    from ...hwplan import PlanConfig, plan_layers
    from .dsp_count import lane_pieces

    try:
        budget = parse_budget(text)[0]
        # every lane costs its hard multipliers (units and GEMM lanes alike), so N binds the whole top
        return {lp.node: lp.parallelism for lp in plan_layers(
            graph, PlanConfig(dsp_budget=budget, element_lanes=False), nodes,
            pieces=lambda node: lane_pieces(graph, node))}
    except ValueError as exc:  # PlanError is a ValueError
        raise IRError(f"--parallelism {text}: {exc}") from None


def parse_budget(text: str) -> tuple[int, Part]:
    """``budget:N`` or ``budget:N:PART``: N hard multipliers on PART (default the ECP5-85k), whose block RAM
    the top must also fit (:func:`~ivit_hw.hwplan.parts.bram_limit`)."""
    _, _, rest = text.partition(":")
    n, _, part = rest.partition(":")
    try:
        return int(n), get_part(part or DEFAULT_PART)
    except ValueError as exc:  # PlanError is a ValueError
        raise IRError(f"--parallelism {text}: {exc}") from None


def top_needs(out: tuple[dict[str, Any], dict[str, str], list[dict[str, Any]]]) -> dict[str, int]:
    """Hard multipliers (:mod:`.dsp_count`), block RAMs (the plan's rule, :mod:`.bram_count`) and the
    estimated flip-flops and LUT4s (:mod:`.logic_count`) of a built top ``(view, modules, layer rows)``."""
    view, _, rows = out
    return {"dsp": sum(r["dsp"] for r in rows), "bram": view["bram"] + sum(r["bram"] for r in rows),
            "ff": view["logic"][0] + sum(r["ff"] for r in rows), "lut": view["logic"][1] + sum(r["lut"] for r in rows)}


def over_part(need: dict[str, int], part: Part, dsp: bool = True) -> list[str]:
    """What of ``need`` exceeds what a plan may use of ``part`` (block RAM and logic headroom left to
    the router and placer; the hard multipliers unless ``dsp`` is False, as in a ``budget:N`` search,
    where N bounds them); empty when it fits."""
    ff_lim, lut_lim = logic_limits(part)
    checks = ((("MULT18X18D", need["dsp"], part.dsp),) if dsp else ()) + (
              ("DP16KD (block RAM)", need["bram"], bram_limit(part)), ("FF (estimated)", need["ff"], ff_lim),
              ("LUT4 (estimated)", need["lut"], lut_lim))
    return [f"{need_:,} {what} over the limit of {lim:,} on {part.name}" for what, need_, lim in checks if need_ > lim]


def _fit_part(graph: Graph, nodes: list, par: str, build) -> tuple[str, Any]:
    """``(par, build(par_of))`` where ``par`` is ``budget:N[:PART]``: the largest budget <= N whose top fits
    the part (its block RAM limit and the estimated logic, :func:`over_part`). The budgets are tried
    downwards, each distinct plan once (many budgets give the same lanes); not by bisection, as fewer
    lanes do not always mean fewer blocks (narrower ROM words fill the 18-bit blocks less). IRError when
    none down to one lane per layer fits."""
    n, part = parse_budget(par)
    first, seen = None, None
    for b in range(n, 0, -1):
        try:
            lanes = budget_lanes(graph, nodes, f"budget:{b}")
        except IRError:  # below one lane per layer
            break
        if lanes == seen:
            continue
        seen = lanes
        out = build(lambda node, lanes=lanes: lanes[node.name])
        over = over_part(top_needs(out), part, dsp=False)
        if not over:
            return f"budget:{b}", out
        first = first or over
    if first is None:  # N itself is below one lane per layer: that plan's error
        budget_lanes(graph, nodes, par)
    raise IRError(f"--parallelism {par}: the top does not fit {part.name} at budget:{n} ({'; '.join(first)}) "
                  f"and no smaller multiplier budget fits")


def load_samples(graph: Graph, path: str | None) -> np.ndarray | None:
    """``--tb-inputs FILE.npy``: integer samples (N, *input shape), or None without the option."""
    if path is None:
        return None
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise IRError(f"{path}: not a readable .npy file ({exc})") from None
    spec = graph.tensor(graph.inputs[0])
    if arr.dtype.kind not in "iub" or tuple(arr.shape[1:]) != spec.shape or len(arr) == 0:
        raise IRError(f"{path}: expected integer samples of shape (N, *{spec.shape}), got {arr.dtype} {arr.shape}")
    return arr.astype(np.int64)


def sample_inputs(graph: Graph, samples: int, seed: int, given: np.ndarray | None) -> np.ndarray:
    """The test samples of the graph's single input: ``given`` (N, *shape) or seeded random ones in range."""
    spec = graph.tensor(graph.inputs[0])
    if given is not None:
        return np.asarray(given, dtype=np.int64)[:samples] if samples else np.asarray(given, dtype=np.int64)
    rng = np.random.default_rng(seed)
    iv = spec.range
    lo, hi = (iv.lo, iv.hi) if iv is not None else (spec.dtype.min, spec.dtype.max)
    return rng.integers(lo, hi + 1, size=(samples, *spec.shape))


def write_top(graph: Graph, folder: Path, top: str, par: str | None, images: np.ndarray | None = None,
              samples: int = DEFAULT_SAMPLES, seed: int = 0) -> dict[str, Any]:
    """Render the top named by ``top`` into ``folder``; returns the manifest body. ``par`` None is
    :func:`default_parallelism`."""
    if len(graph.inputs) != 1:
        raise IRError(f"graph {graph.name!r} has {len(graph.inputs)} inputs; the Verilog top takes one")
    sel = select(graph, top)
    module = "ivit_top"
    title = f"the {'whole model' if sel.kind == 'model' else top}"

    def build(par_of):
        return build_top(graph, list(sel.nodes), sel.inputs, sel.outputs, par_of, module, title)

    par = default_parallelism() if par is None else par
    planned, limit = par, None
    if str(par).startswith("budget:"):
        # the multiplier budget also binds block RAM and logic: the largest budget <= N that fits the part
        limit = bram_limit(parse_budget(str(par))[1])
        planned, (view, modules, layer_rows) = _fit_part(graph, list(sel.nodes), str(par), build)
    else:
        view, modules, layer_rows = build(parallelism_of(graph, list(sel.nodes), str(par)))
    rtl = folder / "rtl"
    rtl.mkdir(parents=True, exist_ok=True)
    for name in TOP_LIB:
        (rtl / name).write_text((template_dir() / "lib" / name).read_text(encoding="utf-8"), encoding="utf-8")
    for name, text in modules.items():
        (rtl / name).write_text(text, encoding="utf-8")
    (rtl / f"{module}.v").write_text(render_template("model_top.v.j2", t=view), encoding="utf-8")
    xs = sample_inputs(graph, samples, seed, images)
    res = run_graph(graph, {graph.inputs[0]: xs}, trace=True)
    out_tensor = _out_tensor(view)
    tensors = {**res.tensors, **res.outputs}
    x_stream = np.asarray(tensors[sel.inputs[0]], dtype=np.int64).reshape(len(xs), -1)
    y_stream = np.asarray(tensors[out_tensor], dtype=np.int64).reshape(len(xs), -1)
    (folder / "golden").mkdir(exist_ok=True)
    np.savez(folder / GOLDEN_TOP, x=x_stream, y=y_stream)
    traced = [{"stream": sid, "tensor": view["streams"][sid]["tensor"], "w": view["streams"][sid]["w"],
               "shape": list(graph.tensor(view["streams"][sid]["tensor"]).shape)} for sid in view["trace"]]
    np.savez(folder / GOLDEN_TRACE, **{f"s{t['stream']}": np.asarray(tensors[t["tensor"]], dtype=np.int64)
                                       .reshape(len(xs), -1) for t in traced})
    need = top_needs((view, modules, layer_rows))
    macs = sum(r["macs"] for r in layer_rows)
    mults = sum(r["multipliers"] for r in layer_rows)
    files = [f"rtl/{n}" for n in (*TOP_LIB, *modules, f"{module}.v")]
    return {"graph": graph.name, "top": top, "module": module, "files": files, "golden_top": GOLDEN_TOP,
            "ports": {"x": {"tdata": view["tdx"], "count": view["in_count"], "row": view["in_row"],
                            "tensor": sel.inputs[0]},
                      "y": {"tdata": view["tdy"], "count": view["out_count"], "row": view["out_row"],
                            "tensor": out_tensor}},
            "golden_trace": GOLDEN_TRACE, "trace": traced,
            "samples": int(len(xs)), "macs_per_image": int(macs), "multipliers": int(mults),
            # hard multipliers (MULT18X18D) of the whole top: GEMM lanes and units (dsp_count)
            "dsp": int(sum(r["dsp"] for r in layer_rows)),
            # block RAMs (DP16KD) the plan's rule places: the engines' and the top's own (bram_count)
            "bram": int(view["bram"] + sum(r["bram"] for r in layer_rows)), "bram_top": int(view["bram"]),
            "bram_limit": limit, "parallelism": planned, "ff": need["ff"], "lut": need["lut"],
            # what would not fit the default part (an explicit --parallelism is rendered all the same)
            "over_part": over_part(need, get_part(DEFAULT_PART)),
            "predicted_interval": int(max(r["cycles"] for r in layer_rows)), "layers": layer_rows}


def _out_tensor(view: dict[str, Any]) -> str:
    return view["streams"][view["y"]]["what"].removeprefix("output ")
