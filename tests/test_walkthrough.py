"""The README's "From a timm checkpoint to hardware" runs as written (issue 19, acceptance).

The commands are read from the README (between the ``walkthrough`` markers)
and run in order in a fresh folder, at a reduced size: ``quantize`` gets
``--depth 1`` (one transformer block) and ``sample_images`` one image per
class. ``ivit-hw`` lines run in-process through :func:`ivit_hw.cli.main`,
``python -m`` / ``python -c`` lines in-process too (same interpreter).

The three tool-bound steps cost minutes on the 2-core machine and each has its
own test: ``verify`` of the HLS project (g++ C-sim, tests/codegen/test_hls_csim.py),
``verify`` of the Verilog units (cocotb, rtl_tests/) and ``synth`` (yowasp,
rtl_tests/test_verilog_cli.py). They are skipped here unless
``IVIT_WALKTHROUGH_FULL=1``; with it, every line runs (Verilog verify then takes
only two units, the synth line as written).
"""

from __future__ import annotations

import os
import runpy
import shlex
import sys
from pathlib import Path

import numpy as np
import yaml

from ivit_hw import cli

ROOT = Path(__file__).resolve().parent.parent
FULL = bool(os.environ.get("IVIT_WALKTHROUGH_FULL"))
HEAVY = (("verify", "work/hls"), ("verify", "work/rtl"), ("synth",))


def walkthrough_commands() -> list[list[str]]:
    """The shell lines of the README section, split as the shell would."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- walkthrough:begin -->", 1)[1].split("<!-- walkthrough:end -->", 1)[0]
    lines = [ln for ln in block.splitlines() if ln.strip() and not ln.startswith("```")]
    return [shlex.split(ln) for ln in lines]


def _reduced(argv: list[str]) -> list[str]:
    if argv[:2] == ["ivit-hw", "quantize"]:
        return [*argv, "--depth", "1"]
    if argv[:3] == ["python", "-m", "ivit_hw.frontend.sample_images"]:
        return [a if a != "3" else "1" for a in argv]
    if FULL and argv[:3] == ["ivit-hw", "verify", "work/rtl"]:
        return ["ivit-hw", "verify", "work/rtl", "--units", "blocks.0.norm1.q", "blocks.0.res1"]
    return argv


def _heavy(argv: list[str]) -> bool:
    return any(argv[1:1 + len(h)] == list(h) for h in HEAVY)


def _python(argv: list[str]) -> None:
    if argv[1] == "-c":
        exec(compile(argv[2], "<walkthrough>", "exec"), {"__name__": "__main__"})  # noqa: S102
        return
    assert argv[1] == "-m", argv
    old = sys.argv
    sys.argv = [argv[2], *argv[3:]]
    try:
        runpy.run_module(argv[2], run_name="__main__")
    except SystemExit as exc:
        assert exc.code in (0, None), argv
    finally:
        sys.argv = old


def test_the_readme_walkthrough_runs_as_written(tmp_path, monkeypatch, capsys):
    commands = walkthrough_commands()
    assert [c[:2] for c in commands if c[0] == "ivit-hw"] == [
        ["ivit-hw", x] for x in ("quantize", "inspect", "run", "eval", "compare", "codegen", "verify", "codegen",
                                 "verify", "synth")]
    monkeypatch.chdir(tmp_path)
    skipped = []
    for argv in map(_reduced, commands):
        if _heavy(argv) and not FULL:
            skipped.append(" ".join(argv[:3]))
            continue
        if argv[0] == "python":
            _python(argv)
            continue
        code = cli.main(argv[1:])
        out, err = capsys.readouterr()
        assert code == 0, (argv, out, err)
    work = tmp_path / "work"
    graph = yaml.safe_load((work / "deit_tiny.ivit" / "graph.yaml").read_text())
    assert graph["meta"]["preset"] == "deit_tiny" and graph["meta"]["depth"] == 1
    assert set(np.load(work / "y.npz").files) == {"logits", "pred"}
    cases = sorted(p.stem for p in (work / "trace" / "cases").glob("*.npz"))
    assert cases and all(c.startswith("blocks.0.") for c in cases)
    units = yaml.safe_load((work / "rtl" / "manifest.yaml").read_text())["units"]
    assert {u["node"] for u in units} >= {"blocks.0.norm1.q", "blocks.0.res1"}
    assert (work / "compare" / "compare.json").is_file() and (work / "hls" / "manifest.yaml").is_file()
    if not FULL:
        assert skipped == ["ivit-hw verify work/hls", "ivit-hw verify work/rtl", "ivit-hw synth work/rtl"]


