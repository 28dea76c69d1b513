"""The fixed-point graph IR: types, graphs, the op registry, range analysis.

Imports with numpy and pyyaml alone.
"""

from .analysis import WidthViolation, check_widths, headroom_bits, infer_ranges, width_violations
from .builder import GraphBuilder
from .graph import Graph, Node
from .registry import REGISTRY, OpDef, get_op
from .types import InternalSpec, Interval, IntType, IRError, TensorSpec

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
    "width_violations",
]
