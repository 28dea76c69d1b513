"""The shared hardware plan: per layer parallelism and cycles, per buffer kind, size and memory,
checked against a part's resources. Read by the HLS and the Verilog renderers; core only (numpy)."""

from .buffers import Need
from .parts import PARTS, Part, PlanError, get_part
from .plan import BufferPlan, HardwarePlan, LayerPlan, PlanConfig, assemble, config_from, make_plan, plan_layers

__all__ = ["PARTS", "BufferPlan", "HardwarePlan", "LayerPlan", "Need", "Part", "PlanConfig", "PlanError", "assemble",
           "config_from", "get_part", "make_plan", "plan_layers"]
