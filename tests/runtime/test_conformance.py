"""The conformance suite: every op of the registry has cases; every executor
reproduces every case bit for bit; the stored outputs equal an independent
plain-Python reference (tests/ops/reference.py, not the kernels that wrote
them); the suite is deterministic and its ``covers`` claims hold."""

from __future__ import annotations

import importlib.util

import ivit_ops_reference as ref
import numpy as np
import pytest
import yaml

from ivit_hw import cli
from ivit_hw.ir import REGISTRY, IRError, get_op
from ivit_hw.runtime.conformance import (
    INDEX,
    check_case,
    load_suite,
    registry_ops_without_cases,
    suite_executor,
    write_suite,
)
from ivit_hw.runtime.conformance_cases import MAX_ROW, RANDOM_ROWS
from ivit_hw.runtime.executors import EXECUTORS
from ivit_hw.runtime.golden import dump_golden_case

get_op("add")  # fill the registry before parametrising over it
OPS = sorted(REGISTRY)
INT32_MAX = 2**31 - 1




@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("conformance") / "suite"
    write_suite(out)
    return out


@pytest.fixture(scope="module")
def suite(suite_dir):
    return load_suite(suite_dir)


# every executor of the registry but the compiled and Triton ones: the fused steps they run are
# checked in tests/fused/ (their per-node steps are the fused executor's, checked here)
SUITE_EXECUTORS = sorted(set(EXECUTORS) - {"fused-compiled", "triton"})


def _executor(name: str):
    if EXECUTORS[name].needs:
        pytest.importorskip(EXECUTORS[name].needs)
    return suite_executor(name)


@pytest.mark.parametrize("executor", SUITE_EXECUTORS)
@pytest.mark.parametrize("op", OPS)
def test_every_executor_reproduces_every_case_of_every_op(suite, op, executor):
    cases = [c for c in suite if c.case.op == op]
    assert cases, f"the conformance suite has no case for op {op!r}"
    run = _executor(executor)
    problems = [f"{c.name}: {p}" for c in cases if (p := check_case(c.case, run)) is not None]
    assert not problems, "\n".join(problems)


def test_a_missing_op_is_reported(suite):
    assert registry_ops_without_cases(suite) == []
    assert registry_ops_without_cases([c for c in suite if c.case.op != "shiftgelu"]) == ["shiftgelu"]


def test_every_configuration_has_enough_random_rows_and_edges(suite):
    configs: dict[tuple[str, str], dict[str, int]] = {}
    for c in suite:
        kinds = configs.setdefault((c.case.op, c.entry["config"]), {})
        kind = c.name.rsplit(".", 1)[1]
        kinds[kind] = kinds.get(kind, 0) + c.entry["rows"]
    for (op, cfg), kinds in configs.items():
        assert kinds.get("random", 0) >= RANDOM_ROWS, (op, cfg, kinds)
        assert set(kinds) - {"random"}, f"{op}.{cfg} has no edge case"
    per_op = {op: {cfg for o, cfg in configs if o == op} for op in OPS}
    assert all(len(cfgs) >= 2 for cfgs in per_op.values()), per_op


# ----------------------------------------------------------------------------- covers claims


def _rows(arr: np.ndarray) -> np.ndarray:
    return arr.reshape(-1, arr.shape[-1])


def _first_data(c):
    role = next(r.name for r in get_op(c.case.op).roles if r.name in c.case.inputs)
    return c.case.inputs[role], c.entry["widths"]["tensors"][role]


def _tie_found(c, mode: str) -> bool:
    """Some acc*m (or identity*m_id) lands exactly halfway between two integers after the shift."""
    p = c.case.params
    pairs = [("acc", "m", "e")] + ([("identity", "m_id", "e_id")] if "identity" in c.case.inputs else [])
    for data, m, e in pairs:
        x = c.case.inputs[data].astype(object)
        m_b = np.broadcast_to(p[m], x.shape).astype(object)
        e_b = np.broadcast_to(p[e], x.shape)
        for xv, mv, ev in zip(x.ravel(), m_b.ravel(), e_b.ravel(), strict=True):
            prod, ev = int(xv) * int(mv), int(ev)
            if ev >= 1 and prod % (1 << ev) == 1 << (ev - 1):
                return True
    return False


def _claim_holds(c, claim: str) -> bool:
    x, _ = _first_data(c)
    rows = _rows(x)
    if claim == "all_equal":
        return bool((rows == rows[:, :1]).all(axis=1).any())
    if claim == "all_negative":
        return bool((rows < 0).all(axis=1).any())
    if claim == "extremes":  # some data input reaches both limits of its declared type
        widths = c.entry["widths"]["tensors"]
        return any(bool((v == widths[r]["range"][0]).any() and (v == widths[r]["range"][1]).any())
                   for r, v in c.case.inputs.items())
    if claim.startswith("row_length_"):  # the reduced row, or the output row (attention scores)
        return int(claim.rsplit("_", 1)[1]) in (x.shape[-1], c.case.output.shape[-1])
    if claim == "em_saturated":
        return bool((c.case.internals["em"] == INT32_MAX).any())
    if claim == "masked":
        return bool((c.case.params["mask"] == 0).any() and (c.case.params["mask"] == 1).any())
    if claim == "fully_masked_row":
        if "mask" in c.case.params:
            return bool((_rows(c.case.params["mask"]) == 0).all(axis=1).any())
        return bool((_rows(c.case.inputs["code"]) == 16).all(axis=1).any())
    if claim.startswith("rounding_ties_"):
        return c.case.attrs["rounding"] == claim[len("rounding_ties_"):] and _tie_found(c, claim)
    if claim == "near_max_row":
        return bool(((rows.max(axis=1, keepdims=True) - rows) <= 2).all(axis=1).any())
    if claim == "out_bits_limit":
        return c.case.attrs["out_bits"] in (2, 32)
    return claim in ("random", "saturation", "multiplier_limits", "weight_limits")


def test_covers_claims_hold(suite):
    wrong = [f"{c.name}: {claim}" for c in suite for claim in c.entry["covers"] if not _claim_holds(c, claim)]
    assert not wrong, wrong
    claims = {claim for c in suite for claim in c.entry["covers"]}
    must = {"all_equal", "all_negative", "extremes", "em_saturated", "masked", "row_length_1", "row_length_197",
            f"row_length_{MAX_ROW}", "rounding_ties_half_even", "rounding_ties_half_up", "rounding_ties_floor"}
    assert must <= claims, must - claims


def test_shiftmax_sum_clamp_and_requantize_saturation_are_reached(suite):
    by_name = {c.name: c.case for c in suite}
    sums = by_name["shiftmax.s0.005_o16_sumclamp.lenmax"]
    # an all-equal row of 4096 maxima: 4096 * 200 * 2^15 > 2^31 - 1, so the clamp is what the output shows
    assert (sums.output[0, 3] == (sums.output[0, 3, 0])).all()
    edges = by_name["requantize.i32_to_i8_perchannel_half_even.edges"]
    assert (edges.output == 127).any() and (edges.output == -128).any()


# ----------------------------------------------------------------------------- independent reference


def _lists(arr):
    return np.asarray(arr).tolist()


def _reference_output(case, heads: int | None = None):
    """The case's first sample (its first ``heads`` entries of axis 1, when given) recomputed by
    tests/ops/reference.py (Python ints, no ivit_hw code)."""
    a, p = case.attrs, case.params
    x = {k: _lists(v[0] if heads is None else v[0, :heads]) for k, v in case.inputs.items()}
    pl = {k: _lists(v) for k, v in p.items()}
    mask = None if "mask" not in pl else [[bool(v) for v in row] for row in pl["mask"]]
    op = case.op
    if op == "requantize":
        return ref.requantize(x["acc"], pl["m"], pl["e"], a["out_bits"], a["rounding"], x.get("identity"),
                              pl.get("m_id"), pl.get("e_id"))
    if op == "linear":
        return [ref.linear2d(rows, pl["weight"], pl.get("bias")) for rows in [x["x"]]][0]
    if op == "matmul":
        return ref.matmul(x["a"], x["b"], a["transpose_b"])
    if op == "patch_embed":
        return ref.patch_embed(x["x"], pl["weight"], pl.get("bias"), a["patch"])
    if op == "add":
        return ref.add(x["a"], x["b"])
    if op == "shiftmax":
        return ref.shiftmax(x["x"], a["x0"], a["n"], a["out_bits"], mask)
    if op == "shiftgelu":
        return ref.shiftgelu(x["x"], a["x0"], a["n"], a["coef"])
    if op == "ilayernorm":
        return ref.ilayernorm(x["x"], pl["bias_int"], a["iters"], a["k0"], a["sqrt"])
    if op == "ibert_softmax":
        return ref.ibert_softmax(x["x"], a["x0"], a["b_int"], a["c_int"], a["h"], a["n"], a["out_bits"])
    if op == "ibert_gelu":
        return ref.ibert_gelu(x["x"], a["b_int"], a["c_int"], a["one"])
    if op == "ibert_layernorm":
        return ref.ibert_layernorm(x["x"], pl["bias_int"])
    if op == "l1_layernorm":
        return ref.l1_layernorm(x["x"], pl["bias_int"])
    if op == "log_int_softmax":
        return ref.log_int_softmax(x["x"], a["x0"], a["b_int"], a["c_int"], a["n"], mask)
    if op == "log_attn_v":
        return ref.log_attn_v(x["code"], x["v"])
    if op == "reshape":
        return ref.reshape(x["x"], a["shape"])
    if op == "transpose":
        return ref.transpose(x["x"], a["perm"])
    if op == "concat":
        return ref.concat(x["a"], x["b"], a["axis"])
    if op == "slice":
        return ref.take_range(x["x"], a["axis"], a["start"], a["stop"])
    if op == "gather":
        return ref.gather(x["x"], a["axis"], a["index"])
    if op == "reduce_sum":
        return ref.reduce_sum(x["x"], a["axis"])
    if op == "argmax":
        return ref.argmax(x["x"])
    raise AssertionError(f"no reference for op {op!r}: add one to tests/ops/reference.py")


@pytest.mark.parametrize("op", OPS)
def test_stored_outputs_equal_the_plain_python_reference(suite, op):
    cases = [c for c in suite if c.case.op == op]
    assert cases, f"no case for op {op!r}"
    for c in cases:
        heads = 1 if op == "matmul" else None  # one attention head of the first sample: plenty, and quick
        want = np.asarray(_reference_output(c.case, heads), dtype=np.int64)
        got = c.case.output[0] if heads is None else c.case.output[0, :heads]
        np.testing.assert_array_equal(got, want, err_msg=c.name)


# ----------------------------------------------------------------------------- determinism, CLI, errors


def test_suite_is_byte_identical_on_rerun_and_per_op(tmp_path, suite_dir):
    ops = ["requantize", "shiftgelu", "argmax"]
    write_suite(tmp_path / "a", ops)
    write_suite(tmp_path / "b", ops)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
        if rel.parts[0] == "cases":  # a case does not depend on which other ops were written
            assert (tmp_path / "a" / rel).read_bytes() == (suite_dir / rel).read_bytes(), rel
    index = yaml.safe_load((tmp_path / "a" / INDEX).read_text())
    assert {e["op"] for e in index["cases"]} == set(ops)
    entry = index["cases"][0]
    assert {"case", "op", "file", "config", "attrs", "shapes", "rows", "widths", "covers"} <= set(entry)
    assert {"bits", "signed", "range"} == set(entry["widths"]["tensors"]["out"])


def test_cli_writes_and_checks_a_suite(tmp_path, capsys):
    out = tmp_path / "s"
    assert cli.main(["goldens", str(out), "--ops", "argmax", "gather", "--quiet"]) == 0
    assert "cases, 2 ops" in capsys.readouterr().out
    assert cli.main(["check-goldens", str(out), "--executor", "numpy-spec"]) == 0
    assert "bit-exact over 2 ops" in capsys.readouterr().out
    if importlib.util.find_spec("torch") is not None:  # the fused executor, from the registry
        assert cli.main(["check-goldens", str(out), "--executor", "fused"]) == 0
        assert "fused: " in capsys.readouterr().out
    # a tampered expected value is caught and named
    case_file = next((out / "cases").glob("argmax.i16_k10.edges.npz"))
    with np.load(case_file) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["out"] = arrays["out"].copy()
    arrays["out"].flat[0] += 1
    np.savez(case_file, **arrays)
    assert cli.main(["check-goldens", str(out)]) == 1
    assert "FAIL argmax.i16_k10.edges: 1 of" in capsys.readouterr().out


def test_unknown_op_in_a_case_file_is_one_clear_error(tmp_path, capsys):
    path = tmp_path / "c.npz"
    dump_golden_case(path, "argmax", {"x": np.zeros((1, 3), np.int64)}, np.zeros((1,), np.int64))
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["op"] = np.array("softargmax")
    np.savez(path, **arrays)
    assert cli.main(["check-goldens", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(path) in err and "unknown op 'softargmax'" in err
    with pytest.raises(IRError, match="unknown op 'nope'"):
        write_suite(tmp_path / "x", ["nope"])
    assert not (tmp_path / "x").exists()
    assert cli.main(["goldens", str(tmp_path / "y"), "--ops", "nope"]) == 2
    assert not (tmp_path / "y").exists()
