"""cocotb testbench for every ivit-hw Verilog unit (AXI4-Stream style ports).

The unit under test and its stimulus come from environment variables set by
:mod:`ivit_hw.eda.cocotb_run`: ``IVIT_TB_CONFIG`` (JSON: ports, row length,
latency bound) and ``IVIT_TB_VECTORS`` (npz: one int array per input port,
``tuser`` when the unit has a mask, and ``out``, the golden model's output
for the same elements). Parts: a driver per input stream (random idle
cycles), a monitor on the output (random backpressure), an in-order
scoreboard against the golden outputs; a reset in the middle of a stream; a
long unstalled run that counts cycles. Results go to ``IVIT_TB_RESULT``.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge


def _config() -> tuple[dict, dict[str, np.ndarray]]:
    with open(os.environ["IVIT_TB_CONFIG"], encoding="utf-8") as fh:
        cfg = json.load(fh)
    with np.load(os.environ["IVIT_TB_VECTORS"]) as npz:
        vec = {k: npz[k].astype(np.int64) for k in npz.files}
    return cfg, vec


def _record(key: str, value) -> None:
    path = os.environ.get("IVIT_TB_RESULT")
    if not path:
        return
    data = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    data[key] = value
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh)


def sig(dut, name: str):
    """Signal ``name`` of the unit under test (``IVIT_TB_PREFIX`` in a multi-unit harness)."""
    return getattr(dut, os.environ.get("IVIT_TB_PREFIX", "") + name)


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


class StreamDriver:
    """Drives one input stream element by element; ``idle`` is the chance of a cycle without TVALID."""

    def __init__(self, dut, port: dict, values: np.ndarray, row: int, idle: float, tuser: np.ndarray | None,
                 rng: random.Random):
        self.clk = dut.ap_clk
        self.data = sig(dut, f"{port['name']}_TDATA")
        self.valid = sig(dut, f"{port['name']}_TVALID")
        self.ready = sig(dut, f"{port['name']}_TREADY")
        self.last = sig(dut, f"{port['name']}_TLAST")
        self.user = sig(dut, f"{port['name']}_TUSER") if tuser is not None else None
        self.mask = (1 << port["tdata"]) - 1
        self.name = port["name"]
        self.values, self.row, self.idle, self.tuser, self.rng = values, row, idle, tuser, rng
        self.sent = 0
        self.first_fire: int | None = None

    async def run(self, cycle: list[int]) -> None:
        """Send every value; ``cycle[0]`` is the shared cycle counter."""
        i = 0
        while i < len(self.values):
            await FallingEdge(self.clk)
            show = self.rng.random() >= self.idle
            self.valid.value = 1 if show else 0
            self.data.value = int(self.values[i]) & self.mask
            self.last.value = 1 if (i + 1) % self.row == 0 else 0
            if self.user is not None:
                self.user.value = int(self.tuser[i])
            await ReadOnly()
            if show and int(self.ready.value):
                if self.first_fire is None:
                    self.first_fire = cycle[0]
                i += 1
                self.sent = i
            await RisingEdge(self.clk)
        await FallingEdge(self.clk)
        self.valid.value = 0
        self.last.value = 0


class StreamMonitor:
    """Collects output elements with their TLAST; ``stall`` is the chance of a cycle without TREADY."""

    def __init__(self, dut, port: dict, stall: float, rng: random.Random):
        self.clk = dut.ap_clk
        self.data = sig(dut, f"{port['name']}_TDATA")
        self.valid = sig(dut, f"{port['name']}_TVALID")
        self.ready = sig(dut, f"{port['name']}_TREADY")
        self.last = sig(dut, f"{port['name']}_TLAST")
        self.bits = port["tdata"]
        self.stall, self.rng = stall, rng
        self.got: list[tuple[int, int]] = []
        self.last_cycle: int | None = None
        self.first_cycle: int | None = None

    async def run(self, cycle: list[int]) -> None:
        while True:
            await FallingEdge(self.clk)
            take = self.rng.random() >= self.stall
            self.ready.value = 1 if take else 0
            await ReadOnly()
            if take and int(self.valid.value):
                self.got.append((_signed(int(self.data.value), self.bits), int(self.last.value)))
                if self.first_cycle is None:
                    self.first_cycle = cycle[0]
                self.last_cycle = cycle[0]
            await RisingEdge(self.clk)


class Scoreboard:
    """In-order comparison of monitored elements with the golden outputs (value and TLAST)."""

    def __init__(self, expected: np.ndarray, row: int):
        self.expected, self.row = expected, row

    def check(self, got: list[tuple[int, int]], what: str) -> None:
        assert len(got) <= len(self.expected), f"{what}: {len(got)} outputs, only {len(self.expected)} expected"
        for i, (value, last) in enumerate(got):
            want = int(self.expected[i])
            where = f"element {i} (row {i // self.row}, col {i % self.row})"
            assert value == want, f"{what}: {where} = {value}, golden {want}"
            want_last = int((i + 1) % self.row == 0)
            assert last == want_last, f"{what}: element {i}: TLAST={last}, expected {want_last}"


async def _count(clk, cycle: list[int]) -> None:
    while True:
        await RisingEdge(clk)
        cycle[0] += 1


async def _reset(dut, cycles: int = 3) -> None:
    sig(dut, "ap_rst_n").value = 0
    for _ in range(cycles):
        await RisingEdge(dut.ap_clk)
    await FallingEdge(dut.ap_clk)
    sig(dut, "ap_rst_n").value = 1


def _idle_inputs(dut, cfg: dict) -> None:
    for port in cfg["inputs"]:
        sig(dut, f"{port['name']}_TVALID").value = 0
        sig(dut, f"{port['name']}_TLAST").value = 0
        sig(dut, f"{port['name']}_TDATA").value = 0
        if port.get("tuser"):
            sig(dut, f"{port['name']}_TUSER").value = 0


async def _run_stream(dut, cfg, vec, idle, stall, rng, cycle, reps=1):
    row = cfg["row"]
    values = {p["name"]: np.tile(vec[f"in_{p['name']}"], reps) for p in cfg["inputs"]}
    tuser = np.tile(vec["tuser"], reps) if "tuser" in vec else None
    drivers = [StreamDriver(dut, p, values[p["name"]], row, idle, tuser if p.get("tuser") else None, rng)
               for p in cfg["inputs"]]
    mon = StreamMonitor(dut, cfg["output"], stall, rng)
    mon_task = cocotb.start_soon(mon.run(cycle))
    tasks = [cocotb.start_soon(d.run(cycle)) for d in drivers]
    return drivers, mon, mon_task, tasks


def quiet_limit(cfg: dict) -> int:
    """Clocks without a new output after which the stream counts as stalled.

    Generous for a working unit (a whole row, its per-row divider and the
    pipeline, slowed by the random idle and backpressure), and independent of
    the stream's length, so a stall shows up in a few thousand clocks.
    """
    return 10 * (cfg["latency"] + max(cfg["row"], cfg.get("min_row", 1))) + 1000


async def _wait_outputs(mon, n, cycle, limit, drivers):
    """Wait for ``n`` outputs; fail when none comes for ``limit`` clocks, naming what each input sent."""
    seen, since = len(mon.got), cycle[0]
    while len(mon.got) < n:
        await RisingEdge(mon.clk)
        if len(mon.got) != seen:
            seen, since = len(mon.got), cycle[0]
        if cycle[0] - since >= limit:
            sent = ", ".join(f"{d.name} {d.sent} of {len(d.values)}" for d in drivers)
            raise AssertionError(f"stalled: {len(mon.got)} of {n} outputs, none for {limit} clocks "
                                 f"(inputs sent: {sent})")


async def _start(dut, cfg: dict) -> list[int]:
    """Clock, cycle counter, idle inputs, no output ready, reset; returns the shared cycle counter."""
    cycle = [0]
    cocotb.start_soon(Clock(dut.ap_clk, 10, unit="ns").start())
    cocotb.start_soon(_count(dut.ap_clk, cycle))
    _idle_inputs(dut, cfg)
    sig(dut, "y_TREADY").value = 0
    await _reset(dut)
    return cycle


@cocotb.test()
async def stream_with_reset(dut):
    """Random idle/backpressure; a reset in the middle of a row; then the whole stream again, checked."""
    cfg, vec = _config()
    rng = random.Random(cfg.get("seed", 1))
    cycle = await _start(dut, cfg)
    row = cfg["row"]
    board = Scoreboard(vec["out"], row)
    n = len(vec["out"])
    # phase 1: stop one and a half rows in (or half the stream), then reset
    cut = min(n // 2, row + row // 2 + 1)
    drivers, mon, mon_task, tasks = await _run_stream(dut, cfg, vec, 0.3, 0.3, rng, cycle)
    limit, moved, since = quiet_limit(cfg), 0, cycle[0]
    while min(d.sent for d in drivers) < cut:
        await RisingEdge(dut.ap_clk)
        if sum(d.sent for d in drivers) != moved:
            moved, since = sum(d.sent for d in drivers), cycle[0]
        assert cycle[0] - since < limit, (f"stalled before the reset: no input taken for {limit} clocks "
                                          f"({', '.join(f'{d.name} {d.sent}' for d in drivers)} sent)")
    for t in tasks:
        t.cancel()
    await _reset(dut)
    mon_task.cancel()
    board.check(mon.got, "before the reset")
    _idle_inputs(dut, cfg)
    for _ in range(5):
        await RisingEdge(dut.ap_clk)
    # phase 2: the full stream from a clean state
    drivers, mon, mon_task, tasks = await _run_stream(dut, cfg, vec, 0.25, 0.35, rng, cycle)
    await _wait_outputs(mon, n, cycle, quiet_limit(cfg), drivers)
    for _ in range(cfg["latency"] + 10):
        await RisingEdge(dut.ap_clk)
    board.check(mon.got, "after the reset")
    assert len(mon.got) == n, f"{len(mon.got)} outputs, {n} expected"
    mon_task.cancel()
    _record("checked", n)


@cocotb.test()
async def unstalled_throughput(dut):
    """A long stream with no idle cycles and no backpressure: count cycles, check one element per clock."""
    cfg, vec = _config()
    rng = random.Random(2)
    cycle = await _start(dut, cfg)
    reps = max(1, cfg.get("throughput_elements", 0) // max(len(vec["out"]), 1))
    n = len(vec["out"]) * reps
    drivers, mon, mon_task, tasks = await _run_stream(dut, cfg, vec, 0.0, 0.0, rng, cycle, reps)
    await _wait_outputs(mon, n, cycle, quiet_limit(cfg), drivers)
    Scoreboard(np.tile(vec["out"], reps), cfg["row"]).check(mon.got, "unstalled")
    first_in = min(d.first_fire for d in drivers)
    span = mon.last_cycle - first_in + 1
    first_latency = mon.first_cycle - first_in
    _record("throughput", {"elements": n, "cycles": span, "first_output_after": first_latency})
    # rows shorter than the unit's min_row (its per-row divider time) run at row/min_row elements per clock
    slow = max(1.0, cfg.get("min_row", 1) / cfg["row"])
    limit = int(n * slow) + cfg["latency"] + cfg["row"]
    assert span <= limit, f"{n} elements took {span} cycles (> {n} + latency + row = {limit})"
    mon_task.cancel()
