"""HLS C-simulation against the golden model, bit for bit: every op of the registry on its
golden cases, the whole conformance suite (two binaries: batch-lifted cases, and patch_embed's
cases one image per call), one DeiT-tiny block, and the whole digits model on every tenth image
of its test split (all 450: ``make demo``, ``examples/hls_stream_digits.py``). Every build is
-Wall -Wextra -Werror under -fsanitize=address,undefined -fno-sanitize-recover=all.
Needs g++ and the ap_int headers (``make hls-headers``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hls_cases import suite_graph, write_cases  # noqa: E402
from hls_conformance import PER_SAMPLE_OPS, conformance_graph, per_sample_graph  # noqa: E402

from ivit_hw.codegen.hls import HlsOptions, render_project, run_csim  # noqa: E402
from ivit_hw.codegen.hls.verify import SANITIZE, WARN  # noqa: E402
from ivit_hw.ir.registry import REGISTRY  # noqa: E402


def _lines(text: str) -> list[str]:
    return text.strip().splitlines()


@pytest.fixture(scope="module")
def op_suite(tmp_path_factory):
    """Three sanitizer builds C-simulated two at a time: the op suite of ``hls_cases`` and the
    conformance suite of ``ivit-hw goldens`` (its batch-lifted cases and its per-sample cases)."""
    from ivit_hw.runtime.conformance import write_suite

    root = tmp_path_factory.mktemp("hls_ops")
    index = write_cases(root / "cases")
    graph, vectors, par, names = suite_graph(index)
    out = root / "prj"
    out.mkdir()
    render_project(graph, out, HlsOptions(layer_par=tuple(par.items())), vectors=vectors)
    write_suite(root / "conformance")
    c_names = {}
    c_dirs = {}
    for key, build in (("conformance", conformance_graph), ("per_sample", per_sample_graph)):
        c_graph, c_vectors, c_names[key] = build(root / "conformance")
        c_dirs[key] = root / f"{key}_prj"
        c_dirs[key].mkdir()
        render_project(c_graph, c_dirs[key], HlsOptions(default_par=4), vectors=c_vectors)
    with ThreadPoolExecutor(2) as pool:
        # -O0: these binaries run a few seconds, so g++'s time dominates (run_csim's docstring)
        futures = {"sanitize": pool.submit(run_csim, out, True, False, "-O0")}
        futures.update({key: pool.submit(run_csim, d, True, False, "-O0") for key, d in c_dirs.items()})
        results = {key: f.result() for key, f in futures.items()}
    return out, graph, names, results, c_names


def test_every_op_case_is_bit_exact_under_sanitizers(op_suite):
    _, graph, names, results, _ = op_suite
    status, text = results["sanitize"]
    lines = _lines(text)
    assert lines[-1] == f"{len(names)} passed, 0 failed", text[-3000:]
    assert status == 0
    passed = {ln.split()[1].removesuffix(":") for ln in lines if ln.startswith("PASS ")}
    assert passed == {f"{n}.out" for n in names}
    assert not any("runtime error" in ln or "ERROR" in ln for ln in lines)


def test_conformance_suite_is_bit_exact_under_sanitizers(op_suite):
    *_, results, c_names = op_suite
    for key, n_min in (("conformance", 190), ("per_sample", 4)):
        status, text = results[key]
        lines = _lines(text)
        assert len(c_names[key]) >= n_min
        assert lines[-1] == f"{len(c_names[key])} passed, 0 failed", text[-3000:]
        assert status == 0
        passed = {ln.split(": ")[0].removeprefix("PASS ") for ln in lines if ln.startswith("PASS ")}
        assert passed == set(c_names[key])
        assert not any("runtime error" in ln or "ERROR" in ln for ln in lines)
    ops = {key: {n.split(".")[0] for n in names} for key, names in c_names.items()}
    assert ops["per_sample"] == set(PER_SAMPLE_OPS)
    assert ops["conformance"] | ops["per_sample"] == set(REGISTRY)
    # patch_embed: one image per call, every stored output (63 random images; 3 edge images, cycled)
    assert "PASS patch_embed.c3_img16_p4.random: 63 samples x 256 values bit-exact" in results["per_sample"][1]


def test_suite_covers_every_registry_op_and_enough_rows(op_suite):
    _, graph, names, _, _ = op_suite
    assert {n.op for n in graph.nodes} == set(REGISTRY)
    for node in graph.nodes:  # rows (vectors) per case: 8 samples x the output's leading axes
        shape = graph.tensor(node.output).shape
        if len(shape) < 2:
            x = next(t for t in node.inputs.values() if not graph.tensor(t).const)
            shape = graph.tensor(x).shape
        rows = 8 * int(np.prod(shape[:-1]))
        assert rows >= 1000, (node.name, shape)


def test_a_wrong_expected_value_is_reported(op_suite, tmp_path):
    """The testbench can fail: flip one expected value of one case and it names that tensor."""
    out, _, names, _, _ = op_suite
    exe = out / "csim_build_sanitize" / "csim"
    data = tmp_path / "data"
    shutil.copytree(out / "tb" / "data", data)
    victim = next(p for p in sorted(data.glob("*.bin")) if "shiftmax_masked_out" in p.name)
    raw = bytearray(victim.read_bytes())
    value = int.from_bytes(raw[20 + 8 * 5:20 + 8 * 6], "little", signed=True)
    raw[20 + 8 * 5:20 + 8 * 6] = (value + 1).to_bytes(8, "little", signed=True)
    victim.write_bytes(bytes(raw))
    proc = subprocess.run([str(exe), str(data)], capture_output=True, text=True)
    lines = _lines(proc.stdout)
    assert proc.returncode == 1
    assert lines[-1] == f"{len(names) - 1} passed, 1 failed"
    fail = [ln for ln in lines if ln.startswith("FAIL")]
    assert len(fail) == 1 and fail[0].startswith("FAIL shiftmax_masked.out: 1 of ")
    assert f"index 5: got {value}, expected {value + 1}" in fail[0]


def test_deit_tiny_block_is_bit_exact_under_sanitizers(tmp_path):
    from ivit_hw.frontend.synthetic import synthetic_graph

    graph = synthetic_graph("deit_tiny", depth=1)
    out = tmp_path / "prj"
    out.mkdir()
    manifest = render_project(graph, out, HlsOptions(top="block:blocks.0", samples=3, trace_samples=2,
                                                     default_par=8))
    assert manifest["layers"] >= 20
    status, text = run_csim(out, sanitize=True, echo=False)
    lines = _lines(text)
    assert status == 0, text[-3000:]
    n_pass = sum(ln.startswith("PASS ") for ln in lines)
    assert lines[-1] == f"{n_pass} passed, 0 failed" and n_pass == manifest["layers"]
    assert "PASS blocks.0.attn.attn_prob: 2 samples" in text
    assert "PASS blocks.0.res2: 3 samples" in text


def test_whole_digits_model_on_a_tenth_of_the_test_split_under_sanitizers(digits_graph, tmp_path):
    """Every tenth test image (45, spread over the split). All 450 run in ``make demo``'s HLS step and
    in ``examples/hls_stream_digits.py``: the full-size check is a benchmark, so ``make test`` stays
    under 15 minutes."""
    from ivit_hw.frontend.data import load_digits_split
    from ivit_hw.runtime.numpy_exec import run_graph

    images = load_digits_split().test_images[::10]
    assert len(images) == 45
    out = tmp_path / "prj"
    out.mkdir()
    render_project(digits_graph, out, HlsOptions(samples=len(images), trace_samples=2),
                   graph_inputs={digits_graph.inputs[0]: images})
    status, text = run_csim(out, sanitize=True, echo=False)
    lines = _lines(text)
    assert status == 0, text[-3000:]
    assert not any("runtime error" in ln or "ERROR" in ln for ln in lines)
    assert "PASS logits: 45 samples x 10 values bit-exact" in lines
    assert "PASS pred: 45 samples x 1 values bit-exact" in lines
    assert lines[-1].endswith(" passed, 0 failed")
    # the expected predictions in the vector file are the golden model's, not the kernel's
    pred = np.frombuffer((out / "tb" / "data" / "t_pred.bin").read_bytes()[20:], dtype="<i8")
    golden = run_graph(digits_graph, {digits_graph.inputs[0]: images[:64]}).outputs["pred"]
    assert np.array_equal(pred[:64], golden.reshape(-1))


def test_builds_treat_warnings_as_errors():
    assert {"-Wall", "-Wextra", "-Werror"} <= set(WARN)
    assert "-fsanitize=address,undefined" in SANITIZE


def test_op_suite_project_lints_without_errors(op_suite):
    """Every kernel instantiated by the op suite passes the synthesizability lint (warnings: array bypasses)."""
    from ivit_hw.codegen.hls.lint import lint_project

    found = lint_project(op_suite[0])
    assert [str(f) for f in found if f.severity == "error"] == []
    assert {f.rule for f in found} <= {"dataflow-bypass"}
