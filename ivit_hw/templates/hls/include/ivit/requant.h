// ivit/requant.h -- dyadic requantize (spec section 2), optional identity term.
//
// out = clamp(round(acc*m/2^e) [+ round(identity*m_id/2^e_id)], out_bits).
// m / e (and m_id / e_id) hold 1, C (per channel, last axis) or all values;
// CFG::m_len says which. Rounding: ivit::FLOOR, HALF_UP or HALF_EVEN.
#ifndef IVIT_REQUANT_H
#define IVIT_REQUANT_H

#include "common.h"

namespace ivit {

template <int LEN, int N, int C>
inline int bcast_index(int i, int c) {
#pragma HLS INLINE
    return LEN == 1 ? 0 : (LEN == N ? i : c);
}

// CFG: acc_t, prod_t, y_t, rnd_t, out_t; rows, cols, m_len, rounding, out_min, out_max.
template <class CFG, class MT, class ET>
void requantize(const typename CFG::acc_t acc[CFG::rows * CFG::cols], const MT m[CFG::m_len],
                const ET e[CFG::m_len], typename CFG::out_t out[CFG::rows * CFG::cols]) {
REQ_ROWS:
    for (int r = 0; r < CFG::rows; r++) {
    REQ_COLS:
        for (int c = 0; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            const int i = r * CFG::cols + c;
            const int j = bcast_index<CFG::m_len, CFG::rows * CFG::cols, CFG::cols>(i, c);
            typename CFG::prod_t prod = acc[i] * m[j];
            typename CFG::y_t y = round_shift<CFG::rounding, typename CFG::rnd_t>(prod, int(e[j]));
            out[i] = clamp<typename CFG::out_t>(y, CFG::out_min, CFG::out_max);
        }
    }
}

// With the residual identity term: adds id_t, prod_id_t, y_id_t, rnd_id_t, sum_t, id_len, mid_len.
// ident: a stream buffer of id_t or a constant ROM (a broadcast bias) of a native type; read as id_t.
template <class CFG, class MT, class ET, class IT, class MIT, class EIT>
void requantize_identity(const typename CFG::acc_t acc[CFG::rows * CFG::cols], const MT m[CFG::m_len],
                         const ET e[CFG::m_len], const IT ident[CFG::id_len],
                         const MIT m_id[CFG::mid_len], const EIT e_id[CFG::mid_len],
                         typename CFG::out_t out[CFG::rows * CFG::cols]) {
REQI_ROWS:
    for (int r = 0; r < CFG::rows; r++) {
    REQI_COLS:
        for (int c = 0; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            const int n = CFG::rows * CFG::cols;
            const int i = r * CFG::cols + c;
            const int j = bcast_index<CFG::m_len, n, CFG::cols>(i, c);
            const int jd = bcast_index<CFG::id_len, n, CFG::cols>(i, c);
            const int jm = bcast_index<CFG::mid_len, n, CFG::cols>(i, c);
            typename CFG::prod_t prod = acc[i] * m[j];
            typename CFG::y_t y = round_shift<CFG::rounding, typename CFG::rnd_t>(prod, int(e[j]));
            typename CFG::prod_id_t prod_id = typename CFG::id_t(ident[jd]) * m_id[jm];
            typename CFG::y_id_t y_id = round_shift<CFG::rounding, typename CFG::rnd_id_t>(prod_id, int(e_id[jm]));
            typename CFG::sum_t sum = y + y_id;
            out[i] = clamp<typename CFG::out_t>(sum, CFG::out_min, CFG::out_max);
        }
    }
}

}  // namespace ivit

#endif  // IVIT_REQUANT_H
