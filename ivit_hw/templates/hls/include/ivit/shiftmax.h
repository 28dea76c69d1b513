// ivit/shiftmax.h -- ShiftExp and Shiftmax (spec sections 4-5).
#ifndef IVIT_SHIFTMAX_H
#define IVIT_SHIFTMAX_H

#include "common.h"

namespace ivit {

// ShiftExp of d with x0 < 0 and shift n (compile-time CFG::x0, CFG::n).
// CFG: p_t, q_t, r_t, t_t, s_t (the IR's internals); E is the result type.
template <class CFG, class E, class D>
E shift_exp(const D &d) {
#pragma HLS INLINE
    const auto raw = d + (d >> 1) - (d >> 4);  // d * 1.4375 ~ d * log2(e), exact width
    // clamp before narrowing: p_t is sized for the clamped value
    typename CFG::p_t p = (raw < CFG::n * CFG::x0) ? typename CFG::p_t(CFG::n * CFG::x0) : typename CFG::p_t(raw);
    typename CFG::q_t q = floor_div_neg<typename CFG::q_t>(p, CFG::x0);
    typename CFG::r_t r = p - CFG::x0 * q;  // in (x0, 0]
    typename CFG::t_t t = r - 2 * CFG::x0;
    typename CFG::s_t s = CFG::n - q - 1;
    E e = (s >= 0) ? E(E(t) << int(s)) : E(t >> int(-s));
    if (e < 0) e = 0;
    return e;
}

// ShiftExp saturated at 2^31 - 1 (ShiftGELU's exp(-max) term; the spec allows it
// there because that term only enters a sum clamped at 2^31 - 1).
template <class CFG, class E, class D>
E shift_exp_sat(const D &d) {
#pragma HLS INLINE
    const auto raw = d + (d >> 1) - (d >> 4);
    typename CFG::p_t p = (raw < CFG::n * CFG::x0) ? typename CFG::p_t(CFG::n * CFG::x0) : typename CFG::p_t(raw);
    typename CFG::q_t q = floor_div_neg<typename CFG::q_t>(p, CFG::x0);
    typename CFG::r_t r = p - CFG::x0 * q;
    typename CFG::t_t t = r - 2 * CFG::x0;  // > 0
    typename CFG::s_t s = CFG::n - q - 1;
    E e;
    if (s >= 31) {
        e = INT32_MAX_LL;  // t >= 1, so t << s >= 2^31
    } else if (s >= 0) {
        ap_int<CFG::t_bits + 33> w = t;
        w = w << int(s);
        e = (w > INT32_MAX_LL) ? E(INT32_MAX_LL) : E(w);
    } else {
        typename CFG::t_t w = t >> int(-s);
        e = (w > INT32_MAX_LL) ? E(INT32_MAX_LL) : E(w);
    }
    if (e < 0) e = 0;
    return e;
}

// Integer softmax over rows of CFG::cols; masked positions (mask[i] == 0) give 0.
// CFG: x_t, d_t, e_t, esum_t, sum_t, f_t, prod_t, out_t + ShiftExp's; rows, cols, x0, n,
// out_shift (= 32 - out_bits), has_mask, mask_len (1 without a mask).
template <class CFG>
void shiftmax(const typename CFG::x_t x[CFG::rows * CFG::cols], const unsigned char mask[CFG::mask_len],
              typename CFG::out_t y[CFG::rows * CFG::cols]) {
    typename CFG::e_t ebuf[CFG::cols];
SM_ROWS:
    for (int r = 0; r < CFG::rows; r++) {
        typename CFG::x_t mx = 0;
        bool any = false;
    SM_MAX:
        for (int c = 0; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            const int i = r * CFG::cols + c;
            const bool keep = !CFG::has_mask || mask[i] != 0;
            if (keep && (!any || x[i] > mx)) {
                mx = x[i];
                any = true;
            }
        }
        typename CFG::esum_t esum = 0;
    SM_EXP:
        for (int c = 0; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            const int i = r * CFG::cols + c;
            const bool keep = !CFG::has_mask || mask[i] != 0;
            typename CFG::d_t d = keep ? typename CFG::d_t(x[i] - mx) : typename CFG::d_t(0);
            typename CFG::e_t e = shift_exp<CFG, typename CFG::e_t>(d);
            if (!keep) e = 0;
            ebuf[c] = e;
            esum += e;
        }
        typename CFG::sum_t s = (esum > INT32_MAX_LL) ? typename CFG::sum_t(INT32_MAX_LL) : typename CFG::sum_t(esum);
        if (s < 1) s = 1;
        typename CFG::f_t f = int32_max() / s;
    SM_NORM:
        for (int c = 0; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            typename CFG::prod_t prod = ebuf[c] * f;
            y[r * CFG::cols + c] = prod >> CFG::out_shift;
        }
    }
}

}  // namespace ivit

#endif  // IVIT_SHIFTMAX_H
