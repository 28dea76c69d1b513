"""Integer GEMM kernels (spec section 3): hand-worked answers and a check
against the plain pure-Python loops in ``reference.py`` on tiny inputs."""

import ivit_ops_reference as ref
import numpy as np
import pytest

from ivit_hw.ops import im2col_patches, int_matmul, linear, matmul, patch_embed


def test_linear_by_hand():
    # x = [1, 2]; w rows [3, 4] and [5, -6]; b = [10, 20]
    # [1*3 + 2*4 + 10, 1*5 + 2*(-6) + 20] = [21, 13]
    y = linear(np.array([[1, 2]]), np.array([[3, 4], [5, -6]]), np.array([10, 20]))
    assert np.array_equal(y, [[21, 13]])
    assert y.dtype == np.int64
    # without bias: [11, -7]
    assert np.array_equal(linear(np.array([[1, 2]]), np.array([[3, 4], [5, -6]])), [[11, -7]])


def test_int8_extremes_accumulate_exactly():
    # K = 4 products of -128 * -128 = 16384 each -> 65536; -128 * 127 = -16256 -> -65024
    x = np.full((1, 4), -128, dtype=np.int8)
    w = np.array([[-128] * 4, [127] * 4], dtype=np.int8)
    assert np.array_equal(linear(x, w), [[65536, -65024]])


def test_matmul_transpose_b_by_hand():
    # q = [[1, 2]], k = [[3, 4], [5, 6]] -> q @ k^T = [[1*3 + 2*4, 1*5 + 2*6]] = [[11, 17]]
    assert np.array_equal(matmul(np.array([[1, 2]]), np.array([[3, 4], [5, 6]]), transpose_b=True), [[11, 17]])


def test_int_matmul_wide_values_use_exact_integers():
    # |a| * |b| * K = 2^40 * (2^20 + 1) * 2 > 2^53: float64 would lose bits
    # 2^40 * (2^20 + 1) + 1 * 3 = 2^60 + 2^40 + 3
    a = np.array([[2**40, 1]])
    b = np.array([[2**20 + 1], [3]])
    assert np.array_equal(int_matmul(a, b), [[2**60 + 2**40 + 3]])


def test_int_matmul_beyond_int64_raises():
    with pytest.raises(OverflowError):
        int_matmul(np.array([[2**40, 2**40]]), np.array([[2**30], [2**30]]))


def test_patch_embed_by_hand():
    # one channel, 2x4 image, patch 2 -> two patches (left, right)
    # weight picks the diagonal of each patch: left 1 + 6 = 7, right 3 + 8 = 11
    img = np.array([[[1, 2, 3, 4], [5, 6, 7, 8]]])
    w = np.array([[[[1, 0], [0, 1]]]])
    assert np.array_equal(patch_embed(img, w, None, 2), [[7], [11]])
    # with bias 100: [[107], [111]]
    assert np.array_equal(patch_embed(img, w, np.array([100]), 2), [[107], [111]])


def test_im2col_order_by_hand():
    # 2 channels of 2x2, patch 2: one patch flattened as (C, p, p)
    img = np.array([[[1, 2], [3, 4]], [[5, 6], [7, 8]]])
    assert np.array_equal(im2col_patches(img, 2), [[1, 2, 3, 4, 5, 6, 7, 8]])


def test_patch_embed_rejects_bad_shapes():
    with pytest.raises(ValueError, match="not divisible"):
        patch_embed(np.zeros((1, 3, 4), dtype=np.int64), np.zeros((1, 1, 2, 2), dtype=np.int64), None, 2)
    with pytest.raises(ValueError, match="does not match"):
        patch_embed(np.zeros((1, 4, 4), dtype=np.int64), np.zeros((1, 1, 3, 3), dtype=np.int64), None, 2)


# --------------------------------------- against the pure-Python loops --

RNG_SEED = 20240601


def test_linear_matches_loops_on_tiny_inputs():
    rng = np.random.default_rng(RNG_SEED)
    for m, k, n in [(1, 1, 1), (2, 3, 4), (5, 7, 3), (3, 16, 2)]:
        x = rng.integers(-128, 128, size=(m, k))
        w = rng.integers(-128, 128, size=(n, k))
        b = rng.integers(-(2**31), 2**31, size=n)
        assert np.array_equal(linear(x, w, b), ref.linear2d(x.tolist(), w.tolist(), b.tolist()))
        assert np.array_equal(linear(x, w), ref.linear2d(x.tolist(), w.tolist()))


def test_batched_matmul_matches_loops():
    rng = np.random.default_rng(RNG_SEED + 1)
    a = rng.integers(-128, 128, size=(2, 3, 4, 5))  # [batch, heads, tokens, dim]
    b = rng.integers(-128, 128, size=(2, 3, 6, 5))
    got = matmul(a, b, transpose_b=True)
    for i in range(2):
        for h in range(3):
            bt = [list(col) for col in zip(*b[i, h].tolist(), strict=True)]
            assert np.array_equal(got[i, h], ref.matmul2d(a[i, h].tolist(), bt))


def test_patch_embed_matches_convolution_loops():
    rng = np.random.default_rng(RNG_SEED + 2)
    for c, p, gh, gw, o in [(1, 1, 1, 1, 1), (3, 2, 2, 3, 4), (2, 4, 2, 2, 3), (3, 3, 1, 2, 2)]:
        img = rng.integers(0, 256, size=(c, p * gh, p * gw))  # uint8-like pixels
        w = rng.integers(-128, 128, size=(o, c, p, p))
        b = rng.integers(-(2**20), 2**20, size=o)
        assert np.array_equal(patch_embed(img, w, b, p), ref.patch_embed(img.tolist(), w.tolist(), b.tolist(), p))
    # a leading batch axis is carried through
    batch = rng.integers(-128, 128, size=(2, 3, 4, 4))
    w = rng.integers(-128, 128, size=(5, 3, 2, 2))
    got = patch_embed(batch, w, None, 2)
    for i in range(2):
        assert np.array_equal(got[i], ref.patch_embed(batch[i].tolist(), w.tolist(), None, 2))


@pytest.mark.parametrize("k,bits", [(1536, 8), (3072, 8), (40, 16), (300, 12)])
def test_int_matmul_float_paths_are_exact_at_their_limits(k, bits):
    """Every GEMM path (float32, chunked float32, float64) equals numpy's int64 matmul, with
    operands at the extremes of their widths so the partial sums approach the exactness limits."""
    rng = np.random.default_rng(k)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    a = rng.choice([lo, hi, lo + 1, hi - 1], size=(3, 5, k)).astype(np.int64)
    b = rng.choice([lo, hi], size=(k, 7)).astype(np.int64)
    a[0, 0, :] = lo  # one row whose sum reaches k * lo * lo exactly
    b[:, 0] = lo
    assert np.array_equal(int_matmul(a, b), np.matmul(a, b))


def test_read_only_weights_use_a_cached_float_form_with_identical_results():
    """Graph constants are read-only, and linear caches their float32 transpose; the cached
    path (first and repeated calls, several weights alive at once) equals int64 matmul."""
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, (2, 9, 1536))
    weights = [rng.integers(-127, 128, (n, 1536)) for n in (5, 7)]
    for w in weights:
        w.setflags(write=False)
    for _ in range(2):
        for w in weights:
            assert np.array_equal(linear(x, w), np.matmul(x, w.T))
    narrow = rng.integers(-127, 128, (5, 40)).astype(np.int8)
    narrow.setflags(write=False)
    assert np.array_equal(linear(x[..., :40], narrow), np.matmul(x[..., :40], narrow.astype(np.int64).T))
