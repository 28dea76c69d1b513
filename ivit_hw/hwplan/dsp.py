"""Hard multipliers of a signed product: the one formula the plan and the RTL share.

A ``wa`` x ``wb`` signed product on a device whose multiplier blocks take ``mult_width``-bit signed
operands (18 on the ECP5's MULT18X18D) is split into digits: the low digits ``mult_width - 1`` bits
unsigned (a zero sign bit prepended), the top digit signed with at most ``mult_width`` bits. Every pair
of digits is one block, so the product takes ``dsp_digits(wa) * dsp_digits(wb)`` of them. The Verilog
``pmul`` macro splits its operands with :func:`dsp_digits`, and the Verilog top's ``budget:N`` plan
counts its multipliers with :func:`dsp_pieces`.
"""

from __future__ import annotations

MULT_WIDTH = 18  # the ECP5's MULT18X18D: 18 x 18 bits signed


def dsp_digits(width: int, mult_width: int = MULT_WIDTH) -> int:
    """Digits of a ``width``-bit signed operand: 1 up to ``mult_width`` bits, then one more per
    ``mult_width - 1`` bits (the top digit keeps the sign and may be ``mult_width`` bits wide)."""
    if width < 1 or mult_width < 2:
        raise ValueError(f"dsp_digits: width {width} and mult_width {mult_width} must be >= 1 and >= 2")
    return 1 if width <= mult_width else (width - 2) // (mult_width - 1) + 1


def dsp_pieces(wa: int, wb: int, mult_width: int = MULT_WIDTH) -> int:
    """Hard multipliers a ``wa`` x ``wb`` signed product takes (see the module docstring)."""
    return dsp_digits(wa, mult_width) * dsp_digits(wb, mult_width)


__all__ = ["MULT_WIDTH", "dsp_digits", "dsp_pieces"]
