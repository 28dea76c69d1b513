"""Fixtures shared by ``tests/`` and ``rtl_tests/`` (one pytest session runs both)."""

from __future__ import annotations

import os

import pytest

# Verilator models compiled at -O0 in tests: short simulations, so the build dominates (see
# ivit_hw.eda.cocotb_run.VERILATOR_OPT_ENV); a user's `ivit-hw verify` keeps Verilator's -Os.
os.environ.setdefault("IVIT_VERILATOR_OPT", "-O0")


@pytest.fixture(scope="session")
def digits_graph():
    """The digits model (short training, calibration only): built once per session (needs torch)."""
    from ivit_hw.frontend.synthetic import quick_digits_graph

    return quick_digits_graph()


@pytest.fixture(scope="session")
def digits_graph_m17():
    """The same digits model quantized with 17-bit requantize multipliers (``dyadic_bits: 17``, as the demo
    does): the graph whose model top fits the ECP5-85k's 156 multipliers (reuses the float training)."""
    from ivit_hw.frontend.qconfig import QuantConfig
    from ivit_hw.frontend.synthetic import quick_digits_graph

    return quick_digits_graph(cfg=QuantConfig(dyadic_bits=17))
