"""cocotb testbench of a Verilog model/block top (``ivit-hw codegen --target verilog --top ...``).

Environment: ``IVIT_TB_CONFIG`` (JSON: the x and y ports with their TDATA
bits, elements per image and row length; ``quiet``: clocks without output
after which the run counts as stalled; ``stall``: chance of an idle input
clock and of a clock without TREADY on the output) and ``IVIT_TB_VECTORS``
(npz: ``x`` and ``y``, one row per image, the golden executor's input and
output streams). Two tests: every image (or the first ``stall_images``) with random stalls on both sides,
checked element by element (values and TLAST); then the images back to back
without stalls, timing the first image's first-in to last-out latency and the
steady-state interval between images. Results go to ``IVIT_TB_RESULT``.

A whole model runs for tens of thousands of clocks per image, so the driver
and the monitor sleep on TREADY / TVALID edges while a stream waits instead
of waking every clock, and cycles are read from the simulation time.
"""

from __future__ import annotations

import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import Event, FallingEdge, First, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

from .stream_tb import _config, _record

PERIOD_NS = 10


def cycle() -> int:
    """The current clock (rising edges since time 0)."""
    return int(get_sim_time("ns")) // PERIOD_NS


async def drive(dut, values: np.ndarray, bits: int, row: int, idle: float, rng: random.Random) -> int:
    """Send ``values`` on x (TLAST every ``row``); returns the clock of the first transfer."""
    mask, first, i = (1 << bits) - 1, None, 0
    while i < len(values):
        await FallingEdge(dut.ap_clk)
        show = rng.random() >= idle
        dut.x_TVALID.value = 1 if show else 0
        dut.x_TDATA.value = int(values[i]) & mask
        dut.x_TLAST.value = 1 if (i + 1) % row == 0 else 0
        await ReadOnly()
        if not show:
            continue
        if int(dut.x_TREADY.value):
            first = cycle() if first is None else first
            i += 1
        else:
            await RisingEdge(dut.x_TREADY)  # TVALID stays up: sleep until the top takes it
    await FallingEdge(dut.ap_clk)
    dut.x_TVALID.value = 0
    dut.x_TLAST.value = 0
    return first


class Monitor:
    """Collects (value, TLAST, clock) from y; ``stall`` is the chance of a clock without TREADY."""

    def __init__(self, dut, bits: int, n: int, stall: float, rng: random.Random, per: int = 0):
        self.dut, self.bits, self.n, self.stall, self.rng, self.per = dut, bits, n, stall, rng, per
        self.got: list[tuple[int, int, int]] = []
        self.done = Event()
        self.moved = Event()

    async def run(self) -> None:
        dut = self.dut
        while len(self.got) < self.n:
            await FallingEdge(dut.ap_clk)
            take = self.rng.random() >= self.stall
            dut.y_TREADY.value = 1 if take else 0
            await ReadOnly()
            if not int(dut.y_TVALID.value):
                await RisingEdge(dut.y_TVALID)  # nothing to take: sleep until there is
                continue
            if take:
                v = int(dut.y_TDATA.value)
                v = v - (1 << self.bits) if v >> (self.bits - 1) & 1 else v
                self.got.append((v, int(dut.y_TLAST.value), cycle()))
                self.moved.set()
                if self.per and len(self.got) % self.per == 0:  # progress of a long run, in sim.log
                    dut._log.info(f"image {len(self.got) // self.per} of {self.n // self.per} out")
        self.done.set()


def check(got: list[tuple[int, int, int]], want: np.ndarray, row: int, what: str) -> None:
    """In-order comparison with the golden outputs (values and TLAST)."""
    assert len(got) == len(want), f"{what}: {len(got)} outputs, {len(want)} expected"
    for i, (value, last, _) in enumerate(got):
        assert value == int(want[i]), f"{what}: element {i} (image {i // row}?) = {value}, golden {int(want[i])}"
        assert last == int((i + 1) % row == 0), f"{what}: element {i}: TLAST={last}"


async def _start(dut) -> None:
    cocotb.start_soon(Clock(dut.ap_clk, PERIOD_NS, unit="ns").start())
    dut.x_TVALID.value = 0
    dut.x_TLAST.value = 0
    dut.x_TDATA.value = 0
    dut.y_TREADY.value = 0
    dut.ap_rst_n.value = 0
    for _ in range(3):
        await RisingEdge(dut.ap_clk)
    await FallingEdge(dut.ap_clk)
    dut.ap_rst_n.value = 1


async def _run(dut, cfg: dict, vec: dict, stall: float, seed: int) -> tuple[int, Monitor]:
    rng = random.Random(seed)
    await _start(dut)
    mon = Monitor(dut, cfg["y"]["tdata"], vec["y"].size, stall, rng, vec["y"].shape[1])
    cocotb.start_soon(mon.run())
    drv = cocotb.start_soon(drive(dut, vec["x"].reshape(-1), cfg["x"]["tdata"], cfg["x"]["row"], stall, rng))
    while not mon.done.is_set():
        mon.moved.clear()
        fired = await First(mon.moved.wait(), mon.done.wait(), Timer(cfg["quiet"] * PERIOD_NS, unit="ns"))
        if isinstance(fired, Timer):
            raise AssertionError(f"stalled: {len(mon.got)} of {vec['y'].size} outputs, none for {cfg['quiet']} "
                                 "clocks")
    first_in = await drv
    await RisingEdge(dut.ap_clk)  # the last output's transfer happens on this edge (the --trace log sees it)
    check(mon.got, vec["y"].reshape(-1), cfg["y"]["row"], "output")
    return first_in, mon


@cocotb.test()
async def images_with_stalls(dut):
    """Every image with random idle input clocks and random output backpressure, checked bit for bit."""
    cfg, vec = _config()
    k = cfg.get("stall_images") or len(vec["y"])
    await _run(dut, cfg, {key: v[:k] for key, v in vec.items()}, cfg.get("stall", 0.3), cfg.get("seed", 1))
    _record("checked_images", int(k))


@cocotb.test()
async def images_unstalled(dut):
    """The images back to back without stalls: latency of the first, interval between the others."""
    cfg, vec = _config()
    first_in, mon = await _run(dut, cfg, vec, 0.0, 3)
    per = vec["y"].shape[1]
    ends = [mon.got[(k + 1) * per - 1][2] for k in range(vec["y"].shape[0])]
    images = len(ends)
    interval = (ends[-1] - ends[0]) / (images - 1) if images > 1 else None
    _record("timing", {"images": images, "latency": ends[0] - first_in + 1, "interval": interval, "ends": ends,
                       "first_in": first_in})
