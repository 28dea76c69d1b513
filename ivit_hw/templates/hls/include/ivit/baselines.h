// ivit/baselines.h -- the integer-only baselines of the ablation (spec section 9):
// I-BERT softmax, I-BERT GELU, FQ-ViT Log-Int-Softmax. (The I-BERT and L1
// LayerNorms are modes of ivit::layernorm; the shift-add attn @ v is in gemm.h.)
#ifndef IVIT_BASELINES_H
#define IVIT_BASELINES_H

#include "common.h"

namespace ivit {

// I-BERT exp of d <= 0: z = (r + b_int) * r + c_int, e = max(z << (n - q), 0).
// CFG: p_t, q_t, r_t, z_t; x0, b_int, c_int, n. E is the result type.
template <class CFG, class E, class D>
E ibert_exp(const D &d) {
#pragma HLS INLINE
    typename CFG::p_t p = (d < CFG::n * CFG::x0) ? typename CFG::p_t(CFG::n * CFG::x0) : typename CFG::p_t(d);
    typename CFG::q_t q = floor_div_neg<typename CFG::q_t>(p, CFG::x0);
    typename CFG::r_t r = p - CFG::x0 * q;
    typename CFG::z_t z = (r + CFG::b_int) * r + CFG::c_int;
    E e = 0;
    if (z > 0) e = E(E(z) << int(CFG::n - q));
    return e;
}

// CFG: x_t, d_t, e_t, e16_t, esum_t, sum_t, f_t, prod_t, out_t + exp's; rows, cols, h, out_shift.
template <class CFG>
void ibert_softmax(const typename CFG::x_t x[CFG::rows * CFG::cols], typename CFG::out_t y[CFG::rows * CFG::cols]) {
    typename CFG::e16_t ebuf[CFG::cols];
IBS_ROWS:
    for (int r = 0; r < CFG::rows; r++) {
        typename CFG::x_t mx = x[r * CFG::cols];
    IBS_MAX:
        for (int c = 1; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            if (x[r * CFG::cols + c] > mx) mx = x[r * CFG::cols + c];
        }
        typename CFG::esum_t esum = 0;
    IBS_EXP:
        for (int c = 0; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            typename CFG::d_t d = x[r * CFG::cols + c] - mx;
            typename CFG::e_t e = ibert_exp<CFG, typename CFG::e_t>(d);
            typename CFG::e16_t e16 = e >> CFG::h;
            ebuf[c] = e16;
            esum += e16;
        }
        const typename CFG::sum_t s = (esum < 1) ? typename CFG::sum_t(1) : typename CFG::sum_t(esum);
        const typename CFG::f_t f = ap_uint<33>(4294967296LL) / s;
    IBS_NORM:
        for (int c = 0; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            typename CFG::prod_t prod = ebuf[c] * f;
            y[r * CFG::cols + c] = prod >> CFG::out_shift;
        }
    }
}

// y = x * (u + one), u = (sign(x) * ((min(|x|, -b) + b)^2 + c)) >> 14, elementwise.
// CFG: x_t, t_t, poly_t, u_t, g_t, out_t; n, b_int, c_int, one.
template <class CFG>
void ibert_gelu(const typename CFG::x_t x[CFG::n], typename CFG::out_t y[CFG::n]) {
IBG_ELEM:
    for (int i = 0; i < CFG::n; i++) {
#pragma HLS PIPELINE II = 1
        const typename CFG::x_t xv = x[i];
        ap_int<CFG::x_bits + 1> ax = xv;
        if (xv < 0) ax = -ax;
        typename CFG::t_t t = (ax < -CFG::b_int) ? typename CFG::t_t(ax) : typename CFG::t_t(-CFG::b_int);
        typename CFG::poly_t poly = 0;
        if (xv > 0) poly = (t + CFG::b_int) * (t + CFG::b_int) + CFG::c_int;
        if (xv < 0) poly = -((t + CFG::b_int) * (t + CFG::b_int) + CFG::c_int);
        typename CFG::u_t u = poly >> 14;
        typename CFG::g_t g = u + CFG::one;
        y[i] = xv * g;
    }
}

// Log-Int-Softmax: code = round(log2(sum(e) / e)) as kb + the bit below the leading one, 16 when
// masked, zero or >= 16. CFG: x_t, d_t, e_t, sum_t, v_t, kb_t, out_t + exp's; rows, cols, v_bits,
// has_mask, mask_len.
template <class CFG>
void log_int_softmax(const typename CFG::x_t x[CFG::rows * CFG::cols], const unsigned char mask[CFG::mask_len],
                     typename CFG::out_t y[CFG::rows * CFG::cols]) {
    typename CFG::e_t ebuf[CFG::cols];
LIS_ROWS:
    for (int r = 0; r < CFG::rows; r++) {
        typename CFG::x_t mx = x[r * CFG::cols];
    LIS_MAX:
        for (int c = 1; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            if (x[r * CFG::cols + c] > mx) mx = x[r * CFG::cols + c];
        }
        typename CFG::sum_t total = 0;
    LIS_EXP:
        for (int c = 0; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            const int i = r * CFG::cols + c;
            typename CFG::d_t d = x[i] - mx;
            typename CFG::e_t e = ibert_exp<CFG, typename CFG::e_t>(d);
            if (CFG::has_mask && mask[i] == 0) e = 0;
            ebuf[c] = e;
            total += e;
        }
    LIS_CODE:
        for (int c = 0; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            const typename CFG::e_t e = ebuf[c];
            typename CFG::out_t code = 16;
            if (e > 0) {
                typename CFG::v_t v = total / e;  // both >= 0: truncation is floor
                const auto rem = total - v * e;
                if (2 * rem > e || (2 * rem == e && (v & 1) != 0)) v = v + 1;
                typename CFG::kb_t kb = -1;
            LIS_BITLEN:
                for (int b = 0; b < CFG::v_bits; b++) {
                    if (((v >> b) & 1) != 0) kb = b;
                }
                int cd = int(kb);
                if (kb >= 1 && ((v >> int(kb - 1)) & 1) != 0) cd = cd + 1;
                if (cd < 16) code = cd;
            }
            y[r * CFG::cols + c] = code;
        }
    }
}

}  // namespace ivit

#endif  // IVIT_BASELINES_H
