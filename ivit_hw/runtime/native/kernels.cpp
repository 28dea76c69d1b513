// Row kernels of the fused executor's CPU fast path (ivit_hw/runtime/native/__init__.py).
//
// Each kernel is a named fast path of spec kernels in ivit_hw/ops (docs/semantics.md), one pass per
// row, threads over rows: requantize (section 2) with bias and residual, the Shiftmax row of the
// fused attention (sections 4-5), I-LayerNorm + requantize (section 7), ShiftGELU + requantize
// (section 6). The ShiftExp values and the GELU coefficient multiply are not recomputed here: they
// arrive as tables built by the ops kernels themselves. Integer arithmetic is int64 where the plan
// proved the values fit (the spec's own int64), __int128 for the wide requantize products.
// The Python side proves every precondition stated here before calling; tests in
// tests/fused/test_native_kernels.py check each kernel equal to ops.* at the bounds.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "pool.h"
#include "requant_f64.h"
#include "vnni_gemm.h"

typedef int64_t i64;
typedef __int128 i128;

enum Dtype { I8 = 0, U8 = 1, I16 = 2, I32 = 3, I64 = 4, F32 = 5, F64 = 6 };
enum Rounding { HALF_EVEN = 0, HALF_UP = 1, FLOOR = 2 };
static const i64 INT32_MAX_ = 2147483647;

static inline i64 load(const void* p, int t, i64 i) {
    switch (t) {
        case I8: return static_cast<const int8_t*>(p)[i];
        case U8: return static_cast<const uint8_t*>(p)[i];
        case I16: return static_cast<const int16_t*>(p)[i];
        case I32: return static_cast<const int32_t*>(p)[i];
        case I64: return static_cast<const int64_t*>(p)[i];
        case F32: return static_cast<i64>(static_cast<const float*>(p)[i]);  // exact integer values
        default: return static_cast<i64>(static_cast<const double*>(p)[i]);
    }
}

static inline void store(void* p, int t, i64 i, i64 v) {
    switch (t) {
        case I8: static_cast<int8_t*>(p)[i] = static_cast<int8_t>(v); break;
        case U8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v); break;
        case I16: static_cast<int16_t*>(p)[i] = static_cast<int16_t>(v); break;
        case I32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v); break;
        case I64: static_cast<int64_t*>(p)[i] = v; break;
        case F32: static_cast<float*>(p)[i] = static_cast<float>(v); break;
        default: static_cast<double*>(p)[i] = static_cast<double>(v); break;
    }
}

// round(p / 2^s) for 0 <= s <= 62 (spec section 0): floor, half up, half to even.
template <class T>
static inline T round_shift(T p, int s, int mode) {
    if (s == 0) return p;
    T q = p >> s;
    if (mode == FLOOR) return q;
    T half = static_cast<T>(1) << (s - 1);
    T rem = p - q * (static_cast<T>(1) << s);
    if (mode == HALF_UP) return q + (rem >= half);
    return q + ((rem > half) || (rem == half && (q & 1)));
}

template <class T>
static inline i64 clamp_bits(T v, int bits) {
    const T hi = (static_cast<T>(1) << (bits - 1)) - 1;
    const T lo = -hi - 1;
    return static_cast<i64>(v < lo ? lo : (v > hi ? hi : v));
}

// One requantize: clamp(round(a*m/2^e) [+ round(b*m_id/2^e_id)], bits), in T (int64 or __int128).
template <class T>
static inline i64 requant1(i64 a, i64 m, int e, int mode, int bits, bool has_id, i64 b, i64 mi, int ei) {
    T y = round_shift<T>(static_cast<T>(a) * m, e, mode);
    if (has_id) y += round_shift<T>(static_cast<T>(b) * mi, ei, mode);
    return clamp_bits<T>(y, bits);
}

static inline i64 requant_any(bool wide, i64 a, i64 m, int e, int mode, int bits, bool has_id = false,
                              i64 b = 0, i64 mi = 0, int ei = 0) {
    return wide ? requant1<i128>(a, m, e, mode, bits, has_id, b, mi, ei)
                : requant1<i64>(a, m, e, mode, bits, has_id, b, mi, ei);
}

// round(p / 2^s) for int64 p, 0 <= s <= 62, without branches (vectorises with per-channel shifts);
// equal to round_shift<i64>.
static inline i64 round_shift_flat(i64 p, i64 s, int mode) {
    const i64 q = p >> s;
    const i64 rem = p - q * (static_cast<i64>(1) << s);
    const i64 half = (static_cast<i64>(1) << s) >> 1;
    const i64 nz = s != 0;
    const i64 up_even = ((rem > half) | ((rem == half) & (q & 1))) & nz;
    const i64 up_half = (rem >= half) & nz;
    return q + (mode == FLOOR ? 0 : (mode == HALF_UP ? up_half : up_even));
}

// The requantize rows for an int32 accumulator whose products stay in int64 (the plan's direct path),
// with bias and every multiplier and shift given per channel (contiguous), typed so that the loop over
// channels vectorises; same result as requant1<i64>.
template <int MODE, class IdT, class OutT>
static void requant_rows_i32(const int32_t* __restrict acc, i64 ld, i64 r0, i64 r1, i64 cols, i64 c0, i64 c1,
                             const i64* __restrict bias, const i64* __restrict m, const i64* __restrict e,
                             const IdT* __restrict ident, const i64* __restrict mi, const i64* __restrict ei, int bits,
                             OutT* __restrict out) {
    const i64 hi = (static_cast<i64>(1) << (bits - 1)) - 1, lo = -hi - 1;
    for (i64 r = r0; r < r1; ++r) {
        const int32_t* __restrict a = acc + r * ld;
        OutT* __restrict o = out + r * cols;
        if (ident) {
            const IdT* __restrict id = ident + r * cols;
            for (i64 c = c0; c < c1; ++c) {
                i64 y = round_shift_flat((a[c] + bias[c]) * m[c], e[c], MODE) +
                        round_shift_flat(static_cast<i64>(id[c]) * mi[c], ei[c], MODE);
                o[c] = static_cast<OutT>(std::min(std::max(y, lo), hi));
            }
        } else {
            for (i64 c = c0; c < c1; ++c) {
                i64 y = round_shift_flat((a[c] + bias[c]) * m[c], e[c], MODE);
                o[c] = static_cast<OutT>(std::min(std::max(y, lo), hi));
            }
        }
    }
}

template <int MODE, class IdT>
static void requant_i32_out(const int32_t* acc, i64 ld, i64 r0, i64 r1, i64 cols, i64 c0, i64 c1, const i64* bias, const i64* m,
                            const i64* e, const IdT* id, const i64* mi, const i64* ei, int bits, void* out, int out_t) {
    if (out_t == I8)
        requant_rows_i32<MODE>(acc, ld, r0, r1, cols, c0, c1, bias, m, e, id, mi, ei, bits, static_cast<int8_t*>(out));
    else if (out_t == I16)
        requant_rows_i32<MODE>(acc, ld, r0, r1, cols, c0, c1, bias, m, e, id, mi, ei, bits, static_cast<int16_t*>(out));
    else
        requant_rows_i32<MODE>(acc, ld, r0, r1, cols, c0, c1, bias, m, e, id, mi, ei, bits, static_cast<int32_t*>(out));
}

template <int MODE>
static void requant_i32_id(const int32_t* acc, i64 ld, i64 r0, i64 r1, i64 cols, i64 c0, i64 c1, const i64* bias, const i64* m,
                           const i64* e, const void* id, int id_t, const i64* mi, const i64* ei, int bits, void* out,
                           int out_t) {
    if (!id || id_t == I8)
        requant_i32_out<MODE>(acc, ld, r0, r1, cols, c0, c1, bias, m, e, static_cast<const int8_t*>(id), mi, ei, bits, out, out_t);
    else if (id_t == I16)
        requant_i32_out<MODE>(acc, ld, r0, r1, cols, c0, c1, bias, m, e, static_cast<const int16_t*>(id), mi, ei, bits, out,
                              out_t);
    else
        requant_i32_out<MODE>(acc, ld, r0, r1, cols, c0, c1, bias, m, e, static_cast<const int32_t*>(id), mi, ei, bits, out,
                              out_t);
}

// f(std::integral_constant<int, MODE>) for the runtime rounding code (a template argument from it).
template <class F>
static inline void with_mode(int mode, F f) {
    if (mode == FLOOR)
        f(std::integral_constant<int, FLOOR>{});
    else if (mode == HALF_UP)
        f(std::integral_constant<int, HALF_UP>{});
    else
        f(std::integral_constant<int, HALF_EVEN>{});
}

static inline i64 floor_div(i64 a, i64 b) {  // b > 0
    i64 q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

// Shiftmax of one requantized row s[0..n) (spec section 5, unmasked) in place: d = s - max(s) in
// [-span, 0], e = table[d + span] (ShiftExp from the ops kernel), y = (e * f) >> (32 - out_bits).
static inline void shiftmax_row(i64* s, i64 n, const i64* table, i64 span, int out_bits) {
    i64 mx = INT64_MIN;
    for (i64 j = 0; j < n; ++j) mx = std::max(mx, s[j]);
    i64 esum = 0, j = 0;
#if defined(__AVX512F__)
    __m512i vsum = _mm512_setzero_si512();
    const __m512i off = _mm512_set1_epi64(span - mx);
    for (; j + 8 <= n; j += 8) {  // the ShiftExp lookups, 8 at a time
        const __m512i e = _mm512_i64gather_epi64(_mm512_add_epi64(_mm512_loadu_si512(s + j), off), table, 8);
        _mm512_storeu_si512(s + j, e);
        vsum = _mm512_add_epi64(vsum, e);
    }
    esum = _mm512_reduce_add_epi64(vsum);
#endif
    for (; j < n; ++j) {
        s[j] = table[s[j] - mx + span];
        esum += s[j];
    }
    const i64 total = std::min(std::max(esum, static_cast<i64>(1)), INT32_MAX_);
    const i64 f = INT32_MAX_ / total;
    for (i64 j = 0; j < n; ++j) s[j] = (s[j] * f) >> (32 - out_bits);
}

// One I-LayerNorm row + per-channel requantize (direct products), typed to vectorise; the int64 steps
// of ivit_layernorm.
template <int MODE, class InT, class OutT>
static void layernorm_row_typed(const InT* __restrict x, i64 c, const i64* __restrict bias, int iters, i64 k0,
                                const i64* __restrict m, const i64* __restrict e, int bits, OutT* __restrict out) {
    i64 xsum = 0;
    for (i64 j = 0; j < c; ++j) xsum += x[j];
    const i64 q = floor_div(xsum, c);  // round_half_even(xsum / c)
    const i64 twice = 2 * (xsum - q * c);
    const i64 mean = q + ((twice > c) || (twice == c && (q & 1)));
    i64 v = 0;
    for (i64 j = 0; j < c; ++j) {
        const i64 y = x[j] - mean;
        v += y * y;
    }
    i64 k = k0;
    for (int it = 0; it < iters; ++it) k = (k + v / k) / 2;
    const i64 f = INT32_MAX_ / k;
    const i64 hi = (static_cast<i64>(1) << (bits - 1)) - 1, lo = -hi - 1;
    for (i64 j = 0; j < c; ++j) {
        const i64 acc = (((x[j] - mean) * f) >> 1) + bias[j];
        const i64 y = round_shift_flat(acc * m[j], e[j], MODE);
        out[j] = static_cast<OutT>(std::min(std::max(y, lo), hi));
    }
}

template <int MODE, class InT>
static void layernorm_row_out(const InT* x, i64 c, const i64* bias, int iters, i64 k0, const i64* m, const i64* e,
                              int bits, void* out, int out_t, i64 off) {
    if (out_t == I8)
        layernorm_row_typed<MODE>(x, c, bias, iters, k0, m, e, bits, static_cast<int8_t*>(out) + off);
    else
        layernorm_row_typed<MODE>(x, c, bias, iters, k0, m, e, bits, static_cast<int16_t*>(out) + off);
}

template <int MODE>
static void layernorm_row_in(const void* x, int x_t, i64 r, i64 c, const i64* bias, int iters, i64 k0, const i64* m,
                             const i64* e, int bits, void* out, int out_t) {
    if (x_t == I8)
        layernorm_row_out<MODE>(static_cast<const int8_t*>(x) + r * c, c, bias, iters, k0, m, e, bits, out, out_t, r * c);
    else if (x_t == I16)
        layernorm_row_out<MODE>(static_cast<const int16_t*>(x) + r * c, c, bias, iters, k0, m, e, bits, out, out_t,
                                r * c);
    else
        layernorm_row_out<MODE>(static_cast<const int32_t*>(x) + r * c, c, bias, iters, k0, m, e, bits, out, out_t,
                                r * c);
}

// Rows [r0, r1) of ivit_requant.
static void requant_range(const void* acc, int acc_t, i64 acc_ld, i64 cols, i64 c0, i64 c1, const i64* bias, const i64* m,
                          i64 m_step, const i64* e, i64 e_step, const void* ident, int id_t, i64 id_ld,
                          const i64* m_id, i64 mid_step, const i64* e_id, i64 eid_step, int bits, int mode, int wide,
                          void* out, int out_t, i64 r0, i64 r1) {
    // the vectorised rows: int32 accumulator, direct products, every constant given per channel
    const bool fast = !wide && acc_t == I32 && (out_t == I8 || out_t == I16 || out_t == I32) && bias && m_step &&
                      e_step && (!ident || ((id_t == I8 || id_t == I16 || id_t == I32) && id_ld == cols && mid_step &&
                                            eid_step));
    if (fast) {
        const int32_t* a32 = static_cast<const int32_t*>(acc);
        with_mode(mode, [&](auto md) {
            requant_i32_id<decltype(md)::value>(a32, acc_ld, r0, r1, cols, c0, c1, bias, m, e, ident, id_t, m_id, e_id,
                                                bits, out, out_t);
        });
        return;
    }
    for (i64 r = r0; r < r1; ++r) {
        for (i64 c = c0; c < c1; ++c) {
            i64 a = load(acc, acc_t, r * acc_ld + c) + (bias ? bias[c] : 0);
            i64 b = ident ? load(ident, id_t, r * id_ld + c) : 0;
            i64 v = ident ? requant_any(wide, a, m[c * m_step], static_cast<int>(e[c * e_step]), mode, bits,
                                        true, b, m_id[c * mid_step], static_cast<int>(e_id[c * eid_step]))
                          : requant_any(wide, a, m[c * m_step], static_cast<int>(e[c * e_step]), mode, bits);
            store(out, out_t, r * cols + c, v);
        }
    }
}

#include "attention.h"

#if IVIT_VNNI
// The work items of a threaded GEMM (see VnniGemm) with f(r0, r1, nb0, nb1) run after each item's tile.
template <class F>
static void vnni_gemm_items(const VnniGemm& g, int nthreads, F after, bool scratch = false) {
    const i64 slab = g.slab_blocks(nthreads), slabs = (g.nblocks + slab - 1) / slab;
    const i64 chunks = (g.m + ROWS_CHUNK - 1) / ROWS_CHUNK;
    auto item = [&](i64 i) {
        const i64 r0 = (i / slabs) * ROWS_CHUNK, r1 = std::min(g.m, r0 + ROWS_CHUNK);
        const i64 nb0 = (i % slabs) * slab, nb1 = std::min(g.nblocks, nb0 + slab);
        if (!scratch) {
            g.run(r0, r1, nb0, nb1);
            after(r0, r1, nb0, nb1, g.c, g.ldc);
            return;
        }
        // the item's accumulators in a per-thread tile (no whole [m, n] int32 buffer to fault in);
        // c is addressed as origin + r * ldc + col for the item's rows and columns, inside the tile
        thread_local std::vector<int32_t> tile;
        const i64 ldc = 16 * slab;
        tile.resize(ROWS_CHUNK * ldc);
        int32_t* origin = reinterpret_cast<int32_t*>(reinterpret_cast<uintptr_t>(tile.data()) -
                                                     static_cast<uintptr_t>((r0 * ldc + 16 * nb0) * 4));
        VnniGemm gi = g;
        gi.c = origin;
        gi.ldc = ldc;
        gi.run(r0, r1, nb0, nb1);
        after(r0, r1, nb0, nb1, origin, ldc);
    };
    if (nthreads <= 1) {
        for (i64 i = 0; i < chunks * slabs; ++i) item(i);
    } else {
        ivit::Pool::get().run(chunks * slabs, nthreads, item);
    }
}
#endif

extern "C" {

// Whether this build has the AVX512-VNNI GEMM (ivit_gemm_vnni); the caller falls back otherwise.
int ivit_has_vnni() { return IVIT_VNNI; }

// Pack w [n, k] int8 (row stride ldw) for ivit_gemm_vnni: blocks of 16 output columns,
// out[((nb * k4n) + k4) * 64 + col * 4 + q] = w[16 nb + col, 4 k4 + q], k4n = ceil(k / 4), zeros past n and k.
void ivit_pack_b(const int8_t* w, i64 ldw, i64 n, i64 k, int8_t* out) { pack_strided(w, ldw, 1, n, k, out); }


// c [m, 16 * nblocks] (int32) = (a ^ xor_a) @ B for int8 a [m, k] (row stride lda) and B packed by
// ivit_pack_b; xor_a = 0x80808080 computes (a + 128) @ B (the caller subtracts 128 * colsum(B)),
// 0 reads a as unsigned bytes. Threads over (row chunk, column slab) items.
void ivit_gemm_vnni(const int8_t* a, i64 lda, i64 m, i64 k, const int8_t* bp, i64 nblocks, uint32_t xor_a,
                    int32_t* c, int nthreads) {
#if IVIT_VNNI
    const VnniGemm g{a, lda, m, k, bp, nblocks, xor_a, c, 16 * nblocks};
    vnni_gemm_items(g, nthreads, [](i64, i64, i64, i64, const int32_t*, i64) {});
#else
    (void)a; (void)lda; (void)m; (void)k; (void)bp; (void)nblocks; (void)xor_a; (void)c; (void)nthreads;
#endif
}

// out[r, c] = requantize(acc[r, c] + bias[c], m[c], e[c]) (+ identity[r, c] with m_id, e_id), for a
// [rows, cols] accumulator with row stride acc_ld (bias, identity may be null; *_step 0 = scalar).
void ivit_requant(const void* acc, int acc_t, i64 acc_ld, i64 rows, i64 cols, const i64* bias,
                  const i64* m, i64 m_step, const i64* e, i64 e_step, const void* ident, int id_t, i64 id_ld,
                  const i64* m_id, i64 mid_step, const i64* e_id, i64 eid_step, int bits, int mode, int wide,
                  void* out, int out_t, int nthreads) {
    parallel_rows(rows, nthreads, [=](i64 r0, i64 r1) {
        requant_range(acc, acc_t, acc_ld, cols, 0, cols, bias, m, m_step, e, e_step, ident, id_t, id_ld, m_id, mid_step, e_id,
                      eid_step, bits, mode, wide, out, out_t, r0, r1);
    });
}

// ivit_gemm_vnni followed by ivit_requant of each work item while its accumulators are in cache (a
// per-thread tile), in one parallel region (the GEMM step's epilogue; arguments as there).
void ivit_gemm_requant(const int8_t* a, i64 lda, i64 k, const int8_t* bp, i64 nblocks, uint32_t xor_a,
                       i64 rows, i64 cols, const i64* bias, const i64* m, i64 m_step, const i64* e, i64 e_step,
                       const void* ident, int id_t, i64 id_ld, const i64* m_id, i64 mid_step, const i64* e_id,
                       i64 eid_step, int bits, int mode, int wide, void* out, int out_t, int nthreads) {
#if IVIT_VNNI
    const VnniGemm g{a, lda, rows, k, bp, nblocks, xor_a, nullptr, 16 * nblocks};
    vnni_gemm_items(g, nthreads, [&](i64 r0, i64 r1, i64 nb0, i64 nb1, const int32_t* c, i64 ld) {
        requant_range(c, I32, ld, cols, 16 * nb0, std::min(cols, 16 * nb1), bias, m, m_step, e, e_step, ident, id_t,
                      id_ld, m_id, mid_step, e_id, eid_step, bits, mode, wide, out, out_t, r0, r1);
    }, true);
#else
    (void)a; (void)lda; (void)k; (void)bp; (void)nblocks; (void)xor_a; (void)rows; (void)cols; (void)bias;
    (void)m; (void)m_step; (void)e; (void)e_step; (void)ident; (void)id_t; (void)id_ld; (void)m_id; (void)mid_step;
    (void)e_id; (void)eid_step; (void)bits; (void)mode; (void)wide; (void)out; (void)out_t; (void)nthreads;
#endif
}

// ivit_gemm_requant with the float64 requantize (requant_f64.h; only where the plan
// proved it exact):
// out = clamp(rnd((acc + bias) * s) [+ rnd(identity * s_id)], bits), every constant per channel (cols
// values), identity [rows, cols] contiguous or null, mode FLOOR or HALF_EVEN.
void ivit_gemm_requant_f64(const int8_t* a, i64 lda, i64 k, const int8_t* bp, i64 nblocks, uint32_t xor_a,
                           i64 rows, i64 cols, const double* bias, const double* s, const void* ident,
                           int id_t, const double* s_id, int bits, int mode, void* out, int out_t, int nthreads) {
#if IVIT_VNNI
    const VnniGemm g{a, lda, rows, k, bp, nblocks, xor_a, nullptr, 16 * nblocks};
    vnni_gemm_items(g, nthreads, [&](i64 r0, i64 r1, i64 nb0, i64 nb1, const int32_t* c, i64 ld) {
        requant_f64(c, ld, r0, r1, cols, 16 * nb0, std::min(cols, 16 * nb1), bias, s, ident, id_t, s_id, bits, mode,
                    out, out_t);
    }, true);
#else
    (void)a; (void)lda; (void)k; (void)bp; (void)nblocks; (void)xor_a; (void)rows; (void)cols; (void)bias;
    (void)s; (void)ident; (void)id_t; (void)s_id; (void)bits; (void)mode; (void)out; (void)out_t; (void)nthreads;
#endif
}

// The fused attention's row: s = requantize(scores, sm, se) to sbits (scalar multiplier), then
// Shiftmax over the row with ShiftExp looked up in table[d + span] for d = s - max(s) in [-span, 0]
// (span = 2^sbits - 1 covers every row), output (e * f) >> (32 - out_bits).
void ivit_shiftmax(const void* sc, int sc_t, i64 rows, i64 n, i64 sm, int se, int sbits, int mode, int wide,
                   const i64* table, i64 span, int out_bits, void* out, int out_t, int nthreads) {
    parallel_rows(rows, nthreads, [=](i64 r0, i64 r1) {
        std::vector<i64> s(n);
        for (i64 r = r0; r < r1; ++r) {
            for (i64 j = 0; j < n; ++j) s[j] = requant_any(wide, load(sc, sc_t, r * n + j), sm, se, mode, sbits);
            shiftmax_row(s.data(), n, table, span, out_bits);
            for (i64 j = 0; j < n; ++j) store(out, out_t, r * n + j, s[j]);
        }
    });
}

// The fused attention of one step, per (batch, head) over threads: scores = q @ k^T (VNNI, int32),
// s = requantize(scores, sm, se) to sbits, y = Shiftmax row (table as in shiftmax_row, y < 2^15),
// o = y @ v as 256 * (hi @ v) + lo @ v with the bytes hi = y >> 8, lo = y & 255 (unsigned, VNNI),
// out = requantize(o, om, oe) to obits, written [B, H, N, dh] contiguous. q, k, v are int8 [B, H, N, dh]
// with element strides qs/ks/vs[4]. Exact: |q.k| <= 2^14 dh, |o| <= 2^15 * 128 * N < 2^31 (N <= 1024).
void ivit_attention(const int8_t* q, const i64* qs, const int8_t* k, const i64* ks, const int8_t* v, const i64* vs,
                    i64 nb_, i64 nh, i64 n, i64 dh, i64 sm, int se, int sbits, int mode, const i64* table, i64 span,
                    int out_bits, i64 om, int oe, int obits, void* out, int out_t, int nthreads) {
#if IVIT_VNNI
    const AttnShape sh{n, dh, sm, se, sbits, table, span, out_bits, om, oe, obits};
    // work items: (batch, head, block of query rows), enough blocks for every thread to get several
    const i64 heads = nb_ * nh;
    const i64 qblocks = std::min((n + VNNI_MR - 1) / VNNI_MR, std::max<i64>(1, (4 * nthreads + heads - 1) / heads));
    const i64 qrows = (n + qblocks - 1) / qblocks;
    auto item = [&](i64 it) {
        const i64 t = it / qblocks, b = t / nh, h = t % nh, i0 = (it % qblocks) * qrows;
        const i64 i1 = std::min(n, i0 + qrows);
        if (i0 >= i1) return;
        attention_rows(sh, q + b * qs[0] + h * qs[1], qs + 2, k + b * ks[0] + h * ks[1], ks + 2,
                       v + b * vs[0] + h * vs[1], vs + 2, i0, i1, mode, out, out_t, t * n * dh);
    };
    if (nthreads <= 1) {
        for (i64 it = 0; it < heads * qblocks; ++it) item(it);
    } else {
        ivit::Pool::get().run(heads * qblocks, nthreads, item);
    }
#else
    (void)q; (void)qs; (void)k; (void)ks; (void)v; (void)vs; (void)nb_; (void)nh; (void)n; (void)dh; (void)sm;
    (void)se; (void)sbits; (void)mode; (void)table; (void)span; (void)out_bits; (void)om; (void)oe; (void)obits;
    (void)out; (void)out_t; (void)nthreads;
#endif
}

// I-LayerNorm over rows of c channels (Newton sqrt from k0, iters steps), plus bias_int, then
// requantize per channel (m[ch], e[ch]) to bits. Needs every int64 intermediate in range (proved
// by the caller: c * (2 max|x|)^2 < 2^62 and 2 max|x| * 2^31 < 2^62).
void ivit_layernorm(const void* x, int x_t, i64 rows, i64 c, const i64* bias, int iters, i64 k0, const i64* m,
                    i64 m_step, const i64* e, i64 e_step, int bits, int mode, int wide, void* out, int out_t,
                    int nthreads) {
    const bool fast = !wide && m_step && e_step && (x_t == I8 || x_t == I16 || x_t == I32) &&
                      (out_t == I8 || out_t == I16);  // the typed rows
    parallel_rows(rows, nthreads, [=](i64 r0, i64 r1) {
        for (i64 r = r0; r < r1; ++r) {
            if (fast) {
                with_mode(mode, [&](auto md) {
                    layernorm_row_in<decltype(md)::value>(x, x_t, r, c, bias, iters, k0, m, e, bits, out, out_t);
                });
                continue;
            }
            i64 xsum = 0;
            for (i64 j = 0; j < c; ++j) xsum += load(x, x_t, r * c + j);
            i64 q = floor_div(xsum, c);  // round_half_even(xsum / c)
            const i64 twice = 2 * (xsum - q * c);
            const i64 mean = q + ((twice > c) || (twice == c && (q & 1)));
            i64 v = 0;
            for (i64 j = 0; j < c; ++j) {
                const i64 y = load(x, x_t, r * c + j) - mean;
                v += y * y;
            }
            i64 k = k0;
            for (int it = 0; it < iters; ++it) k = (k + v / k) / 2;
            const i64 f = INT32_MAX_ / k;
            for (i64 j = 0; j < c; ++j) {
                const i64 y = load(x, x_t, r * c + j) - mean;
                const i64 acc = ((y * f) >> 1) + bias[j];
                store(out, out_t, r * c + j,
                      requant_any(wide, acc, m[j * m_step], static_cast<int>(e[j * e_step]), mode, bits));
            }
        }
    });
}

// z = x (ztab null) or ztab[x - zlo] (the GELU coefficient multiply, tabulated); zmax[r] = max_j z.
void ivit_gelu_rowmax(const void* x, int x_t, i64 rows, i64 n, const i64* ztab, i64 zlo, i64* zmax, int nthreads) {
    parallel_rows(rows, nthreads, [=](i64 r0, i64 r1) {
        for (i64 r = r0; r < r1; ++r) {
            if (x_t == I8 && !ztab) {  // typed: vectorises
                const int8_t* xr = static_cast<const int8_t*>(x) + r * n;
                int8_t m8 = INT8_MIN;
                for (i64 j = 0; j < n; ++j) m8 = std::max(m8, xr[j]);
                zmax[r] = n ? m8 : INT64_MIN;
                continue;
            }
            i64 mx = INT64_MIN;
            for (i64 j = 0; j < n; ++j) {
                const i64 xv = load(x, x_t, r * n + j);
                mx = std::max(mx, ztab ? ztab[xv - zlo] : xv);
            }
            zmax[r] = mx;
        }
    });
}

// ShiftGELU's sigmoid g = (e * (INT32_MAX // min(e + em, INT32_MAX))) >> sig_shift with e = table[d + span],
// d = z - zmax[r] in [-span, 0], em[r] = ShiftExp(-zmax[r]) saturated (from the caller); the output
// x * g requantized (scalar m, e) to bits.
void ivit_gelu(const void* x, int x_t, i64 rows, i64 n, const i64* ztab, i64 zlo, const i64* zmax, const i64* em,
               const i64* table, i64 span, int sig_shift, i64 m, int e, int bits, int mode, int wide, void* out,
               int out_t, int nthreads) {
    // g of d = z - zmax[r] depends on the row only through zmax[r] (em[r] is ShiftExp(-zmax[r])), so
    // for int8 x the output is a function of (zmax[r], x): a 256-entry table per distinct zmax, filled
    // for the x values met (the same formula, once per value instead of once per element)
    auto g_of = [=](i64 d, i64 emr) {
        const i64 ev = table[d + span];
        const i64 total = std::min(ev + emr, INT32_MAX_);  // in [0, 2^31 - 1]: a 32-bit division
        const i64 f = total > 0 ? static_cast<uint32_t>(INT32_MAX_) / static_cast<uint32_t>(total) : 0;
        return (ev * f) >> sig_shift;  // total 0 only with ev 0: g is 0 then
    };
    auto value = [=](i64 xv, i64 r) {
        const i64 z = ztab ? ztab[xv - zlo] : xv;
        return requant_any(wide, xv * g_of(z - zmax[r], em[r]), m, e, mode, bits);
    };
    parallel_rows(rows, nthreads, [=](i64 r0, i64 r1) {
        if (x_t != I8) {
            for (i64 r = r0; r < r1; ++r)
                for (i64 j = 0; j < n; ++j) store(out, out_t, r * n + j, value(load(x, x_t, r * n + j), r));
            return;
        }
        std::unordered_map<i64, size_t> slot;  // zmax -> its table
        std::vector<int32_t> lut;
        std::vector<uint8_t> have;
        for (i64 r = r0; r < r1; ++r) {
            auto [it, fresh] = slot.try_emplace(zmax[r], lut.size());
            if (fresh) {
                lut.resize(lut.size() + 256);
                have.resize(have.size() + 256, 0);
            }
            int32_t* L = lut.data() + it->second + 128;
            uint8_t* H = have.data() + it->second + 128;
            const int8_t* xr = static_cast<const int8_t*>(x) + r * n;
            if (fresh && !ztab) {  // z = x: every x of such a row lies in [zmax - span, zmax]
                for (i64 xv = std::max<i64>(-128, zmax[r] - span); xv <= std::min<i64>(127, zmax[r]); ++xv) {
                    L[xv] = static_cast<int32_t>(value(xv, r));
                    H[xv] = 1;
                }
            }
            if (ztab) {
                for (i64 j = 0; j < n; ++j) {
                    const int xv = xr[j];
                    if (!H[xv]) {
                        L[xv] = static_cast<int32_t>(value(xv, r));
                        H[xv] = 1;
                    }
                }
            }
            if (out_t == I8) {
                int8_t* o = static_cast<int8_t*>(out) + r * n;
                for (i64 j = 0; j < n; ++j) o[j] = static_cast<int8_t>(L[xr[j]]);
            } else if (out_t == I16) {
                int16_t* o = static_cast<int16_t*>(out) + r * n;
                for (i64 j = 0; j < n; ++j) o[j] = static_cast<int16_t>(L[xr[j]]);
            } else {
                for (i64 j = 0; j < n; ++j) store(out, out_t, r * n + j, L[xr[j]]);
            }
        }
    });
}

}  // extern "C"
