"""A quick loop (issue 19, item 3): ``verify --units PATTERN`` on a Verilog render, ``make test-quick``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ivit_hw.ir.serialize import save_graph
from ivit_hw.ir.verify import verify

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_helpers import assert_one_line_error, run_cli  # noqa: E402
from tiny_graphs import tiny_graph  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def test_verify_units_runs_only_the_matching_units(capsys, tmp_path, monkeypatch):
    import ivit_hw.eda.cocotb_run as cocotb_run

    save_graph(verify(tiny_graph()), tmp_path / "g")
    code, _, err = run_cli(capsys, "codegen", tmp_path / "g", "--target", "verilog", "-o", tmp_path / "rtl")
    assert code == 0, err
    ran: list[list[str]] = []

    def fake_jobs(jobs, workers=2, progress=None):  # no simulator: record which units would run
        ran.append([Path(folder).name for folder, _ in jobs])
        return [{"passed": 1, "failed": 0} for _ in jobs]

    monkeypatch.setattr(cocotb_run, "run_jobs", fake_jobs)
    monkeypatch.setattr(cocotb_run, "simulator_env", lambda sim: {})
    code, out, err = run_cli(capsys, "verify", tmp_path / "rtl", "--units", "fc.*")
    assert code == 0, err
    assert ran == [["fc.q"]] and "fc.q (requantize): ok" in out and "y (requantize)" not in out
    code, out, err = run_cli(capsys, "verify", tmp_path / "rtl", "--units", "y", "fc.q")
    assert code == 0 and ran[-1] == ["fc.q", "y"], err
    code, _, err = run_cli(capsys, "verify", tmp_path / "rtl", "--units", "blocks.*")
    assert_one_line_error(code, err, "--units 'blocks.*'", "matches no unit", "fc.q")
    assert len(ran) == 2


def test_make_test_quick_leaves_out_the_slow_tiers_and_make_test_runs_everything():
    def recipe(target):
        dry = subprocess.run(["make", "-n", "-W", "pyproject.toml", target], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
        return next(ln for ln in dry.splitlines() if "pytest" in ln)

    quick, full = recipe("test-quick"), recipe("test")
    assert {"tests", "rtl_tests"} <= set(full.split()) and "--ignore" not in full
    assert "rtl_tests" not in quick and "--ignore=tests/codegen/test_hls_csim.py" in quick
    for part in quick.split():
        if part.startswith("--ignore="):
            assert (ROOT / part.removeprefix("--ignore=")).exists(), part
    readme = (ROOT / "README.md").read_text()
    assert "make test-quick" in readme
