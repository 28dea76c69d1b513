// ivit/layout.h -- the layout and small ops of the graphs: strided copies
// (reshape, transpose, slice, gather, concat halves, fan-out), broadcasting
// add, reduce_sum, argmax, and the stream <-> array adapters of the top.
//
// A strided copy walks a 6-D index space D0..D5 (unused axes are 1) and
// moves in[IOFF + sum(i_k * IS_k)] to out[OOFF + sum(i_k * OS_k)]; the
// renderer computes the strides, so one kernel serves every layout op.
#ifndef IVIT_LAYOUT_H
#define IVIT_LAYOUT_H

#include "common.h"
#include <hls_stream.h>

namespace ivit {

#define IVIT_WALK6(CFG, BODY)                                              \
    for (int i0 = 0; i0 < CFG::D0; i0++)                                   \
        for (int i1 = 0; i1 < CFG::D1; i1++)                               \
            for (int i2 = 0; i2 < CFG::D2; i2++)                           \
                for (int i3 = 0; i3 < CFG::D3; i3++)                       \
                    for (int i4 = 0; i4 < CFG::D4; i4++)                   \
                        for (int i5 = 0; i5 < CFG::D5; i5++) {             \
                            _Pragma("HLS PIPELINE II = 1") BODY            \
                        }

#define IVIT_OFFSET(CFG, P) \
    (CFG::P##OFF + i0 * CFG::P##S0 + i1 * CFG::P##S1 + i2 * CFG::P##S2 + i3 * CFG::P##S3 + i4 * CFG::P##S4 + i5 * CFG::P##S5)

// CFG: D0..D5, IOFF, IS0..IS5, OOFF, OS0..OS5, in_len, out_len.
template <class CFG, class TI, class TO>
void strided_copy(const TI in[CFG::in_len], TO out[CFG::out_len]) {
COPY:
    IVIT_WALK6(CFG, { out[IVIT_OFFSET(CFG, O)] = in[IVIT_OFFSET(CFG, I)]; })
}

// Both halves of a concat into one output buffer (one writer, as dataflow wants).
template <class CA, class CB, class TA, class TB, class TO>
void concat2(const TA a[CA::in_len], const TB b[CB::in_len], TO out[CA::out_len]) {
    strided_copy<CA>(a, out);
    strided_copy<CB>(b, out);
}

// A constant used as data: ROM values into an ap_int buffer.
template <int N, class TI, class TO>
void rom_to_array(const TI in[N], TO out[N]) {
ROM:
    for (int i = 0; i < N; i++) {
#pragma HLS PIPELINE II = 1
        out[i] = in[i];
    }
}

// out = a + b with broadcasting: A and B strides are 0 on broadcast axes; out is contiguous.
// CFG: D0..D5, AOFF, AS0..AS5, BOFF, BS0..BS5, OOFF, OS0..OS5, a_len, b_len, out_len.
template <class CFG, class TA, class TB, class TO>
void add(const TA a[CFG::a_len], const TB b[CFG::b_len], TO out[CFG::out_len]) {
ADD:
    IVIT_WALK6(CFG, { out[IVIT_OFFSET(CFG, O)] = a[IVIT_OFFSET(CFG, A)] + b[IVIT_OFFSET(CFG, B)]; })
}

// Sum over the middle axis of x viewed as [outer, axis, inner]. CFG: acc_t; outer, axis, inner.
template <class CFG, class TI, class TO>
void reduce_sum(const TI x[CFG::outer * CFG::axis * CFG::inner], TO out[CFG::outer * CFG::inner]) {
RS_OUTER:
    for (int o = 0; o < CFG::outer; o++) {
    RS_INNER:
        for (int j = 0; j < CFG::inner; j++) {
            typename CFG::acc_t acc = 0;
        RS_AXIS:
            for (int a = 0; a < CFG::axis; a++) {
#pragma HLS PIPELINE II = 1
                acc += x[(o * CFG::axis + a) * CFG::inner + j];
            }
            out[o * CFG::inner + j] = acc;
        }
    }
}

// Index of the first largest value of each row. CFG: rows, cols.
template <class CFG, class TI, class TO>
void argmax(const TI x[CFG::rows * CFG::cols], TO out[CFG::rows]) {
AM_ROWS:
    for (int r = 0; r < CFG::rows; r++) {
        TI best = x[r * CFG::cols];
        int idx = 0;
    AM_COLS:
        for (int c = 1; c < CFG::cols; c++) {
#pragma HLS PIPELINE II = 1
            if (x[r * CFG::cols + c] > best) {
                best = x[r * CFG::cols + c];
                idx = c;
            }
        }
        out[r] = idx;
    }
}

// Copy one buffer into K buffers (a tensor with several consumers: dataflow channels
// must have one consumer each).
template <int N, class T>
void fanout2(const T in[N], T o1[N], T o2[N]) {
FAN2:
    for (int i = 0; i < N; i++) {
#pragma HLS PIPELINE II = 1
        o1[i] = in[i];
        o2[i] = in[i];
    }
}

template <int N, class T>
void stream_to_array(hls::stream<T> &s, T out[N]) {
S2A:
    for (int i = 0; i < N; i++) {
#pragma HLS PIPELINE II = 1
        out[i] = s.read();
    }
}

template <int N, class T>
void array_to_stream(const T in[N], hls::stream<T> &s) {
A2S:
    for (int i = 0; i < N; i++) {
#pragma HLS PIPELINE II = 1
        s.write(in[i]);
    }
}

}  // namespace ivit

#endif  // IVIT_LAYOUT_H
