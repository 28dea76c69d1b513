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


RESET_LINE = "reset"  # the top writes it at each reset: a test's transfers end where the next test resets the top


def read_trace(path: Path) -> dict[int, list[int]]:
    """``{stream id: [TDATA as an unsigned integer, ...]}`` in transfer order, from the simulation's log: the
    transfers of the first test only (up to the first reset after a transfer), so a test that stopped early
    is not continued by the next test's images."""
    streams: dict[int, list[int]] = {}
    with open(path, encoding="ascii") as fh:
        for line in fh:
            if line.strip() == RESET_LINE:
                if streams:
                    break
                continue
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
    A stream with fewer transfers than the images need counts as differing (it stopped). ``first`` names the
    first stream, in graph order, with a wrong value; only where none has one, the first that stopped (a
    wrong value later in the graph stops the streams before it when the test ends at it).
    """
    got = read_trace(trace_file) if trace_file.exists() else {}
    differ: list[str] = []
    first = stopped = None
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
                first = first or line
            elif seen.size < flat.size:
                line = f"tensor {t['tensor']}: {seen.size} of {flat.size} elements came out (the stream stopped)"
                stopped = stopped or line
            if line:
                differ.append(t["tensor"])
    return {"tensors": len(manifest["trace"]), "differ": differ, "first": first or stopped}


def _signed(v: int, w: int) -> int:
    return v - (1 << w) if v >> (w - 1) & 1 else v
