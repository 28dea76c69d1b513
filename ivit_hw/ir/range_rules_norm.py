"""Range rules of the LayerNorms: I-LayerNorm (iterated or exact square root),
I-BERT LayerNorm and L1 LayerNorm (spec sections 7 and 9).

All three centre a row, divide by an integer spread k and add a bias. Their
widths hinge on the relation between y and k: every |y_i| is at most k, so
``|y * (N // k)| <= N`` and z fits 31 or 32 bits, where the plain product of
the y and f intervals would need up to 48. Each proof is in its docstring.
"""

from __future__ import annotations

import math

import numpy as np

from ..ops import IBERT_NORM_NUM, INT32_MAX
from .range_rules_nonlinear import _div_rhe, _product_hull, _row_len
from .registry import RangeInputs
from .types import Interval, IRError


def _row_stats(x: Interval, c: int) -> dict[str, Interval]:
    """xsum = sum(x) over a row of c values in [L, H] lies in [c*L, c*H] (all-equal rows
    reach both ends); mean = round_half_even(xsum / c) is non-decreasing in xsum and
    rhe(c*L/c) = L, so it lies in [L, H]. y from :func:`_centered`."""
    return {"xsum": Interval(c * x.lo, c * x.hi), "mean": x, "y": _centered(x, c)}


def _squares(y: Interval, v_hi: int) -> Interval:
    """sq = y*y per element: the square of y's interval (0 when it spans 0), and at most
    v = sum(y*y) >= y_i^2, whose bound ``v_hi`` may be tighter."""
    ends = [y.lo * y.lo, y.hi * y.hi]
    lo = 0 if y.lo <= 0 <= y.hi else min(ends)
    return Interval(lo, max(min(max(ends), v_hi), lo))


def _centered(x: Interval, c: int) -> Interval:
    """Exact range of y = x_i - round_half_even(mean(x)) over rows of c values in x.

    The rounded mean is non-decreasing in every x_j, so y_i is largest with
    the others at L; then x_i - mean grows with x_i (one step raises the
    mean by at most 1), so the maximum is at x_i = H: row [H, L, ..., L].
    Symmetrically for the minimum. c = 1 gives y = 0.
    """
    hi = x.hi - _div_rhe(x.hi + (c - 1) * x.lo, c)
    lo = x.lo - _div_rhe(x.lo + (c - 1) * x.hi, c)
    return Interval(lo, hi)


def _var_max(x: Interval, c: int, y: Interval) -> int:
    """Upper bound of v = sum (x_i - mu)^2 with mu the rounded mean.

    v = sum (x_i - xbar)^2 + c*(xbar - mu)^2 with |xbar - mu| <= 1/2. The
    first term is a convex quadratic, largest at a vertex of the box: j
    values at H and c - j at L give j(c-j)w^2/c (w = H - L), at most
    floor(c^2/4)*w^2/c; the second adds at most c/4. Also v <= c*max|y|^2.
    """
    w = x.hi - x.lo
    c2 = (c * c) // 4
    convex = (4 * c2 * w * w + c * c) // (4 * c)
    return min(convex, c * max(y.hi, -y.lo) ** 2)


def _abs_dev_max(x: Interval, c: int, y: Interval) -> int:
    """Upper bound of a = sum |x_i - mu| with mu = round_half_even(xbar).

    With p elements above xbar and q below, sum |x_i - xbar| = 2*sum of the
    parts above <= 2p(H - xbar), and likewise <= 2q(xbar - L), so it is at
    most 2pqw/(p+q) (w = H - L). Moving from xbar to mu (|mu - xbar| <= 1/2,
    no integer strictly between them) changes a at the constant slope q - p,
    adding at most |p - q|/2. 2pq/(p+q) grows with p and q, so p + q = c
    (xbar not an integer; an integer xbar has mu = xbar and no such term),
    and with k = |p - q| (k = c mod 2): a <= w(c^2 - k^2)/(2c) + k/2, a
    concave function of k maximal near k = c/(2w); the lattice points next
    to it are checked. Also a <= c*max|y|.
    """
    w = x.hi - x.lo
    if w == 0:
        return 0
    best = 0
    k_star = c // (2 * w)
    for k in range(max(k_star - 2, 0), min(k_star + 3, c) + 1):
        if (c - k) % 2 == 0:
            best = max(best, (w * (c * c - k * k) + k * c) // (2 * c))
    return min(best, c * max(y.hi, -y.lo))


def _newton_k(v: Interval, iters: int, k0: int) -> Interval:
    """Range of ``isqrt_iter(v, iters, k0)`` for v in ``v`` (iters >= 1).

    Lower: k_{i+1} >= k_i // 2 gives k >= k0 >> iters; and
    (k + v//k)//2 = floor((k + v/k)/2) >= floor(sqrt(v)) by AM-GM, so
    k >= isqrt(v) after one step.
    Upper: let K_i be the real Newton sequence from k0 (K_i >= sqrt(v) for
    i >= 1, non-decreasing in v since dK_{i+1}/dv = 1/(2K_i) +
    (1 - v/K_i^2)/2 * dK_i/dv >= 0). By induction the integer k_i <=
    max(floor(K_i), isqrt(v) + 1): where k_i >= sqrt(v) the map
    k -> (k + v/k)/2 is increasing, so k_{i+1} <= K_{i+1} when k_i <= K_i,
    and k_{i+1} <= isqrt(v) when k_i = isqrt(v) + 1 >= sqrt(v); where
    k_i < sqrt(v), k_i = isqrt(v) =: a and v <= a^2 + 2a give k_{i+1} <= a + 1.
    K_i(v_max) is bounded by the integer sequence U_{i+1} = ceil((U_i +
    v_max/U_i)/2) from U_0 = k0 (an upper bound stays one, by the same
    monotonicity of the map above sqrt(v_max)).
    """
    lo = max(k0 >> iters, math.isqrt(v.lo))
    u = k0
    for _ in range(iters):
        u = (u * u + v.hi + 2 * u - 1) // (2 * u)
    return Interval(lo, max(u, math.isqrt(v.hi) + 1, lo))


def _ceil_sqrt(n: int) -> int:
    r = math.isqrt(n)
    return r if r * r == n else r + 1


def _sqrt_yf_bound(c: int, y: Interval, v: Interval, k_lo: int, num: int) -> int:
    """Bound on |y_i * f| when f = num // k with k >= max(k_lo, isqrt(v)) for the row's v.

    Let a = isqrt(v), u = |y_i|. y_i^2 <= v gives u <= a. Sharper, the other
    c - 1 elements sum to eps - y_i with |eps| = |sum y| <= c/2 (mu rounds
    the mean), so by Cauchy-Schwarz v >= u^2 + (u - c/2)^2/(c-1) when
    u >= c/2, i.e. (u - 1/2)^2 <= v(c-1)/c, u <= 1/2 + sqrt(v(c-1)/c) with
    v <= (a+1)^2 - 1. Call U(a) the least of a, max|y| and
    max(that, c/2); it is non-decreasing in a.
    - a < k_lo (the iteration's k never drops below k0 >> iters: its small-v
      plateau): |y*f| <= U(k_lo - 1) * (num // k_lo).
    - a >= k_lo: |y*f| <= U(a)*num/a, and U(a)/a is non-increasing (each of
      1, max|y|/a, c/(2a), sqrt(1 + 2/a) is), so its value at the smallest
      such a bounds the rest.
    Both are at most num (U(a) <= a <= k), the plain fact that k >= isqrt(v).
    """
    y_max = max(y.hi, -y.lo)
    a_lo, a_hi = math.isqrt(v.lo), math.isqrt(v.hi)
    small_c = (c + 1) // 2 - 1  # the largest u below c/2

    def u_int(a: int) -> int:
        b = (1 + math.isqrt(4 * ((a + 1) ** 2 - 1) * (c - 1) // c)) // 2
        return min(a, y_max, max(b, small_c))

    best = 0
    if a_lo < k_lo:
        best = u_int(min(k_lo - 1, a_hi)) * (num // k_lo)
    if a_hi >= k_lo:
        a1 = max(k_lo, a_lo)
        s_up = _ceil_sqrt(-(-4 * ((a1 + 1) ** 2 - 1) * (c - 1) // c))  # >= 2*sqrt(v(c-1)/c)
        real = max(num * c // (2 * a1), num * (1 + s_up) // (2 * a1))
        best = max(best, min(num, num * y_max // a1, real))
    return best


def _normalize(ri: RangeInputs, y: Interval, k: Interval, numerator: int, yf_max: int | None) -> dict[str, Interval]:
    """f = N // k, yf = y*f, z = yf >> 1, out = z + bias_int.

    ``yf_max`` is a proven bound on |y*f| from the relation between y and k
    (None: only the plain product of the y and f intervals); yf is the
    intersection of the two, z its shift (monotone). The bias is per channel
    and independent of z.
    """
    f = Interval(numerator // k.hi, numerator // k.lo)
    yf = _product_hull(y, f)
    if yf_max is not None:
        yf = Interval(max(yf.lo, -yf_max), min(yf.hi, yf_max))
    z = Interval(yf.lo >> 1, yf.hi >> 1)
    bias = np.asarray(ri.consts["bias_int"])
    b = Interval(int(bias.min()), int(bias.max())) if bias.size else Interval(0, 0)
    return {"k": k, "f": f, "yf": yf, "z": z, "out": Interval(z.lo + b.lo, z.hi + b.hi)}


def ilayernorm(ri: RangeInputs) -> dict[str, Interval]:
    """I-LayerNorm (spec section 7), ``sqrt="iter"`` or ``"exact"``.

    y from :func:`_centered` (exact), v in [0, :func:`_var_max`], k from
    :func:`_newton_k` (iter) or [max(isqrt(v_lo), 1), max(isqrt(v_hi), 1)]
    (exact, monotone). For every element y_i^2 <= v, so |y_i| <= isqrt(v) <= k
    (iterating: at least one Newton step is needed; iters = 0 leaves k = k0
    and only the plain product bound), hence |y*f| <= 2^31 - 1 and z fits
    31 bits; :func:`_sqrt_yf_bound` sharpens this with k >= k0 >> iters on
    small v and with the row's zero-ish sum (matters for short rows).
    """
    a = ri.attrs
    x, c = ri.intervals["x"], _row_len(ri)
    stats = _row_stats(x, c)
    y = stats["y"]
    v = Interval(0, _var_max(x, c, y))
    if a["sqrt"] == "exact":
        k = Interval(max(math.isqrt(v.lo), 1), max(math.isqrt(v.hi), 1))
        yf_max = _sqrt_yf_bound(c, y, v, 1, INT32_MAX)
    else:
        iters, k0 = a["iters"], a["k0"]
        if iters < 0 or k0 < 1 or (k0 >> iters) < 1:
            raise IRError(f"{ri.node}: isqrt_iter needs k0 >> iters >= 1, got k0={k0}, iters={iters}")
        k = _newton_k(v, iters, k0) if iters else Interval(k0, k0)
        yf_max = _sqrt_yf_bound(c, y, v, k0 >> iters, INT32_MAX) if iters else None
    return {**stats, "sq": _squares(y, v.hi), "v": v, **_normalize(ri, y, k, INT32_MAX, yf_max)}


def ibert_layernorm(ri: RangeInputs) -> dict[str, Interval]:
    """I-BERT LayerNorm: :func:`ilayernorm` with the exact isqrt and N = 2^31.

    |y| <= isqrt(v) = k gives |y*f| <= 2^31, and 2^31 is reachable: with
    C = 768, the row [1024, -1 x 767] has mean 0, v = 1024^2 + 767, k = 1024,
    f = 2^21, so z = 2^30 needs 32 signed bits (not 31 as for I-LayerNorm).
    """
    x, c = ri.intervals["x"], _row_len(ri)
    stats = _row_stats(x, c)
    y = stats["y"]
    v = Interval(0, _var_max(x, c, y))
    k = Interval(max(math.isqrt(v.lo), 1), max(math.isqrt(v.hi), 1))
    yf_max = _sqrt_yf_bound(c, y, v, 1, IBERT_NORM_NUM)
    return {**stats, "sq": _squares(y, v.hi), "v": v, **_normalize(ri, y, k, IBERT_NORM_NUM, yf_max)}


def l1_layernorm(ri: RangeInputs) -> dict[str, Interval]:
    """L1 LayerNorm: a = sum|y| in [0, :func:`_abs_dev_max`], k = max(a, 1).

    |y_i| <= a and |y_i| <= k (k = 1 only when a = 0, y = 0), so
    |y*f| <= 2^31 - 1 and z fits 31 bits.
    """
    x, c = ri.intervals["x"], _row_len(ri)
    stats = _row_stats(x, c)
    y = stats["y"]
    a_iv = Interval(0, _abs_dev_max(x, c, y))
    k = Interval(max(a_iv.lo, 1), max(a_iv.hi, 1))
    return {**stats, "a": a_iv, **_normalize(ri, y, k, INT32_MAX, INT32_MAX)}
