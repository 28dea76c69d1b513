"""The torch executor against the golden executor, exactly: every op of the
registry (outputs and every traced internal), the whole digits test split, a
DeiT-tiny graph; its GEMM paths (torch._int_mm with padding and an int8
offset), the overridable dispatch table and the CLI backend switch."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ivit_hw import cli  # noqa: E402
from ivit_hw.ir import REGISTRY  # noqa: E402
from ivit_hw.ir.serialize import save_graph  # noqa: E402
from ivit_hw.runtime import run_graph  # noqa: E402
from ivit_hw.runtime.torch_exec import TorchExecutor  # noqa: E402
from ivit_hw.runtime.torch_namespace import TorchOps  # noqa: E402

_spec = importlib.util.spec_from_file_location("ivit_op_cases", Path(__file__).with_name("op_cases.py"))
op_cases = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("ivit_op_cases", op_cases)
_spec.loader.exec_module(op_cases)


def test_every_registered_op_has_a_case():
    assert {op_cases.case_op(name) for name in op_cases.CASES} == set(REGISTRY)


@pytest.mark.parametrize("name", sorted(op_cases.CASES))
def test_torch_equals_golden_on_every_op(name):
    graph, feeds = op_cases.CASES[name]()
    golden = run_graph(graph, feeds, trace=True)
    spec_path = run_graph(graph, feeds, trace=True, fast=False)
    got = TorchExecutor(graph).run(feeds, trace=True)
    np.testing.assert_array_equal(got.outputs["y"], golden.outputs["y"])
    np.testing.assert_array_equal(spec_path.outputs["y"], golden.outputs["y"])
    assert set(got.internals) == set(golden.internals)
    for key, arr in golden.internals.items():
        np.testing.assert_array_equal(np.asarray(got.internals[key], dtype=object), np.asarray(arr, dtype=object),
                                      err_msg=key)


def test_digits_test_split_equals_golden(digits_graph):
    from ivit_hw.frontend.data import load_digits_split

    images = load_digits_split().test_images
    assert len(images) == 450
    name = digits_graph.inputs[0]
    golden = run_graph(digits_graph, {name: images}).outputs
    got = TorchExecutor(digits_graph).run({name: images}).outputs
    assert golden.keys() == got.keys()
    for key in golden:
        np.testing.assert_array_equal(got[key], golden[key])


def test_deit_tiny_equals_golden_and_uses_int_mm(deit_tiny_graph):
    from ivit_hw.frontend.synthetic import synthetic_images

    images = synthetic_images(1, 3, 224, seed=11)
    name = deit_tiny_graph.inputs[0]
    executor = TorchExecutor(deit_tiny_graph, int8_gemm=True)
    golden = run_graph(deit_tiny_graph, {name: images}).outputs
    got = executor.forward({name: torch.as_tensor(images)})  # the device path: tensors in, tensors out
    assert got.keys() == golden.keys() and all(isinstance(v, torch.Tensor) for v in got.values())
    for key in golden:
        np.testing.assert_array_equal(got[key].numpy(), golden[key])
    paths: dict[str, set] = {}
    for pn in executor._plan.planned:
        cells = [c.cell_contents for c in pn.impl.__closure__ or () if hasattr(c.cell_contents, "path")]
        paths.setdefault(pn.node.op, set()).update(c.path for c in cells)
    assert paths["linear"] == {"int_mm"} and paths["patch_embed"] == {"int_mm"}


@pytest.mark.parametrize("m,k,n,lo,hi", [(1, 20, 10, -128, 127), (16, 64, 12, 0, 255), (40, 8, 8, -100, 155)])
def test_int_mm_gemm_pads_and_offsets_exactly(m, k, n, lo, hi):
    rng = np.random.default_rng(m + k)
    a = rng.integers(lo, hi + 1, (2, m, k))
    a[0, 0] = lo
    a[-1, -1] = hi
    b = rng.integers(-128, 128, (k, n))
    gemm = TorchOps(int8_gemm=True).gemm((lo, hi), (-128, 127), k, b)
    assert gemm.path == "int_mm"
    np.testing.assert_array_equal(gemm(torch.as_tensor(a)).numpy(), a @ b)


def test_wide_operands_take_an_exact_float_or_integer_path():
    rng = np.random.default_rng(0)
    a = rng.integers(-2**20, 2**20, (3, 50))
    b = rng.integers(-2**20, 2**20, (50, 4))
    gemm = TorchOps().gemm((-2**20, 2**20), (-2**20, 2**20), 50, None)
    assert gemm.path == "float64"
    np.testing.assert_array_equal(gemm(torch.as_tensor(a), torch.as_tensor(b)).numpy(), a @ b)


def test_dispatch_table_can_be_overridden():
    graph, feeds = op_cases.CASES["add"]()
    calls = []

    def build_add(ctx):
        def impl(args, trace):
            calls.append(ctx.node.name)
            return args["a"] + args["b"]

        return impl

    got = TorchExecutor(graph, impls={"add": build_add}).run(feeds).outputs["y"]
    assert calls == ["y"]
    np.testing.assert_array_equal(got, feeds["a"] + feeds["b"])


def test_cli_run_backend_torch(capsys, tmp_path):
    graph, feeds = op_cases.CASES["shiftmax"]()
    save_graph(graph, tmp_path / "g")
    np.save(tmp_path / "x.npy", feeds["x"])
    for backend in ("numpy", "torch"):
        code = cli.main(["run", str(tmp_path / "g"), "--input", str(tmp_path / "x.npy"),
                         "--output", str(tmp_path / f"{backend}.npy"), "--backend", backend, "--check"])
        assert code == 0, capsys.readouterr().err
    np.testing.assert_array_equal(np.load(tmp_path / "torch.npy"), np.load(tmp_path / "numpy.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "numpy.npy"), run_graph(graph, feeds).outputs["y"])
    # any executor of the registry; the fused ones cannot check or trace (one line, exit 2)
    args = ["run", str(tmp_path / "g"), "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "f.npy"),
            "--backend", "fused"]
    assert cli.main(args) == 0, capsys.readouterr().err
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy"), np.load(tmp_path / "numpy.npy"))
    capsys.readouterr()
    assert cli.main([*args, "--check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--check need numpy or torch" in err


def test_cli_backend_torch_without_torch_is_one_line(capsys, tmp_path, monkeypatch):
    graph, feeds = op_cases.CASES["add"]()
    save_graph(graph, tmp_path / "g")
    np.save(tmp_path / "a.npy", feeds["a"])
    np.save(tmp_path / "b.npy", feeds["b"])
    monkeypatch.setitem(sys.modules, "ivit_hw.runtime.torch_exec", None)  # import now fails like a missing torch
    code = cli.main(["run", str(tmp_path / "g"), "--input", f"a={tmp_path / 'a.npy'}", "--input",
                     f"b={tmp_path / 'b.npy'}", "--output", str(tmp_path / "y.npy"), "--backend", "torch"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "needs torch" in err
    assert not (tmp_path / "y.npy").exists()


@pytest.mark.parametrize("op", ["shiftmax", "shiftgelu"])
def test_torch_lookup_tables_equal_the_numpy_spec_path(op):
    from ivit_hw import ops
    from ivit_hw.ops import tables
    from ivit_hw.ops.shiftmax import exp_table
    from ivit_hw.ops.xp import NP

    x = op_cases.edge_rows(np.random.default_rng(2), (6, 1000), -128, 127)  # 6000 8-bit elements
    xp, x0 = TorchOps(), -17
    n = 15 if op == "shiftmax" else 23
    kernel = getattr(ops, op)
    before = tables.HITS["shift_exp_table"]
    got_tr, spec_tr = {}, {}
    got = kernel(torch.as_tensor(x), x0, n, trace=got_tr, xp=xp, table=exp_table(x0, n, -255, 0, xp=xp))
    assert tables.HITS["shift_exp_table"] > before
    spec = kernel(x, x0, n, trace=spec_tr, xp=NP)
    np.testing.assert_array_equal(got.numpy(), spec)
    assert got_tr.keys() == spec_tr.keys()
    for key in spec_tr:
        np.testing.assert_array_equal(np.broadcast_to(got_tr[key].numpy(), spec_tr[key].shape), spec_tr[key])

