"""The core command line with only the base dependencies (issue 7, problem 1).

Each check runs ``ivit_hw.cli.main`` in a fresh interpreter in which torch, PIL,
sklearn, matplotlib, tqdm and safetensors cannot be imported (as after
``pip install .`` without extras): ``--help``, ``inspect`` and ``run`` work,
and commands that need torch say so in one line with exit status 2.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ivit_hw.ir.serialize import save_graph
from ivit_hw.ir.verify import verify

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/tiny_graphs.py
from tiny_graphs import tiny_graph, tiny_input  # noqa: E402

HIDDEN = ("torch", "PIL", "sklearn", "matplotlib", "tqdm", "safetensors")
RUNNER = f"""
import sys
for name in {HIDDEN!r}:
    sys.modules[name] = None  # 'import name' (and its submodules) now raises ModuleNotFoundError
from ivit_hw.cli import main
code = main(sys.argv[1:])
leaked = sorted(m for m in sys.modules if m.split('.')[0] in {HIDDEN!r} and sys.modules[m] is not None)
assert not leaked, leaked
sys.exit(code)
"""


def _cli(*argv: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUNNER, *map(str, argv)], capture_output=True, text=True,
                          check=False, timeout=120)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("notorch")
    save_graph(verify(tiny_graph()), root / "tiny")
    np.save(root / "x.npy", tiny_input())
    return root


def test_help_inspect_and_run_work_without_torch(saved):
    proc = _cli("--help")
    assert proc.returncode == 0, proc.stderr
    for name in ("quantize", "inspect", "run", "eval", "compare", "demo"):
        assert name in proc.stdout
    proc = _cli("quantize", "--help")
    assert proc.returncode == 0 and "deit_tiny" in proc.stdout, proc.stderr
    proc = _cli("inspect", saved / "tiny", "--summary")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("OK: ")
    proc = _cli("run", saved / "tiny", "--input", saved / "x.npy", "--output", saved / "y.npy")
    assert proc.returncode == 0, proc.stderr
    assert np.load(saved / "y.npy").shape == (2, 4, 4)


@pytest.mark.parametrize("argv, package", [
    (["quantize", "--model", "vit_digits", "--calib", "digits", "-o", "{root}/q.ivit"], "torch"),
    (["demo", "--out", "{root}/demo"], "torch"),
    (["eval", "{root}/tiny", "--imagefolder", "{root}"], "pillow"),
])
def test_commands_that_need_an_extra_say_so_in_one_line(saved, argv, package):
    proc = _cli(*(a.format(root=saved) for a in argv))
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"ivit-hw: error: 'ivit-hw {argv[0]}' needs {package}"), err
    assert not (saved / "q.ivit").exists() and not (saved / "demo").exists()


@pytest.mark.skipif(not __import__("os").environ.get("IVIT_FRESH_VENV"),
                    reason="opt-in (about a minute): set IVIT_FRESH_VENV=1 to pip install . into a fresh venv")
def test_fresh_venv_with_base_dependencies_only(tmp_path, saved):
    """The acceptance check itself: python -m venv v && v/bin/pip install . && v/bin/ivit-hw ..."""
    repo = Path(__file__).resolve().parents[1]
    venv = tmp_path / "v"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(repo)], check=True, timeout=600)
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import torch"], capture_output=True, check=False)
    assert probe.returncode != 0  # really without torch
    exe = str(venv / "bin" / "ivit-hw")
    assert subprocess.run([exe, "--help"], capture_output=True, check=False).returncode == 0
    proc = subprocess.run([exe, "inspect", str(saved / "tiny"), "--summary"], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0 and proc.stdout.splitlines()[-1].startswith("OK: "), proc.stderr
    proc = subprocess.run([exe, "run", str(saved / "tiny"), "--input", str(saved / "x.npy"), "--output",
                           str(tmp_path / "y.npy")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([exe, "quantize", "--model", "vit_digits", "--calib", "digits", "-o", str(tmp_path / "q")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("ivit-hw: error: 'ivit-hw quantize' needs torch")
