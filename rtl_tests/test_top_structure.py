"""Timing structure of the rendered top that the ECP5 clock relies on (issue 15), checked on the text.

No simulation: the small ``patch_matmul`` top (patch_embed, requantize units, buffered views, both
matmul forms) and ``linear_extremes`` (13 lanes: an odd adder tree) are rendered and read back.
- no ready path spans two units: every element-wise unit (ready combinational from its output's)
  drives a register slice, and a buffer view's read issue never looks at its consumer's ready;
- the GEMM engine multiplies in registered multipliers and sums at most two terms per register.
The bit-exactness of the same RTL under stalls is ``test_top_cocotb.py``'s.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from top_graphs import TOP_GRAPHS

from ivit_hw.codegen.verilog.top_render import write_top

INST = re.compile(r"^\s*(\w+) (u\d+) \((.*?)\);", re.M | re.S)


def _render(tmp_path: Path, name: str, par: str) -> tuple[str, dict[str, str]]:
    write_top(TOP_GRAPHS[name](), tmp_path, "model", par, None, 1)
    rtl = tmp_path / "rtl"
    modules = {p.stem: p.read_text() for p in rtl.glob("*.v")}
    return modules.pop("ivit_top"), modules


def _port(conns: str, port: str) -> str:
    m = re.search(rf"\.{port}\((\w+)\)", conns)
    assert m, f"port {port} not connected in {conns!r}"
    return m.group(1)


def _stalled(text: str) -> bool:
    """An element-wise unit of the stalled form (one stall enable; no output FIFO)."""
    return "Element-wise pipeline" in text and "fifo_o" not in text


def _on_credit(text: str) -> bool:
    """An element-wise unit of the credit form (free-running pipeline, output FIFO)."""
    return "Element-wise pipeline" in text and "fifo_o" in text


@pytest.mark.parametrize("kind,is_kind,count", [("element-wise, stalled", _stalled, 1),  # s.q (pe.q is on credit)
                                                ("GEMM", lambda text: "GEMM engine for node" in text, 3)])  # pe, s, o
def test_units_and_engines_drive_a_register_slice(tmp_path, kind, is_kind, count):
    """Stalled element-wise units (ready combinational from their output's) and GEMM engines (whose queue
    pop and issue credit a consumer's ready would reach: the routed critical path after the fork slices)
    drive a register slice."""
    top, modules = _render(tmp_path, "patch_matmul", "4")
    marked = {name for name, text in modules.items() if is_kind(text)}
    insts = [(mod, conns) for mod, _, conns in INST.findall(top) if mod in marked]
    assert len(insts) == count, kind
    for mod, conns in insts:
        ready = _port(conns, "y_TREADY")
        # the net is the in_ready output of an ivit_skid (a register), nothing else drives it
        skid = re.search(rf"ivit_skid #\(\.W\(\d+\)\) \w+ \((?:(?!\);).)*\.in_ready\({ready}\)", top, re.S)
        assert skid, f"{mod}: y_TREADY ({ready}) is not a register slice's in_ready"
        assert not re.search(rf"assign {ready}\b", top), f"{mod}: {ready} is also assigned"


def test_buffer_reads_issue_on_credits(tmp_path):
    top, _ = _render(tmp_path, "patch_matmul", "4")
    issues = re.findall(r"assign (r\d+_\d+)_adv = (.*?);", top)
    assert len(issues) >= 2  # the two views of t
    for reader, expr in issues:
        assert not re.search(r"\bs\d+_r\b", expr), f"{reader}: read issue waits on a consumer's ready: {expr}"
        assert f"{reader}_q_room" in expr
        # a synchronous read (block RAM), at {bank, address}: no adder in the read address
        assert re.search(rf"wire \[\d+:0\] {reader}_ra = \{{b\d+_rb, {reader}_addr\}};", top)
        assert re.search(rf"if \({reader}_adv\) {reader}_d1 <= {reader}_mem\[{reader}_ra\];", top)


@pytest.mark.parametrize("name,par,lanes", [("patch_matmul", "4", 4), ("linear_extremes", "13", 13),
                                            ("patch_matmul", "1", 1)])
def test_gemm_products_registered_and_tree_two_terms_per_level(tmp_path, name, par, lanes):
    _, modules = _render(tmp_path, name, par)
    gemms = {n: t for n, t in modules.items() if "GEMM engine for node" in t}
    assert gemms
    for n, text in gemms.items():
        code = "\n".join(line.split("//")[0] for line in text.splitlines())
        assert " * " not in code, f"{n}: a combinational product in the fabric"
        p = min(lanes, int(re.search(r"P = (\d+) multiply", text).group(1)))
        assert len(re.findall(r"^\s*ivit_mul18 mul\d+ ", code, re.M)) == p
        tree = re.findall(r"always @\(posedge clk\) (t\d+_\d+) <= (.*?);", code)
        regs, left = 0, p  # a binary tree, an odd term passed on in a register of its own
        while left > 1:
            left = (left + 1) // 2
            regs += left
        regs = max(regs, 1)  # one lane: its product still lands in a register before the accumulator
        assert len(tree) == regs, f"{n}: {len(tree)} tree registers for {p} lanes"
        for reg, expr in tree:
            terms = set(re.findall(r"\b(?:p|t\d+)_\d+\b", expr))
            assert len(terms) <= 2 and expr.count(" + ") <= 1, f"{n}: {reg} <= {expr}"


def test_join_skip_input_through_a_register_slice(tmp_path):
    """A residual join (a requantize with an identity input) takes its skip input from a register slice:
    the unit's identity ready (combinational from its acc input's valid, the GEMM queue's) drives only
    the slice's registers, never the skip FIFO's read enables (the routed critical path before)."""
    top, modules = _render(tmp_path, "attn_residual", "4")
    joins = [(mod, conns) for mod, _, conns in INST.findall(top) if ".identity_TREADY(" in conns]
    assert len(joins) == 1  # res
    for mod, conns in joins:
        valid = _port(conns, "identity_TVALID")
        skid = re.search(rf"ivit_skid #\(\.W\(\d+\)\) \w+ \((?:(?!\);).)*\.out_valid\({valid}\), "
                         rf"\.out_ready\((\w+)\)\);", top, re.S)
        assert skid, f"{mod}: identity input ({valid}) is not a register slice's output"
        ready = skid.group(1)
        # driven once: by the top's recomputed enable (a stalled unit) or by the unit's own port (on credit)
        drivers = len(re.findall(rf"assign {ready} = ", top)) + (_port(conns, "identity_TREADY") == ready)
        assert drivers == 1, f"{mod}: {ready} has {drivers} drivers"
        # the join slice reads the skip FIFO's branch (through stream aliases)
        src_valid = re.search(r"\.in_valid\((\w+)\)", skid.group(0)).group(1)
        assert src_valid in _fork_outputs(top), f"{mod}: the identity slice does not read a fork branch"


def _fork_outputs(top: str) -> dict[str, str]:
    """Valid net of each fork branch's FIFO (resolved through stream aliases) -> that FIFO."""
    outs = {}
    fifo_out = r"ivit_fifo #\(\.W\(\d+\), \.AW\(\d+\)\) (f\d+_\d+) \((?:(?!\);).)*\.out_valid\((\w+)\)"
    for fifo in re.finditer(fifo_out, top, re.S):
        outs[fifo.group(2)] = fifo.group(1)
    aliases = dict(re.findall(r"assign (s\d+_v) = (s\d+_v);", top))
    return {**outs, **{b: outs[a] for b, a in aliases.items() if a in outs}}


def test_fork_branches_on_credits(tmp_path):
    """A fork takes a word when every branch has credit (a registered room flag per branch beside the
    source), so no branch's ready reaches the source or another branch (the whole top's routed critical path
    was the AND of the branch slices' readies, 5.3 ns from a far branch); each branch FIFO is written from
    registers (its push and word, a clock after the take) and returns its pops a clock late; its read side
    is ``ivit_fifo``'s own output slice (a far consumer's ready never reaches the FIFO's read enables: 6.45
    ns of routing into a DP16KD CEB before)."""
    from ivit_hw.codegen.verilog.render import template_dir

    lib = "\n".join(line.split("//")[0] for line in (template_dir() / "lib" / "ivit_fifo.v").read_text().splitlines())
    # the output is slice s3's (in LUT-RAM) or, in block RAM, a second slice s4's after it
    assert re.search(r"ivit_skid #\(\.W\(W\)\) s3 \((?:(?!\);).)*\.out_data\(s3_data\), \.out_valid\(s3_valid\), "
                     r"\.out_ready\(s3_out_ready\)\);", lib, re.S), "ivit_fifo's output is not its register slice's"
    assert re.search(r"ivit_skid #\(\.W\(W\)\) s4 \(\.clk\(clk\), \.rst\(rst\), \.in_data\(s3_data\), "
                     r"\.in_valid\(s3_valid\),\s*\.in_ready\(s3_out_ready\), \.out_data\(out_data\), "
                     r"\.out_valid\(out_valid\), \.out_ready\(out_ready\)\);", lib, re.S), "no second slice (block RAM)"
    assert "assign s3_out_ready = out_ready;" in lib
    # its declaration, the port names of s3 and s4, s4's connection and s3's in the LUT-RAM form: nothing else
    assert len(re.findall(r"\bout_ready\b", lib)) == 5, "out_ready reaches more than the output slices"
    top, _ = _render(tmp_path, "attn_residual", "4")
    fifos = re.findall(r"ivit_fifo #\(\.W\(\d+\), \.AW\((\d+)\)\) ((f\d+)_\d+) \(\s*\.clk\(clk\), \.rst\(rst\), "
                       r"\.in_data\((\w+)\), \.in_valid\((\w+)\),\s*\.in_ready\((\w+)\), \.out_data\(\w+\), "
                       r"\.out_valid\((\w+)\), \.out_ready\((\w+)\)\);", top, re.S)
    assert len(fifos) == 2  # the skip and the short branch into qkv
    for aw, fp, f, data, valid, in_ready, out_valid, out_ready in fifos:
        assert (data, valid) == (f"{fp}_pd", f"{fp}_pv"), fp
        assert re.search(rf"{fp}_pv <= !rst && {f}_take;", top) and re.search(rf"{fp}_pd <= \{{s\d+_l, s\d+_d\}};", top)
        assert len(re.findall(rf"\b{in_ready}\b", top)) == 2, f"{fp}: its FIFO's in_ready is read"
        # the pop returns through a register into the branch's credit; its room is a register
        assert f"assign {fp}_pop = {out_valid} && {out_ready};" in top
        assert re.search(rf"{fp}_popq <= !rst && {fp}_pop;", top), fp
        assert re.search(rf"else if \(!\({f}_take\) && \({fp}_popq\)\) {fp}_c_cred <=", top), fp
        assert re.search(rf"{fp}_c_room <= \({fp}_c_cred < {int(aw) + 1}'d{2 ** int(aw) - 1}\);", top), fp
        # read by the branch's consumer itself: no slice between
        assert re.fullmatch(r"s\d+_v", out_valid) and out_ready == out_valid[:-1] + "r", fp
    for f in {fork for _, _, fork, *_ in fifos}:
        take = re.search(rf"assign {f}_take = (s\d+)_v && (s\d+)_r;", top)
        assert take and take.group(1) == take.group(2), f
        rooms = re.search(rf"assign {take.group(1)}_r = (.*?);", top).group(1).split(" && ")
        assert rooms and all(re.fullmatch(rf"{f}_\d+_c_room", r) for r in rooms), f"{f}: source ready {rooms}"


@pytest.mark.parametrize("par,div", [("1", "ivit_stagediv #(.NW(31), .DW(31), .SW(36), .B(8), .LEAD(9))"),
                                     ("4", "ivit_stagediv #(.NW(31), .DW(31), .SW(36), .B(2), .LEAD(9))"),
                                     ("12", "ivit_pipediv #(.NW(31), .DW(31), .SW(36))")])
def test_gelu_divider_matches_its_feed(tmp_path, par, div):
    """Rate matching: fc1 (K = 12) emits one element every ceil(12 / P) clocks, 768 / 192 / 64 clocks per
    image at P = 1 / 4 / 12; the GELU's 64 elements may then take 8 * 768 // (9 * 64) = 10 (8 bits per
    stage: 4 stages of 8), 2 and 1 clocks each (the B = 1 form is the one-element-per-clock pipediv)."""
    _, modules = _render(tmp_path, "linear_gelu", par)
    assert div in modules["ivit_gelu"]
    assert modules["ivit_gelu"].count("elem_div (") == 1


@pytest.mark.parametrize("par,spread,mean,row", [("1", 3, 1, 1), ("12", 25, 2, 3)])
def test_row_engines_match_their_feed(tmp_path, par, spread, mean, row):
    """At P = 1 fc (K = 12) takes 768 clocks per image, so the LayerNorm's and the Shiftmax's 64 elements
    may take 8 * 768 // (9 * 64) = 10 clocks each: rows of 16 every 160 clocks. The spread work (11
    divisions of 34 clocks, + 4 + 7 hand-over: 385 clocks a row) then needs 3 engines, the mean and the
    row division one each; at P = 12 (one element a clock, rows every 16 clocks) 25, 2 and 3."""
    _, modules = _render(tmp_path, "linear_norm_softmax", par)
    assert modules["ivit_ln"].count("ivit_ln_sp spread") == spread
    assert f"ivit_rrdiv #(.NW(12), .DW(5), .R(1), .K({mean}), .SW(1)) mean_div" in modules["ivit_ln"]
    assert f"ivit_rrdiv #(.NW(31), .DW(31), .R(1), .K({row}), .SW(1)) row_div" in modules["ivit_sm"]


@pytest.mark.parametrize("name,par", [("patch_matmul", "4"), ("linear_extremes", "13")])
def test_gemm_credit_returns_from_a_registered_pop(tmp_path, name, par):
    """The GEMM's issue credit comes back from the pop a clock late (a register), never from the queue's
    valid and ready in the same clock: the routed critical path of the block top ran from the output
    queue's count through ``y_fire`` into the credit counter (the two sit apart in one engine)."""
    _, modules = _render(tmp_path, name, par)
    gemms = {n: t for n, t in modules.items() if "GEMM engine for node" in t}
    assert gemms
    for n, text in gemms.items():
        code = "\n".join(line.split("//")[0] for line in text.splitlines())
        conds = re.findall(r"if \(([^;]*?)\) credit <= credit", code)
        assert len(conds) == 2, f"{n}: {conds}"
        for cond in conds:
            assert not re.search(r"\by_fire\b", cond), f"{n}: credit on the pop of this clock: {cond}"
            assert re.search(r"\by_fired\b", cond), f"{n}: credit not on the registered pop: {cond}"
        assert re.search(r"y_fired <= y_fire;", code), f"{n}: y_fired is not the pop registered"
        # the queue holds the longer loop: more words than depth + 4 clocks
        depth = int(re.search(r"Pipeline \((\d+) clocks from issue", text).group(1))
        aw = int(re.search(r"ivit_sfifo #\(\.W\(\d+\), \.AW\((\d+)\)\) q ", code).group(1))
        assert 2 ** aw > depth + 4, f"{n}: a queue of {2 ** aw} words for a {depth}-clock datapath"


def test_constant_streams_issue_on_credits(tmp_path):
    """A constant stream (position embedding, class token) reads its ROM on credits into a queue: the
    consumer's ready reaches only the queue (not the ROM's read enable or address), and the ROM's output
    (a DP16KD's 5.8 ns clock-to-output without its output register) only a register."""
    top, _ = _render(tmp_path, "cls_concat", "2")
    consts = re.findall(r"// constant (\w+):", top)
    assert sorted(consts) == ["cls", "pos"]
    issues = re.findall(r"assign (c\d+)_adv = (.*?);", top)
    assert len(issues) == 2
    for cp, expr in issues:
        assert expr == f"{cp}_q_room", f"{cp}: issue waits on more than its credit: {expr}"
        # the consumer's ready: only at the queue's output (its out_ready, the pop that returns a credit)
        before_queue = [line for line in top.splitlines() if f"{cp}_" in line
                        and ".out_ready(" not in line and f"assign {cp}_pop" not in line]
        assert not any(re.search(r"\bs\d+_r\b", line) for line in before_queue), f"{cp}: a ready before the queue"
        assert re.search(rf"{cp}_d1 <= {cp}_rom\[{cp}_a\];", top) and re.search(rf"{cp}_d2r <= {cp}_d1;", top)
        assert re.search(rf"\.in_data\(\{{{cp}_l2, {cp}_d2\}}\), \.in_valid\({cp}_v2\)", top)


@pytest.mark.parametrize("name", ["attn_residual", "patch_matmul"])
def test_logic_estimate_counts_every_register_slice(tmp_path, name):
    """The plan's logic estimate counts the register slices the template renders (their W's read back from
    the text), so a plan that fits the part on paper fits it with its slices."""
    from ivit_hw.codegen.verilog.top import build_top, slice_widths
    from ivit_hw.codegen.verilog.top_render import select

    top, _ = _render(tmp_path, name, "4")
    rendered = sorted(int(w) for w in re.findall(r"ivit_skid #\(\.W\((\d+)\)\)", top))
    graph = TOP_GRAPHS[name]()
    sel = select(graph, "model")
    view, _, _ = build_top(graph, list(sel.nodes), sel.inputs, sel.outputs, lambda n: 4, "ivit_top", "t")
    assert rendered and sorted(slice_widths(view["insts"]) + view["io_slice_widths"]) == rendered


@pytest.mark.parametrize("name,par", [("patch_matmul", "4"), ("linear_extremes", "13")])
def test_gemm_operands_reach_the_multiplier_through_registers(tmp_path, name, par):
    """Each lane's operands travel from the lane reads (block RAM outputs, the weight ROM's tile select) to
    the multiplier through OPERAND_CLOCKS fabric registers: the whole digits top's routed critical path was
    one hop from a weight ROM to a multiplier the placer had put across the die (7.5 ns of routing)."""
    from ivit_hw.codegen.verilog.gemm import OPERAND_CLOCKS

    assert OPERAND_CLOCKS >= 2
    _, modules = _render(tmp_path, name, par)
    gemms = {n: t for n, t in modules.items() if "GEMM engine for node" in t}
    for n, text in gemms.items():
        code = "\n".join(line.split("//")[0] for line in text.splitlines())
        lanes = len(re.findall(r"^\s*ivit_mul18 mul\d+ ", code, re.M))
        assert lanes
        for lane in range(lanes):
            for op in "ab":
                chain = [f"k_{op}{lane}"] + [f"o{c}_{op}{lane}" for c in range(1, OPERAND_CLOCKS + 1)]
                for src, dst in zip(chain, chain[1:], strict=False):
                    assert re.search(rf"\b{dst} <= {src};", code), f"{n}: {dst} <= {src} missing"
                assert re.search(rf"wire signed \[\d+:0\] m_{op}{lane} = {chain[-1]};", code), f"{n}: m_{op}{lane}"
            # the multiplier's operands are those registers' (sign-extended), nothing else
            mul = re.search(rf"ivit_mul18 mul{lane} \((.*?)\);", code).group(1)
            assert re.search(rf"\.a\((?:\{{\{{\d+\{{m_a{lane}\[\d+\]\}}\}}, )?m_a{lane}\}}?\)", mul), mul


def test_ports_pass_register_slices(tmp_path):
    """x and y pass IO_SLICES register slices each between the port and the engines: the whole top's routed
    critical path was the output slice's own ready-to-data select stretched between the logits unit and the
    output pins (14.6 ns of routing)."""
    from ivit_hw.codegen.verilog.top import IO_SLICES

    top, _ = _render(tmp_path, "cls_concat", "2")
    for port, p in (("x", "xi"), ("y", "yo")):
        chain = re.findall(rf"ivit_skid #\(\.W\(\d+\)\) {p}(\d+)_s \(", top)
        assert [int(k) for k in chain] == list(range(IO_SLICES)), port
    assert "assign x_TREADY = xi0_r;" in top and f"assign y_TVALID = yo{IO_SLICES}_v;" in top
    assert f"assign yo{IO_SLICES}_r = y_TREADY;" in top


def test_stream_filters_end_in_a_register_slice(tmp_path):
    """A stream filter (a view whose addresses only increase) hands its kept elements to a register slice:
    the whole top's routed critical path ran from the class-token filter's position counter through its
    ``done`` compare and valid into the final LayerNorm's row-sum FIFO enable (10.6 ns)."""
    top, _ = _render(tmp_path, "cls_slice", "2")
    filters = re.findall(r"wire (v\d+)_hit = ", top)
    assert filters, "cls_slice renders no stream filter"
    for v in filters:
        skid = re.search(rf"ivit_skid #\(\.W\(\d+\)\) {v}_s \((?:(?!\);).)*\.out_valid\((s\d+_v)\), "
                         rf"\.out_ready\((s\d+_r)\)\);", top, re.S)
        assert skid, f"{v}: the filter's output is not a register slice's"
        valid, ready = skid.group(1), skid.group(2)
        assert not re.search(rf"assign {valid}\b", top), f"{v}: {valid} is also assigned"
        # the consumer's ready reaches only the slice, never the filter's counters
        for expr in re.findall(rf"(?:wire|assign) {v}_\w+ = (.*?);", top):
            assert ready not in re.findall(r"\bs\d+_r\b", expr), f"{v}: {ready} reaches {expr}"


def test_element_wise_readies_from_registers_in_the_top(tmp_path):
    """An element-wise unit's inputs are ready when its stall enable is high (and, joining two streams, the
    other input is valid): the top recomputes that enable (an ivit_stall, the unit's own formula) from the
    unit's output valid and its register slice's in_ready, both registers, so the inputs' ready is not the
    enable net the unit fans out to its whole pipeline (the block top's routed critical path: 5.3 ns of that
    net before the join's ready)."""
    top, modules = _render(tmp_path, "attn_residual", "4")
    marked = {name for name, text in modules.items() if _stalled(text)}
    insts = [(mod, u, conns) for mod, u, conns in INST.findall(top) if mod in marked]
    assert len(insts) == 2  # s.q and o.q (qkv.q and the join res, per-channel, are on credit)
    for mod, u, conns in insts:
        ui = u[1:]
        ports = re.findall(r"\.(\w+)_TVALID\((\w+)\)", conns)
        ins = [(p, v) for p, v in ports if p != "y"]
        # the unit's own TREADY outputs drive a wire nothing reads
        for p, _ in ins:
            own = _port(conns, f"{p}_TREADY")
            assert own == f"{u}_{p}_r" and len(re.findall(rf"\b{own}\b", top)) == 2, f"{mod}: {own} is read"
        y_valid, y_ready = _port(conns, "y_TVALID"), _port(conns, "y_TREADY")
        assert re.search(rf"ivit_stall e{ui}_st \(\.valid\({y_valid}\), \.ready\({y_ready}\), \.en\(e{ui}\)\);", top), \
            f"{mod}: no enable from its registers"
        # y_TREADY is the output slice's in_ready (a register)
        assert re.search(rf"\.in_valid\({y_valid}\), \.in_ready\({y_ready}\)", top), mod
        for port, valid in ins:
            ready = re.search(rf"\.out_valid\({valid}\), \.out_ready\((\w+)\)", top)
            name = ready.group(1) if ready else valid[:-1] + "r"
            others = [v for p, v in ins if p != port]
            expr = " && ".join([f"e{ui}", *others])
            assert f"assign {name} = {expr};" in top, f"{mod}.{port}: {name} is not {expr}"


def test_element_wise_stall_enable_in_copies(tmp_path):
    """An element-wise unit enables its registers from several copies of its stall enable (``ivit_stall``
    instances, which a hierarchical synthesis keeps apart), shared out round robin: one net fanned out to a
    whole pipeline was the block top's routed critical path (3.9 ns)."""
    _, modules = _render(tmp_path, "attn_residual", "4")
    units = [text for text in modules.values() if _stalled(text)]
    assert len(units) == 2
    for text in units:
        copies = int(re.search(r"wire \[(\d+):0\] enc;", text).group(1)) + 1
        assert copies > 1 and re.search(r"ivit_stall st \(\.valid\(v\d+\), \.ready\(y_TREADY\), \.en\(enc\[ek\]\)\);",
                                        text)
        uses = [int(k) for k in re.findall(r"\benc\[(\d+)\]", text)]
        per_copy = [uses.count(k) for k in range(copies)]
        assert min(per_copy) >= 1, per_copy  # every copy enables some registers
        assert not re.search(r"if \(en\)", text), "a register enabled by the base enable"


def test_element_wise_units_with_a_dsp_multiplier_run_on_credit(tmp_path):
    """An element-wise unit with a MULT18X18D (a per-channel requantize) runs free: no stall enable reaches a
    multiplier's clock enable (the whole top's routed critical path: a stall-enable copy -> 4.76 ns -> a
    MULT18X18D's CE0 across the die, 96 % of the multipliers in use). Its inputs' ready is its credit flag
    (a register; joining two streams, and the other input's valid), its output an output FIFO the top reads
    directly; the units whose product is in the fabric keep the stall enable."""
    top, modules = _render(tmp_path, "attn_residual", "4")
    credit = {name: text for name, text in modules.items() if _on_credit(text)}
    stalled = {name: text for name, text in modules.items() if _stalled(text)}
    assert len(credit) == 2 and len(stalled) == 2  # qkv.q and res; s.q and o.q
    for name, text in credit.items():
        code = "\n".join(line.split("//")[0] for line in text.splitlines())
        assert "ivit_stall" not in code and "enc[" not in code, name
        assert re.search(r"wire en = 1'b1;", code), name
        muls = re.findall(r"ivit_mul18 \w+ \(\.clk\(clk\), \.ce\((\w+)\)", code)
        assert muls and set(muls) == {"en"}, f"{name}: multiplier enables {muls}"
        # no input of the pipeline's registers waits on y_TREADY: it reaches only the output FIFO
        assert len(re.findall(r"\by_TREADY\b", code)) == 3, f"{name}: y_TREADY read elsewhere"
        assert re.search(r"\.out_ready\(y_TREADY\)\);", code) and "assign fo_pop = fo_valid && y_TREADY;" in code
        ins = re.findall(r"assign (\w+)_TREADY = (.*?);", code)
        assert ins and all(expr.split(" && ")[0] == "in_ok" for _, expr in ins), ins
        assert "wire in_ok = c_room;" in code and re.search(r"c_room <= \(c_cred < ", code), name
    for name, text in stalled.items():
        assert all(" * " not in line.split("//")[0] for line in text.splitlines()), name
        assert "ivit_mul18" not in text, f"{name}: a stalled unit with a DSP multiplier"
    # the top: no register slice after a unit on credit (its FIFO's output is one); its inputs read its ready
    for mod, u, conns in INST.findall(top):
        if mod in credit:
            ready = _port(conns, "y_TREADY")
            assert re.fullmatch(r"s\d+_r", ready), f"{mod}: y_TREADY is {ready}, not its stream's"
            assert not re.search(rf"ivit_stall e{u[1:]}_st", top), f"{mod}: the top recomputes a stall enable"


@pytest.mark.parametrize("name", ["attn_residual", "patch_matmul"])
def test_buffer_copies_write_from_registers(tmp_path, name):
    """Each reader's copy of a whole-image buffer writes from registers (enable, address, word, a clock after
    the push): the block top's routed critical path ran from the buffer's write address through the write
    walk's compare into a DP16KD's WEA across the die (2.7 ns of routing after three LUTs). The bank reads as
    full a clock after its last push (b_fill), when that word is in every copy. The buffer takes its input
    through a register slice (the next path ran from the producer's output valid across the die into a write
    walk's compare)."""
    top, _ = _render(tmp_path, name, "4")
    readers = sorted(set(re.findall(r"\b(r\d+_\d+)_we_q\b", top)))
    assert readers, f"{name}: no buffer copies"
    for rp in readers:
        assert re.search(rf"{rp}_we_q <= !rst && {rp}_we;", top) and re.search(rf"{rp}_wadr_q <= {rp}_wadr;", top)
        assert re.search(rf"{rp}_wd_q <= b\d+_d;", top), rp
        # the inferred memory and every DP16KD tile take the registered port only
        assert re.search(rf"if \({rp}_we_q\) {rp}_mem\[{rp}_wadr_q\] <= {rp}_wd_q;", top), rp
        tiles = re.findall(rf"ivit_bram #\(\.DW\(\d+\), \.AW\(\d+\)\) {rp}_m\d+_\d+ ", top)
        assert not tiles or re.search(rf"wire \[\d+:0\] {rp}_wd = (?:\{{\d+'d0, )?{rp}_wd_q\}}?;", top), rp
        port = rf"ivit_bram #\(\.DW\(\d+\), \.AW\(\d+\)\) {rp}_m\d+_\d+ \(\.clk\(clk\),\s*\.we\((.*?)\),"
        for we in re.findall(port, top):
            assert re.fullmatch(rf"{rp}_we_q(?: && {rp}_wadr_q\[\d+:\d+\] == \d+'d\d+)?", we), f"{rp}: we {we}"
    buffers = set(re.findall(r"\b(b\d+)_fill\b", top))
    assert buffers
    for b in buffers:
        # the buffer takes its words from a register slice of its own (push, word and the walks' compares)
        assert re.search(rf"wire {b}_push = {b}_v && {b}_r;", top), b
        assert re.search(rf"ivit_skid #\(\.W\(\d+\)\) {b}_s \((?:(?!\);).)*\.out_data\({b}_d\), "
                         rf"\.out_valid\({b}_v\), \.out_ready\({b}_r\)\);", top, re.S), b
        sets = re.findall(rf"{b}_full\[(\w+)\] <= 1'b1;", top)
        assert sets == [f"{b}_fillb"], f"{b}: full set from {sets}"
        assert re.search(rf"{b}_fill <= {b}_push && {b}_wlast;", top), b


@pytest.mark.parametrize("name,module", [("linear_gelu", "ivit_gelu"), ("linear_norm_softmax", "ivit_sm")])
def test_comparator_banks_read_register_copies(tmp_path, name, module):
    """ShiftExp's comparator bank (``th[i] <= (p <= k*x0)``) reads ``p`` from ``ivit_preg`` copies, each
    loaded from the same value and feeding at most 8 comparators: the block top's routed critical path was
    one register fanned out to the digits ShiftGELU's 34 comparators."""
    _, modules = _render(tmp_path, name, "12")
    text = modules[module]
    banks = set(re.findall(r"(\w+)_th\[\d+\] <=", text))
    assert banks, module
    for p in banks:
        compares = re.findall(rf"{p}_th\[\d+\] <= \(\{{~(\w+)\[\d+\], \w+\[\d+:0\]\}} <=", text)
        assert compares, p
        copies = re.findall(rf"ivit_preg #\(\.W\(\d+\)\) {p}_pr\d+ \(\.clk\(clk\), \.en\((\w+)\), \.d\((\w+)\), "
                            rf"\.q\((\w+)\)\);", text)
        assert {q for *_, q in copies} == set(compares), f"{p}: a comparator reads something other than a copy"
        assert len({(en, d) for en, d, _ in copies}) == 1, f"{p}: the copies load different values"
        assert max(compares.count(q) for q in set(compares)) <= 8, p
