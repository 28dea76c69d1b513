// The AVX512-VNNI int8 GEMM of the row kernels (included by kernels.cpp).
//
// c[m, 16 nblocks] (int32) = A @ B with A read as unsigned bytes (a ^ 0x80 = a + 128 for signed a;
// the caller subtracts 128 colsum(B)) and B [k, n] packed by pack_strided. Exact while every |sum|
// < 2^31 (255 * 128 * k for int8 B). Structure (the usual one for a register-blocked GEMM):
// - micro-kernel: an MR x 16 NB tile of int32 accumulators held in zmm registers over a whole K
//   block (6 x 4: 24 accumulators, 4 B registers, 1 broadcast of 4 A bytes); per 4 k: NB 64-byte
//   loads of B, MR 4-byte broadcasts of A, MR NB vpdpbusd;
// - B packed once per weight: per block of 16 columns, 64 bytes per 4 k ([col][4 k] interleaved, as
//   vpdpbusd multiplies 4 consecutive bytes of each lane);
// - cache blocking: K in blocks of KC4 * 4 so the B panel of one column group (16 NB columns) stays
//   in L1 while every row tile of a chunk of ROWS_CHUNK rows passes over it; the chunk's A rows
//   (copied once: flipped to unsigned, K padded to a multiple of 4) stay in L1/L2;
// - work items: (row chunk, column slab) pairs, handed to the threads dynamically; small M splits N.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

// B[kk, col] = src[col * cs + kk * ks] (col < n, kk < k, zeros beyond) packed for the VNNI tiles:
// blocks of 16 columns, out[((nb * k4n) + k4) * 64 + col * 4 + q] = B[4 k4 + q, 16 nb + col], k4n = ceil(k / 4).
static void pack_strided(const int8_t* src, int64_t cs, int64_t ks, int64_t n, int64_t k, int8_t* out) {
    const int64_t k4n = (k + 3) / 4, nblocks = (n + 15) / 16;
    for (int64_t nb = 0; nb < nblocks; ++nb)
        for (int64_t k4 = 0; k4 < k4n; ++k4)
            for (int64_t col = 0; col < 16; ++col)
                for (int64_t q = 0; q < 4; ++q) {
                    const int64_t cc = 16 * nb + col, kk = 4 * k4 + q;
                    out[(nb * k4n + k4) * 64 + col * 4 + q] = (cc < n && kk < k) ? src[cc * cs + kk * ks] : 0;
                }
}

#if defined(__AVX512F__) && defined(__AVX512VNNI__)
#include <immintrin.h>
#define IVIT_VNNI 1

static const int VNNI_MR = 6, VNNI_NB = 4;
static const int64_t KC4 = 96;         // K block: 384 bytes of each A row, a 24 KiB B panel
static const int64_t ROWS_CHUNK = 48;  // rows per work item (8 row tiles)

// C[MR x 16 NB] (row stride ldc) (+)= sum over k4 < k4n of a[r, 4 k4 + q] * B (see the file comment);
// bp points at the first column block's panel, bstride bytes between column blocks. The pragmas
// unroll the tile loops so the accumulators live in registers (GCC keeps the arrays on the stack
// otherwise).
template <int MR, int NB>
__attribute__((noinline)) static void vnni_tile(const uint8_t* __restrict a, int64_t lda, const int8_t* __restrict bp, int64_t bstride,
                             int64_t k4n, int32_t* __restrict c, int64_t ldc, bool accumulate) {
    __m512i acc[MR][NB];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int b = 0; b < NB; ++b)
            acc[r][b] = accumulate ? _mm512_loadu_si512(c + r * ldc + b * 16) : _mm512_setzero_si512();
    for (int64_t k4 = 0; k4 < k4n; ++k4) {
        __m512i bv[NB];
#pragma GCC unroll 4
        for (int b = 0; b < NB; ++b) bv[b] = _mm512_loadu_si512(bp + b * bstride + k4 * 64);
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
            int32_t av;
            std::memcpy(&av, a + r * lda + 4 * k4, 4);  // one vpbroadcastd from memory
            const __m512i ab = _mm512_set1_epi32(av);
#pragma GCC unroll 4
            for (int b = 0; b < NB; ++b) acc[r][b] = _mm512_dpbusd_epi32(acc[r][b], ab, bv[b]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int b = 0; b < NB; ++b) _mm512_storeu_si512(c + r * ldc + b * 16, acc[r][b]);
}

template <int MR>
static void vnni_tile_nb(int nb, const uint8_t* a, int64_t lda, const int8_t* bp, int64_t bstride, int64_t k4n,
                         int32_t* c, int64_t ldc, bool accumulate) {
    switch (nb) {
        case 1: vnni_tile<MR, 1>(a, lda, bp, bstride, k4n, c, ldc, accumulate); break;
        case 2: vnni_tile<MR, 2>(a, lda, bp, bstride, k4n, c, ldc, accumulate); break;
        case 3: vnni_tile<MR, 3>(a, lda, bp, bstride, k4n, c, ldc, accumulate); break;
        default: vnni_tile<MR, 4>(a, lda, bp, bstride, k4n, c, ldc, accumulate); break;
    }
}

static void vnni_tile_any(int mr, int nb, const uint8_t* a, int64_t lda, const int8_t* bp, int64_t bstride,
                          int64_t k4n, int32_t* c, int64_t ldc, bool accumulate) {
    switch (mr) {
        case 1: vnni_tile_nb<1>(nb, a, lda, bp, bstride, k4n, c, ldc, accumulate); break;
        case 2: vnni_tile_nb<2>(nb, a, lda, bp, bstride, k4n, c, ldc, accumulate); break;
        case 3: vnni_tile_nb<3>(nb, a, lda, bp, bstride, k4n, c, ldc, accumulate); break;
        case 4: vnni_tile_nb<4>(nb, a, lda, bp, bstride, k4n, c, ldc, accumulate); break;
        case 5: vnni_tile_nb<5>(nb, a, lda, bp, bstride, k4n, c, ldc, accumulate); break;
        default: vnni_tile_nb<6>(nb, a, lda, bp, bstride, k4n, c, ldc, accumulate); break;
    }
}

// One GEMM problem: A [m, k] bytes (row stride lda; xor_a = 0x80808080 flips signed bytes to
// a + 128, 0 reads them as unsigned), B packed for nblocks column blocks, C int32 (row stride ldc).
struct VnniGemm {
    const int8_t* a;
    int64_t lda, m, k;
    const int8_t* bp;
    int64_t nblocks;
    uint32_t xor_a;
    int32_t* c;
    int64_t ldc;

    int64_t k4n() const { return (k + 3) / 4; }

    // Rows [r0, r1) x column blocks [nb0, nb1) of C, on the calling thread.
    void run(int64_t r0, int64_t r1, int64_t nb0, int64_t nb1) const {
        const int64_t k4 = k4n(), kp = 4 * k4;
        const uint8_t* ar = reinterpret_cast<const uint8_t*>(a) + r0 * lda;
        int64_t ld = lda;
        thread_local std::vector<uint8_t> rows;
        if (xor_a || k % 4) {  // the rows as unsigned bytes, K padded with zeros (B is zero there too)
            rows.assign((r1 - r0) * kp, 0);
            const uint8_t flip = static_cast<uint8_t>(xor_a & 0xff);
            for (int64_t r = r0; r < r1; ++r) {
                const uint8_t* src = reinterpret_cast<const uint8_t*>(a) + r * lda;
                uint8_t* dst = rows.data() + (r - r0) * kp;
                for (int64_t j = 0; j < k; ++j) dst[j] = src[j] ^ flip;
            }
            ar = rows.data();
            ld = kp;
        }
        for (int64_t nb = nb0; nb < nb1; nb += VNNI_NB) {
            const int nbs = static_cast<int>(std::min<int64_t>(VNNI_NB, nb1 - nb));
            for (int64_t kc = 0; kc < k4; kc += KC4) {
                const int64_t kcn = std::min(KC4, k4 - kc);
                for (int64_t r = r0; r < r1; r += VNNI_MR) {
                    const int mr = static_cast<int>(std::min<int64_t>(VNNI_MR, r1 - r));
                    vnni_tile_any(mr, nbs, ar + (r - r0) * ld + 4 * kc, ld, bp + (nb * k4 + kc) * 64, k4 * 64, kcn,
                                  c + r * ldc + nb * 16, ldc, kc > 0);
                }
            }
        }
    }

    // Work items (row chunk, column slab): column slabs of whole groups, as many as it takes to give
    // every thread about four items.
    int64_t slab_blocks(int nthreads) const {
        const int64_t chunks = (m + ROWS_CHUNK - 1) / ROWS_CHUNK, groups = (nblocks + VNNI_NB - 1) / VNNI_NB;
        const int64_t want = std::min(groups, std::max<int64_t>(1, (4 * nthreads + chunks - 1) / chunks));
        return VNNI_NB * ((groups + want - 1) / want);
    }
};
#else
#define IVIT_VNNI 0
#endif
