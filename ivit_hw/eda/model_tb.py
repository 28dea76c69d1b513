"""cocotb testbench of a Verilog model/block top (``ivit-hw codegen --target verilog --top ...``).

Environment: ``IVIT_TB_CONFIG`` (JSON: the x and y ports with their TDATA
bits, elements per image and row length; ``quiet``: clocks without output
after which the run counts as stalled; ``stall``: chance of an idle/backpressure clock)
and ``IVIT_TB_VECTORS`` (npz: ``x`` and ``y``, one row per image, the golden
executor's input and output streams). Two tests: every image through the
input with random idle clocks and random backpressure on the output, checked
element by element (values and TLAST); then the images again without stalls,
timing the first-in to last-out latency of the first image and the
steady-state interval between images. Results go to ``IVIT_TB_RESULT``.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from . import stream_tb as st


def _config() -> tuple[dict, dict[str, np.ndarray]]:
    with open(os.environ["IVIT_TB_CONFIG"], encoding="utf-8") as fh:
        cfg = json.load(fh)
    with np.load(os.environ["IVIT_TB_VECTORS"]) as npz:
        vec = {k: npz[k].astype(np.int64) for k in npz.files}
    return cfg, vec


async def _start(dut) -> list[int]:
    cycle = [0]
    cocotb.start_soon(Clock(dut.ap_clk, 10, unit="ns").start())
    cocotb.start_soon(st._count(dut.ap_clk, cycle))
    dut.x_TVALID.value = 0
    dut.x_TLAST.value = 0
    dut.x_TDATA.value = 0
    dut.y_TREADY.value = 0
    dut.ap_rst_n.value = 0
    for _ in range(3):
        await RisingEdge(dut.ap_clk)
    await FallingEdge(dut.ap_clk)
    dut.ap_rst_n.value = 1
    return cycle


async def _run(dut, cfg: dict, vec: dict, stall: float, seed: int) -> tuple[st.StreamDriver, st.StreamMonitor, list]:
    rng = random.Random(seed)
    cycle = await _start(dut)
    x = vec["x"].reshape(-1)
    drv = st.StreamDriver(dut, {"name": "x", "tdata": cfg["x"]["tdata"]}, x, cfg["x"]["row"], stall, None, rng)
    mon = st.StreamMonitor(dut, {"name": "y", "tdata": cfg["y"]["tdata"]}, stall, rng)
    mon_task = cocotb.start_soon(mon.run(cycle))
    cocotb.start_soon(drv.run(cycle))
    n = vec["y"].size
    await st._wait_outputs(mon, n, cycle, cfg["quiet"], [drv])
    mon_task.cancel()
    st.Scoreboard(vec["y"].reshape(-1), cfg["y"]["row"]).check(mon.got, "logits" if cfg.get("model") else "output")
    return drv, mon, cycle


def _record(key: str, value) -> None:
    st._record(key, value)


@cocotb.test()
async def images_with_stalls(dut):
    """Every image with random idle input clocks and random output backpressure, checked bit for bit."""
    cfg, vec = _config()
    _, mon, _ = await _run(dut, cfg, vec, cfg.get("stall", 0.3), cfg.get("seed", 1))
    assert len(mon.got) == vec["y"].size
    _record("checked_images", int(vec["y"].shape[0]))


@cocotb.test()
async def images_unstalled(dut):
    """The images back to back without stalls: latency of the first, interval between the others."""
    cfg, vec = _config()
    rng = random.Random(3)
    cycle = await _start(dut)
    x = vec["x"].reshape(-1)
    drv = st.StreamDriver(dut, {"name": "x", "tdata": cfg["x"]["tdata"]}, x, cfg["x"]["row"], 0.0, None, rng)
    mon = st.StreamMonitor(dut, {"name": "y", "tdata": cfg["y"]["tdata"]}, 0.0, rng)
    ends: list[int] = []
    per = vec["y"].shape[1]

    async def watch() -> None:
        seen = 0
        while True:
            await RisingEdge(dut.ap_clk)
            while len(mon.got) >= (seen + 1) * per:
                ends.append(mon.last_cycle)
                seen += 1

    mon_task = cocotb.start_soon(mon.run(cycle))
    cocotb.start_soon(drv.run(cycle))
    watch_task = cocotb.start_soon(watch())
    await st._wait_outputs(mon, vec["y"].size, cycle, cfg["quiet"], [drv])
    for _ in range(2):
        await RisingEdge(dut.ap_clk)
    mon_task.cancel()
    watch_task.cancel()
    st.Scoreboard(vec["y"].reshape(-1), cfg["y"]["row"]).check(mon.got, "unstalled")
    images = vec["y"].shape[0]
    latency = ends[0] - drv.first_fire + 1
    interval = (ends[-1] - ends[0]) / (images - 1) if images > 1 else None
    _record("timing", {"images": images, "latency": latency, "interval": interval, "ends": ends,
                       "first_in": drv.first_fire})
