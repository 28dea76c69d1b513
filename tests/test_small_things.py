"""Small things a new user met (issue 19, item 7): the final progress line, a fast ``inspect --summary``,
``ivit-hw demo`` running the HLS and RTL steps, the README's document list."""

from __future__ import annotations

import io
import re
from pathlib import Path

from ivit_hw.progress import Progress

ROOT = Path(__file__).resolve().parent.parent


def test_the_final_progress_line_is_printed_once_in_a_log():
    log = io.StringIO()
    with Progress(3, "calibrate", "img", stream=log, interval=0.0) as bar:
        for _ in range(3):
            bar.update(1)
    lines = log.getvalue().splitlines()
    finals = [ln for ln in lines if ln.startswith("calibrate: 3/3 img")]
    assert len(finals) == 1, lines
    assert len(lines) == 3, lines  # 1/3, 2/3, 3/3


def test_the_final_progress_line_is_printed_even_without_updates_since_the_last_one():
    log = io.StringIO()
    with Progress(4, "calibrate", "img", stream=log, interval=3600.0) as bar:
        bar.update(4)
    assert [ln.split(",")[0] for ln in log.getvalue().splitlines()] == ["calibrate: 4/4 img (100 %)"]


def test_the_readme_lists_each_document_once():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Documents", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- `([^`]+)`", section, flags=re.M)
    assert listed and len(listed) == len(set(listed)), listed
    for doc in listed:
        assert (ROOT / doc).exists(), doc


def _fake_steps(monkeypatch, calls):
    import ivit_hw.codegen.hls.demo_step as hls_step
    import ivit_hw.codegen.verilog.demo_step as rtl_step
    import ivit_hw.codegen.verilog.demo_top_step as top_step
    import ivit_hw.frontend.demo as demo
    import ivit_hw.frontend.demo_swin as swin_step

    def fake_demo(out, seed=0, progress=True, cfg=None):
        calls.append("model")
        return {"fp_accuracy": 0.9, "int_accuracy": 0.9, "export_wiring_exact": True,
                "independent_forward_exact": True, "seconds": 1.0}

    def fake_hls(out):
        calls.append("hls")
        return {"bit_exact": True, "test_images": 450, "summary": "113 passed, 0 failed"}

    def fake_rtl(out, images, sim, log=print):
        calls.append(f"rtl {images} {sim}")
        return {"ok": True, "images": images, "simulator": sim, "passed": 2, "failed": 0}

    def fake_swin(out, seed, epochs, hls=True, progress=True):
        calls.append(f"swin {epochs} hls={hls}")
        r = {"fp_accuracy": 0.9, "int_accuracy": 0.9, "export_wiring_exact": True, "seconds": 1.0}
        return {**r, "hls_csim": {"bit_exact": True, "summary": "5 passed, 0 failed"}} if hls else r

    monkeypatch.setattr(demo, "run_demo", fake_demo)
    monkeypatch.setattr(swin_step, "run_swin_demo", fake_swin)
    monkeypatch.setattr(hls_step, "run_hls_demo", fake_hls)
    monkeypatch.setattr(rtl_step, "run_rtl_demo", fake_rtl)

    def fake_top(out, log=print):
        calls.append("rtl top")
        return {"ok": True, "images": 3, "simulator": "verilator", "parallelism": "budget:156", "latency": 9,
                "interval": 5.0, "mac_utilisation": 0.5, "images_per_s": 30e6, "fmax_mhz": 150.0,
                "fmax_source": "docs"}

    monkeypatch.setattr(top_step, "run_rtl_top_demo", fake_top)


def test_demo_runs_the_hls_and_rtl_steps_unless_skipped(capsys, tmp_path, monkeypatch):
    from ivit_hw import cli

    calls: list[str] = []
    _fake_steps(monkeypatch, calls)
    monkeypatch.setattr("ivit_hw.codegen.hls.headers.ap_include_dir", lambda: tmp_path)
    monkeypatch.setattr("ivit_hw.eda.cocotb_run.simulator_env", lambda sim: {})
    assert cli.main(["demo", "--out", str(tmp_path / "d"), "--quiet"]) == 0
    assert calls == ["model", "hls", "swin 20 hls=True", "rtl 4 icarus", "rtl top"]
    out = capsys.readouterr().out
    assert "HLS C-sim of the whole model on 450 test images: bit-exact" in out and "RTL units" in out
    assert "swin_digits: float 90.00 % | integer 90.00 % | export wiring exact True | HLS C-sim bit-exact" in out
    assert ("RTL model top (budget:156) on 3 test images (verilator): bit-exact; latency 9 cycles, interval 5 "
            "cycles/image, MAC utilisation 50.0 %, 30,000,000 images/s at 150.0 MHz (docs)") in out
    calls.clear()
    assert cli.main(["demo", "--out", str(tmp_path / "d"), "--quiet", "--no-hls", "--rtl-images", "2",
                     "--swin-epochs", "3", "--no-rtl-top"]) == 0
    assert calls == ["model", "swin 3 hls=False", "rtl 2 icarus"]
    calls.clear()
    assert cli.main(["demo", "--out", str(tmp_path / "d"), "--quiet", "--no-hls", "--no-rtl", "--no-swin",
                     "--no-rtl-top"]) == 0
    assert calls == ["model"]
    assert cli.main(["demo", "--out", str(tmp_path / "e"), "--quiet", "--swin-epochs", "0"]) == 2
    assert "--swin-epochs must be >= 1" in capsys.readouterr().err
    capsys.readouterr()


def test_demo_checks_the_rtl_simulator_before_training(capsys, tmp_path, monkeypatch):
    from ivit_hw import cli
    from ivit_hw.eda import EdaMissing

    calls: list[str] = []
    _fake_steps(monkeypatch, calls)

    def no_sim(sim):
        raise EdaMissing("Icarus Verilog is not installed")

    monkeypatch.setattr("ivit_hw.eda.cocotb_run.simulator_env", no_sim)
    code = cli.main(["demo", "--out", str(tmp_path / "d"), "--quiet", "--no-hls"])
    err = capsys.readouterr().err
    assert code == 2 and "Icarus Verilog is not installed" in err and "--no-rtl" in err and calls == []


def test_make_demo_is_the_demo_command():
    text = (ROOT / "Makefile").read_text()
    recipe = text.split("\ndemo:", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    assert [ln.strip() for ln in recipe] == ["$(VENV)/bin/ivit-hw demo --out out/demo"]


def test_inspect_summary_reads_the_graph_with_the_c_yaml_parser(capsys, tmp_path, monkeypatch):
    """``inspect --summary`` on deit_tiny took ~10 s, almost all in PyYAML's pure-Python scanner; the
    libyaml parser reads the same file many times faster (figure in the README). The pure-Python
    scanner is made to fail here: loading must not touch it."""
    import sys as _sys

    import yaml

    from ivit_hw import cli
    from ivit_hw.ir.serialize import save_graph
    from ivit_hw.ir.verify import verify

    _sys.path.insert(0, str(Path(__file__).resolve().parent))
    from tiny_graphs import tiny_graph

    assert yaml.__with_libyaml__  # pyyaml wheels bundle libyaml
    save_graph(verify(tiny_graph()), tmp_path / "tiny")

    def slow_path(*args, **kwargs):
        raise AssertionError("graph.yaml parsed by the pure-Python YAML scanner")

    monkeypatch.setattr(yaml.scanner.Scanner, "check_token", slow_path)
    assert cli.main(["inspect", str(tmp_path / "tiny"), "--summary"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("OK: all")
