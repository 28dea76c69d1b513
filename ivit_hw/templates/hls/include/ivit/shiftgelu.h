// ivit/shiftgelu.h -- ShiftGELU, x * sigmoid(1.702 x) with ShiftExp (spec section 6).
#ifndef IVIT_SHIFTGELU_H
#define IVIT_SHIFTGELU_H

#include "shiftmax.h"

namespace ivit {

// CFG: x_t, z_t, m_t, d_t, e_t, em_t, esum_t, sum_t, f_t, prod_t, g_t, out_t + ShiftExp's
// (p_t .. s_t cover both ShiftExp calls); rows, cols, x0, n, t_bits, coef_shift (0: z = x,
// the factor folded into x0; 1: z = x + x/2 + x/8 + x/16).
template <class CFG>
void shiftgelu(const typename CFG::x_t x[CFG::rows * CFG::cols], typename CFG::out_t y[CFG::rows * CFG::cols]) {
    typename CFG::z_t zbuf[CFG::cols];
SG_ROWS:
    for (int r = 0; r < CFG::rows; r++) {
        typename CFG::m_t m = 0;
    SG_MAX:
        for (int c = 0; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            const typename CFG::x_t xv = x[r * CFG::cols + c];
            typename CFG::z_t z = CFG::coef_shift ? typename CFG::z_t(xv + (xv >> 1) + (xv >> 3) + (xv >> 4))
                                                  : typename CFG::z_t(xv);
            zbuf[c] = z;
            if (c == 0 || z > m) m = z;
        }
        const typename CFG::em_t em = shift_exp_sat<CFG, typename CFG::em_t>(-m);
    SG_OUT:
        for (int c = 0; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            typename CFG::d_t d = zbuf[c] - m;
            typename CFG::e_t e = shift_exp<CFG, typename CFG::e_t>(d);
            typename CFG::esum_t esum = e + em;
            typename CFG::sum_t s = (esum > INT32_MAX_LL) ? typename CFG::sum_t(INT32_MAX_LL) : typename CFG::sum_t(esum);
            typename CFG::f_t f = int32_max() / s;
            typename CFG::prod_t prod = e * f;
            typename CFG::g_t g = prod >> 24;
            y[r * CFG::cols + c] = x[r * CFG::cols + c] * g;
        }
    }
}

}  // namespace ivit

#endif  // IVIT_SHIFTGELU_H
