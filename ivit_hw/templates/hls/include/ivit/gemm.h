// ivit/gemm.h -- integer GEMMs (spec section 3): linear, attention matmuls,
// the patch embedding, and Log-Int-Softmax's shift-add attn @ v.
//
// CFG::par multipliers work in parallel on the reduction axis (as hls4ml's
// reuse factor, inverted): the K loop runs k_blocks = ceil(K / par) pipelined
// iterations of par unrolled multiply-adds, so one output costs k_blocks
// cycles at II = 1. acc_t holds every partial sum (proven by the renderer
// from the IR's input ranges and the real weights).
#ifndef IVIT_GEMM_H
#define IVIT_GEMM_H

#include "common.h"

namespace ivit {

// One output of linear: bias[o] + x[i, :] . w[woff .. woff + K), par terms per pipelined clock.
template <class CFG, class WT, class BT>
typename CFG::acc_t linear_dot(const typename CFG::x_t *x, int i, const WT *w, int woff, const BT *bias, int o) {
#pragma HLS INLINE
    typename CFG::acc_t acc = CFG::has_bias ? typename CFG::acc_t(bias[o]) : typename CFG::acc_t(0);
LIN_K:
    for (int kb = 0; kb < CFG::k_blocks; kb++) {
#pragma HLS PIPELINE II = 1
        for (int p = 0; p < CFG::par; p++) {
#pragma HLS UNROLL
            const int kk = kb * CFG::par + p;
            if (kk < CFG::k) acc += x[i * CFG::k + kk] * w[woff + kk];
        }
    }
    return acc;
}

// x [M, K] @ w[N, K]^T + bias [N] -> out [M, N]. CFG: x_t, acc_t, out_t; m, n, k, par, k_blocks, has_bias.
template <class CFG, class WT, class BT>
void linear(const typename CFG::x_t x[CFG::m * CFG::k], const WT w[CFG::n * CFG::k], const BT bias[CFG::n],
            typename CFG::out_t out[CFG::m * CFG::n]) {
LIN_M:
    for (int i = 0; i < CFG::m; i++) {
    LIN_N:
        for (int o = 0; o < CFG::n; o++) out[i * CFG::n + o] = linear_dot<CFG>(x, i, w, o * CFG::k, bias, o);
    }
}

// Row o of a [rows, K] weight matrix behind an m_axi pointer into a local row: one burst of K words.
template <int K, class WT>
void burst_row(const WT *w, int o, WT row[K]) {
BURST_ROW:
    for (int kk = 0; kk < K; kk++) {
#pragma HLS PIPELINE II = 1
        row[kk] = w[o * K + kk];
    }
}

// Off-chip weights (weights: off_chip): w is an m_axi pointer. The output loop is outermost, so
// each weight row is read once per sample, as one burst of k words into a local row (partitioned
// by par), then used for every input row; each output sums the same terms in the same order as
// linear. CFG as linear's.
template <class CFG, class WT, class BT>
void linear_axi(const typename CFG::x_t x[CFG::m * CFG::k], const WT *w, const BT bias[CFG::n],
                typename CFG::out_t out[CFG::m * CFG::n]) {
    WT wrow[CFG::k];
#pragma HLS ARRAY_PARTITION variable = wrow cyclic factor = CFG::par
LINA_N:
    for (int o = 0; o < CFG::n; o++) {
        burst_row<CFG::k>(w, o, wrow);
    LINA_M:
        for (int i = 0; i < CFG::m; i++) out[i * CFG::n + o] = linear_dot<CFG>(x, i, wrow, 0, bias, o);
    }
}

// q @ k^T, one output: sum over kk of a[aoff + kk] * b[boff + kk * bstep], par terms per pipelined clock.
template <class CFG>
typename CFG::acc_t qk_dot(const typename CFG::a_t *a, int aoff, const typename CFG::b_t *b, int boff, int bstep) {
#pragma HLS INLINE
    typename CFG::acc_t acc = 0;
MM_K:
    for (int kb = 0; kb < CFG::k_blocks; kb++) {
#pragma HLS PIPELINE II = 1
        for (int p = 0; p < CFG::par; p++) {
#pragma HLS UNROLL
            const int kk = kb * CFG::par + p;
            if (kk < CFG::k) acc += a[aoff + kk] * b[boff + kk * bstep];
        }
    }
    return acc;
}

// attn @ v, one block of par outputs o = ob * par + p: acc[p] = sum over kk of
// a[aoff + kk] * b[boff + kk * kstep + o * ostep], one a value and par b values per clock.
template <class CFG>
void av_block(const typename CFG::a_t *a, int aoff, const typename CFG::b_t *b, int boff, int kstep, int ostep, int ob,
              typename CFG::acc_t acc[CFG::par]) {
#pragma HLS INLINE
    for (int p = 0; p < CFG::par; p++) {
#pragma HLS UNROLL
        acc[p] = 0;
    }
MM_KS:
    for (int kk = 0; kk < CFG::k; kk++) {
#pragma HLS PIPELINE II = 1
        const typename CFG::a_t av = a[aoff + kk];
        for (int p = 0; p < CFG::par; p++) {
#pragma HLS UNROLL
            const int o = ob * CFG::par + p;
            if (o < CFG::n) acc[p] += av * b[boff + kk * kstep + o * ostep];
        }
    }
}

// a [B, M, K] @ b [B, K, N] (or b [B, N, K] transposed) -> out [B, M, N].
// CFG: a_t, b_t, acc_t, out_t; batch, m, n, k, par, k_blocks, n_blocks, transpose_b.
// With b transposed (q @ k^T) the par lanes split the reduction (K) axis: a and b are read at par
// consecutive addresses, so a cyclic partition by par puts them in par different banks. Without
// (attn @ v) the lanes split the output (N) axis instead: each of par accumulators sums its own
// column over K in the same order, reading b[k, o .. o + par - 1] (consecutive again) and one a
// value per clock; reading par consecutive k of b there would hit one bank (they are N apart).
template <class CFG>
void matmul(const typename CFG::a_t a[CFG::batch * CFG::m * CFG::k],
            const typename CFG::b_t b[CFG::batch * CFG::k * CFG::n],
            typename CFG::out_t out[CFG::batch * CFG::m * CFG::n]) {
MM_B:
    for (int h = 0; h < CFG::batch; h++) {
    MM_M:
        for (int i = 0; i < CFG::m; i++) {
            if (CFG::transpose_b) {
            MM_N:
                for (int o = 0; o < CFG::n; o++)
                    out[(h * CFG::m + i) * CFG::n + o] =
                        qk_dot<CFG>(a, (h * CFG::m + i) * CFG::k, b, (h * CFG::n + o) * CFG::k, 1);
            } else {
            MM_NB:
                for (int ob = 0; ob < CFG::n_blocks; ob++) {
                    typename CFG::acc_t acc[CFG::par];
#pragma HLS ARRAY_PARTITION variable = acc complete
                    av_block<CFG>(a, (h * CFG::m + i) * CFG::k, b, h * CFG::k * CFG::n, CFG::n, 1, ob, acc);
                    for (int p = 0; p < CFG::par; p++) {
#pragma HLS UNROLL
                        const int o = ob * CFG::par + p;
                        if (o < CFG::n) out[(h * CFG::m + i) * CFG::n + o] = acc[p];
                    }
                }
            }
        }
    }
}

// One output of patch_embed: bias[o] + patch g of x . w[woff .. woff + K), par terms per clock.
template <class CFG, class WT, class BT>
typename CFG::acc_t patch_dot(const typename CFG::x_t *x, int g, const WT *w, int woff, const BT *bias, int o) {
#pragma HLS INLINE
    const int gw = CFG::width / CFG::patch;
    const int pp = CFG::patch * CFG::patch;
    typename CFG::acc_t acc = CFG::has_bias ? typename CFG::acc_t(bias[o]) : typename CFG::acc_t(0);
PE_K:
    for (int kb = 0; kb < CFG::k_blocks; kb++) {
#pragma HLS PIPELINE II = 1
        for (int p = 0; p < CFG::par; p++) {
#pragma HLS UNROLL
            const int kk = kb * CFG::par + p;
            if (kk < CFG::k) {
                const int c = kk / pp, dy = (kk / CFG::patch) % CFG::patch, dx = kk % CFG::patch;
                const int yy = (g / gw) * CFG::patch + dy, xx = (g % gw) * CFG::patch + dx;
                acc += x[(c * CFG::height + yy) * CFG::width + xx] * w[woff + kk];
            }
        }
    }
    return acc;
}

// Stride-p convolution as GEMM: x [C, H, W], w [O, C, p, p] -> out [(H/p)*(W/p), O].
// CFG: x_t, acc_t, out_t; chans, height, width, patch, outs, k (= C*p*p), par, k_blocks, has_bias.
template <class CFG, class WT, class BT>
void patch_embed(const typename CFG::x_t x[CFG::chans * CFG::height * CFG::width], const WT w[CFG::outs * CFG::k],
                 const BT bias[CFG::outs],
                 typename CFG::out_t out[(CFG::height / CFG::patch) * (CFG::width / CFG::patch) * CFG::outs]) {
PE_PATCH:
    for (int g = 0; g < (CFG::height / CFG::patch) * (CFG::width / CFG::patch); g++) {
    PE_OUT:
        for (int o = 0; o < CFG::outs; o++) out[g * CFG::outs + o] = patch_dot<CFG>(x, g, w, o * CFG::k, bias, o);
    }
}

// patch_embed with off-chip weights (an m_axi pointer), one burst per output channel as linear_axi.
template <class CFG, class WT, class BT>
void patch_embed_axi(const typename CFG::x_t x[CFG::chans * CFG::height * CFG::width], const WT *w,
                     const BT bias[CFG::outs],
                     typename CFG::out_t out[(CFG::height / CFG::patch) * (CFG::width / CFG::patch) * CFG::outs]) {
    WT wrow[CFG::k];
#pragma HLS ARRAY_PARTITION variable = wrow cyclic factor = CFG::par
PEA_OUT:
    for (int o = 0; o < CFG::outs; o++) {
        burst_row<CFG::k>(w, o, wrow);
    PEA_PATCH:
        for (int g = 0; g < (CFG::height / CFG::patch) * (CFG::width / CFG::patch); g++)
            out[g * CFG::outs + o] = patch_dot<CFG>(x, g, wrow, 0, bias, o);
    }
}

// Log-Int-Softmax attn @ v: out[b, i, d] = sum_j (v[b, j, d] << (15 - code[b, i, j])) over codes < 16.
// CFG: code_t, v_t, acc_t, out_t; batch, m, n (= the j axis), d, par, d_blocks.
// The par lanes split the output (d) axis, as matmul's attn @ v: one code and par consecutive v
// values per clock, so a cyclic partition of v by par serves them from par banks.
template <class CFG>
void log_attn_v(const typename CFG::code_t code[CFG::batch * CFG::m * CFG::n],
                const typename CFG::v_t v[CFG::batch * CFG::n * CFG::d],
                typename CFG::out_t out[CFG::batch * CFG::m * CFG::d]) {
LAV_B:
    for (int h = 0; h < CFG::batch; h++) {
    LAV_M:
        for (int i = 0; i < CFG::m; i++) {
        LAV_DB:
            for (int ob = 0; ob < CFG::d_blocks; ob++) {
                typename CFG::acc_t acc[CFG::par];
#pragma HLS ARRAY_PARTITION variable = acc complete
                for (int p = 0; p < CFG::par; p++) {
#pragma HLS UNROLL
                    acc[p] = 0;
                }
            LAV_J:
                for (int j = 0; j < CFG::n; j++) {
#pragma HLS PIPELINE II = 1
                    const typename CFG::code_t cd = code[(h * CFG::m + i) * CFG::n + j];
                    for (int p = 0; p < CFG::par; p++) {
#pragma HLS UNROLL
                        const int o = ob * CFG::par + p;
                        if (o < CFG::d && cd < 16) {
                            typename CFG::acc_t term = v[(h * CFG::n + j) * CFG::d + o];
                            acc[p] += term << int(15 - cd);
                        }
                    }
                }
                for (int p = 0; p < CFG::par; p++) {
#pragma HLS UNROLL
                    const int o = ob * CFG::par + p;
                    if (o < CFG::d) out[(h * CFG::m + i) * CFG::d + o] = acc[p];
                }
            }
        }
    }
}

}  // namespace ivit

#endif  // IVIT_GEMM_H
