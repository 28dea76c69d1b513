// ivit/common.h -- shared integer helpers of the ivit_hw HLS kernels.
//
// Every kernel is header-only, templated on a per-layer config struct whose
// typedefs carry the IR's proven widths (ap_int<W> / ap_uint<W>) and whose
// static const members carry shapes and integer parameters. Arithmetic on
// ap_int values is exact (results widen); only an assignment to a typed
// variable narrows, and every such type is proven wide enough by the IR's
// range analysis. Synthesizable subset: static sizes, fixed loop bounds,
// no dynamic memory, no recursion.
#ifndef IVIT_COMMON_H
#define IVIT_COMMON_H

#if defined(__GNUC__) && !defined(__clang__) && !defined(__SYNTHESIS__)
// g++ reports -Wmaybe-uninitialized inside the ap_int headers after inlining;
// silence it for those headers only (our own code is still checked).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <ap_int.h>
#pragma GCC diagnostic pop
#else
#include <ap_int.h>
#endif

namespace ivit {

enum Rounding { FLOOR = 0, HALF_UP = 1, HALF_EVEN = 2 };

static const long long INT32_MAX_LL = 2147483647LL;

// 2^31 - 1 as an ap type. Always divide ap by ap: in the ap_int headers used for C-sim,
// (native integer) / ap_uint<W> truncates the quotient to W bits.
inline ap_uint<31> int32_max() {
#pragma HLS INLINE
    return ap_uint<31>(INT32_MAX_LL);
}

// round(p / 2^s) in the mode MODE (spec section 0); W must hold p, 2^s and
// p + 2^(s-1) (the renderer sizes it from the proven product and the largest shift).
template <int MODE, class W, class P>
W round_shift(const P &p, int s) {
#pragma HLS INLINE
    W pw = p;
    if (s <= 0) return pw;
    W q = pw >> s;
    if (MODE == FLOOR) return q;
    W half = W(1) << (s - 1);
    if (MODE == HALF_UP) return W((pw + half) >> s);
    W rem = pw - W(q << s);
    if (rem > half || (rem == half && (q & 1) != 0)) q = q + 1;
    return q;
}

// floor(num / den) for a negative compile-time divisor (ShiftExp's x0).
template <class Q, class P>
Q floor_div_neg(const P &p, long long den) {
#pragma HLS INLINE
    Q q = p / den;  // truncates toward zero
    if (p > 0 && q * den != p) q = q - 1;
    return q;
}

// round_half_even(num / den) for den > 0 (the LayerNorm mean).
template <class Q, class N>
Q div_round_half_even(const N &num, long long den) {
#pragma HLS INLINE
    Q q = num / den;
    if (num < 0 && q * den != num) q = q - 1;  // floor
    const auto rem = num - q * den;            // in [0, den), exact width
    if (2 * rem > den || (2 * rem == den && (q & 1) != 0)) q = q + 1;
    return q;
}

// Clamp v to [lo, hi] (the requantize output range).
template <class T, class V>
T clamp(const V &v, long long lo, long long hi) {
#pragma HLS INLINE
    if (v < lo) return T(lo);
    if (v > hi) return T(hi);
    return T(v);
}

}  // namespace ivit

#endif  // IVIT_COMMON_H
