"""ivit_hw.ir.structure on the exported model graphs: consumers, blocks (embed,
attention, MLP, residual merges, head) and the head split/merge layout views,
each checked against facts of the model configuration and against the layout
kernels themselves (a view must address exactly the values the chain computes)."""

from __future__ import annotations

import numpy as np
import pytest

from ivit_hw.ir import get_op
from ivit_hw.ir.structure import BLOCK_KINDS, blocks, consumers, layout_views

pytest.importorskip("torch")

from ivit_hw.frontend.models import PRESETS  # noqa: E402


def _config(graph):
    return PRESETS[graph.meta["preset"]]


@pytest.fixture(params=["digits", "deit_tiny"])
def model_graph(request):
    return request.getfixturevalue(f"{request.param}_graph")


def test_consumers_lists_every_reader_once(model_graph):
    g = model_graph
    readers = consumers(g)
    assert set(readers) == set(g.tensors)
    for node in g.nodes:
        for tname in set(node.inputs.values()):
            assert readers[tname].count(node.name) == 1
    assert sum(len(v) for v in readers.values()) == sum(len(set(n.inputs.values())) for n in g.nodes)
    assert readers[g.outputs[1]] == [] and len(readers[g.outputs[0]]) == 1  # pred is read by nobody, logits by argmax
    order = {n.name: i for i, n in enumerate(g.nodes)}
    assert all(v == sorted(v, key=order.__getitem__) for v in readers.values())


def test_blocks_follow_the_transformer_layout(model_graph):
    g, cfg = model_graph, _config(model_graph)
    by_name = {n.name: n for n in g.nodes}
    found = blocks(g)
    assert [b.kind for b in found] == ["embed"] + ["attention", "residual", "mlp", "residual"] * cfg.depth + ["head"]
    assert {b.kind for b in found} <= set(BLOCK_KINDS)
    assert [n for b in found for n in b.nodes] == [n.name for n in g.nodes]  # each node once, in order
    assert len({b.name for b in found}) == len(found)
    stream = found[0].outputs
    assert len(stream) == 1
    for b in found[1:-1]:
        families = [get_op(by_name[n].op).family for n in b.nodes]
        if b.kind == "attention":
            assert families.count("softmax") == 1 and "gelu" not in families
            assert families.count("norm") == 1 and b.inputs == stream
        elif b.kind == "mlp":
            assert families.count("gelu") == 1 and "softmax" not in families
            assert families.count("norm") == 1 and b.inputs == stream
        else:  # the merge: one requantize adding the skip (the stream) to the branch output
            (merge,) = b.nodes
            node = by_name[merge]
            assert node.op == "requantize" and node.inputs["identity"] == stream[0]
            assert b.inputs == (node.inputs["acc"], stream[0])
            stream = b.outputs
    head = found[-1]
    assert head.inputs == stream and set(head.outputs) == set(g.outputs)


def _chain_values(g, view, x):
    """Run the view's layout nodes with their registry kernels on a batch of one sample."""
    by_name = {n.name: n for n in g.nodes}
    env = {view.source: x[None]}
    for name in view.nodes:
        node = by_name[name]
        env[node.output] = get_op(node.op).kernel({"x": env[node.inputs["x"]]}, node.attrs, None)
    return env[view.target][0]


def test_head_split_and_merge_are_strided_views(model_graph):
    g, cfg = model_graph, _config(model_graph)
    views = layout_views(g)
    heads, dim, tokens = cfg.num_heads, cfg.embed_dim, cfg.num_tokens
    hd = dim // heads
    splits = [v for v in views.values() if v.kind == "head_split"]
    merges = [v for v in views.values() if v.kind == "head_merge"]
    assert len(splits) == 3 * cfg.depth and len(merges) == cfg.depth
    for v in splits:
        assert (v.heads, v.tokens, v.head_dim) == (heads, tokens, hd)
        assert v.mode == "gather" and v.strides == (hd, 3 * dim, 1) and v.offset in (0, dim, 2 * dim)
        assert g.tensor(v.source).shape == (tokens, 3 * dim) and g.tensor(v.target).shape == (heads, tokens, hd)
    assert sorted(v.offset for v in splits) == sorted([0, dim, 2 * dim] * cfg.depth)
    rng = np.random.default_rng(0)
    for v in splits + merges:
        x = rng.integers(-128, 128, g.tensor(v.source).shape)
        want = _chain_values(g, v, x)
        grid = np.indices(want.shape if v.mode == "gather" else x.shape)
        flat = v.offset + sum(gk * s for gk, s in zip(grid, v.strides, strict=True))
        if v.mode == "gather":
            got = x.reshape(-1)[flat]
        else:
            got = np.empty(want.size, dtype=x.dtype)
            got[flat.reshape(-1)] = x.reshape(-1)
            got = got.reshape(want.shape)
            assert (v.heads, v.tokens, v.head_dim) == (heads, tokens, hd) and v.strides == (hd, dim, 1)
        np.testing.assert_array_equal(got, want)
    # every layout node of an attention block belongs to one of these views
    covered = {n for v in splits + merges for n in v.nodes}
    ops_of = {n.name: n.op for n in g.nodes}
    layout_in_attention = {n for b in blocks(g) if b.kind == "attention" for n in b.nodes
                           if get_op(ops_of[n]).family == "layout"}
    assert layout_in_attention == covered


def test_a_graph_without_residuals_is_one_block():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tiny_graphs import tiny_graph

    g = tiny_graph()
    (only,) = blocks(g)
    assert only.kind == "embed" and only.nodes == tuple(n.name for n in g.nodes)
    assert only.inputs == ("x",) and only.outputs == ("y",)
    view = layout_views(g)["t"]  # reshape [4, 6] -> [4, 2, 3], transpose (1, 0, 2): columns 3h..3h+2 of row i
    assert view.source == "fc.q" and view.mode == "gather" and view.strides == (3, 6, 1) and view.kind == "head_split"
