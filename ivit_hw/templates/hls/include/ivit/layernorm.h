// ivit/layernorm.h -- I-LayerNorm (spec section 7) and the I-BERT / L1
// LayerNorm baselines (section 9): centre a row, divide by an integer spread.
#ifndef IVIT_LAYERNORM_H
#define IVIT_LAYERNORM_H

#include "common.h"

namespace ivit {

// floor(sqrt(v)) by the bit-serial method: VB/2 + 1 fixed steps, no division.
template <int VB, class V>
ap_uint<VB + 2> isqrt_bits(const V &v) {
#pragma HLS INLINE
    const int hb = ((VB + 1) / 2) * 2 - 2;  // the highest even bit position below 2^VB
    ap_uint<VB + 2> num = v, res = 0, bit = ap_uint<VB + 2>(1) << hb;
ISQRT:
    for (int i = 0; i <= hb / 2; i++) {
        if (num >= res + bit) {
            num = num - (res + bit);
            res = (res >> 1) + bit;
        } else {
            res = res >> 1;
        }
        bit = bit >> 2;
    }
    return res;
}

// MODE 0: I-LayerNorm (spread = the iters-step Newton sqrt of sum(y^2) from k0),
// MODE 1: exact sqrt (max(isqrt, 1)), MODE 2: L1 (max(sum|y|, 1)).
// out = ((y * (CFG::numer // k)) >> 1) + bias[c].
// CFG: x_t, xsum_t, mean_t, y_t, sq_t, v_t, k_t, kw_t, f_t, yf_t, z_t, out_t; rows, cols, mode,
// iters, k0, numer, v_bits.
template <class CFG, class BT>
void layernorm(const typename CFG::x_t x[CFG::rows * CFG::cols], const BT bias[CFG::cols],
               typename CFG::out_t out[CFG::rows * CFG::cols]) {
    typename CFG::y_t ybuf[CFG::cols];
LN_ROWS:
    for (int r = 0; r < CFG::rows; r++) {
        typename CFG::xsum_t xsum = 0;
    LN_SUM:
        for (int c = 0; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            xsum += x[r * CFG::cols + c];
        }
        const typename CFG::mean_t mean = div_round_half_even<typename CFG::mean_t>(xsum, CFG::cols);
        typename CFG::v_t v = 0;
    LN_VAR:
        for (int c = 0; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            typename CFG::y_t y = x[r * CFG::cols + c] - mean;
            ybuf[c] = y;
            if (CFG::mode == 2) {
                if (y < 0) {
                    v -= y;
                } else {
                    v += y;
                }
            } else {
                typename CFG::sq_t sq = y * y;
                v += sq;
            }
        }
        typename CFG::k_t k;
        if (CFG::mode == 0) {
            typename CFG::kw_t kw = CFG::k0;
        LN_NEWTON:
            for (int i = 0; i < CFG::iters; i++) {
                kw = (kw + v / kw) >> 1;
            }
            k = kw;
        } else if (CFG::mode == 1) {
            ap_uint<CFG::v_bits + 2> s = isqrt_bits<CFG::v_bits>(v);
            k = (s < 1) ? typename CFG::k_t(1) : typename CFG::k_t(s);
        } else {
            k = (v < 1) ? typename CFG::k_t(1) : typename CFG::k_t(v);
        }
        const typename CFG::f_t f = ap_uint<32>(CFG::numer) / k;
    LN_NORM:
        for (int c = 0; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            typename CFG::yf_t yf = ybuf[c] * f;
            typename CFG::z_t z = yf >> 1;
            out[r * CFG::cols + c] = z + bias[c];
        }
    }
}

}  // namespace ivit

#endif  // IVIT_LAYERNORM_H
