"""The Verilator model's C++ optimisation level: read from IVIT_VERILATOR_OPT into make's flags."""

from __future__ import annotations

import pytest

from ivit_hw.eda.cocotb_run import VERILATOR_OPT_ENV, simulator_env
from ivit_hw.errors import UserValueError


def test_the_level_reaches_every_compile_rule(monkeypatch):
    monkeypatch.setenv(VERILATOR_OPT_ENV, "-O0")
    flags = simulator_env("verilator")["MAKEFLAGS"].split()
    assert {"OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0"} <= set(flags)
    assert "CFG_CXXFLAGS_PCH_I=-include" in flags


def test_unset_keeps_verilators_own_levels(monkeypatch):
    monkeypatch.delenv(VERILATOR_OPT_ENV, raising=False)
    assert "OPT_FAST" not in simulator_env("verilator")["MAKEFLAGS"]


def test_an_unknown_level_is_one_line(monkeypatch):
    monkeypatch.setenv(VERILATOR_OPT_ENV, "-O9; rm -rf /")
    with pytest.raises(UserValueError, match="IVIT_VERILATOR_OPT='-O9; rm -rf /': choose one of -O0"):
        simulator_env("verilator")
