"""The fixed-point graph IR: types, graphs, the op registry, range analysis.

Imports with numpy and pyyaml alone. Importing it fills :data:`REGISTRY`
(through :mod:`ivit_hw.ir.opset`).
"""

from . import opset  # noqa: F401  (fills the registry)
from .analysis import WidthViolation, check_widths, headroom_bits, infer_ranges, width_violations
from .builder import GraphBuilder
from .graph import Graph, Node
from .registry import REGISTRY, OpDef, get_op
from .serialize import load_graph, save_graph
from .types import InternalSpec, Interval, IntType, IRError, TensorSpec
from .verify import structural_problems, verify, verify_structure

__all__ = [
    "REGISTRY",
    "Graph",
    "GraphBuilder",
    "IRError",
    "IntType",
    "InternalSpec",
    "Interval",
    "Node",
    "OpDef",
    "TensorSpec",
    "WidthViolation",
    "check_widths",
    "get_op",
    "headroom_bits",
    "infer_ranges",
    "load_graph",
    "save_graph",
    "structural_problems",
    "verify",
    "verify_structure",
    "width_violations",
]
