"""Every Verilog unit against the golden model under stream traffic, on Icarus and Verilator.

Per configuration and simulator the cocotb testbench runs two tests: random
idle cycles / backpressure with a reset in the middle of a row and then the
whole stream checked element by element (values and TLAST), and a long
unstalled stream whose cycle count is checked against one element per clock.
"""

from __future__ import annotations

import pytest
from unit_graphs import CONFIGS, config_names

from ivit_hw.codegen.verilog.render import RTL_OPS
from ivit_hw.eda.cocotb_run import SIMULATORS


@pytest.mark.parametrize("sim", SIMULATORS)
@pytest.mark.parametrize("config", config_names())
def test_unit_matches_golden(rtl_results, config, sim):
    res = rtl_results[(config, sim)]
    assert res["failed"] == 0 and res["passed"] == 2, f"{config} on {sim}: {res.get('error', '')} (log {res['log']})"
    assert res["result"]["checked"] > 0


@pytest.mark.parametrize("sim", SIMULATORS)
def test_one_element_per_clock(rtl_results, rendered, sim):
    """Every unit has a configuration whose long unstalled stream, once the first output is out, delivers
    at least 0.98 elements per clock; wherever a row is at least the unit's min_row, the whole stream
    fits n + latency + row clocks."""
    best: dict[str, float] = {}
    for name, (_, row, *_rest) in rendered["units"].items():
        tp = rtl_results[(name, sim)]["result"]["throughput"]
        rate = tp["elements"] / (tp["cycles"] - tp["first_output_after"])
        op = name.split("/")[0]
        best[op] = max(best.get(op, 0.0), rate)
        if row["row"] >= row["min_row_for_full_rate"]:
            assert tp["cycles"] <= tp["elements"] + row["latency_cycles"] + row["row"], (name, tp)
    assert set(best) == set(RTL_OPS)
    slow = {op: r for op, r in best.items() if r < 0.98}
    assert not slow, f"below 0.98 elements/clock in steady state: {slow}"


def test_every_op_has_two_configurations():
    assert set(CONFIGS) == set(RTL_OPS)
    assert all(len(fns) >= 2 for fns in CONFIGS.values())
