"""``dyadic(ratio, bits)``: the quantizer's multiplier precision (spec section 2, ``dyadic_bits``).

Expected values are worked out by hand in the comments; the bounds are the spec's
``2^(B-1) <= |m| <= 2^B - 1`` and a relative error of at most 2^-B.
"""

import numpy as np
import pytest

from ivit_hw.errors import UserValueError
from ivit_hw.frontend.qconfig import QuantConfig
from ivit_hw.ops import dyadic
from ivit_hw.ops.requant import dyadic_or_zero


@pytest.mark.parametrize(
    ("ratio", "bits", "m", "e"),
    [
        # frexp(0.1) = 0.8000000000000000444 * 2^-3; 0.8 * 2^17 = 104857.6 -> half up 104858; e = 17 + 3 = 20
        (0.1, 17, 104858, 20),
        # frexp(0.75) = (0.75, 0); 0.75 * 2^17 = 98304 exactly; e = 17; the sign follows r
        (-0.75, 17, -98304, 17),
        # 1 - 2^-20 = (1 - 2^-20) * 2^0; * 2^17 = 131071.875 -> 131072 = 2^17: folded to 2^16, e = 17 - 1 = 16
        (1 - 2.0**-20, 17, 65536, 16),
        # 0.1 at 8 bits: 0.8 * 256 = 204.8 -> 205; e = 8 + 3 = 11
        (0.1, 8, 205, 11),
        # the default: 0.1 -> 1717986918, 34 (tests/ops/test_ops_requant.py)
        (0.1, 31, 1717986918, 34),
    ],
)
def test_dyadic_bits_known(ratio, bits, m, e):
    assert dyadic(ratio, bits) == (m, e)


@pytest.mark.parametrize("bits", [8, 17, 24, 31])
def test_dyadic_bits_bounds(bits):
    rng = np.random.default_rng(bits)
    r = rng.uniform(1e-6, 1.0, 500) * rng.choice([-1.0, 1.0], 500)
    m, e = dyadic(r, bits)
    am = np.abs(m)
    assert am.min() >= 2 ** (bits - 1) and am.max() <= 2**bits - 1
    rel = np.abs(m / np.ldexp(1.0, e) - r) / np.abs(r)
    assert rel.max() <= 2.0**-bits
    assert np.array_equal(np.sign(m), np.sign(r))


def test_dyadic_default_is_31_bits():
    r = np.array([0.37, -1e-5, 0.0123456789, 3.5])
    m31, e31 = dyadic(r, 31)
    m, e = dyadic(r)
    assert np.array_equal(m, m31) and np.array_equal(e, e31)


@pytest.mark.parametrize("bits", [7, 32, 17.0, True])
def test_dyadic_bits_refused(bits):
    with pytest.raises(ValueError, match="bits must be an integer in"):
        dyadic(0.5, bits)


def test_dead_channel_threshold_follows_bits():
    # at 17 bits the smallest ratio is 2^(17 - 63) = 2^-46: 2^-40 is held (no zero), 2^-50 is a dead channel
    m, e = dyadic_or_zero(np.array([2.0**-40, 2.0**-50]), 1000, "half_even", 17)
    assert m.tolist() == [2**16, 0] and e.tolist() == [17 + 39, 0]


def test_quant_config_dyadic_bits():
    assert "dyadic_bits" not in QuantConfig().as_dict()  # graphs from before the option keep their metadata
    cfg = QuantConfig.from_dict({"dyadic_bits": 17})
    assert cfg.dyadic_bits == 17 and cfg.as_dict()["dyadic_bits"] == 17 and cfg.label().endswith("+m17")
    for bad in (32, 7, "17", 17.5):
        with pytest.raises(UserValueError, match="dyadic_bits"):
            QuantConfig.from_dict({"dyadic_bits": bad})


def test_scale_claim_tolerance_follows_the_stored_multiplier():
    from ivit_hw.ir.scale_rules import DYADIC_RTOL, dyadic_rtol

    # twice the rounding error 1/(2|m|) of the smallest nonzero |m|: 2^16 -> 2^-16; never below 2^-30
    assert dyadic_rtol(np.array([2**16, -(2**17 - 1), 0])) == 2.0**-16
    assert dyadic_rtol(np.array([2**30, 2**31 - 1])) == DYADIC_RTOL == 2.0**-30
    assert dyadic_rtol(np.array([0, 0])) == DYADIC_RTOL
