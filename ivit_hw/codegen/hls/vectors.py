"""Golden vectors of a rendered project's testbench: ``tb/data/<cid>.bin`` per compared tensor
and ``tb/data/names.txt`` (C identifier -> IR name, for the PASS/FAIL lines).

A ``.bin`` file is ``IVTB``, int64 sample count, int64 values per sample, then the values as
little-endian int64. Inputs and outputs hold every sample; traced intermediates the first
``trace_samples``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ...ir.graph import Graph
from ...ir.types import Interval, IRError
from ...runtime.numpy_exec import run_graph

CHUNK = 64  # samples per golden-model run (keeps the traced tensors of a large model small)


def write_bin(path: Path, arr: np.ndarray) -> None:
    """One ``.bin`` file: ``IVTB``, the samples and values per sample, the values (little-endian int64)."""
    head = np.array([arr.shape[0], arr.shape[1]], dtype="<i8").tobytes()
    path.write_bytes(b"IVTB" + head + np.asarray(arr).astype("<i8").tobytes())


def _escape(name: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 and ch != "\\" else f"\\x{ord(ch):02x}" for ch in name)


def random_inputs(graph: Graph, samples: int, seed: int) -> dict[str, np.ndarray]:
    """Seeded uniform integers over each graph input's declared range (else its type's range)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in graph.inputs:
        spec = graph.tensor(name)
        iv = spec.range or Interval.of_type(spec.dtype)
        out[name] = rng.integers(iv.lo, iv.hi, size=(samples, *spec.shape), endpoint=True, dtype=np.int64)
    return out


def golden_vectors(graph: Graph, inputs: Mapping[str, np.ndarray], keep_all: list[str], keep_first: list[str],
                   first: int) -> dict[str, np.ndarray]:
    """Run the golden model on ``inputs`` in chunks; every sample of ``keep_all``, the first ``first`` of
    ``keep_first``."""
    n = len(next(iter(inputs.values())))
    parts: dict[str, list[np.ndarray]] = {t: [] for t in keep_all + keep_first}
    for start in range(0, n, CHUNK):
        chunk = {k: np.asarray(v[start:start + CHUNK]) for k, v in inputs.items()}
        result = run_graph(graph, chunk, trace=True)
        env = result.tensors
        for t in keep_all:
            parts[t].append(np.broadcast_to(env[t], (len(chunk[graph.inputs[0]]), *env[t].shape[1:])))
        if start < first:
            for t in keep_first:
                parts[t].append(env[t][: max(0, first - start)])
    return {t: np.concatenate(p) if p else np.zeros((0,)) for t, p in parts.items()}


def write_vectors(graph: Graph, sel: Any, folder: Path, cids: Mapping[str, str], traced: list[str], opts: Any,
                  vectors: Mapping[str, np.ndarray] | None, graph_inputs: Mapping[str, np.ndarray] | None) -> int:
    """Write every compared tensor's vectors; returns the number of samples."""
    keep_all = list(sel.inputs) + list(sel.outputs)
    if vectors is None:
        inputs = graph_inputs if graph_inputs is not None else random_inputs(graph, opts.samples, opts.seed)
        missing = [t for t in graph.inputs if t not in inputs]
        if missing:
            raise IRError(f"testbench inputs: missing graph input(s) {missing}")
        vectors = golden_vectors(graph, inputs, keep_all, traced, opts.trace_samples)
    folder.mkdir(parents=True, exist_ok=True)
    n_samples = None
    for t, cid in sorted(cids.items(), key=lambda kv: kv[1]):
        if t not in vectors:
            raise IRError(f"testbench vectors: no values for tensor {t!r}")
        arr = np.asarray(vectors[t], dtype=np.int64)
        size = int(np.prod(graph.tensor(t).shape, dtype=np.int64)) if graph.tensor(t).shape else 1
        arr = arr.reshape(len(arr), size) if arr.size else arr.reshape(0, size)
        if t in keep_all:
            if n_samples is None:
                n_samples = len(arr)
            elif len(arr) != n_samples:
                raise IRError(f"testbench vectors: tensor {t!r} has {len(arr)} samples, others {n_samples}")
        if t in traced:
            arr = arr[: opts.trace_samples]
        write_bin(folder / f"{cid}.bin", arr)
    names = "".join(f"{cid}\t{_escape(t)}\n" for t, cid in sorted(cids.items(), key=lambda kv: kv[1]))
    (folder / "names.txt").write_text(names, encoding="utf-8")
    return int(n_samples or 0)
