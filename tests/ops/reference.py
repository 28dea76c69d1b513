"""A deliberately naive reference for the normative semantics, ``docs/semantics.md`` Part A.

Written straight from the spec text with Python ints and per-element loops,
so that it shares no code (and as few ideas as possible) with the vectorised
kernels in ``ivit_hw.ops``. It must never import ``ivit_hw``.

Tensors are nested Python lists; every reduction runs over the innermost list
(the "last axis"). Functions return nested lists of Python ints, which the
tests turn into int64 arrays before comparing with ``np.array_equal``.

Nothing here saturates or clamps unless the spec says so: Python ints never
wrap, so e.g. ShiftGELU's ``em`` is computed exactly even when it is
hundreds of bits wide.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

INT32_MAX = 2**31 - 1


# ---------------------------------------------------------------- helpers --


def _is_row(t) -> bool:
    """A row is a list whose items are plain ints (not lists)."""
    return not t or not isinstance(t[0], list)


def map_rows(fn, t, *others):
    """Apply ``fn(row, *other_rows)`` to every innermost list of ``t``."""
    if _is_row(t):
        return fn(t, *others)
    return [map_rows(fn, sub, *[o[i] for o in others]) for i, sub in enumerate(t)]


def map_elems(fn, t):
    """Apply ``fn`` to every scalar of a nested list."""
    if isinstance(t, list):
        return [map_elems(fn, v) for v in t]
    return fn(t)


def round_shift(p: int, s: int, mode: str) -> int:
    """``p / 2^s`` rounded as spec section 0 describes."""
    if s == 0:
        return p
    half = 2 ** (s - 1)
    if mode == "floor":
        return p >> s
    if mode == "half_up":
        return (p + half) >> s
    if mode == "half_even":
        q = p >> s
        rem = p - q * 2**s
        if rem > half or (rem == half and q % 2 == 1):
            q += 1
        return q
    raise ValueError(mode)


def round_half_even_fraction(num: int, den: int) -> int:
    """Exact round-half-to-even of num/den (Python's ``round`` on a Fraction)."""
    return round(Fraction(num, den))


def clamp(v: int, bits: int) -> int:
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return max(lo, min(hi, v))


# ------------------------------------------------------ section 2: dyadic --


def dyadic(r: float) -> tuple[int, int]:
    """Steps 1-4 of spec section 2 for one real ratio (raises for e < 0)."""
    if r != r or r in (math.inf, -math.inf):
        raise ValueError("ratio must be finite")
    if r == 0:
        return 0, 0
    mant, ex = math.frexp(abs(r))
    m = math.floor(Fraction(mant) * 2**31 + Fraction(1, 2))
    e = 31 - ex
    if m == 2**31:
        m, e = 2**30, e - 1
    if e < 0:
        raise ValueError("ratio too large")
    return (-m if r < 0 else m), e


def requantize(acc, m, e, out_bits, rounding="half_even", identity=None, m_id=None, e_id=None):
    """Per element: round(acc*m/2^e) [+ round(id*m_id/2^e_id)], clamped.

    ``m``, ``e``, ``m_id``, ``e_id`` are ints or lists indexed by the last axis.
    """

    def pick(par, j):
        return par[j] if isinstance(par, list) else par

    def row_fn(row, id_row=None):
        out = []
        for j, a in enumerate(row):
            y = round_shift(a * pick(m, j), pick(e, j), rounding)
            if id_row is not None:
                y += round_shift(id_row[j] * pick(m_id, j), pick(e_id, j), rounding)
            out.append(clamp(y, out_bits))
        return out

    if identity is None:
        return map_rows(row_fn, acc)
    return map_rows(row_fn, acc, identity)


# --------------------------------------------- section 3: linear layers --


def matmul2d(a, b):
    """Plain triple loop: a [M][K] times b [K][N]."""
    rows, inner, cols = len(a), len(b), len(b[0]) if b else 0
    out = []
    for i in range(rows):
        out_row = []
        for j in range(cols):
            acc = 0
            for k in range(inner):
                acc += a[i][k] * b[k][j]
            out_row.append(acc)
        out.append(out_row)
    return out


def linear2d(x, w, b=None):
    """x [M][K], w [N][K] (torch layout), b [N] -> x @ w^T + b."""
    out = []
    for xr in x:
        out_row = []
        for n, wr in enumerate(w):
            acc = sum(xv * wv for xv, wv in zip(xr, wr, strict=True))
            if b is not None:
                acc += b[n]
            out_row.append(acc)
        out.append(out_row)
    return out


def patch_embed(img, w, b, patch):
    """Stride-``patch`` convolution by its definition. img [C][H][W], w [O][C][p][p] -> [N][O].

    Patch n = gy * (W/p) + gx (row-major over the grid).
    """
    c_in, h, wd = len(img), len(img[0]), len(img[0][0])
    out = []
    for gy in range(h // patch):
        for gx in range(wd // patch):
            out_row = []
            for o in range(len(w)):
                acc = 0 if b is None else b[o]
                for c in range(c_in):
                    for i in range(patch):
                        for j in range(patch):
                            acc += img[c][gy * patch + i][gx * patch + j] * w[o][c][i][j]
                out_row.append(acc)
            out.append(out_row)
    return out


# ---------------------------------------- sections 4-5: ShiftExp, Shiftmax --


def shift_exp1(x: int, x0: int, n: int) -> int:
    """Spec section 4 for one value, exactly (no saturation)."""
    p = x + (x >> 1) - (x >> 4)
    if p < n * x0:
        p = n * x0
    q = p // x0
    r = p - x0 * q
    t = r - 2 * x0
    s = n - q - 1
    e = t * 2**s if s >= 0 else t >> (-s)
    return max(e, 0)


def shift_exp(x, x0, n):
    return map_elems(lambda v: shift_exp1(v, x0, n), x)


def shiftmax(x, x0, n=15, out_bits=16, mask=None):
    """Spec section 5. ``mask`` (same nesting, True = keep): masked positions
    are left out of the max, get e = 0 and output 0; a fully masked row is 0."""

    def row_fn(row, keep=None):
        if keep is None:
            keep = [True] * len(row)
        live = [v for v, k in zip(row, keep, strict=True) if k]
        if not live:
            return [0] * len(row)
        top = max(live)
        es = [shift_exp1(v - top, x0, n) if k else 0 for v, k in zip(row, keep, strict=True)]
        total = min(sum(es), INT32_MAX)
        f = INT32_MAX // total
        return [(ev * f) >> (32 - out_bits) for ev in es]

    if mask is None:
        return map_rows(row_fn, x)
    return map_rows(row_fn, x, mask)


# ------------------------------------------------------ section 6: GELU --


def shiftgelu(x, x0, n=23, coef="scale"):
    """Spec section 6 with em computed exactly (arbitrarily wide)."""

    def row_fn(row):
        if coef == "scale":
            zs = list(row)
        elif coef == "shift":
            zs = [v + (v >> 1) + (v >> 3) + (v >> 4) for v in row]
        else:
            raise ValueError(coef)
        top = max(zs)
        em = shift_exp1(-top, x0, n)
        out = []
        for v, z in zip(row, zs, strict=True):
            e = shift_exp1(z - top, x0, n)
            s = min(e + em, INT32_MAX)
            f = INT32_MAX // s
            g = (e * f) >> 24
            out.append(v * g)
        return out

    return map_rows(row_fn, x)


# ------------------------------------------------- section 7: LayerNorm --


def isqrt_iter1(v: int, iters: int = 10, k0: int = 65536) -> int:
    k = k0
    for _ in range(iters):
        k = (k + v // k) // 2
    return k


def isqrt_iter(v, iters=10, k0=65536):
    return map_elems(lambda a: isqrt_iter1(a, iters, k0), v)


def _normalise_row(row, bias, spread, numerator):
    c = len(row)
    mean = round_half_even_fraction(sum(row), c)
    ys = [v - mean for v in row]
    k = spread(ys)
    f = numerator // k
    return [((y * f) >> 1) + bias[j] for j, y in enumerate(ys)]


def ilayernorm(x, bias_int, iters=10, k0=65536, sqrt="iter"):
    def spread(ys):
        v = sum(y * y for y in ys)
        if sqrt == "iter":
            return isqrt_iter1(v, iters, k0)
        return max(math.isqrt(v), 1)

    return map_rows(lambda row: _normalise_row(row, bias_int, spread, INT32_MAX), x)


# -------------------------------------------------- section 9: baselines --


def ibert_exp_row(row, x0, b_int, c_int, n=30):
    top = max(row)
    out = []
    for v in row:
        p = max(v - top, n * x0)
        q = p // x0
        r = p - x0 * q
        z = (r + b_int) * r + c_int
        out.append(max(z * 2 ** (n - q), 0))
    return out


def ibert_softmax(x, x0, b_int, c_int, h, n=30, out_bits=16):
    def row_fn(row):
        es = [ev >> h for ev in ibert_exp_row(row, x0, b_int, c_int, n)]
        f = 2**32 // max(sum(es), 1)
        return [(ev * f) >> (32 - out_bits) for ev in es]

    return map_rows(row_fn, x)


def ibert_gelu(x, b_int, c_int, one):
    def one_val(v):
        t = min(abs(v), -b_int)
        sign = (v > 0) - (v < 0)
        u = sign * ((t + b_int) ** 2 + c_int)
        u = u >> 14
        return v * (u + one)

    return map_elems(one_val, x)


def ibert_layernorm(x, bias_int):
    def spread(ys):
        return max(math.isqrt(sum(y * y for y in ys)), 1)

    return map_rows(lambda row: _normalise_row(row, bias_int, spread, 2**31), x)


def l1_layernorm(x, bias_int):
    def spread(ys):
        return max(sum(abs(y) for y in ys), 1)

    return map_rows(lambda row: _normalise_row(row, bias_int, spread, INT32_MAX), x)


def log_int_softmax(x, x0, b_int, c_int, n=30, mask=None):
    """Codes 0..15 mean 2^-code; 16 means masked (e == 0 or code too large)."""

    def row_fn(row, keep=None):
        es = ibert_exp_row(row, x0, b_int, c_int, n)
        if keep is not None:
            es = [ev if k else 0 for ev, k in zip(es, keep, strict=True)]
        total = sum(es)
        codes = []
        for ev in es:
            if ev <= 0:
                codes.append(16)
                continue
            v = round_half_even_fraction(total, ev)
            kb = v.bit_length() - 1
            code = kb + ((v >> (kb - 1)) & 1) if kb >= 1 else kb
            codes.append(code if code < 16 else 16)
        return codes

    if mask is None:
        return map_rows(row_fn, x)
    return map_rows(row_fn, x, mask)


def log_attn_v(codes, v):
    """codes [M][N], v [N][D] -> sum_j v[j][d] << (15 - code_j) over codes < 16."""
    out = []
    for crow in codes:
        out_row = []
        for d in range(len(v[0])):
            acc = 0
            for j, c in enumerate(crow):
                if c < 16:
                    acc += v[j][d] * 2 ** (15 - c)
            out_row.append(acc)
        out.append(out_row)
    return out


# ------------------------------------------- compile-time integer params --


def shiftexp_x0(scale: float) -> int:
    return math.floor(-1.0 / scale)


@lru_cache(maxsize=256)
def ibert_exp_consts(scale: float, n: int = 30) -> dict[str, int]:
    """x0, b_int, c_int, and h found by brute force over every clamped d."""
    a = 0.35815147
    b = 0.96963238 / a
    c = 1.0 / a
    x0 = math.floor(-math.log(2) / scale)
    b_int = math.floor(b / scale)
    c_int = math.floor(c / scale**2)
    e_max = max(ibert_exp_row([d, 0], x0, b_int, c_int, n)[0] for d in range(n * x0, 1))
    h = 0
    while (e_max >> h) >= 2**16:
        h += 1
    return {"x0": x0, "b_int": b_int, "c_int": c_int, "h": h}


def ibert_gelu_consts(scale: float) -> dict[str, int]:
    """b_int, c_int and one for I-BERT's i-GELU (spec section 9)."""
    k, a, b = 1.4142, -0.2888, -1.769
    s_e = scale / k
    s_u = s_e**2 * a * 2**14
    return {
        "b_int": math.floor(b / s_e),
        "c_int": math.floor((1.0 / a) / s_e**2),
        "one": math.floor(1.0 / s_u),
    }


# ------------------------------------------ data movement, add, reductions --
# Nested lists of any depth; ``axis`` counts from the outermost level, negative from the innermost.


def shape_of(t) -> list[int]:
    """The shape of a (rectangular) nested list."""
    dims = []
    while isinstance(t, list):
        dims.append(len(t))
        t = t[0] if t else None
    return dims


def flatten(t) -> list[int]:
    """Row-major list of the scalars of a nested list."""
    if not isinstance(t, list):
        return [t]
    return [v for sub in t for v in flatten(sub)]


def build(flat: list[int], shape: list[int]):
    """The nested list of ``shape`` holding ``flat`` in row-major order."""
    if not shape:
        return flat[0]
    step = len(flat) // shape[0] if shape[0] else 0
    return [build(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def _at(t, index):
    for i in index:
        t = t[i]
    return t


def _indices(shape):
    """Every multi-index of ``shape`` in row-major order."""
    if not shape:
        yield ()
        return
    for i in range(shape[0]):
        for rest in _indices(shape[1:]):
            yield (i, *rest)


def reshape(t, shape):
    return build(flatten(t), list(shape))


def transpose(t, perm):
    """out[i_0..i_k] = t[j] with j[perm[a]] = i_a."""
    src = shape_of(t)
    out_shape = [src[p] for p in perm]
    flat = []
    for idx in _indices(out_shape):
        j = [0] * len(perm)
        for a, p in enumerate(perm):
            j[p] = idx[a]
        flat.append(_at(t, j))
    return build(flat, out_shape)


def _norm_axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def concat(a, b, axis):
    axis = _norm_axis(axis, len(shape_of(a)))
    if axis == 0:
        return a + b
    return [concat(x, y, axis - 1) for x, y in zip(a, b, strict=True)]


def take_range(t, axis, start, stop):
    axis = _norm_axis(axis, len(shape_of(t)))
    if axis == 0:
        return t[start:stop]
    return [take_range(sub, axis - 1, start, stop) for sub in t]


def gather(t, axis, index):
    axis = _norm_axis(axis, len(shape_of(t)))
    if axis == 0:
        return t[index]
    return [gather(sub, axis - 1, index) for sub in t]


def reduce_sum(t, axis):
    axis = _norm_axis(axis, len(shape_of(t)))
    if axis == 0:
        total = t[0]
        for sub in t[1:]:
            total = add(total, sub)
        return total
    return [reduce_sum(sub, axis - 1) for sub in t]


def argmax(t):
    """Index of the first largest value of every innermost row."""
    def row_fn(row):
        best = 0
        for j, v in enumerate(row):
            if v > row[best]:
                best = j
        return best

    if _is_row(t):
        return row_fn(t)
    return [argmax(sub) for sub in t]


def add(a, b):
    """Elementwise a + b, broadcasting size-1 dimensions (equal ranks)."""
    if not isinstance(a, list):
        return a + b
    n = max(len(a), len(b))
    return [add(a[i if len(a) > 1 else 0], b[i if len(b) > 1 else 0]) for i in range(n)]


def matmul(a, b, transpose_b=False):
    """Batched a @ b over leading axes (equal ranks, no broadcasting); b's last two axes swapped first if asked."""
    if len(shape_of(a)) == 2:
        if transpose_b:
            b = [list(col) for col in zip(*b, strict=True)]
        return matmul2d(a, b)
    return [matmul(x, y, transpose_b) for x, y in zip(a, b, strict=True)]
