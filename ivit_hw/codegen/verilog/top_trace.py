"""``ivit-hw verify --trace`` on a model/block top: every node's output stream against the golden executor.

A top built with ``IVIT_TRACE`` defined logs each transfer on every node's
output stream (``ivit_trace.txt`` in the simulation folder: the stream id and
TDATA in hex, one line per transfer, in time order). :func:`compare_trace`
checks the first images' worth of every stream bit for bit against the
activations the golden executor wrote at render time (``golden/trace.npz``)
and names the first tensor, in graph order, that differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

TRACE_FILE = "ivit_trace.txt"
TRACE_DEFINES = {"IVIT_TRACE": 1}


def read_trace(path: Path) -> dict[int, list[int]]:
    """``{stream id: [TDATA as an unsigned integer, ...]}`` in transfer order, from the simulation's log."""
    streams: dict[int, list[int]] = {}
    with open(path, encoding="ascii") as fh:
        for line in fh:
            sid, _, data = line.partition(" ")
            if not data.strip():
                continue
            # a bit that is x or z in simulation reads as 0x... with an 'x': it cannot equal a golden value
            text = data.strip().lower()
            streams.setdefault(int(sid), []).append(-1 if any(c in text for c in "xz") else int(text, 16))
    return streams


def _where(index: int, per: int, shape: tuple[int, ...]) -> str:
    image, pos = divmod(index, per)
    at = np.unravel_index(pos, shape) if shape else ()
    return f"image {image}, index {tuple(int(i) for i in at)}"


def compare_trace(out_dir: Path, manifest: dict[str, Any], trace_file: Path, images: int) -> dict[str, Any]:
    """Compare the first ``images`` images of every traced stream with the golden activations.

    Returns ``{"tensors": checked count, "differ": [tensor, ...] in graph order, "first": one line or None}``.
    A stream with fewer transfers than the images need counts as differing (it stopped).
    """
    got = read_trace(trace_file) if trace_file.exists() else {}
    differ: list[str] = []
    first = None
    with np.load(out_dir / manifest["golden_trace"]) as npz:
        for t in manifest["trace"]:
            want = npz[f"s{t['stream']}"][:images]
            per, flat = want.shape[1], want.reshape(-1) % (1 << t["w"])
            seen = np.asarray(got.get(t["stream"], [])[: flat.size], dtype=np.int64)
            line = None
            bad = np.flatnonzero(seen != flat[: seen.size])
            if bad.size:
                i = int(bad[0])
                shown = "x/z" if seen[i] < 0 else str(_signed(int(seen[i]), t["w"]))
                line = (f"tensor {t['tensor']}: element {i} ({_where(i, per, tuple(t['shape']))}) = {shown}, golden "
                        f"{_signed(int(flat[i]), t['w'])} ({bad.size} of {seen.size} elements differ)")
            elif seen.size < flat.size:
                line = f"tensor {t['tensor']}: {seen.size} of {flat.size} elements came out (the stream stopped)"
            if line:
                differ.append(t["tensor"])
                first = first or line
    return {"tensors": len(manifest["trace"]), "differ": differ, "first": first}


def _signed(v: int, w: int) -> int:
    return v - (1 << w) if v >> (w - 1) & 1 else v
