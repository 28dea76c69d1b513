"""The Verilog top's block RAM count: the plan's DP16KD count (manifest ``bram``) is what the rendered RTL
instantiates for ECP5, and ``budget:N`` keeps it under the part's block RAM.

The rendered files are read as yosys reads them for ECP5 (``IVIT_ECP5`` defined: the other branch of
each such ``ifdef`` dropped) and the blocks counted from the text alone: ``ivit_rom18`` and ``ivit_bram``
instances, ``ivit_fifo`` instances by the generate condition and column widths written in
``lib/ivit_fifo.v`` (their parameters resolved from the literals and localparams of the file), and
inferred memories marked ``ram_style = "block"`` (as ``ivit_bram`` tiles of their declared size).
No simulation; the small tops of ``top_graphs`` and the digits model's block top at ``budget:156``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from top_graphs import TOP_GRAPHS

from ivit_hw.codegen.verilog.top_render import write_top
from ivit_hw.hwplan.memory import LUTRAM_MAX_BITS
from ivit_hw.ir.types import IRError

FIFO = re.compile(r"ivit_fifo #\(\.W\(([^)]*)\), \.AW\(([^)]*)\)\)")
BLOCK_MEM = re.compile(r'\(\* ram_style = "block"[^*]*\*\)\s*reg (?:signed )?\[(\d+):0\] \w+ \[0:(\d+)\];')
LOCALPARAM = re.compile(r"localparam (\w+) = (\d+);")


def ecp5_text(text: str) -> str:
    """``text`` with ``ifdef IVIT_ECP5`` resolved as defined (other macros' branches kept whole)."""
    out, stack = [], []  # stack: per open ifdef, (is IVIT_ECP5, in its else branch)
    for line in text.splitlines():
        s = line.strip()
        if s.startswith(("`ifdef", "`ifndef")):
            stack.append((s.split()[1] == "IVIT_ECP5", False))
            if not stack[-1][0]:
                out.append(line)
            continue
        if s.startswith("`else") and stack:
            stack[-1] = (stack[-1][0], True)
            if not stack[-1][0]:
                out.append(line)
            continue
        if s.startswith("`endif") and stack:
            if not stack.pop()[0]:
                out.append(line)
            continue
        if not any(ecp5 and in_else for ecp5, in_else in stack):
            out.append(line)
    return "\n".join(out)


def _fifo_rule(lib: str) -> int:
    """The LUT-RAM limit ``ivit_fifo`` compares W << AW with (its parameter's default)."""
    return int(re.search(r"parameter LUTRAM_BITS = (\d+)", lib).group(1))


def _fifo_blocks(w: int, aw: int, limit: int) -> int:
    if not (aw <= 12 and (w << aw) > limit):
        return 0
    return -(-w // (18 if aw <= 10 else 9 if aw == 11 else 4))


def _tile_blocks(w: int, words: int) -> int:
    """DP16KD blocks of ``words`` words of ``w`` bits as ivit_bram tiles (4096 x 4, 2048 x 9, 1024 x 18)."""
    dw, depth = (4, 4096) if w <= 4 else (9, 2048) if w <= 9 else (18, 1024)
    return -(-w // dw) * -(-words // depth)


def counted(folder: Path) -> int:
    """DP16KD blocks in the rendered RTL of ``folder`` (see the module docstring)."""
    rtl = folder / "rtl"
    limit = _fifo_rule((rtl / "ivit_fifo.v").read_text())
    n = 0
    for f in sorted(rtl.glob("*.v")):
        if f.name in ("ivit_fifo.v", "ivit_sfifo.v", "ivit_skid.v", "ivit_mul18.v"):
            continue
        text = ecp5_text(f.read_text())
        params = {k: int(v) for k, v in LOCALPARAM.findall(text)}
        n += len(re.findall(r"^\s*ivit_rom18 #\(", text, re.M)) + len(re.findall(r"^\s*ivit_bram #\(", text, re.M))
        for w, aw in FIFO.findall(text):
            n += _fifo_blocks(eval(w, {}, dict(params)), eval(aw, {}, dict(params)), limit)  # noqa: S307
        n += sum(_tile_blocks(int(hi) + 1, int(last) + 1) for hi, last in BLOCK_MEM.findall(text))
    return n


@pytest.mark.parametrize("name,par", [("patch_matmul", "4"), ("attn_residual", "1"), ("cls_concat", "2")])
def test_plan_counts_the_block_rams_of_small_tops(tmp_path, name, par):
    man = write_top(TOP_GRAPHS[name](), tmp_path, "model", par, None, 1)
    assert man["bram"] == counted(tmp_path)
    assert man["bram"] == man["bram_top"] + sum(r["bram"] for r in man["layers"])


def test_fifo_limit_is_the_plans():
    lib = (Path(__file__).resolve().parents[1] / "ivit_hw/templates/verilog/lib/ivit_fifo.v").read_text()
    assert _fifo_rule(lib) == LUTRAM_MAX_BITS


def test_ecp5_text_drops_the_other_branch():
    text = "a\n`ifdef IVIT_ECP5\nb\n`ifdef IVIT_TRACE\nc\n`endif\n`else\nd\n`endif\ne"
    assert ecp5_text(text).split() == ["a", "b", "`ifdef", "IVIT_TRACE", "c", "`endif", "e"]


@pytest.fixture(scope="module")
def digits17():
    pytest.importorskip("torch")
    from ivit_hw.frontend.qconfig import QuantConfig
    from ivit_hw.frontend.synthetic import synthetic_graph

    return synthetic_graph("vit_digits", cfg=QuantConfig(dyadic_bits=17))


@pytest.mark.parametrize("top,par", [("block:blocks.0", "budget:156"), ("model", "budget:156")])
def test_plan_counts_the_block_rams_of_digits_tops(tmp_path, digits17, top, par):
    man = write_top(digits17, tmp_path, top, par, None, 1)
    n = counted(tmp_path)
    assert man["bram"] == n
    assert n > 0
    if top == "model":  # the whole model fits the 85k's 208 DP16KD with the router's headroom
        assert n <= man["bram_limit"] < 208


def test_budget_refuses_what_the_block_ram_cannot_hold(tmp_path, digits17):
    with pytest.raises(IRError, match="block RAM"):
        write_top(digits17, tmp_path, "model", "budget:156:ecp5-25k", None, 1)
