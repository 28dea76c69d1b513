"""The analysed graph is what is exported, saved and loaded: every tensor's proven range
and every node internal's type and proven range are in the file, a renderer reads them
without running the analysis, and a stored width that is too narrow is one clear error."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from ivit_hw import cli, ops
from ivit_hw.ir import GraphBuilder, Interval, IntType, IRError, get_op
from ivit_hw.ir.serialize import CONSTANTS_FILE, GRAPH_FILE, load_graph, save_graph
from ivit_hw.runtime import run_graph

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/tiny_graphs.py
from tiny_graphs import softmax_graph  # noqa: E402


def _assert_file_lists_everything(folder: Path) -> dict:
    doc = yaml.safe_load((folder / GRAPH_FILE).read_text())
    for name, t in doc["tensors"].items():
        lo, hi = t["range"]  # present for every tensor
        width = IntType(t["bits"], t["signed"])
        assert width.min <= lo <= hi <= width.max, name
        if isinstance(t["scale"], list):
            assert len(t["scale"]) == t["shape"][t["scale_axis"]], name
    for node in doc["nodes"]:
        assert list(node["internals"]) == list(get_op(node["op"]).internals), node["name"]
        for key, spec in node["internals"].items():
            lo, hi = spec["range"]
            width = IntType(spec["bits"], spec["signed"])
            assert width.min <= lo <= hi <= width.max, (node["name"], key)
    return doc


def test_saved_demo_graph_lists_every_range_and_internal(digits_graph, tmp_path):
    save_graph(digits_graph, tmp_path / "a")
    doc = _assert_file_lists_everything(tmp_path / "a")
    assert sum(len(n["internals"]) for n in doc["nodes"]) > len(doc["nodes"])  # requantize alone has five
    loaded = load_graph(tmp_path / "a")
    assert loaded == digits_graph  # the export already is the analysed graph
    save_graph(loaded, tmp_path / "b")
    for f in (GRAPH_FILE, CONSTANTS_FILE):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def _width_table(graph) -> list[tuple[str, str, str, int, bool, Interval]]:
    """A renderer's per-node width table: (node, value, kind, bits, signed, proven range)."""
    rows = []
    for node in graph.nodes:
        out = graph.tensor(node.output)
        rows.append((node.name, node.output, "out", out.dtype.bits, out.dtype.signed, out.range))
        rows += [(node.name, key, "internal", s.dtype.bits, s.dtype.signed, s.range)
                 for key, s in node.internals.items()]
    return rows


def test_width_table_renders_from_a_loaded_graph_without_analysis(digits_graph, tmp_path, monkeypatch):
    save_graph(digits_graph, tmp_path / "g")
    verified = load_graph(tmp_path / "g")

    def no_analysis(*args, **kwargs):
        raise AssertionError("a renderer ran the range analysis")

    for module in ("ivit_hw.ir.analysis", "ivit_hw.ir.verify", "ivit_hw.ir.serialize", "ivit_hw.ir"):
        monkeypatch.setattr(sys.modules[module], "infer_ranges", no_analysis)
    stored = load_graph(tmp_path / "g", widths=False)  # the file as stored: no check, no analysis
    table = _width_table(stored)
    assert table == _width_table(verified)
    assert all(r[5] is not None for r in table)
    assert len(table) == len(stored.nodes) + sum(len(get_op(n.op).internals) for n in stored.nodes)
    text = cli.inspect_text(stored)
    for node, key, kind, bits, signed, rng in table:
        if kind == "internal":
            cells = [node, stored.node(node).op, key, str(bits), "yes" if signed else "no", str(rng)]
            assert any(line.split()[:6] == cells[:5] + [str(rng).split()[0]] for line in text.splitlines()), cells


def test_a_stored_internal_too_narrow_is_one_clear_error(tmp_path, capsys):
    save_graph(softmax_graph(), tmp_path / "g")
    path = tmp_path / "g" / GRAPH_FILE
    doc = yaml.safe_load(path.read_text())
    esum = doc["nodes"][0]["internals"]["esum"]
    assert esum["signed"] is False
    esum["bits"] = 16
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(IRError) as info:
        load_graph(tmp_path / "g")
    msg = str(info.value)
    assert "\n" not in msg and "node 'sm' internal 'esum'" in msg and "but u16 is declared" in msg
    assert cli.main(["inspect", str(tmp_path / "g")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "node 'sm' internal 'esum'" in err


def _requant_graph(identity: bool, rounding: str):
    """acc [6, 3] i20 per-channel m/e (one negative multiplier), optional i16 identity (ranges only:
    a negative multiplier makes a negative scale, which a requantize output may not carry)."""
    b = GraphBuilder("rq")
    acc = b.input("acc", (6, 3), IntType(20), 0.01, Interval(-(2**19), 2**19 - 1))
    m, e = ops.dyadic(np.array([0.01 / 0.5, -0.01 / 0.3, 0.01 / 0.7]))
    ins = {"acc": acc, "m": b.const("m", m, IntType(32)), "e": b.const("e", e, IntType(8, False))}
    if identity:
        ident = b.input("id", (6, 3), IntType(16), 0.02, Interval(-(2**15), 2**15 - 1))
        mi, ei = ops.dyadic(np.array([0.02 / 0.5, 0.02 / 0.3, 0.02 / 0.7]))
        ins.update(identity=ident, m_id=b.const("mi", mi, IntType(32)), e_id=b.const("ei", ei, IntType(8, False)))
    b.node("requantize", ins, "y", IntType(12), None, {"out_bits": 12, "rounding": rounding}, name="rq")
    return b.finish(["y"])


@pytest.mark.parametrize("identity", [False, True])
@pytest.mark.parametrize("rounding", ["half_even", "floor"])
def test_requantize_internals_hold_every_traced_value(identity, rounding):
    from ivit_hw.ir import infer_ranges

    g = infer_ranges(_requant_graph(identity, rounding))
    node = g.node("rq")
    rng = np.random.default_rng(1)
    acc = np.concatenate([np.full((1, 6, 3), -(2**19)), np.full((1, 6, 3), 2**19 - 1),
                          rng.integers(-(2**19), 2**19, (30, 6, 3))])
    inputs = {"acc": acc}
    if identity:
        inputs["id"] = np.concatenate([np.full((1, 6, 3), 2**15 - 1), np.full((1, 6, 3), -(2**15)),
                                       rng.integers(-(2**15), 2**15, (30, 6, 3))])
    res = run_graph(g, inputs, trace=True)
    assert {k.split("/")[1] for k in res.internals} == set(get_op("requantize").internals)
    for key, spec in node.internals.items():
        v = res.internals[f"rq/{key}"]
        lo, hi = int(np.min(v)), int(np.max(v))
        assert spec.range.lo <= lo and hi <= spec.range.hi, key
        assert spec.dtype.holds(Interval(lo, hi)), key
    # prod and y are exact per-channel hulls, reached by the all-lo and all-hi rows
    prod = res.internals["rq/prod"]
    assert (int(prod.min()), int(prod.max())) == (node.internals["prod"].range.lo, node.internals["prod"].range.hi)
    assert int(res.internals["rq/prod"][0, 0, 0]) == -(2**19) * int(g.constants["m"][0])  # acc * m, by hand
    if not identity:
        assert node.internals["y_id"].range == Interval(0, 0) and not res.internals["rq/y_id"].any()
    total = res.internals["rq/sum"]
    np.testing.assert_array_equal(np.clip(total, -2048, 2047), res.outputs["y"])  # out = clamp(sum)
