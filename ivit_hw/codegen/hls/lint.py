"""A synthesizability lint for the generated HLS C++: the Vitis HLS coding rules (UG1399) that g++ cannot see.

Why libclang (the ``libclang`` wheel from PyPI, extra ``hls``) and not a rule set over the text: the rules
are about what a name *is* (a top-level argument, a stream, a const ROM, a pointer), which function a
pragma sits in, which loop encloses it and what a process does with each channel it is given. Those are
facts of the C++ semantics (templates, overloads, implicit conversions, macros such as ``IVIT_WALK6``);
a tokenizer would have to re-derive them and would drift as the generated code changes (the streaming
rewrite of issue 16). Clang gives them exactly. Two things clang drops are read from the text: ``#pragma
HLS`` lines and ``_Pragma("HLS ...")`` in macro bodies (see :mod:`.lint_pragmas`).

The unit is parsed as Vitis synthesis sees it: ``__SYNTHESIS__`` is defined (so the C-sim-only trace hook
and the ``static`` of ``IVIT_BUF`` vanish), after the ``ap_int`` and ``hls_stream`` headers are read in
C-sim mode (the open-source ``ap_types`` refuse ``__SYNTHESIS__``); those two headers go into a
precompiled header built once per process. Only the synthesised sources are checked: every file under
the project's ``firmware/`` that the top's unit includes, less ``ivit/trace.h`` and ``ivit/tb_util.h``
(testbench helpers). Rules: :data:`RULES`; the checks themselves live in :mod:`.lint_rules` and
:mod:`.lint_dataflow`.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...ir.types import IRError

RULES: dict[str, str] = {
    "parse": "the unit must compile cleanly under clang with __SYNTHESIS__ defined",
    "dynamic-alloc": "no new/delete, malloc/free or std containers (dynamic memory) in synthesised code",
    "recursion": "no recursive calls (a cycle in the call graph)",
    "top-pointer": "no pointer arithmetic and no pointer-to-pointer arguments in the top function",
    "pipeline-placement": "PIPELINE (and UNROLL, LOOP_TRIPCOUNT, LOOP_FLATTEN) only inside a loop body",
    "partition-top-arg": "no ARRAY_PARTITION / ARRAY_RESHAPE on a top-level argument",
    "pragma-target": "a pragma's variable=/port= names a variable, argument or 'return' in reach",
    "dataflow-spsc": "in a DATAFLOW region every channel has exactly one writer process and one reader process",
    "dataflow-bypass": "a channel connects adjacent processes; a stream that skips processes has a STREAM depth",
    "dataflow-form": "a DATAFLOW region holds declarations and process calls/loops only, data flowing forward",
    "static-state": "no mutable static or global variables (state kept across calls)",
    "system-call": "no calls into the C/C++ runtime (OS, file I/O, printf, std algorithms)",
    "unsupported-construct": "no exceptions, virtual functions, function pointers or pointer casts",
}
TB_ONLY = ("ivit/trace.h", "ivit/tb_util.h")
STD = "-std=c++14"


@dataclass(frozen=True, order=True)
class Finding:
    """One rule violation; ``str()`` is ``file:line: rule-id: message`` (warnings say so in the message)."""

    path: str
    line: int
    rule: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        note = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line}: {self.rule}: {note}{self.message}"


@dataclass
class LintInput:
    """What to lint: one C++ source, the folders it includes from, the top function, the in-scope files."""

    source: Path
    include_dirs: list[Path]
    top: str
    scope_root: Path
    exclude: tuple[str, ...] = TB_ONLY
    display_root: Path | None = None
    extra_args: list[str] = field(default_factory=list)


def _cindex() -> Any:
    try:
        import clang.cindex as ci
    except ModuleNotFoundError:
        raise ModuleNotFoundError("the HLS lint needs libclang: pip install 'ivit-hw[hls]' (libclang==18.1.1)",
                                  name="clang") from None
    return ci


def lint_available() -> bool:
    """Whether libclang can be imported (the ``hls`` extra)."""
    try:
        _cindex()
    except ModuleNotFoundError:
        return False
    return True


@functools.cache
def _compiler_include() -> str:
    """The compiler's own header folder (stddef.h, ...): the PyPI libclang ships none, g++ has one."""
    gxx = shutil.which("g++") or shutil.which("c++")
    if gxx is None:
        raise IRError("g++ not found on PATH (the HLS lint borrows its stddef.h)")
    return subprocess.run([gxx, "-print-file-name=include"], capture_output=True, text=True, check=True).stdout.strip()


@functools.cache
def _pch_dir() -> tempfile.TemporaryDirectory:
    """The process's folder for precompiled headers (removed at exit)."""
    return tempfile.TemporaryDirectory(prefix="ivit_lint_")


@functools.lru_cache(maxsize=8)
def _prelude_pch(include_dirs: tuple[str, ...]) -> str:
    """A precompiled header of ap_int.h + hls_stream.h (C-sim mode), then ``#define __SYNTHESIS__``."""
    ci = _cindex()
    folder = Path(_pch_dir().name)
    n = len(list(folder.glob("prelude*.h")))
    header = folder / f"prelude{n}.h"
    header.write_text("#include <ap_int.h>\n#include <hls_stream.h>\n#define __SYNTHESIS__ 1\n", encoding="utf-8")
    args = ["-x", "c++-header", STD, "-isystem", _compiler_include()]
    for d in include_dirs:
        args += ["-isystem", d]
    tu = ci.Index.create().parse(str(header), args=args)
    errors = [str(d) for d in tu.diagnostics if d.severity >= ci.Diagnostic.Error]
    if errors:
        raise IRError("HLS lint: the ap_int / hls_stream headers do not parse: " + errors[0])
    pch = folder / f"prelude{n}.pch"
    tu.save(str(pch))
    return str(pch)


def parse(inp: LintInput) -> Any:
    """Parse ``inp.source`` as synthesis sees it; the clang translation unit."""
    ci = _cindex()
    incs = tuple(str(d) for d in inp.include_dirs)
    args = ["-x", "c++", STD, "-isystem", _compiler_include(), "-include-pch", _prelude_pch(incs)]
    for d in incs:
        args += ["-isystem", d]
    args += ["-I", str(inp.scope_root), "-Wno-unknown-pragmas", *inp.extra_args]
    return ci.Index.create().parse(str(inp.source), args=args)


def lint(inp: LintInput) -> list[Finding]:
    """Every finding for one unit, sorted by file and line."""
    from .lint_rules import Unit, run_rules

    tu = parse(inp)
    unit = Unit(tu, inp)
    return sorted(set(run_rules(unit)))


def project_input(out_dir: str | Path, top: str | None = None) -> LintInput:
    """The lint input of a project written by ``ivit-hw codegen --target hls``."""
    from .verify import csim_include_dirs

    out_dir = Path(out_dir).resolve()
    if top is None:
        from ..targets import MANIFEST, read_manifest
        top = str(read_manifest(out_dir).get("top", "ivit_top")) if (out_dir / MANIFEST).is_file() else "ivit_top"
    source = out_dir / "firmware" / f"{top}.cpp"
    if not source.is_file():
        raise IRError(f"{source}: no such file (the top function's source)")
    return LintInput(source, csim_include_dirs(out_dir), top, out_dir / "firmware", display_root=out_dir)


def lint_project(out_dir: str | Path, top: str | None = None) -> list[Finding]:
    """Lint the synthesised sources of an HLS project folder."""
    return lint(project_input(out_dir, top))


def report(findings: list[Finding], out=None) -> int:
    """Print the findings (one per line) and a closing line; 1 if any is an error, else 0."""
    out = out or sys.stdout
    for f in findings:
        print(f, file=out)
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    if errors:
        print(f"lint failed: {errors} error(s), {warnings} warning(s)", file=out)
        return 1
    print("lint clean" + (f" ({warnings} warning(s))" if warnings else ""), file=out)
    return 0
