"""Executors of the IR: the numpy golden model (and, later, torch)."""

from .numpy_exec import RunResult, run_graph

__all__ = ["RunResult", "run_graph"]
