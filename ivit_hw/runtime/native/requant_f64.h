// The float64 requantize of the row kernels (included by kernels.cpp): the native form of
// ops.requant.requantize_float, clamp(rnd((acc + bias) * s) [+ rnd(identity * s_id)], bits) with
// s = m / 2^e and rnd half to even or down. It equals the integer requantize exactly where
// ops.requant.float_requantize_ok holds; the fused plan proves that per node ("float" in the step's
// info) and only then passes the scales here. acc + bias is exact in float64 (both integers, the sum
// proven below 2^53), and so is every rounding below; 8 channels per AVX-512 vector.
#pragma once
#include <cmath>
#include <cstdint>

template <int MODE>
static inline double round_f64(double y) {  // MODE 2 (floor) or half to even (the default FP mode)
    return MODE == 2 ? std::floor(y) : std::nearbyint(y);
}

#if defined(__AVX512F__) && defined(__AVX512VL__)
#include <immintrin.h>

template <int MODE>
static inline __m512d round_f64x8(__m512d y) {
    return MODE == 2 ? _mm512_roundscale_pd(y, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)
                     : _mm512_roundscale_pd(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

static inline __m512d load8_f64(const int8_t* p) { return _mm512_cvtepi32_pd(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)))); }
static inline __m512d load8_f64(const int16_t* p) { return _mm512_cvtepi32_pd(_mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))); }
static inline __m512d load8_f64(const int32_t* p) { return _mm512_cvtepi32_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }

static inline void store8(int8_t* p, __m256i v) { _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm256_cvtepi32_epi8(v)); }
static inline void store8(int16_t* p, __m256i v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtepi32_epi16(v)); }
static inline void store8(int32_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
#define IVIT_F64X8 1
#else
#define IVIT_F64X8 0
#endif

// Rows [r0, r1), columns [c0, c1) of out [rows, cols] from the int32 accumulator acc (row stride ld);
// bias, s, s_id per channel; ident [rows, cols] or null. bits <= 32.
template <int MODE, class IdT, class OutT>
static void requant_rows_f64(const int32_t* __restrict acc, int64_t ld, int64_t r0, int64_t r1, int64_t cols,
                             int64_t c0, int64_t c1, const double* __restrict bias, const double* __restrict s,
                             const IdT* __restrict ident, const double* __restrict s_id, int bits,
                             OutT* __restrict out) {
    const double hi = static_cast<double>((int64_t{1} << (bits - 1)) - 1), lo = -hi - 1;
    for (int64_t r = r0; r < r1; ++r) {
        const int32_t* a = acc + r * ld;
        const IdT* id = ident ? ident + r * cols : nullptr;
        OutT* o = out + r * cols;
        int64_t c = c0;
#if IVIT_F64X8
        const __m512d vhi = _mm512_set1_pd(hi), vlo = _mm512_set1_pd(lo);
        for (; c + 8 <= c1; c += 8) {
            __m512d y = _mm512_add_pd(load8_f64(a + c), _mm512_loadu_pd(bias + c));
            y = round_f64x8<MODE>(_mm512_mul_pd(y, _mm512_loadu_pd(s + c)));
            if (id) y = _mm512_add_pd(y, round_f64x8<MODE>(_mm512_mul_pd(load8_f64(id + c), _mm512_loadu_pd(s_id + c))));
            store8(o + c, _mm512_cvtpd_epi32(_mm512_min_pd(_mm512_max_pd(y, vlo), vhi)));
        }
#endif
        for (; c < c1; ++c) {
            double y = round_f64<MODE>((static_cast<double>(a[c]) + bias[c]) * s[c]);
            if (id) y += round_f64<MODE>(static_cast<double>(id[c]) * s_id[c]);
            o[c] = static_cast<OutT>(std::fmin(std::fmax(y, lo), hi));
        }
    }
}

// requant_rows_f64 dispatched on the rounding mode and the identity and output types (codes of kernels.cpp:
// 0 int8, 2 int16, 3 int32).
template <int MODE, class IdT>
static void requant_f64_out(const int32_t* acc, int64_t ld, int64_t r0, int64_t r1, int64_t cols, int64_t c0,
                            int64_t c1, const double* bias, const double* s, const IdT* id, const double* s_id,
                            int bits, void* out, int out_t) {
    if (out_t == 0)
        requant_rows_f64<MODE>(acc, ld, r0, r1, cols, c0, c1, bias, s, id, s_id, bits, static_cast<int8_t*>(out));
    else if (out_t == 2)
        requant_rows_f64<MODE>(acc, ld, r0, r1, cols, c0, c1, bias, s, id, s_id, bits, static_cast<int16_t*>(out));
    else
        requant_rows_f64<MODE>(acc, ld, r0, r1, cols, c0, c1, bias, s, id, s_id, bits, static_cast<int32_t*>(out));
}

template <int MODE>
static void requant_f64_id(const int32_t* acc, int64_t ld, int64_t r0, int64_t r1, int64_t cols, int64_t c0,
                           int64_t c1, const double* bias, const double* s, const void* id, int id_t,
                           const double* s_id, int bits, void* out, int out_t) {
    if (!id || id_t == 0)
        requant_f64_out<MODE>(acc, ld, r0, r1, cols, c0, c1, bias, s, static_cast<const int8_t*>(id), s_id, bits, out,
                              out_t);
    else if (id_t == 2)
        requant_f64_out<MODE>(acc, ld, r0, r1, cols, c0, c1, bias, s, static_cast<const int16_t*>(id), s_id, bits,
                              out, out_t);
    else
        requant_f64_out<MODE>(acc, ld, r0, r1, cols, c0, c1, bias, s, static_cast<const int32_t*>(id), s_id, bits,
                              out, out_t);
}

// The whole dispatch: mode 2 floor, otherwise half to even (the caller passes only those two).
static void requant_f64(const int32_t* acc, int64_t ld, int64_t r0, int64_t r1, int64_t cols, int64_t c0, int64_t c1,
                        const double* bias, const double* s, const void* id, int id_t, const double* s_id, int bits,
                        int mode, void* out, int out_t) {
    if (mode == 2)
        requant_f64_id<2>(acc, ld, r0, r1, cols, c0, c1, bias, s, id, id_t, s_id, bits, out, out_t);
    else
        requant_f64_id<0>(acc, ld, r0, r1, cols, c0, c1, bias, s, id, id_t, s_id, bits, out, out_t);
}
