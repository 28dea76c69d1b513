"""Nodes and graphs of the fixed-point IR.

A graph is a topologically ordered list of single-output nodes over named
tensors. Constants (weights, biases, multipliers, tables) are tensors whose
values sit in ``Graph.constants``. Graphs and nodes are frozen: passes build
new ones with :func:`dataclasses.replace`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .types import InternalSpec, IRError, TensorSpec


@dataclass(frozen=True)
class Node:
    """One op application: ``output = op(inputs by role; attrs)``.

    ``inputs`` maps the op's role names (e.g. ``x``, ``weight``) to tensor
    names; ``internals`` records the declared type and proven range of each
    intermediate the op's spec lists (e.g. Shiftmax's ``sum``).
    """

    name: str
    op: str
    inputs: dict[str, str]
    output: str
    attrs: dict[str, Any] = field(default_factory=dict)
    internals: dict[str, InternalSpec] = field(default_factory=dict)
    __hash__ = None  # holds dicts: equal-comparable, never hashable


@dataclass(frozen=True)
class Graph:
    """A whole integer graph: tensors, nodes in execution order, constant values."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    tensors: dict[str, TensorSpec]
    nodes: tuple[Node, ...]
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    __hash__ = None

    def __post_init__(self) -> None:
        # constants are immutable: backends may cache derived forms of them (e.g. float32 weights)
        for arr in self.constants.values():
            if isinstance(arr, np.ndarray):
                arr.setflags(write=False)

    def __eq__(self, other: object) -> bool:
        # the generated __eq__ compares the constants dicts, whose numpy arrays have no truth value
        if not isinstance(other, Graph):
            return NotImplemented
        same = (self.name, self.inputs, self.outputs, self.tensors, self.nodes, self.meta) == (
            other.name, other.inputs, other.outputs, other.tensors, other.nodes, other.meta)
        return (same and self.constants.keys() == other.constants.keys()
                and all(np.array_equal(v, other.constants[k]) for k, v in self.constants.items()))

    def tensor(self, name: str) -> TensorSpec:
        """The spec of tensor ``name``; IRError naming it when absent."""
        try:
            return self.tensors[name]
        except KeyError:
            raise IRError(f"unknown tensor {name!r} in graph {self.name!r}") from None

    def node(self, name: str) -> Node:
        """The node called ``name``; IRError naming it when absent."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise IRError(f"unknown node {name!r} in graph {self.name!r}")

    def producer(self, tensor: str) -> Node | None:
        """The node writing ``tensor`` (None for inputs and constants)."""
        for n in self.nodes:
            if n.output == tensor:
                return n
        return None

    def activations(self) -> list[str]:
        """Names of node outputs, in execution order."""
        return [n.output for n in self.nodes]
