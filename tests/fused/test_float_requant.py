"""The float64 requantize of the fused torch path equals the spec's integer requantize wherever
``float_requantize_ok`` admits it, on inputs at every rounding boundary and at the range ends."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ivit_hw import ops  # noqa: E402
from ivit_hw.ops.requant import float_requantize_ok  # noqa: E402
from ivit_hw.runtime.fused import torch_kernels as T  # noqa: E402

ACC_MAX = 2**31 - 1


def _boundary_accs(m: int, e: int, out_bits: int, acc_max: int) -> np.ndarray:
    """acc values whose acc * m / 2^e lies on or next to every half-integer and integer of the output
    range (and a little beyond), plus the range ends."""
    top = 2 ** (out_bits - 1) + 3
    b = np.arange(-2 * top, 2 * top + 1, dtype=object)  # boundaries b / 2
    centre = [(int(v) << e) // (2 * m) for v in b]
    accs = {c + d for c in centre for d in (-2, -1, 0, 1, 2)} | {-acc_max, acc_max, 0, 1, -1}
    return np.array(sorted(a for a in accs if abs(a) <= acc_max), dtype=np.int64)


def _float(acc, m, e, out_bits, rounding, ident=None, m_id=None, e_id=None):
    t = torch.as_tensor
    fs = T.float_scale(m, e, torch.device("cpu"))
    fs_id = None if ident is None else T.float_scale(m_id, e_id, torch.device("cpu"))
    y = T.requantize_float(t(acc), fs, out_bits, rounding, None if ident is None else t(ident), fs_id)
    return y.to(torch.int64).numpy()


@pytest.mark.parametrize("rounding", ["half_even", "floor"])
@pytest.mark.parametrize("m", [2**30, 2**31 - 1, 1518500250, 2**30 + 1])
def test_at_the_largest_admitted_shift_every_boundary_rounds_like_the_spec(m, rounding):
    e = 45  # 130 * 2^45 < 2^53 <= 130 * 2^46: the largest e admitted for an 8-bit output
    assert float_requantize_ok(ACC_MAX, m, e, 8, rounding)
    assert not float_requantize_ok(ACC_MAX, m, e + 1, 8, rounding)
    acc = _boundary_accs(m, e, 8, ACC_MAX)
    if m == 2**30:  # exact ties: acc * m / 2^e = k + 1/2
        assert np.any((acc.astype(object) * m) % (1 << e) == 1 << (e - 1))
    np.testing.assert_array_equal(_float(acc, m, e, 8, rounding), ops.requantize(acc, m, e, 8, rounding))


def test_per_channel_shifts_and_multipliers():
    m = np.array([2**30, 2**31 - 1, 1234567891, 2**30 + 12345])
    e = np.array([40, 45, 33, 20])
    assert float_requantize_ok(ACC_MAX, m, e, 8, "half_even")
    cols = [_boundary_accs(int(mi), int(ei), 8, ACC_MAX) for mi, ei in zip(m, e, strict=True)]
    n = max(len(c) for c in cols)
    acc = np.stack([np.resize(c, n) for c in cols], axis=-1)
    np.testing.assert_array_equal(_float(acc, m, e, 8, "half_even"), ops.requantize(acc, m, e, 8, "half_even"))


def test_residual_identity_term_at_its_bound():
    m, e, m_id, e_id = 2**31 - 1, 36, 2**31 - 1, 31
    id_max = 2**15
    assert float_requantize_ok(2**22, m, e, 16, "half_even", id_max, m_id, e_id)
    assert not float_requantize_ok(2**22, m, e, 16, "half_even", 2**23, m_id, e_id)  # id * m_id >= 2^53
    acc = _boundary_accs(m, e, 16, 2**22)
    rng = np.random.default_rng(0)
    ident = rng.integers(-id_max, id_max + 1, acc.shape)
    ident[:4] = [id_max, -id_max, id_max, -id_max]
    for shift in (0, 1):  # pair each acc with the identities on either side
        ident = np.roll(ident, shift)
        got = _float(acc, m, e, 16, "half_even", ident, m_id, e_id)
        np.testing.assert_array_equal(got, ops.requantize(acc, m, e, 16, "half_even", ident, m_id, e_id))


def test_refused_where_the_float_form_cannot_be_proven():
    assert not float_requantize_ok(ACC_MAX, 2**31 - 1, 41, 8, "half_up")  # only half_even and floor
    assert not float_requantize_ok(2**53, 1, 0, 8, "half_even")  # acc not exact in float64
    assert not float_requantize_ok(2**30, 2**31 - 1, 51, 8, "half_even")  # I-LayerNorm's shift: too fine
    assert float_requantize_ok(2**13, 2**31 - 1, 60, 8, "half_even")  # ... unless the product is exact
