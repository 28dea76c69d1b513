// ivit/stream.h -- the streaming forms of the kernels (dataflow: stream): every
// layer reads its inputs from hls::streams and writes its output to one, in
// token/row order, so consecutive layers of the DATAFLOW region overlap.
//
// A row kernel reads one row into a local row buffer, runs the array kernel
// on it with RC (the layer's config with rows = 1, m = 1 for linear) and
// writes the row out; the arithmetic is the array kernels', so the streaming
// design computes the same bits. The attention matmuls keep their second
// operand (K or V, every head) whole; the patch embedding keeps its CHW image.
// A stream's element order is the row-major order of the tensor's axes in the
// order the renderer records (the head split / merge transposes only relabel
// the axes: the heads of one token stay interleaved); a walk config W (D0..D5,
// NS0..NS5: the natural strides of the walked axes) reads such a stream.
#ifndef IVIT_STREAM_H
#define IVIT_STREAM_H

#include "common.h"
#include "gemm.h"
#include "layernorm.h"
#include "layout.h"
#include "requant.h"
#include "shiftgelu.h"
#include "shiftmax.h"
#include <hls_stream.h>

// A large local buffer of a process: a BRAM in synthesis, static in C-sim (off the stack).
#ifndef __SYNTHESIS__
#define IVIT_LOCAL static
#else
#define IVIT_LOCAL
#endif

namespace ivit {

// One stream into two (fan-out: the residual fork), or three (the q/k/v split).
template <int N, class T>
void dup2(hls::stream<T> &in, hls::stream<T> &o1, hls::stream<T> &o2) {
DUP2:
    for (int i = 0; i < N; i++) {
#pragma HLS PIPELINE II = 1
        const T v = in.read();
        o1.write(v);
        o2.write(v);
    }
}

template <int N, class T>
void dup3(hls::stream<T> &in, hls::stream<T> &o1, hls::stream<T> &o2, hls::stream<T> &o3) {
DUP3:
    for (int i = 0; i < N; i++) {
#pragma HLS PIPELINE II = 1
        const T v = in.read();
        o1.write(v);
        o2.write(v);
        o3.write(v);
    }
}

// A stream handed on unchanged (to an output port).
template <int N, class T>
void pass_stream(hls::stream<T> &in, hls::stream<T> &out) {
PASS:
    for (int i = 0; i < N; i++) {
#pragma HLS PIPELINE II = 1
        out.write(in.read());
    }
}

// A constant used as data, streamed out of its ROM.
template <int N, class TI, class TO>
void rom_to_stream(const TI in[N], hls::stream<TO> &s) {
ROM_S:
    for (int i = 0; i < N; i++) {
#pragma HLS PIPELINE II = 1
        s.write(TO(in[i]));
    }
}

// Requantize a row at a time (m, e per tensor or per channel).
template <class RC, int ROWS, class MT, class ET>
void requantize_rows(hls::stream<typename RC::acc_t> &in, const MT m[RC::m_len], const ET e[RC::m_len],
                     hls::stream<typename RC::out_t> &out) {
    typename RC::acc_t a[RC::cols];
    typename RC::out_t o[RC::cols];
REQ_S:
    for (int r = 0; r < ROWS; r++) {
        stream_to_array<RC::cols>(in, a);
        requantize<RC>(a, m, e, o);
        array_to_stream<RC::cols>(o, out);
    }
}

// The residual add: the identity arrives on its own stream (RC::id_len = cols).
template <class RC, int ROWS, class MT, class ET, class MIT, class EIT>
void requantize_identity_rows(hls::stream<typename RC::acc_t> &in, const MT m[RC::m_len], const ET e[RC::m_len],
                              hls::stream<typename RC::id_t> &ident, const MIT m_id[RC::mid_len],
                              const EIT e_id[RC::mid_len], hls::stream<typename RC::out_t> &out) {
    typename RC::acc_t a[RC::cols];
    typename RC::id_t d[RC::cols];
    typename RC::out_t o[RC::cols];
REQI_S:
    for (int r = 0; r < ROWS; r++) {
        stream_to_array<RC::cols>(in, a);
        stream_to_array<RC::cols>(ident, d);
        requantize_identity<RC>(a, m, e, d, m_id, e_id, o);
        array_to_stream<RC::cols>(o, out);
    }
}

// The identity is a constant (a bias broadcast per tensor or per channel).
template <class RC, int ROWS, class MT, class ET, class IT, class MIT, class EIT>
void requantize_const_identity_rows(hls::stream<typename RC::acc_t> &in, const MT m[RC::m_len],
                                    const ET e[RC::m_len], const IT ident[RC::id_len],
                                    const MIT m_id[RC::mid_len], const EIT e_id[RC::mid_len],
                                    hls::stream<typename RC::out_t> &out) {
    typename RC::acc_t a[RC::cols];
    typename RC::out_t o[RC::cols];
REQC_S:
    for (int r = 0; r < ROWS; r++) {
        stream_to_array<RC::cols>(in, a);
        requantize_identity<RC>(a, m, e, ident, m_id, e_id, o);
        array_to_stream<RC::cols>(o, out);
    }
}

template <class RC, int ROWS>
void shiftgelu_rows(hls::stream<typename RC::x_t> &in, hls::stream<typename RC::out_t> &out) {
    typename RC::x_t x[RC::cols];
    typename RC::out_t o[RC::cols];
SG_S:
    for (int r = 0; r < ROWS; r++) {
        stream_to_array<RC::cols>(in, x);
        shiftgelu<RC>(x, o);
        array_to_stream<RC::cols>(o, out);
    }
}

// Shiftmax without a mask (RC::mask_len = 1).
template <class RC, int ROWS>
void shiftmax_rows(hls::stream<typename RC::x_t> &in, const unsigned char mask[1],
                   hls::stream<typename RC::out_t> &out) {
    typename RC::x_t x[RC::cols];
    typename RC::out_t o[RC::cols];
SM_S:
    for (int r = 0; r < ROWS; r++) {
        stream_to_array<RC::cols>(in, x);
        shiftmax<RC>(x, mask, o);
        array_to_stream<RC::cols>(o, out);
    }
}

template <class RC, int ROWS, class BT>
void layernorm_rows(hls::stream<typename RC::x_t> &in, const BT bias[RC::cols],
                    hls::stream<typename RC::out_t> &out) {
    typename RC::x_t x[RC::cols];
    typename RC::out_t o[RC::cols];
LN_S:
    for (int r = 0; r < ROWS; r++) {
        stream_to_array<RC::cols>(in, x);
        layernorm<RC>(x, bias, o);
        array_to_stream<RC::cols>(o, out);
    }
}

template <class RC, int ROWS, class TI, class TO>
void argmax_rows(hls::stream<TI> &in, hls::stream<TO> &out) {
    TI x[RC::cols];
    TO o[1];
AM_S:
    for (int r = 0; r < ROWS; r++) {
        stream_to_array<RC::cols>(in, x);
        argmax<RC>(x, o);
        out.write(o[0]);
    }
}

// linear a row at a time: the input row (K) in par cyclic banks, N outputs streamed per row.
template <class CFG, class WT, class BT>
void linear_rows(hls::stream<typename CFG::x_t> &in, const WT w[CFG::n * CFG::k], const BT bias[CFG::n],
                 hls::stream<typename CFG::out_t> &out) {
    typename CFG::x_t x[CFG::k];
#pragma HLS ARRAY_PARTITION variable = x cyclic factor = CFG::par
LINS_M:
    for (int i = 0; i < CFG::m; i++) {
        stream_to_array<CFG::k>(in, x);
    LINS_N:
        for (int o = 0; o < CFG::n; o++) out.write(typename CFG::out_t(linear_dot<CFG>(x, 0, w, o * CFG::k, bias, o)));
    }
}

// linear with the weights behind an m_axi port: each weight row is one burst, read once per
// input row (streaming keeps no whole input, so the weights are read m times per sample).
template <class CFG, class WT, class BT>
void linear_axi_rows(hls::stream<typename CFG::x_t> &in, const WT *w, const BT bias[CFG::n],
                     hls::stream<typename CFG::out_t> &out) {
    typename CFG::x_t x[CFG::k];
#pragma HLS ARRAY_PARTITION variable = x cyclic factor = CFG::par
    WT wrow[CFG::k];
#pragma HLS ARRAY_PARTITION variable = wrow cyclic factor = CFG::par
LINAS_M:
    for (int i = 0; i < CFG::m; i++) {
        stream_to_array<CFG::k>(in, x);
    LINAS_N:
        for (int o = 0; o < CFG::n; o++) {
            burst_row<CFG::k>(w, o, wrow);
            out.write(typename CFG::out_t(linear_dot<CFG>(x, 0, wrow, 0, bias, o)));
        }
    }
}

// The patch embedding keeps the CHW image (channel-major: a patch needs every channel) and
// streams the patches' outputs in token order.
template <class CFG, class WT, class BT>
void patch_embed_stream(hls::stream<typename CFG::x_t> &in, const WT w[CFG::outs * CFG::k], const BT bias[CFG::outs],
                        hls::stream<typename CFG::out_t> &out) {
    const int n = CFG::chans * CFG::height * CFG::width;
    IVIT_LOCAL typename CFG::x_t x[CFG::chans * CFG::height * CFG::width];
#pragma HLS ARRAY_PARTITION variable = x cyclic factor = CFG::par
    stream_to_array<n>(in, x);
PES_PATCH:
    for (int g = 0; g < (CFG::height / CFG::patch) * (CFG::width / CFG::patch); g++) {
    PES_OUT:
        for (int o = 0; o < CFG::outs; o++) out.write(typename CFG::out_t(patch_dot<CFG>(x, g, w, o * CFG::k, bias, o)));
    }
}

template <class CFG, class WT, class BT>
void patch_embed_axi_stream(hls::stream<typename CFG::x_t> &in, const WT *w, const BT bias[CFG::outs],
                            hls::stream<typename CFG::out_t> &out) {
    const int n = CFG::chans * CFG::height * CFG::width;
    IVIT_LOCAL typename CFG::x_t x[CFG::chans * CFG::height * CFG::width];
#pragma HLS ARRAY_PARTITION variable = x cyclic factor = CFG::par
    WT wrow[CFG::k];
#pragma HLS ARRAY_PARTITION variable = wrow cyclic factor = CFG::par
    stream_to_array<n>(in, x);
PEAS_PATCH:
    for (int g = 0; g < (CFG::height / CFG::patch) * (CFG::width / CFG::patch); g++) {
    PEAS_OUT:
        for (int o = 0; o < CFG::outs; o++) {
            burst_row<CFG::k>(w, o, wrow);
            out.write(typename CFG::out_t(patch_dot<CFG>(x, g, wrow, 0, bias, o)));
        }
    }
}

// The attention matmuls, streamed: b (K or V of every head) is kept whole, filled in its stream
// order; the rows of a arrive head-major (MC::tok = 0) or token-major (MC::tok = 1: the heads of
// one token interleaved), and the output rows leave in the same order. b's element (h, r, c) of
// its IR shape [batch, rows, cols] sits at h * BS0 + r * BS1 + c * BS2 of the buffer. The sums run
// in the array kernel's order. CFG: the matmul's config; MC: tok, BS0, BS1, BS2, b_len.
template <class CFG, class MC>
void matmul_stream(hls::stream<typename CFG::a_t> &a, hls::stream<typename CFG::b_t> &b,
                   hls::stream<typename CFG::out_t> &out) {
    IVIT_LOCAL typename CFG::b_t bb[MC::b_len];
#pragma HLS ARRAY_PARTITION variable = bb cyclic factor = CFG::par
    typename CFG::a_t ar[CFG::k];
#pragma HLS ARRAY_PARTITION variable = ar cyclic factor = CFG::par
    stream_to_array<MC::b_len>(b, bb);
MMS_R:
    for (int r = 0; r < CFG::batch * CFG::m; r++) {
        const int h = MC::tok ? r % CFG::batch : r / CFG::m;
        stream_to_array<CFG::k>(a, ar);
        if (CFG::transpose_b) {
        MMS_N:
            for (int o = 0; o < CFG::n; o++)
                out.write(typename CFG::out_t(qk_dot<CFG>(ar, 0, bb, h * MC::BS0 + o * MC::BS1, MC::BS2)));
        } else {
        MMS_NB:
            for (int ob = 0; ob < CFG::n_blocks; ob++) {
                typename CFG::acc_t acc[CFG::par];
#pragma HLS ARRAY_PARTITION variable = acc complete
                av_block<CFG>(ar, 0, bb, h * MC::BS0, MC::BS1, MC::BS2, ob, acc);
                for (int p = 0; p < CFG::par; p++) {
                    const int o = ob * CFG::par + p;
                    if (o < CFG::n) out.write(typename CFG::out_t(acc[p]));
                }
            }
        }
    }
}

#define IVIT_COORD(K) (K == 0 ? i0 : K == 1 ? i1 : K == 2 ? i2 : K == 3 ? i3 : K == 4 ? i4 : i5)

// slice / gather on one axis as a filter of the stream: walk the stream's order (W: D0..D5)
// and pass the elements whose coordinate on walk axis W::KA is in [W::KLO, W::KHI).
template <class W, class TI, class TO>
void filter_stream(hls::stream<TI> &in, hls::stream<TO> &out) {
FILTER:
    IVIT_WALK6(W, {
        const TI v = in.read();
        const int c = IVIT_COORD(W::KA);
        if (c >= W::KLO && c < W::KHI) out.write(TO(v));
    })
}

// A concat on the leading axis: a's elements, then b's.
template <int NA, int NB, class TA, class TB, class TO>
void concat_stream(hls::stream<TA> &a, hls::stream<TB> &b, hls::stream<TO> &out) {
CAT_A:
    for (int i = 0; i < NA; i++) {
#pragma HLS PIPELINE II = 1
        out.write(TO(a.read()));
    }
CAT_B:
    for (int i = 0; i < NB; i++) {
#pragma HLS PIPELINE II = 1
        out.write(TO(b.read()));
    }
}

// ... with a constant first half (the class token).
template <int NA, int NB, class TA, class TB, class TO>
void concat_rom_stream(const TA a[NA], hls::stream<TB> &b, hls::stream<TO> &out) {
CATR_A:
    for (int i = 0; i < NA; i++) {
#pragma HLS PIPELINE II = 1
        out.write(TO(a[i]));
    }
CATR_B:
    for (int i = 0; i < NB; i++) {
#pragma HLS PIPELINE II = 1
        out.write(TO(b.read()));
    }
}

// A stream in another order back to the row-major order of its IR shape (a whole buffer):
// W walks the stream's order, W::NS* are the natural strides of the walked axes.
template <class W, class T>
void reorder_stream(hls::stream<T> &in, hls::stream<T> &out) {
    IVIT_LOCAL T buf[W::len];
REORDER_IN:
    IVIT_WALK6(W, { buf[i0 * W::NS0 + i1 * W::NS1 + i2 * W::NS2 + i3 * W::NS3 + i4 * W::NS4 + i5 * W::NS5] = in.read(); })
REORDER_OUT:
    for (int i = 0; i < W::len; i++) {
#pragma HLS PIPELINE II = 1
        out.write(buf[i]);
    }
}

}  // namespace ivit

#endif  // IVIT_STREAM_H
