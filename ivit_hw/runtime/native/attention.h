// The fused attention's rows (ivit_attention in kernels.cpp), included by kernels.cpp after the row
// helpers it uses (round_shift_flat, requant_any, shiftmax_row, store, the dtype and rounding codes).
#pragma once

#if IVIT_VNNI
// The constants of one fused attention (see ivit_attention).
struct AttnShape {
    i64 n, dh, sm;
    int se, sbits;
    const i64* table;
    i64 span;
    int out_bits;
    i64 om;
    int oe, obits;
};

// s[j] = clamp(round((sc[j] - 128 ksum[j]) * sm / 2^se), sbits): the scores' requantize, typed to vectorise
// (direct int64 products, proven by the plan).
// round_shift_flat of 8 int64 lanes by one shift 0 < se <= 62 (cnt = se, half = 2^(se - 1)), then clamped.
template <int MODE>
static inline __m512i round_shift_x8(__m512i p, __m128i cnt, __m512i half, __m512i lo, __m512i hi) {
    const __m512i one = _mm512_set1_epi64(1);
    __m512i q = _mm512_sra_epi64(p, cnt);
    if (MODE != FLOOR) {
        const __m512i rem = _mm512_sub_epi64(p, _mm512_sll_epi64(q, cnt));
        __mmask8 up = _mm512_cmpge_epi64_mask(rem, half);
        if (MODE == HALF_EVEN)
            up = _mm512_cmpgt_epi64_mask(rem, half) |
                 (_mm512_cmpeq_epi64_mask(rem, half) & _mm512_test_epi64_mask(q, one));
        q = _mm512_mask_add_epi64(q, up, q, one);
    }
    return _mm512_min_epi64(_mm512_max_epi64(q, lo), hi);
}

template <int MODE>
static void attn_scores_row(const int32_t* __restrict sc, const i64* __restrict ksum, i64 n, i64 sm, i64 se,
                            int sbits, i64* __restrict s) {
    const i64 hi = (static_cast<i64>(1) << (sbits - 1)) - 1, lo = -hi - 1;
    i64 j = 0;
    if (se > 0) {  // 8 lanes: round_shift_flat with one shift for the row
        const __m512i vm = _mm512_set1_epi64(sm), vhi = _mm512_set1_epi64(hi), vlo = _mm512_set1_epi64(lo);
        const __m512i half = _mm512_set1_epi64(static_cast<i64>(1) << (se - 1));
        const __m128i cnt = _mm_cvtsi64_si128(se);
        for (; j + 8 <= n; j += 8) {
            const __m512i a = _mm512_sub_epi64(_mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sc + j))),
                                               _mm512_slli_epi64(_mm512_loadu_si512(ksum + j), 7));
            _mm512_storeu_si512(s + j, round_shift_x8<MODE>(_mm512_mullo_epi64(a, vm), cnt, half, vlo, vhi));
        }
    }
    for (; j < n; ++j) {
        const i64 y = round_shift_flat((static_cast<i64>(sc[j]) - 128 * ksum[j]) * sm, se, MODE);
        s[j] = std::min(std::max(y, lo), hi);
    }
}

// The two bytes of y < 2^16: hi = y >> 8, lo = y & 255.
static void split_bytes(const i64* __restrict y, i64 n, uint8_t* __restrict hi, uint8_t* __restrict lo) {
    for (i64 j = 0; j < n; ++j) {
        hi[j] = static_cast<uint8_t>(y[j] >> 8);
        lo[j] = static_cast<uint8_t>(y[j] & 255);
    }
}

// out[i, d] = clamp(round((256 ohi[i, d] + olo[i, d]) * om / 2^oe), obits) for rows [0, rows), typed.
template <int MODE, class OutT>
static void attn_out_rows(const int32_t* __restrict ohi, const int32_t* __restrict olo, i64 ld, i64 rows, i64 dh,
                          i64 om, i64 oe, int obits, OutT* __restrict out) {
    const i64 hi = (static_cast<i64>(1) << (obits - 1)) - 1, lo = -hi - 1;
    const __m512i vm = _mm512_set1_epi64(om), vhi = _mm512_set1_epi64(hi), vlo = _mm512_set1_epi64(lo);
    const __m512i half = _mm512_set1_epi64(oe > 0 ? static_cast<i64>(1) << (oe - 1) : 0);
    const __m128i cnt = _mm_cvtsi64_si128(oe);
    alignas(64) i64 y[8];
    for (i64 i = 0; i < rows; ++i) {
        i64 d = 0;
        for (; oe > 0 && d + 8 <= dh; d += 8) {  // 8 lanes
            const __m512i h8 = _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ohi + i * ld + d)));
            const __m512i l8 = _mm512_cvtepi32_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(olo + i * ld + d)));
            const __m512i o = _mm512_add_epi64(_mm512_slli_epi64(h8, 8), l8);
            _mm512_store_si512(y, round_shift_x8<MODE>(_mm512_mullo_epi64(o, vm), cnt, half, vlo, vhi));
            for (int l = 0; l < 8; ++l) out[i * dh + d + l] = static_cast<OutT>(y[l]);
        }
        for (; d < dh; ++d) {
            const i64 o = 256 * static_cast<i64>(ohi[i * ld + d]) + olo[i * ld + d];
            out[i * dh + d] = static_cast<OutT>(std::min(std::max(round_shift_flat(o * om, oe, MODE), lo), hi));
        }
    }
}

template <int MODE>
static void attn_out_any(const int32_t* ohi, const int32_t* olo, i64 ld, i64 rows, i64 dh, i64 om, i64 oe, int obits,
                         void* out, int out_t, i64 off) {
    if (out_t == I8)
        attn_out_rows<MODE>(ohi, olo, ld, rows, dh, om, oe, obits, static_cast<int8_t*>(out) + off);
    else if (out_t == I16)
        attn_out_rows<MODE>(ohi, olo, ld, rows, dh, om, oe, obits, static_cast<int16_t*>(out) + off);
    else
        for (i64 i = 0; i < rows; ++i)
            for (i64 d = 0; d < dh; ++d) {
                const i64 o = 256 * static_cast<i64>(ohi[i * ld + d]) + olo[i * ld + d];
                store(out, out_t, off + i * dh + d, requant_any(false, o, om, static_cast<int>(oe), MODE, obits));
            }
}

// Query rows [i0, i1) of one (batch, head): scores = q @ k^T (VNNI, q as q + 128 with 128 ksum taken
// off), the scores' requantize, the Shiftmax row, o = 256 (hi @ v) + lo @ v over the bytes of y, the
// output requantize; q, k, v point at the head, with element strides [token, channel]; out at off.
template <int MODE>
static void attention_rows_m(const AttnShape& a, const int8_t* qh, const i64* qs, const int8_t* kh, const i64* ks,
                             const int8_t* vh, const i64* vs, i64 i0, i64 i1, void* out, int out_t, i64 off) {
    const i64 n = a.n, dh = a.dh, rows = i1 - i0;
    const i64 d4 = (dh + 3) / 4, n4 = (n + 3) / 4, nblk = (n + 15) / 16, dblk = (dh + 15) / 16;
    thread_local std::vector<int8_t> qa_, kp_, vp_;
    thread_local std::vector<uint8_t> hi_, lo_;
    thread_local std::vector<int32_t> sc_, ohi_, olo_;
    thread_local std::vector<i64> ksum_, row_;
    qa_.assign(rows * 4 * d4, 0);
    kp_.resize(nblk * 16 * 4 * d4);
    vp_.resize(dblk * 16 * 4 * n4);
    hi_.assign(rows * 4 * n4, 0);
    lo_.assign(rows * 4 * n4, 0);
    sc_.resize(rows * 16 * nblk);
    ohi_.resize(rows * 16 * dblk);
    olo_.resize(rows * 16 * dblk);
    ksum_.resize(n);
    row_.resize(n);
    // plain pointers: a thread_local's address is looked up by a call in a shared library
    int8_t *qa = qa_.data(), *kp = kp_.data(), *vp = vp_.data();
    uint8_t *hi = hi_.data(), *lo = lo_.data();
    int32_t *sc = sc_.data(), *ohi = ohi_.data(), *olo = olo_.data();
    i64 *ksum = ksum_.data(), *row = row_.data();
    for (i64 i = i0; i < i1; ++i)
        for (i64 d = 0; d < dh; ++d) qa[(i - i0) * 4 * d4 + d] = qh[i * qs[0] + d * qs[1]];
    for (i64 i = 0; i < n; ++i) {
        i64 sum = 0;
        for (i64 d = 0; d < dh; ++d) sum += kh[i * ks[0] + d * ks[1]];
        ksum[i] = sum;
    }
    pack_strided(kh, ks[0], ks[1], n, dh, kp);
    pack_strided(vh, vs[1], vs[0], dh, n, vp);
    VnniGemm{qa, 4 * d4, rows, 4 * d4, kp, nblk, 0x80808080u, sc, 16 * nblk}.run(0, rows, 0, nblk);
    for (i64 i = 0; i < rows; ++i) {
        attn_scores_row<MODE>(sc + i * 16 * nblk, ksum, n, a.sm, a.se, a.sbits, row);
        shiftmax_row(row, n, a.table, a.span, a.out_bits);
        split_bytes(row, n, hi + i * 4 * n4, lo + i * 4 * n4);
    }
    const int8_t* hp = reinterpret_cast<const int8_t*>(hi);
    const int8_t* lp = reinterpret_cast<const int8_t*>(lo);
    VnniGemm{hp, 4 * n4, rows, 4 * n4, vp, dblk, 0u, ohi, 16 * dblk}.run(0, rows, 0, dblk);
    VnniGemm{lp, 4 * n4, rows, 4 * n4, vp, dblk, 0u, olo, 16 * dblk}.run(0, rows, 0, dblk);
    attn_out_any<MODE>(ohi, olo, 16 * dblk, rows, dh, a.om, a.oe, a.obits, out, out_t, off + i0 * dh);
}

static void attention_rows(const AttnShape& a, const int8_t* qh, const i64* qs, const int8_t* kh, const i64* ks,
                           const int8_t* vh, const i64* vs, i64 i0, i64 i1, int mode, void* out, int out_t, i64 off) {
    with_mode(mode, [&](auto m) { attention_rows_m<decltype(m)::value>(a, qh, qs, kh, ks, vh, vs, i0, i1, out, out_t, off); });
}
#endif
