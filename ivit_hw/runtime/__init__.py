"""Executors of the IR: the numpy golden model (and, later, torch), and golden vectors."""

from .golden import GoldenCase, dump_golden_case, dump_node_cases, load_golden_case
from .numpy_exec import RunResult, run_graph

__all__ = ["GoldenCase", "RunResult", "dump_golden_case", "dump_node_cases", "load_golden_case", "run_graph"]
