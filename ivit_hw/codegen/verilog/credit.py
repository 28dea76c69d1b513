"""Sizes of the credit-controlled output FIFO behind a free-running pipeline (``_credit.v.j2``)."""

from __future__ import annotations

from .units_common import aw_for

OUT_FIFO_CLOCKS = 3  # last pipeline register -> y_TVALID: FIFO write, read register, output register


def out_fifo_aw(stages: int) -> int:
    """Address bits of the output FIFO behind ``stages`` pipeline registers: the credit loop (pipeline,
    FIFO, registered room) fits below the credit limit 2^aw - 1, so the unit keeps one element per clock."""
    return aw_for(stages + OUT_FIFO_CLOCKS + 4)
