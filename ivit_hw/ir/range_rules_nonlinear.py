"""Range rules of the exponential-based ops: Shiftmax, ShiftGELU and the
I-BERT / FQ-ViT softmax and GELU baselines (spec sections 4-6 and 9). The
LayerNorms are in :mod:`ivit_hw.ir.range_rules_norm`.

Every rule returns the interval of ``"out"`` and of every intermediate its op
lists in ``internals``. Each is sound for every input row whose elements lie
in the input interval and whose length is the tensor's last axis; each
docstring gives the proof. Plain interval arithmetic would be far too loose
here (Shiftmax's ``e * f`` bounded by ``max(e) * max(f)`` needs about 50 bits
where the truth is 31), so the rules use relational facts, each proven in its
docstring: ShiftExp is monotone, the row maximum always has ``d = 0``, an
element never exceeds its row sum. All arithmetic is on Python ints, so no
rule can overflow.
"""

from __future__ import annotations

import numpy as np

from ..ops import ERF_SHIFT, IBERT_SOFTMAX_NUM, INT32_MAX, LOG_CODE_MASKED, SIGMOID_SHIFT, gelu_coef_mul, log2e_mul
from .registry import RangeInputs
from .types import Interval, IRError

_ENUM_LIMIT = 1 << 21  # the most points a rule evaluates one by one (I-BERT GELU's middle part)


# ---------------------------------------------------------------- helpers --


def _hull(*ivs: Interval) -> Interval:
    return Interval(min(i.lo for i in ivs), max(i.hi for i in ivs))


def _product_hull(a: Interval, b: Interval) -> Interval:
    corners = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
    return Interval(min(corners), max(corners))


def _div_rhe(num: int, den: int) -> int:
    """Exact round-half-to-even of num / den (den > 0)."""
    q, rem = divmod(num, den)
    if 2 * rem > den or (2 * rem == den and q & 1):
        q += 1
    return q


def _log2e(x: int) -> int:
    """ShiftExp's first step, :func:`ivit_hw.ops.log2e_mul` (non-decreasing in x)."""
    return log2e_mul(x)


def _gelu_coef(x: int) -> int:
    """ShiftGELU's ``coef="shift"`` product 1.6875 x, :func:`ivit_hw.ops.gelu_coef_mul` (a sum of
    non-decreasing terms)."""
    return gelu_coef_mul(x)


def _need_negative(ri: RangeInputs, name: str) -> int:
    value = ri.attrs[name]
    if value >= 0:
        raise IRError(f"{ri.node}: attribute {name!r} must be negative, got {value}")
    return value


def _row_len(ri: RangeInputs) -> int:
    return int(ri.shapes["x"][-1])


def _keep_counts(ri: RangeInputs) -> tuple[bool, int, int]:
    """From the mask constant: (some position masked, fewest and most kept positions of a row)."""
    c = _row_len(ri)
    mask = ri.consts.get("mask")
    if mask is None:
        return False, c, c
    keep = np.asarray(mask).astype(bool)
    try:
        full = np.broadcast_shapes(keep.shape, tuple(ri.shapes["x"]))
    except ValueError:
        raise IRError(f"{ri.node}: mask shape {keep.shape} does not broadcast to {ri.shapes['x']}") from None
    rows = np.broadcast_to(keep, full).reshape(-1, full[-1])
    counts = rows.sum(axis=-1)
    return (not bool(rows.all())), int(counts.min()), int(counts.max())


def _shift_exp1(x: int, x0: int, n: int, cap: int | None = None) -> int:
    """ShiftExp of one value on Python ints; ``cap`` saturates without forming a huge shift."""
    p = max(_log2e(x), n * x0)
    q = p // x0
    t = p - x0 * q - 2 * x0
    s = n - q - 1
    if s < 0:
        e = t >> -s
    elif cap is not None and t.bit_length() - 1 + s >= cap.bit_length():
        return cap  # t << s >= 2^(bits(t) - 1 + s) > cap
    elif s > 4096:
        raise IRError(f"ShiftExp of {x} shifts by {s} bits; the argument must be <= 0 without saturation")
    else:
        e = t << s
    e = max(e, 0)
    return e if cap is None else min(e, cap)


def _shift_exp_ranges(x: Interval, x0: int, n: int, cap: int | None = None) -> dict[str, Interval]:
    """Exact intervals of ShiftExp's p, q, r, t, s and e for arguments in ``x``.

    p is non-decreasing in x (each step of x adds 1 + [0 or 1] - [0 or 1]),
    and so is its clamp at n*x0; q = p // x0 is non-increasing in p (x0 < 0),
    s = n - q - 1 non-decreasing. r = p - x0*q lies in (x0, 0]: when all p
    share one q it is p - x0*q at the two ends, otherwise the range crosses
    a block edge and holds both r = 0 (top of the lower block) and r = x0+1
    (bottom of the upper one). t = r - 2*x0. e is non-decreasing in p:
    inside a block t grows with s fixed, and across the edge p = x0*(q+1) ->
    p + 1 the real value goes from |x0|*2^(n-q-1) to (|x0|+1)*2^(n-q-1)
    (floors of a non-decreasing real are non-decreasing). So every interval
    comes from the two ends of ``x`` and is attained.
    """
    p = Interval(max(_log2e(x.lo), n * x0), max(_log2e(x.hi), n * x0))
    q = Interval(p.hi // x0, p.lo // x0)
    if q.lo == q.hi:
        r = Interval(p.lo - x0 * q.lo, p.hi - x0 * q.lo)
    else:
        r = Interval(x0 + 1, 0)
    return {
        "p": p,
        "q": q,
        "r": r,
        "t": Interval(r.lo - 2 * x0, r.hi - 2 * x0),
        "s": Interval(n - q.hi - 1, n - q.lo - 1),
        "e": Interval(_shift_exp1(x.lo, x0, n, cap), _shift_exp1(x.hi, x0, n, cap)),
    }


# --------------------------------------------------------------- Shiftmax --


def shiftmax(ri: RangeInputs) -> dict[str, Interval]:
    """Shiftmax over rows of C elements in [L, H], optional keep-mask (spec section 5).

    d = x - max(x) lies in [L - H, 0] (0 alone when no row keeps two
    positions; masked positions hold d = 0). p, q, r, t, s, e follow from
    ShiftExp's monotonicity (:func:`_shift_exp_ranges`); e0 = ShiftExp(0) =
    |x0|*2^n is the largest e and masked positions add e = 0.

    Every row's maximum has d = 0, so an unmasked row sums to at least
    e0 + (C-1)*e_min and at most C*e0; with a mask, k_min..k_max kept
    positions (a row with none kept has sum 0, taken as 1). That unclamped
    row sum is ``esum``; ``sum`` is it clamped to [1, 2^31-1] (a monotone
    map, so its ends are the clamped ends); f = (2^31-1) // sum is
    non-increasing in the sum.

    prod = e*f: e is one of the non-negative summands, so when the sum is
    not clamped e*f <= sum*((2^31-1)//sum) <= 2^31-1, and more precisely
    e*f <= (2^31-1)*e/(e + (k-1)*e_min), increasing in e; when it is
    clamped f = 1 and prod = e <= e0. The output is prod >> (32 - out_bits).
    """
    a = ri.attrs
    x0, n, out_bits = _need_negative(ri, "x0"), a["n"], a["out_bits"]
    x = ri.intervals["x"]
    masked, kmin, kmax = _keep_counts(ri)
    d = Interval(x.lo - x.hi if kmax >= 2 else 0, 0)
    ex = _shift_exp_ranges(d, x0, n)
    e0, e_min = ex["e"].hi, ex["e"].lo
    e = Interval(0 if masked else e_min, e0 if kmax else 0)
    esum = Interval(0 if kmin == 0 else e0 + (kmin - 1) * e_min, kmax * e0)
    sum_lo, sum_hi = max(min(esum.lo, INT32_MAX), 1), max(min(esum.hi, INT32_MAX), 1)
    f = Interval(INT32_MAX // sum_hi, INT32_MAX // sum_lo)
    k_live = max(kmin, 1)
    unclamped = INT32_MAX * e.hi // (e.hi + (k_live - 1) * e_min) if e.hi else 0
    clamped = e.hi if kmax * e0 > INT32_MAX else 0
    prod = Interval(e.lo * f.lo, min(e.hi * f.hi, max(unclamped, clamped)))
    shift = 32 - out_bits
    return {
        "d": d, **{k: ex[k] for k in ("p", "q", "r", "t", "s")}, "e": e, "esum": esum,
        "sum": Interval(sum_lo, sum_hi), "f": f, "prod": prod,
        "out": Interval(prod.lo >> shift, prod.hi >> shift),
    }


# -------------------------------------------------------------- ShiftGELU --


def shiftgelu(ri: RangeInputs) -> dict[str, Interval]:
    """ShiftGELU over rows of C elements in [L, H] (spec section 6, both coef modes).

    z = x or 1.6875 x (non-decreasing), so z and the row maximum m lie in
    [Z(L), Z(H)] and d = z - m in [Z(L) - Z(H), 0] (0 alone when C = 1;
    both ends are reached: a row [L, H] and an all-equal row).
    e = ShiftExp(z - m) and em = min(ShiftExp(-m), 2^31-1) are monotone.

    p, q, r, t, s are reported as the hull over *both* ShiftExp calls: the
    hardware evaluates ShiftExp(-m) too, whose argument can be positive
    (p > 0, q < 0, shift above n), so a register sized by the traced call
    alone would wrap there (spec section 4: "widths must cover that").

    Every per-element quantity is a function of (z, m) with e and em both
    non-increasing in m. esum = e + em (em already saturated at 2^31-1)
    and sum = min(esum, 2^31-1): the minimum needs z - m and -m both
    smallest, i.e. m = Z(H) for both, and the maximum z = m = Z(L): both
    consistent, so the naive ends are exact. f = (2^31-1) // sum.

    prod = e*f. If the sum is not clamped, e*f <= (2^31-1)*e/(e + em) (em
    is then not saturated either), which grows with e and shrinks with em,
    so prod <= (2^31-1)*e0/(e0 + em_min) with e0 = ShiftExp(0). If clamped,
    f = 1 and prod = e <= e0 (so g = e0 >> 24 = |x0|/2 can exceed 127 when
    |x0| > 255). g = prod >> 24 >= 0, and out = x*g lies in the corner hull
    of [L, H] x g. (Its negative end is loose, since g is small where x is
    very negative, but for symmetric inputs the positive end H*g_max sets
    the width.)
    """
    a = ri.attrs
    x0, n = _need_negative(ri, "x0"), a["n"]
    zf = _gelu_coef if a["coef"] == "shift" else (lambda v: v)
    x = ri.intervals["x"]
    z = Interval(zf(x.lo), zf(x.hi))
    dz = Interval(z.lo - z.hi if _row_len(ri) >= 2 else 0, 0)
    main = _shift_exp_ranges(dz, x0, n)
    side = _shift_exp_ranges(Interval(-z.hi, -z.lo), x0, n, cap=INT32_MAX)
    e, em = main["e"], side["e"]
    raw = Interval(e.lo + em.lo, e.hi + em.hi)
    total = Interval(min(raw.lo, INT32_MAX), min(raw.hi, INT32_MAX))
    f = Interval(INT32_MAX // total.hi, INT32_MAX // total.lo)
    cands = []
    if raw.lo <= INT32_MAX:
        cands.append(INT32_MAX * e.hi // (e.hi + em.lo))
    if raw.hi > INT32_MAX:
        cands.append(e.hi)
    prod = Interval(e.lo * f.lo, min(e.hi * f.hi, max(cands)))
    g = Interval(prod.lo >> SIGMOID_SHIFT, prod.hi >> SIGMOID_SHIFT)
    out = {k: _hull(main[k], side[k]) for k in ("p", "q", "r", "t", "s")}
    out.update(z=z, m=z, d=dz, e=e, em=em, esum=raw, sum=total, f=f, prod=prod, g=g, out=_product_hull(x, g))
    return out


# ----------------------------------------------------- I-BERT exponential --


def _quad_range(lo: int, hi: int, b: int, c: int) -> Interval:
    """Exact range of (r + b)*r + c over integers r in [lo, hi]: a convex
    parabola, largest at an end, smallest at an end or next to -b/2."""
    pts = {lo, hi}
    for r in ((-b) // 2, (-b + 1) // 2):
        pts.add(min(max(r, lo), hi))
    vals = [(r + b) * r + c for r in pts]
    return Interval(min(vals), max(vals))


def _ibert_exp_ranges(d: Interval, x0: int, b: int, c: int, n: int) -> dict[str, Interval]:
    """Exact intervals of I-BERT exp's p, q, r, z, e for d in ``d`` (d <= 0).

    p = max(d, n*x0) is non-decreasing in d, so its ends are the clamped
    ends of d; q = p // x0 in [0, n] as for ShiftExp. e =
    max(z << (n - q), 0) couples z with q, so split by q (at most n + 1
    blocks): inside block q, r runs over the part of (x0, 0] that p reaches
    there, z over the parabola's range on it (:func:`_quad_range`), and e
    over max(z_min << (n-q), 0) .. max(z_max << (n-q), 0) (a shift is
    monotone). The hull over blocks is exact.
    """
    p = Interval(max(d.lo, n * x0), max(d.hi, n * x0))
    q = Interval(p.hi // x0, p.lo // x0)
    rs, zs, es = [], [], []
    for qq in range(q.lo, q.hi + 1):
        top = x0 * qq  # block qq holds p in [x0*qq + x0 + 1, x0*qq]
        r = Interval(max(p.lo, top + x0 + 1) - top, min(p.hi, top) - top)
        zq = _quad_range(r.lo, r.hi, b, c)
        sh = n - qq
        rs.append(r)
        zs.append(zq)
        es.append(Interval(max(zq.lo << sh, 0), max(zq.hi << sh, 0)))
    return {"d": d, "p": p, "q": q, "r": _hull(*rs), "z": _hull(*zs), "e": _hull(*es), "e0": max(c << n, 0)}


def _ibert_exp_setup(ri: RangeInputs) -> dict[str, Interval]:
    a = ri.attrs
    x0, n = _need_negative(ri, "x0"), a["n"]
    if not 0 <= n <= 4096:
        raise IRError(f"{ri.node}: attribute 'n' must be in [0, 4096], got {n}")
    x = ri.intervals["x"]
    d = Interval(x.lo - x.hi if _row_len(ri) >= 2 else 0, 0)
    return _ibert_exp_ranges(d, x0, a["b_int"], a["c_int"], n)


def ibert_softmax(ri: RangeInputs) -> dict[str, Interval]:
    """I-BERT softmax (spec section 9): exp by :func:`_ibert_exp_ranges`, then

    e16 = e >> h (monotone). The row maximum has d = 0, hence e16 = E(0) >> h,
    so esum = sum e16 lies in [E0 + (C-1)*e16_min, E0 + (C-1)*e16_max] and
    sum = max(esum, 1) in the same ends raised to 1. f = 2^32 // sum. prod = e16*f: e16 is a non-negative summand, so
    prod <= sum*(2^32//sum) <= 2^32, and more precisely
    prod <= 2^32*e16/(e16 + (C-1)*e16_min), increasing in e16.
    out = prod >> (32 - out_bits), so out_bits = 16 gives up to 2^16 (17 bits).
    """
    a = ri.attrs
    h, out_bits = a["h"], a["out_bits"]
    if h < 0:
        raise IRError(f"{ri.node}: attribute 'h' must be >= 0, got {h}")
    ex = _ibert_exp_setup(ri)
    c = _row_len(ri)
    e = ex["e"]
    e16 = Interval(e.lo >> h, e.hi >> h)
    e16_0 = ex["e0"] >> h
    esum = Interval(e16_0 + (c - 1) * e16.lo, e16_0 + (c - 1) * e16.hi)
    total = Interval(max(esum.lo, 1), max(esum.hi, 1))
    f = Interval(IBERT_SOFTMAX_NUM // total.hi, IBERT_SOFTMAX_NUM // total.lo)
    rel = IBERT_SOFTMAX_NUM * e16.hi // (e16.hi + (c - 1) * e16.lo) if e16.hi else 0
    prod = Interval(e16.lo * f.lo, min(e16.hi * f.hi, rel))
    shift = 32 - out_bits
    out = {k: ex[k] for k in ("d", "p", "q", "r", "z", "e")}
    out.update(e16=e16, esum=esum, sum=total, f=f, prod=prod, out=Interval(prod.lo >> shift, prod.hi >> shift))
    return out


def _log_code(v: int) -> int:
    """Log-Int-Softmax's code of v >= 1: kb + bit kb-1 of v, with kb = bit_length(v) - 1.
    v in [2^kb, 1.5*2^kb) gives kb, [1.5*2^kb, 2^(kb+1)) gives kb + 1: non-decreasing in v."""
    kb = v.bit_length() - 1
    return kb + ((v >> (kb - 1)) & 1) if kb >= 1 else kb


def log_int_softmax(ri: RangeInputs) -> dict[str, Interval]:
    """FQ-ViT Log-Int-Softmax (spec section 9). The mask only zeroes e, it
    does not change the row maximum, so d, q, r, z, e are I-BERT exp's (e
    also takes 0 when a position is masked).

    sum (= esum: this op neither clamps nor floors its sum): the kept e of a row. Unmasked, the d = 0 element is kept:
    [E0 + (C-1)*e_min, E0 + (C-1)*e_max]; masked: [k_min*e_min, k_max*e_max].
    A live element (kept, e > 0) is one of its row's summands, so
    v = rhe(sum/e) = rhe(1 + others/e) >= 1 with others <= (k_max-1)*e_max,
    e >= the smallest positive e (e_min, or 2^(n - q_max) when e can be 0:
    a positive z is at least 1), giving the upper end; unmasked, others >=
    (C-1)*e_min and e <= e_max give the lower end. Dead elements trace v = 0.
    kb = bit_length(v) - 1 is monotone; a dead element computes it from
    v = rhe(sum/1) = sum (so kb = -1 for an all-masked row).
    code = kb + (the bit below the leading one) is round(log2 v) with ties
    at 1.5*2^kb, non-decreasing in v (:func:`_log_code`), so the live codes
    run from code(v_lo) to code(v_hi); codes >= 16 and dead elements give 16.
    """
    ex = _ibert_exp_setup(ri)
    c = _row_len(ri)
    masked, kmin, kmax = _keep_counts(ri)
    e, e0 = ex["e"], ex["e0"]
    if masked:
        total = Interval(kmin * e.lo, kmax * e.hi)
    else:
        total = Interval(e0 + (c - 1) * e.lo, e0 + (c - 1) * e.hi)
    live = kmax >= 1 and e.hi > 0
    dead = masked or e.lo == 0
    kb_parts, v_parts, code_parts = [], [], []
    if live:
        e_pos = e.lo if e.lo > 0 else 1 << (ri.attrs["n"] - ex["q"].hi)  # a positive z << (n - q)
        v_hi = _div_rhe(e_pos + (kmax - 1) * e.hi, e_pos)
        v_lo = 1 if masked else _div_rhe(e.hi + (c - 1) * e.lo, e.hi)
        kb = Interval(v_lo.bit_length() - 1, v_hi.bit_length() - 1)
        kb_parts.append(kb)
        v_parts.append(Interval(v_lo, v_hi))
        code_parts.append(Interval(min(_log_code(v_lo), LOG_CODE_MASKED), min(_log_code(v_hi), LOG_CODE_MASKED)))
    if dead or not live:
        kb_parts.append(Interval(total.lo.bit_length() - 1, total.hi.bit_length() - 1))
        v_parts.append(Interval(0, 0))
        code_parts.append(Interval(LOG_CODE_MASKED, LOG_CODE_MASKED))
    out = {k: ex[k] for k in ("d", "p", "q", "r", "z")}
    out.update(e=Interval(0, e.hi) if masked else e, esum=total, sum=total, v=_hull(*v_parts), kb=_hull(*kb_parts),
               out=_hull(*code_parts))
    return out


# ------------------------------------------------------------ I-BERT GELU --


def _erf_u(lo: int, hi: int, sign: int, b: int, c: int) -> tuple[Interval, Interval]:
    """(poly, u) with poly = sign * ((t + b)^2 + c) and u = poly >> 14, for |x| in [lo, hi]
    (lo >= 0), t = min(|x|, -b).

    t and w = t + b are non-decreasing in |x|; w^2 ranges over the squares
    of the integer interval [w(lo), w(hi)] (0 inside when it spans 0); the
    sign and the shift are monotone maps, so both come from the ends.
    """
    w1, w2 = min(lo, -b) + b, min(hi, -b) + b
    sq = [w1 * w1, w2 * w2]
    sq_lo = 0 if w1 <= 0 <= w2 else min(sq)
    qr = Interval(sq_lo + c, max(sq) + c)
    poly = qr if sign > 0 else Interval(-qr.hi, -qr.lo)
    return poly, Interval(poly.lo >> ERF_SHIFT, poly.hi >> ERF_SHIFT)


def _erf_y_exact(lo: int, hi: int, b: int, c: int, one: int) -> Interval:
    """Range of y = x*(u + one) for x in [lo, hi], by evaluating the kernel's formula at every point."""
    xs = np.arange(lo, hi + 1, dtype=np.int64)
    t = np.minimum(np.abs(xs), -b)
    u = (np.sign(xs) * ((t + b) ** 2 + c)) >> ERF_SHIFT
    y = xs * (u + one)
    return Interval(int(y.min()), int(y.max()))


def _erf_pieces(x: Interval, cut: int) -> list[tuple[int, int]]:
    """x cut at 0 and at +-cut into pieces of one sign each, each saturated or not."""
    pieces = [(0, 0)] if x.lo <= 0 <= x.hi else []
    for lo, hi in ((max(x.lo, 1), x.hi), (x.lo, min(x.hi, -1))):
        if lo > hi:
            continue
        if cut <= 0:
            pieces.append((lo, hi))
            continue
        bounds = [(lo, min(hi, -cut)), (max(lo, 1 - cut), min(hi, cut - 1)), (max(lo, cut), hi)]
        pieces += [(a, b) for a, b in bounds if a <= b]
    return pieces


def ibert_gelu(ri: RangeInputs) -> dict[str, Interval]:
    """I-BERT i-GELU (spec section 9), per element, so y depends on x alone.

    Split x at 0 and at +-cut with cut = -b_int. t = min(|x|, -b_int) is
    monotone in |x|, and u per piece of one sign by :func:`_erf_u`. For
    |x| >= cut, t = -b_int and u = (sign*c_int) >> 14 is constant, so
    y = x*(u + one) is linear there and takes its extremes at the piece's
    ends. For |x| < cut (2|b_int| - 1 points, about 5000 at S = 5e-4) y is
    evaluated at every point, which is exact; beyond 2^21 points, or where
    that evaluation could leave int64, the corner hull of x and u + one is
    used for the piece instead (sound, looser). poly (before the shift) and
    u come from :func:`_erf_u`; g = u + one is u shifted by a constant.
    At x = 0 the sign is 0, so poly = u = 0 there.
    """
    a = ri.attrs
    b, c, one = a["b_int"], a["c_int"], a["one"]
    x = ri.intervals["x"]
    cut = -b
    ts, polys, us, ys = [], [], [], []
    for lo, hi in _erf_pieces(x, cut):
        sign = (lo > 0) - (hi < 0)
        alo, ahi = (lo, hi) if sign >= 0 else (-hi, -lo)
        ts.append(Interval(min(alo, cut), min(ahi, cut)))
        if sign == 0:
            polys.append(Interval(0, 0))
            us.append(Interval(0, 0))
            ys.append(Interval(0, 0))
            continue
        poly, u = _erf_u(alo, ahi, sign, b, c)
        polys.append(poly)
        us.append(u)
        safe = b * b + abs(c) < 2**62 and ahi * (max(-u.lo, u.hi) + abs(one)) < 2**62
        if u.lo == u.hi:
            ends = [lo * (u.lo + one), hi * (u.lo + one)]
            ys.append(Interval(min(ends), max(ends)))
        elif hi - lo < _ENUM_LIMIT and safe:
            ys.append(_erf_y_exact(lo, hi, b, c, one))
        else:
            ys.append(_product_hull(Interval(lo, hi), Interval(u.lo + one, u.hi + one)))
    u = _hull(*us)
    return {"t": _hull(*ts), "poly": _hull(*polys), "u": u, "g": Interval(u.lo + one, u.hi + one),
            "out": _hull(*ys)}
