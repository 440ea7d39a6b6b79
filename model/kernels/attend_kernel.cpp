// One decode step of absorbed M2LA attention over a CPU int8 latent cache, fused: scores, softmax, values.
//
// Built and loaded by attend_kernel.py beside it (g++ -O3 -march=native -fopenmp), which falls back to the
// torch path (model/latent_quant.py) where this does not build: it needs AVX-512 VNNI, whose vpdpbusd
// multiplies 64 byte pairs an instruction, four times what an fp32 FMA does.
//
// The cache is model/cache.py's column store: for batch row b, latent column w (of W = r + d_rope) holds
// token s at cols[b * bstride + w * ld + s], and each token has one scale. For each head h:
//
//   score[h, s] = (q[h] . cols[:, s]) * scale[s]          q carries the softmax scale
//   p[h, s]     = softmax_s(score[h]) * scale[s]
//   out[h, k]   = sum_s p[h, s] * cols[k, s]              k < R: the value columns are c_kv's
//
// The integer products read the int8 values as stored; only the query and the probabilities are
// rounded, as in model/latent_quant.py: each query row into two int8 parts (off by max|q| / 64,516 a
// value), each probability row into three uint8 parts (off by less than max p / 2^24).
#include <immintrin.h>
#include <array>
#include <initializer_list>
#include <new>
#include <utility>
#include <vector>
#include <stdint.h>
#include <string.h>

#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__) || !defined(__AVX512VNNI__)
#error "the fused latent attention kernel needs AVX-512 F, BW, VL and VNNI"
#endif

namespace {

constexpr int BLOCK = 64;        // tokens per score block: one 64-byte load per latent column
constexpr int PREFETCH = 2;      // score blocks ahead to prefetch
constexpr int MAX_HEADS = 9;     // heads per register block: 9 x 2 query parts = 18 accumulators
constexpr int Q_PARTS = 2;       // int8 parts per query row
constexpr int P_PARTS = 3;       // uint8 parts per probability row (a softmax's small values need the third)
constexpr float LO_STEPS = 254;  // a query part's remainder counts in 1/254ths of its step (|part| <= 127)
constexpr int TILE_HEADS = 3;    // heads per value tile: 3 x 3 parts x 3 columns = 27 accumulators
constexpr int TILE_COLS = 3;     // value columns per tile
constexpr int MAX_P_ROWS = TILE_HEADS * P_PARTS;
constexpr int CHUNK = 2048;      // tokens per value pass: a tile's 9 probability rows stay in L1 (18 KB)

inline __mmask64 tail_mask(int n) { return n >= 64 ? ~0ULL : (1ULL << n) - 1; }

// exp(x) for x <= 0 (a softmax's shifted scores): 2^n e^f with |f| <= ln2/2, degree-6 Taylor term
// (relative error < 2e-7); x is clamped at -87, so the result is never a denormal
inline __m512 exp_nonpos(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                          _MM_FROUND_TO_NEAREST_INT);
    __m512 f = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    f = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), f);
    __m512 y = _mm512_set1_ps(1.f / 720);
    for (float c : {1.f / 120, 1.f / 24, 1.f / 6, 0.5f, 1.f, 1.f}) y = _mm512_fmadd_ps(y, f, _mm512_set1_ps(c));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

// Query rows q [H, W] as int8 parts qp [H * Q_PARTS, W4] (W4 = W rounded up to 4, zero-padded), each
// row's step [H] and the uint8 offset's correction corr [H * Q_PARTS] = 128 * sum of the row's parts.
void split_query(int H, int W, int W4, const float *q, int8_t *qp, float *step, int32_t *corr) {
    for (int h = 0; h < H; h++) {
        float m = 0.f;
        for (int w = 0; w < W; w++) m = q[h * W + w] > m ? q[h * W + w] : -q[h * W + w] > m ? -q[h * W + w] : m;
        step[h] = (m > 1e-30f ? m : 1e-30f) / 127;
        int8_t *hi = qp + (h * Q_PARTS) * W4, *lo = hi + W4;
        int32_t shi = 0, slo = 0;
        for (int w = 0; w < W4; w++) {
            const float x = w < W ? q[h * W + w] / step[h] : 0.f, a = __builtin_nearbyintf(x);
            const float b = __builtin_nearbyintf((x - a) * LO_STEPS);
            hi[w] = (int8_t)a, lo[w] = (int8_t)b, shi += hi[w], slo += lo[w];
        }
        corr[h * Q_PARTS] = 128 * shi, corr[h * Q_PARTS + 1] = 128 * slo;
    }
}

// Columns w .. w+3 of tokens s0 .. s0+63 as four vectors of 16 tokens x 4 bytes (uint8: value + 128),
// the layout vpdpbusd sums over. Vector z, lane 4L + j holds token 16L + 4z + j.
inline void gather_quads(const int8_t *cols, long ld, int W, int w, int n, __m512i out[4]) {
    const __mmask64 m = tail_mask(n);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512i r[4];
    for (int i = 0; i < 4; i++) {
        // 184 rows read 64 bytes at a time are too many streams for the hardware prefetcher: ask for the
        // block after next (a prefetch past the end of a row never faults)
        _mm_prefetch((const char *)(cols + (w + i) * ld + PREFETCH * BLOCK), _MM_HINT_T0);
        r[i] = w + i < W ? _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, cols + (w + i) * ld), flip) : flip;
    }
    const __m512i a = _mm512_unpacklo_epi8(r[0], r[1]), b = _mm512_unpackhi_epi8(r[0], r[1]);
    const __m512i c = _mm512_unpacklo_epi8(r[2], r[3]), d = _mm512_unpackhi_epi8(r[2], r[3]);
    out[0] = _mm512_unpacklo_epi16(a, c), out[1] = _mm512_unpackhi_epi16(a, c);
    out[2] = _mm512_unpacklo_epi16(b, d), out[3] = _mm512_unpackhi_epi16(b, d);
}

// Integer sums of one vector slot z of a score block for HN heads: acc [HN * Q_PARTS] (HN fixed at
// compile time, so the accumulators stay in registers)
template <int HN>
void score_slot(int quads, const __m512i *buf, int z, const int32_t *qrow, __m512i *out) {
    __m512i acc[HN * Q_PARTS];
    #pragma GCC unroll 32
    for (int j = 0; j < HN * Q_PARTS; j++) acc[j] = _mm512_setzero_si512();
    for (int g = 0; g < quads; g++) {
        const __m512i x = buf[4 * g + z];
        #pragma GCC unroll 32
        for (int j = 0; j < HN * Q_PARTS; j++)
            acc[j] = _mm512_dpbusd_epi32(acc[j], x, _mm512_set1_epi32(qrow[j * quads + g]));
    }
    #pragma GCC unroll 32
    for (int j = 0; j < HN * Q_PARTS; j++) out[j] = acc[j];
}

using ScoreSlot = void (*)(int, const __m512i *, int, const int32_t *, __m512i *);

template <int... N>
constexpr std::array<ScoreSlot, sizeof...(N)> score_slots(std::integer_sequence<int, N...>) {
    return {score_slot<N + 1>...};
}

// scores [H, S] (times each token's scale) of tokens s0 .. s0 + n - 1, n <= BLOCK
void score_block(int H, int W, int W4, int S, long ld, const int8_t *cols, const int8_t *qp, const float *step,
                 const int32_t *corr, const float *scale, int s0, int n, __m512i *buf, float *scores) {
    static constexpr auto slots = score_slots(std::make_integer_sequence<int, MAX_HEADS>{});
    const int quads = W4 / 4;
    for (int g = 0; g < quads; g++) gather_quads(cols + s0, ld, W, 4 * g, n, buf + 4 * g);
    for (int h0 = 0; h0 < H; h0 += MAX_HEADS) {
        const int hn = H - h0 < MAX_HEADS ? H - h0 : MAX_HEADS;
        const int32_t *qrow = (const int32_t *)(qp + h0 * Q_PARTS * W4);  // 4 query bytes = one int32
        float t[MAX_HEADS][BLOCK];
        for (int z = 0; z < 4; z++) {
            __m512i acc[MAX_HEADS * Q_PARTS];
            slots[hn - 1](quads, buf, z, qrow, acc);
            for (int h = 0; h < hn; h++) {  // undo the offset, combine the parts, then lanes to token order
                const int j = h * Q_PARTS, hh = h0 + h;
                const __m512i c_hi = _mm512_set1_epi32(corr[hh * Q_PARTS]);
                const __m512i c_lo = _mm512_set1_epi32(corr[hh * Q_PARTS + 1]);
                const __m512 hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[j], c_hi));
                const __m512 lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[j + 1], c_lo));
                float v[16];
                _mm512_storeu_ps(v, _mm512_mul_ps(_mm512_fmadd_ps(lo, _mm512_set1_ps(1 / LO_STEPS), hi),
                                                  _mm512_set1_ps(step[hh])));
                for (int L = 0; L < 4; L++) memcpy(&t[h][16 * L + 4 * z], v + 4 * L, 4 * sizeof(float));
            }
        }
        for (int h = 0; h < hn; h++)
            for (int i = 0; i < n; i++) scores[(long)(h0 + h) * S + s0 + i] = t[h][i] * scale[s0 + i];
    }
}

// row x [S] of scaled scores -> probabilities times each token's scale, as P_PARTS uint8 parts
// pp [P_PARTS, S4] (S4 = S rounded up to 64, zero-padded) with pstep: p ~= sum_k part_k pstep / 256^k.
// x is overwritten with the unnormalised probabilities on the way.
void softmax_parts(int S, int S4, float *x, const float *scale, uint8_t *pp, long pstride, float *pstep) {
    __m512 mv = _mm512_set1_ps(x[0]);
    for (int s = 0; s < S; s += 16)  // lanes past S keep the running max
        mv = _mm512_max_ps(mv, _mm512_mask_loadu_ps(mv, (__mmask16)tail_mask(S - s), x + s));
    const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mv));
    __m512 sum = _mm512_setzero_ps();
    for (int s = 0; s < S; s += 16) {
        const __mmask16 k = (__mmask16)tail_mask(S - s);
        const __m512 e = _mm512_maskz_mov_ps(k, exp_nonpos(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + s), m)));
        sum = _mm512_add_ps(sum, e);
        _mm512_mask_storeu_ps(x + s, k, _mm512_mul_ps(e, _mm512_maskz_loadu_ps(k, scale + s)));
    }
    const float inv = 1.f / _mm512_reduce_add_ps(sum);
    __m512 pm = _mm512_setzero_ps();
    for (int s = 0; s < S; s += 16) pm = _mm512_max_ps(pm, _mm512_maskz_loadu_ps(tail_mask(S - s), x + s));
    const float top = _mm512_reduce_max_ps(pm);
    const float unit = (top > 1e-30f ? top : 1e-30f) / 255;  // of the unnormalised p
    *pstep = unit * inv;
    const __m512 to_units = _mm512_set1_ps(1 / unit);
    for (int s = 0; s < S4; s += 16) {  // floor parts: each remainder is in [0, 1) units, so 256ths fit uint8
        const __mmask16 k = (__mmask16)tail_mask(S - s);
        __m512 r = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + s), to_units);
        for (int part = 0; part < P_PARTS; part++) {
            __m512 f = _mm512_min_ps(_mm512_roundscale_ps(r, _MM_FROUND_TO_NEG_INF), _mm512_set1_ps(255.f));
            _mm_storeu_si128((__m128i *)(pp + part * pstride + s), _mm512_cvtusepi32_epi8(_mm512_cvtps_epu32(f)));
            r = _mm512_mul_ps(_mm512_sub_ps(r, f), _mm512_set1_ps(256.f));
        }
    }
}

// Integer sums, over tokens s0 .. s0 + n - 1, of KC value columns c (ld apart) against HN heads'
// probability parts p (pstride apart): sums [KC][HN * P_PARTS] += ... (HN, KC fixed at compile time,
// so the HN * P_PARTS x KC accumulators stay in registers)
template <int HN, int KC>
void value_tile(int S, int s0, int n, const int8_t *c, long ld, const uint8_t *p, long pstride, int32_t *sums) {
    constexpr int ROWS = HN * P_PARTS;
    __m512i acc[ROWS][KC];
    #pragma GCC unroll 32
    for (int j = 0; j < ROWS; j++)
        #pragma GCC unroll 4
        for (int k = 0; k < KC; k++) acc[j][k] = _mm512_setzero_si512();
    for (int s = s0; s < s0 + n; s += 64) {  // int32 sums: 255 x 127 x n fits for n up to 66,000
        __m512i x[KC];
        #pragma GCC unroll 4
        for (int k = 0; k < KC; k++) x[k] = _mm512_maskz_loadu_epi8(tail_mask(S - s), c + k * ld + s);
        #pragma GCC unroll 32
        for (int j = 0; j < ROWS; j++) {
            const __m512i pj = _mm512_loadu_si512(p + j * pstride + s);
            #pragma GCC unroll 4
            for (int k = 0; k < KC; k++) acc[j][k] = _mm512_dpbusd_epi32(acc[j][k], pj, x[k]);
        }
    }
    #pragma GCC unroll 32
    for (int j = 0; j < ROWS; j++)
        #pragma GCC unroll 4
        for (int k = 0; k < KC; k++) sums[k * MAX_P_ROWS + j] += _mm512_reduce_add_epi32(acc[j][k]);
}

using ValueTile = void (*)(int, int, int, const int8_t *, long, const uint8_t *, long, int32_t *);

template <int HN, int... K>
constexpr std::array<ValueTile, sizeof...(K)> value_tiles_for(std::integer_sequence<int, K...>) {
    return {value_tile<HN, K + 1>...};
}

template <int... H>
constexpr std::array<std::array<ValueTile, TILE_COLS>, sizeof...(H)> value_tiles(std::integer_sequence<int, H...>) {
    return {value_tiles_for<H + 1>(std::make_integer_sequence<int, TILE_COLS>{})...};
}

// out [H, R]: each thread owns whole tiles of TILE_COLS value columns; tokens go by in chunks whose
// probability parts stay in L1 while a tile's heads pass over them
void values_all(int H, int R, int S, long ld, const int8_t *cols, const uint8_t *pp, long pstride,
                const float *pstep, float *out) {
    static constexpr auto tiles = value_tiles(std::make_integer_sequence<int, TILE_HEADS>{});
    #pragma omp parallel for schedule(static)
    for (int k0 = 0; k0 < R; k0 += TILE_COLS) {
        const int kc = R - k0 < TILE_COLS ? R - k0 : TILE_COLS;
        for (int h0 = 0; h0 < H; h0 += TILE_HEADS) {
            const int hn = H - h0 < TILE_HEADS ? H - h0 : TILE_HEADS;
            int32_t sums[TILE_COLS * MAX_P_ROWS] = {0};
            for (int s0 = 0; s0 < S; s0 += CHUNK)
                tiles[hn - 1][kc - 1](S, s0, S - s0 < CHUNK ? S - s0 : CHUNK, cols + k0 * ld, ld,
                                      pp + (long)h0 * P_PARTS * pstride, pstride, sums);
            for (int k = 0; k < kc; k++)
                for (int h = 0; h < hn; h++) {
                    float v = 0.f, unit = pstep[h0 + h];
                    for (int part = 0; part < P_PARTS; part++, unit /= 256)
                        v += (float)sums[k * MAX_P_ROWS + h * P_PARTS + part] * unit;
                    out[(long)(h0 + h) * R + k0 + k] = v;
                }
        }
    }
}

// Working memory of one step, grown as needed and kept per calling thread (a step runs on one).
struct Scratch {
    std::vector<char> bytes;
    int8_t *qp;       // [H * Q_PARTS, W4] query parts
    float *step;      // [H] query part steps
    int32_t *corr;    // [H * Q_PARTS] uint8-offset corrections
    float *scale;     // [S] token scales as fp32
    float *scores;    // [H, S], then the unnormalised probabilities times scale
    uint8_t *pp;      // [H * P_PARTS, S4] probability parts
    float *pstep;     // [H] probability part steps

    bool fit(int H, int W4, int S, int S4) {
        const size_t sizes[] = {(size_t)H * Q_PARTS * W4, H * 4UL, H * Q_PARTS * 4UL, S * 4UL, (size_t)H * S * 4,
                                (size_t)H * P_PARTS * S4, H * 4UL};
        size_t total = 0;
        for (size_t n : sizes) total += (n + 63) / 64 * 64;
        if (bytes.size() < total + 64) {
            try {
                bytes.resize(total + 64);
            } catch (const std::bad_alloc &) {
                return false;
            }
        }
        char *at = (char *)(((uintptr_t)bytes.data() + 63) / 64 * 64);
        void **parts[] = {(void **)&qp, (void **)&step, (void **)&corr, (void **)&scale, (void **)&scores,
                          (void **)&pp, (void **)&pstep};
        for (int i = 0; i < 7; i++) *parts[i] = at, at += (sizes[i] + 63) / 64 * 64;
        return true;
    }
};

}  // namespace

extern "C" {

// The whole step for B batch rows: q [B, H, W] fp32 (contiguous), cols as above, scale16 the tokens'
// fp16 scales (batch row b's token s at scale16[b * sstride + s]), out [B, H, R] fp32. S < 66,000 and
// W <= 512. Returns 0, or -1 when its working memory cannot be allocated.
int cc_latent_attend(int B, int H, int W, int R, int S, long ld, long bstride, const float *q, const int8_t *cols,
                     const uint16_t *scale16, long sstride, float *out) {
    static thread_local Scratch m;
    const int W4 = (W + 3) / 4 * 4, S4 = (S + 63) / 64 * 64;
    if (!m.fit(H, W4, S, S4)) return -1;
    // plain pointers: inside a parallel region `m` would name each worker thread's own (empty) Scratch
    int8_t *qp = m.qp;
    float *step = m.step, *scale = m.scale, *scores = m.scores, *pstep = m.pstep;
    int32_t *corr = m.corr;
    uint8_t *pp = m.pp;
    for (int b = 0; b < B; b++) {
        const int8_t *cb = cols + b * bstride;
        const uint16_t *s16 = scale16 + b * sstride;
        for (int s = 0; s < S; s += 16) {
            const __mmask16 k = (__mmask16)tail_mask(S - s);
            _mm512_mask_storeu_ps(scale + s, k, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, s16 + s)));
        }
        split_query(H, W, W4, q + (long)b * H * W, qp, step, corr);
        #pragma omp parallel
        {
            alignas(64) static thread_local __m512i buf[4 * 128];  // W4 / 4 quads x 4 vectors (W up to 512)
            #pragma omp for schedule(static)
            for (int s0 = 0; s0 < S; s0 += BLOCK)
                score_block(H, W, W4, S, ld, cb, qp, step, corr, scale, s0, S - s0 < BLOCK ? S - s0 : BLOCK, buf,
                            scores);
        }
        #pragma omp parallel for schedule(static)
        for (int h = 0; h < H; h++)
            softmax_parts(S, S4, scores + (long)h * S, scale, pp + (long)h * P_PARTS * S4, S4, pstep + h);
        values_all(H, R, S, ld, cb, pp, S4, pstep, out + (long)b * H * R);
    }
    return 0;
}

}  // extern "C"
