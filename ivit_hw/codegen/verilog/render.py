"""Render Verilog units for the nodes of a graph from ``ivit_hw/templates/verilog``.

One unit (one module, one file) per node; the hand-written library modules
(FIFO, dividers) are copied beside them. Templates receive a precomputed
view-model (:class:`~.units_common.UnitView`) and hold text only.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from ...hwplan.dsp import dsp_digits
from ...ir.graph import Graph, Node
from .units_common import UnitView, UnsupportedError
from .units_elementwise import ibert_gelu_view, requantize_view
from .units_gelu import shiftgelu_view
from .units_norm import norm_view
from .units_softmax import softmax_view
from .widths import node_ranges

LIB_FILES = ("ivit_fifo.v", "ivit_skid.v", "ivit_stall.v", "ivit_seqdiv.v", "ivit_rrdiv.v", "ivit_pipediv.v",
             "ivit_stagediv.v", "ivit_mul18.v", "ivit_preg.v")
BUILDERS = {
    "shiftmax": softmax_view,
    "ibert_softmax": softmax_view,
    "log_int_softmax": softmax_view,
    "shiftgelu": shiftgelu_view,
    "ibert_gelu": ibert_gelu_view,
    "ilayernorm": norm_view,
    "ibert_layernorm": norm_view,
    "l1_layernorm": norm_view,
    "requantize": requantize_view,
}
RTL_OPS = tuple(sorted(BUILDERS))
# builders taking ``ii``: ShiftGELU's divider, the LayerNorm and softmax row dividers
RATE_MATCHED = ("shiftgelu", "ilayernorm", "ibert_layernorm", "l1_layernorm", "shiftmax", "ibert_softmax",
                "log_int_softmax")
_SAFE = re.compile(r"[^A-Za-z0-9_]")


def template_dir() -> Path:
    """The packaged ``templates/verilog`` folder."""
    return Path(str(resources.files("ivit_hw") / "templates" / "verilog"))


@functools.lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    """One environment (templates compiled once per process)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir())), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.globals["dsp_digits"] = dsp_digits  # the pmul macro's digit counts: the plan's formula
    return env


def render_template(name: str, **context: Any) -> str:
    """The text of template ``name`` rendered with ``context``."""
    return _env().get_template(name).render(**context)


def module_name(node: Node) -> str:
    """Verilog module name of a node's unit: ``ivit_<node>`` with unsafe characters as ``_``."""
    return "ivit_" + _SAFE.sub("_", node.name)


def unit_view(graph: Graph, node: Node, ii: int = 1) -> UnitView:
    """The view-model of ``node``'s unit; UnsupportedError naming the node when there is none. ``ii``:
    the clocks per element the unit may take (rate matching in a top; 1 alone), used by the units whose
    dividers shrink with it (:data:`RATE_MATCHED`); the others keep one element per clock."""
    builder = BUILDERS.get(node.op)
    if builder is None:
        raise UnsupportedError(f"{node.name}: op {node.op!r} has no Verilog unit (units exist for {list(RTL_OPS)})")
    extra = {"ii": ii} if node.op in RATE_MATCHED and ii > 1 else {}
    return builder(graph, node, node_ranges(graph, node), module_name(node), **extra)


def render_unit(view: UnitView) -> str:
    """The Verilog text of one unit."""
    env = _env()
    try:
        return env.get_template(view.template).render(u=view.u, w=view.w)
    except jinja2.TemplateError as exc:
        raise RuntimeError(f"template {view.template}: {exc}") from exc


def unit_entry(node: Node, view: UnitView, filename: str) -> dict[str, Any]:
    """The manifest row of one unit."""
    return {"node": node.name, "op": node.op, "module": view.u["module"], "file": filename,
            "row": view.u.get("c"), "latency_cycles": view.u["latency"], "elements_per_cycle": 1,
            "min_row_for_full_rate": view.u.get("min_row", 1), "ports": view.ports,
            "widths": dict(view.w)}


def write_harness(rows: list[dict[str, Any]], path: Path, name: str = "ivit_harness") -> list[str]:
    """Write a top module holding every unit of ``rows`` (ports prefixed ``u<i>_``); returns the prefixes."""
    units = [{**row, "prefix": f"u{i}_"} for i, row in enumerate(rows)]
    text = _env().get_template("harness.v.j2").render(name=name, units=units)
    path.write_text(text, encoding="utf-8")
    return [u["prefix"] for u in units]


def write_units(graph: Graph, nodes: list[Node], folder: Path) -> list[dict[str, Any]]:
    """Render every node of ``nodes`` into ``folder/rtl`` plus the library; returns manifest rows."""
    rtl = folder / "rtl"
    rtl.mkdir(parents=True, exist_ok=True)
    for name in LIB_FILES:
        (rtl / name).write_text((template_dir() / "lib" / name).read_text(encoding="utf-8"), encoding="utf-8")
    rows = []
    for node in nodes:
        view = unit_view(graph, node)
        fname = f"{view.u['module']}.v"
        (rtl / fname).write_text(render_unit(view), encoding="utf-8")
        rows.append(unit_entry(node, view, f"rtl/{fname}"))
    return rows
