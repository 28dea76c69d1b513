"""``ivit-hw verify OUT`` for HLS projects: build the C-simulation with g++ and run it.

Two translation units (testbench, top function) compile in parallel with
``-Wall -Wextra -Werror`` (``-Wno-unknown-pragmas``: the ``#pragma HLS``
lines are for Vitis, and loop labels name loops in its reports). The testbench prints one PASS/FAIL line per tensor and
``N passed, N failed``; the exit status is 0 only when everything is bit-exact.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ...ir.types import IRError
from .headers import ap_include_dir

WARN = ["-Wall", "-Wextra", "-Werror", "-Wno-unknown-pragmas", "-Wno-unused-label"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]


def csim_include_dirs(out_dir: Path) -> list[Path]:
    """The system include folders of a project's build: the ap_int headers, then the C-sim
    ``hls_stream.h`` shim when they bring none (Vitis brings its own; the extracted cache does not)."""
    inc = ap_include_dir()
    return [inc] if (inc / "hls_stream.h").is_file() else [inc, Path(out_dir) / "tb" / "csim"]


def build_csim(out_dir: Path, sanitize: bool = False, opt: str = "-O1") -> Path:
    """Compile ``out_dir``'s testbench and top function; the path of the executable."""
    gxx = shutil.which("g++")
    if gxx is None:
        raise IRError("g++ not found on PATH (needed for the HLS C-simulation)")
    manifest_top = "ivit_top"
    build = out_dir / ("csim_build_sanitize" if sanitize else "csim_build")
    build.mkdir(exist_ok=True)
    # C++20 for the sanitizer build only: ap_private.h left-shifts negative values, UB before C++20
    std = "-std=c++20" if sanitize else "-std=c++14"
    flags = [std, opt, *WARN, "-I", str(out_dir / "firmware")]
    for inc in csim_include_dirs(out_dir):
        flags += ["-isystem", str(inc)]
    if sanitize:
        flags += SANITIZE
    units = [out_dir / "tb" / "tb.cpp", out_dir / "firmware" / f"{manifest_top}.cpp"]
    procs = []
    for src in units:
        obj = build / (src.stem + ".o")
        procs.append((src, subprocess.Popen([gxx, *flags, "-c", str(src), "-o", str(obj)],
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
    errors = []
    for src, p in procs:
        text, _ = p.communicate()
        if p.returncode != 0:
            errors.append(f"{src}: g++ failed:\n{text}")
    if errors:
        raise IRError("C-simulation build failed: " + "\n".join(errors))
    exe = build / "csim"
    link = subprocess.run([gxx, *flags, *(str(build / (u.stem + ".o")) for u in units), "-o", str(exe)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if link.returncode != 0:
        raise IRError(f"C-simulation link failed:\n{link.stdout}")
    return exe


def run_csim(out_dir: Path, sanitize: bool = False, echo: bool = True, opt: str = "-O1") -> tuple[int, str]:
    """Build and run the C-simulation; (exit status, its output). Exit 0 only when all tensors pass.
    ``opt``: g++'s optimisation; -O0 builds an op suite's sanitizer binary in 27 s instead of 44 s and runs
    it in 6 s instead of 2 (2-core Xeon, 2026-12-07), so short runs (tests) take it."""
    out_dir = Path(out_dir).resolve()  # the binary runs inside out_dir: relative paths would not resolve there
    exe = build_csim(out_dir, sanitize, opt)
    proc = subprocess.run([str(exe), str(out_dir / "tb" / "data")], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, cwd=out_dir)
    text = proc.stdout
    if echo:
        sys.stdout.write(text)
    last = text.strip().splitlines()[-1] if text.strip() else ""
    ok = proc.returncode == 0 and last.endswith(" 0 failed") and " passed" in last
    return (0 if ok else 1), text
