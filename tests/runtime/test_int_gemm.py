"""Every exact GEMM route equals numpy's int64 matmul on operands that reach the route's bound."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ivit_hw.ops.xp import FLOAT32_EXACT  # noqa: E402
from ivit_hw.runtime.int_gemm import choose_route, exact_route_bound, row_gemm  # noqa: E402
from ivit_hw.runtime.torch_namespace import TorchOps  # noqa: E402

CPU = torch.device("cpu")


def _extreme(m: int, n: int, k: int, a_val: int, b_val: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Operands whose first row / column hit ``a_val * b_val * k`` (the bound) and whose last ones
    reach ``-a_val * (|b_val| - 1) * k`` (the other sign), the rest random."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-abs(a_val), abs(a_val), (m, k))
    b_t = rng.integers(-abs(b_val), abs(b_val), (n, k))
    a[0], b_t[0] = a_val, b_val
    a[-1], b_t[-1] = a_val, -b_val - (1 if b_val < 0 else 0)
    return a, b_t


@pytest.mark.parametrize("k", [8, 197, 1536, 2 * 8192])
def test_int_mm_route_is_exact_at_its_int8_bound(k):
    route, chunk = choose_route(128, 128, k, CPU, int8=True, prefer_int8=True)
    assert route == "int_mm" and 128 * 128 * k <= exact_route_bound(route)
    a, b_t = _extreme(19, 12, k, -128, -128, k)
    got = row_gemm(route, chunk)(torch.as_tensor(a, dtype=torch.int8), torch.as_tensor(b_t, dtype=torch.int8))
    ref = a @ b_t.T
    assert ref[0, 0] == 128 * 128 * k and ref[-1, -1] == -128 * 127 * k
    np.testing.assert_array_equal(got.numpy(), ref)


@pytest.mark.parametrize("k,route", [(1024, "float32"), (1025, "float32_chunked"), (3000, "float32_chunked")])
def test_float32_routes_are_exact_at_2_24(k, route):
    got_route, chunk = choose_route(128, 128, k, CPU, int8=True, prefer_int8=False)
    assert got_route == route and 128 * 128 * min(chunk, k) <= FLOAT32_EXACT
    a, b_t = _extreme(5, 9, k, -128, -128, k)
    a[1], b_t[1] = 127, -128  # sums just off the powers of two, where float32 would round
    a[1, 0] = 1
    got = row_gemm(got_route, chunk)(torch.as_tensor(a), torch.as_tensor(b_t))
    np.testing.assert_array_equal(got.numpy(), a @ b_t.T)


def test_wide_operands_take_float64_then_int64():
    assert choose_route(2**20, 2**20, 50, CPU, int8=False)[0] == "float64"
    route, chunk = choose_route(2**36, 2**20, 50, CPU, int8=False)
    assert route == "int64"
    a, b_t = _extreme(3, 4, 50, 2**36, 2**20, 1)
    np.testing.assert_array_equal(row_gemm(route, chunk)(torch.as_tensor(a), torch.as_tensor(b_t)).numpy(),
                                  a @ b_t.T)


def test_int_mm_beyond_int32_falls_back():
    assert choose_route(128, 128, 2**17, CPU, int8=True, prefer_int8=True)[0] != "int_mm"


@pytest.mark.parametrize("int8_gemm", [True, False])
def test_namespace_gemm_with_offset_and_both_routes(int8_gemm):
    rng = np.random.default_rng(3)
    k = 1100
    a = rng.integers(0, 256, (2, 20, k))
    a[0, 0] = 255
    b = rng.integers(-128, 128, (k, 24))
    b[:, 0] = -128
    gemm = TorchOps(int8_gemm=int8_gemm).gemm((0, 255), (-128, 127), k, b)
    assert gemm.path == ("int_mm" if int8_gemm else "float32_chunked")
    np.testing.assert_array_equal(gemm(torch.as_tensor(a)).numpy(), a @ b)
