"""graph.yaml + constants.npz: byte-exact round trips, atomic writes, and one clear
error naming the culprit for every kind of broken folder."""

from __future__ import annotations

import dataclasses
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from ivit_hw.ir import IRError
from ivit_hw.ir.serialize import CONSTANTS_FILE, GRAPH_FILE, ZIP_DATE, graph_to_yaml, load_graph, save_graph
from ivit_hw.ir.verify import verify

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/tiny_graphs.py
from tiny_graphs import BROKEN, softmax_graph, tiny_graph  # noqa: E402


def _bytes(folder):
    return (folder / GRAPH_FILE).read_bytes(), (folder / CONSTANTS_FILE).read_bytes()


@pytest.mark.parametrize("analysed", [False, True], ids=["as-built", "analysed"])
def test_save_load_save_is_byte_identical(tmp_path, analysed):
    g = tiny_graph()
    g = verify(g) if analysed else g
    save_graph(g, tmp_path / "a")
    loaded = load_graph(tmp_path / "a")
    save_graph(loaded, tmp_path / "b")
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")


def test_graph_with_internals_round_trips(tmp_path):
    g = verify(softmax_graph())
    save_graph(g, tmp_path / "a")
    loaded = load_graph(tmp_path / "a")
    assert loaded.nodes[0].internals == g.nodes[0].internals
    save_graph(loaded, tmp_path / "b")
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")


def test_loaded_graph_equals_saved_graph(tmp_path):
    g = verify(tiny_graph())
    save_graph(g, tmp_path / "g")
    h = load_graph(tmp_path / "g")
    assert h == g
    assert all(v.dtype == np.int64 for v in h.constants.values())
    changed = dict(h.constants, **{"fc.bias": h.constants["fc.bias"] + 1})
    assert dataclasses.replace(h, constants=changed) != g


def test_two_saves_are_identical_and_zip_has_fixed_dates(tmp_path):
    save_graph(tiny_graph(), tmp_path / "a")
    save_graph(tiny_graph(), tmp_path / "b")
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
    with zipfile.ZipFile(tmp_path / "a" / CONSTANTS_FILE) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == sorted(i.filename for i in infos)
        assert all(i.date_time == ZIP_DATE for i in infos)


def test_floats_round_trip_exactly(tmp_path):
    g = tiny_graph()
    awkward = (0.1 + 0.2, 1e-300, 5e-324, 2.0**-15, 1 / 3, 123456789.123456789)
    x = dataclasses.replace(g.tensors["fc.acc"], scale=awkward)
    x = dataclasses.replace(x, shape=(4, 6))
    tensors = {**g.tensors, "fc.acc": x, "y": dataclasses.replace(g.tensors["y"], scale=7e22)}
    g = dataclasses.replace(g, tensors=tensors, meta={"ratio": 0.1 + 0.2, "tiny": 5e-324})
    save_graph(g, tmp_path / "g")
    h = load_graph(tmp_path / "g", widths=False)
    assert h.tensors["fc.acc"].scale == awkward
    assert h.tensors["y"].scale == 7e22
    assert h.meta == {"ratio": 0.1 + 0.2, "tiny": 5e-324}


def test_constants_use_the_smallest_dtype(tmp_path):
    save_graph(tiny_graph(), tmp_path / "g")
    with np.load(tmp_path / "g" / CONSTANTS_FILE) as npz:
        dtypes = {k: npz[k].dtype for k in npz.files}
    assert dtypes["fc.weight"] == np.int8
    assert dtypes["fc.q.e"] == np.int8  # 38..39: int8 is the first that holds it
    assert dtypes["fc.q.m"] == np.int32
    assert dtypes["fc.bias"] == np.int16
    assert npz_shape(tmp_path / "g", "y.m") == ()


def npz_shape(folder, key):
    with np.load(folder / CONSTANTS_FILE) as npz:
        return npz[key].shape


def test_yaml_is_readable_block_style(tmp_path):
    text = graph_to_yaml(tiny_graph())
    assert text.startswith("ivit_hw_ir: 1\nname: tiny\n")
    doc = yaml.safe_load(text)
    assert list(doc) == ["ivit_hw_ir", "name", "inputs", "outputs", "meta", "tensors", "nodes"]
    assert list(doc["tensors"]["x"]) == ["shape", "bits", "signed", "scale", "range", "const"]
    assert list(doc["nodes"][0]) == ["name", "op", "inputs", "output", "attrs", "internals"]
    assert "  x:\n    shape: [4, 8]\n    bits: 8\n" in text
    assert "inputs: {x: x, weight: fc.weight, bias: fc.bias}" in text
    assert "&" not in text and "*" not in text  # no YAML anchors/aliases


def test_defaulted_attributes_may_be_omitted(tmp_path):
    save_graph(tiny_graph(), tmp_path / "g")
    path = tmp_path / "g" / GRAPH_FILE
    doc = yaml.safe_load(path.read_text())
    del doc["nodes"][1]["attrs"]["rounding"]
    del doc["nodes"][0]["attrs"], doc["nodes"][0]["internals"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    g = load_graph(tmp_path / "g")
    assert g.nodes[1].attrs == {"out_bits": 8, "rounding": "half_even"}


def test_save_replaces_an_existing_graph_folder(tmp_path):
    save_graph(tiny_graph(0), tmp_path / "g")
    save_graph(tiny_graph(1), tmp_path / "g")
    h = load_graph(tmp_path / "g")
    np.testing.assert_array_equal(h.constants["fc.weight"], tiny_graph(1).constants["fc.weight"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g"]  # no temporary left behind


def test_save_refuses_to_replace_an_unrelated_folder(tmp_path):
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "notes.txt").write_text("mine")
    with pytest.raises(IRError, match="refusing to replace"):
        save_graph(tiny_graph(), tmp_path / "g")
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["notes.txt"]


def test_save_of_a_broken_graph_writes_nothing(tmp_path):
    g = tiny_graph()
    bad = dataclasses.replace(g, nodes=(dataclasses.replace(g.nodes[0], op="nope"),) + g.nodes[1:])
    with pytest.raises(IRError, match="node 'fc.acc': unknown op 'nope'"):
        save_graph(bad, tmp_path / "out" / "g")
    assert not (tmp_path / "out").exists()


def test_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("ivit_hw.ir.serialize.npz_bytes", boom)
    with pytest.raises(OSError):
        save_graph(tiny_graph(), tmp_path / "g")
    assert list(tmp_path.iterdir()) == []


def test_load_of_a_missing_folder(tmp_path):
    with pytest.raises(IRError, match="no such graph folder"):
        load_graph(tmp_path / "nope")


@pytest.mark.parametrize("edit, expect", [(c[1], c[2]) for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_folder_gives_one_clear_error(tmp_path, edit, expect):
    folder = tmp_path / "g"
    save_graph(tiny_graph(), folder)
    edit(folder)
    with pytest.raises(IRError) as info:
        load_graph(folder)
    msg = str(info.value)
    assert "\n" not in msg, msg  # exactly one problem, on one line
    assert msg.startswith(str(folder) + ": ")
    for part in expect:
        assert part in msg, msg


def test_every_problem_is_reported_at_once(tmp_path):
    folder = tmp_path / "g"
    save_graph(tiny_graph(), folder)
    path = folder / GRAPH_FILE
    doc = yaml.safe_load(path.read_text())
    doc["tensors"]["x"]["scale"] = -1.0
    doc["nodes"][1]["attrs"]["out_bits"] = "eight"
    doc["nodes"][2]["op"] = "reshap"
    doc["nodes"][3]["inputs"]["x"] = "missing_tensor"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(IRError) as info:
        load_graph(folder)
    msg = str(info.value)
    assert "4 problems" in msg
    for part in ("tensor 'x'", "node 'fc.q'", "unknown op 'reshap'", "'missing_tensor' is not a defined tensor"):
        assert part in msg


def test_schema_problems_are_all_reported(tmp_path):
    folder = tmp_path / "g"
    save_graph(tiny_graph(), folder)
    path = folder / GRAPH_FILE
    doc = yaml.safe_load(path.read_text())
    doc["tensors"]["x"]["bits"] = 99
    doc["tensors"]["fc.acc"]["colour"] = 1
    del doc["nodes"][0]["op"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    (folder / CONSTANTS_FILE).unlink()
    with pytest.raises(IRError) as info:
        load_graph(folder)
    msg = str(info.value)
    assert "4 problems" in msg
    for part in ("constants.npz is missing", "tensor 'x'", "tensor 'fc.acc'", "node 'fc.acc': missing key(s) ['op']"):
        assert part in msg


def test_stale_recorded_range_is_reported(tmp_path):
    g = verify(tiny_graph())
    stale = dataclasses.replace(g.tensors["fc.acc"], range=g.tensors["fc.acc"].range.__class__(0, 1))
    save_graph(dataclasses.replace(g, tensors={**g.tensors, "fc.acc": stale}), tmp_path / "g", check=False)
    with pytest.raises(IRError, match="tensor 'fc.acc': recorded range \\[0, 1\\] differs from the proven range"):
        load_graph(tmp_path / "g")
    assert load_graph(tmp_path / "g", widths=False).tensors["fc.acc"].range.hi == 1


def test_width_violations_are_skipped_on_request(tmp_path):
    g = tiny_graph()
    narrow = dataclasses.replace(g.tensors["fc.acc"], dtype=g.tensors["fc.acc"].dtype.__class__(16))
    save_graph(dataclasses.replace(g, tensors={**g.tensors, "fc.acc": narrow}), tmp_path / "g")
    with pytest.raises(IRError, match="needs i18"):
        load_graph(tmp_path / "g")
    assert load_graph(tmp_path / "g", widths=False).tensors["fc.acc"].dtype.bits == 16
