/* winograd.c: 3x3 stride-1 conv2d as Winograd F(m x m, 3x3), m = 2 or 4 (Lavin & Gray, "Fast Algorithms
 * for Convolutional Neural Networks", 2015). With a = m + 2, each m x m output tile of a channel is
 * A^T [sum_c U_c . V_c] A, with U = G g G^T the a x a transform of a 3x3 filter and V = B^T d B that of the
 * a x a input tile d, so the 9 m^2 multiplies per tile and (output, input) channel pair of the direct conv
 * become a^2 (16 for m = 2: 2.25x fewer; 36 for m = 4: 4x fewer): one GEMM per position ij of the a x a
 * transform, M_ij (M x tiles) = U_ij (M x C) @ V_ij (C x tiles), through the micro-kernel of mg_gemm.h.
 *
 * conv2d_winograd{,4}_weights (an init step on constant weights) writes U straight into the micro-kernel's
 * packed-A layout: per MR-row tile of the output channels, its a^2 MR x C tiles, k-major.
 * conv2d_winograd{,4} works per block of tiles (row-major over the image, at most MG_WINO_NT): the input
 * transform writes V for every input channel into packed-B panels of NR tiles in the scratch; then per MR
 * output channels and panel the a^2 micro-kernel products over all C land in a local array, and the output
 * transform (+ bias, activation) writes them to Y. Inputs outside the image read as 0 (any pads); tiles
 * past OH / OW (output sizes not multiples of m) are computed and not stored. */
#include "mg_conv.h"

#define MG_WINO_VBYTES 262144 /* scratch for the transformed inputs of one block (a^2 x C x tiles values) */
#define MG_WINO_NT 64         /* at most this many tiles per block */

/* f64 vectors of MG_GEMM_MR lanes (the weight transform's: one output channel a lane). */
typedef double mg_wino_v4d __attribute__((vector_size(4 * sizeof(double))));

/* o[i * os] = (G x)[i], i < a, for the 3 values x[k * xs] (Lavin & Gray's G of F(m x m, 3x3)): F(2x2): G = [1 0 0;
 * 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]; F(4x4): G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6;
 * 1/24 -1/12 1/6; 0 0 1]. Each row's sum (G[i][0] x0 + G[i][1] x1) + G[i][2] x2 rounds as written out in full,
 * with its products shared and its zero terms skipped: the doubles 1/12 and 1/24 are 1/6's halved and quartered,
 * and scaling by a power of 2 is exact. So the values are the full product's; only the sign of a zero from a
 * -0 weight (+0 in full when a zero term is +0) and the NaNs of non-finite weights (0 * inf) can differ. */
MG_INLINE void mg_wino_g(mg_wino_v4d *o, int os, const mg_wino_v4d *x, int xs, const int m) {
    mg_wino_v4d x0 = x[0], x1 = x[xs], x2 = x[2 * xs];
    if (m == 2) {
        o[0] = x0;
        o[os] = (x0 + x1 + x2) * 0.5;
        o[2 * os] = (x0 - x1 + x2) * 0.5;
        o[3 * os] = x2;
        return;
    }
    mg_wino_v4d p0 = x0 * (-1.0 / 6), p1 = x1 * (-1.0 / 6), p2 = x2 * (-1.0 / 6); /* (1/24) x0 = -p0 / 4 */
    mg_wino_v4d q0 = p0 * -0.25, q1 = p1 * -0.5;
    o[0] = x0 * 0.25;
    o[os] = p0 + p1 + p2;
    o[2 * os] = p0 - p1 + p2;
    o[3 * os] = q0 + q1 - p2;
    o[4 * os] = q0 - q1 - p2;
    o[5 * os] = x2;
}

/* Tiles per block: the panels of nr tiles whose aa x C values fit in MG_WINO_VBYTES, or two panels if they fit
 * in twice that (with many channels the weights, streamed once per block, outweigh the inputs: 512 -> 512 at
 * 7x7, F(2x2): 4.9 -> 4.1 ms), at least one panel, at most MG_WINO_NT tiles and no more than the image's
 * `tiles` need. ABI.md states the same formula for the scratch. */
static int32_t mg_wino_block(int32_t C, int32_t tiles, int32_t size, int32_t nr, int32_t aa) {
    int32_t per_tile = size * aa * (C > 0 ? C : 1), nt = MG_WINO_VBYTES / per_tile / nr * nr;
    int32_t need = (tiles + nr - 1) / nr * nr;
    if (nt < 2 * nr && 2 * nr * per_tile <= 2 * MG_WINO_VBYTES) nt = 2 * nr;
    if (nt > MG_WINO_NT) nt = MG_WINO_NT;
    if (nt > need) nt = need;
    return nt < nr ? nr : nt;
}

/* The lanes of a and b interleaved (a0 b0 a1 b1 ...): the low half, or the high half. */
MG_INLINE v128_t mg_zip(v128_t a, v128_t b, size_t lane_bytes, int hi) {
    if (lane_bytes == 4) return hi ? wasm_i32x4_shuffle(a, b, 2, 6, 3, 7) : wasm_i32x4_shuffle(a, b, 0, 4, 1, 5);
    return hi ? wasm_i64x2_shuffle(a, b, 1, 3) : wasm_i64x2_shuffle(a, b, 0, 2);
}

/* conv2d's ints, checked, restricted to what the Winograd kernels compute. */
#define MG_WINO_PARAMS(dt, op) \
    MG_CONV_PARAMS(dt, op); \
    (void)geo; \
    MG_CHECK(G == 1 && KH == 3 && KW == 3 && sh == 1 && sw == 1 && dh == 1 && dw == 1, MG_NAME(dt, op), \
             "only 3x3 convs with stride 1, dilation 1 and one group")

/* p[0:MR] = v rounded to the dtype (one f32x4 store from two demotes; f64: two stores). */
MG_INLINE void mg_wino_store_f32(float *p, mg_wino_v4d v) {
    v128_t lo = wasm_f32x4_demote_f64x2_zero((v128_t)__builtin_shufflevector(v, v, 0, 1));
    v128_t hi = wasm_f32x4_demote_f64x2_zero((v128_t)__builtin_shufflevector(v, v, 2, 3));
    wasm_v128_store(p, wasm_i64x2_shuffle(lo, hi, 0, 2));
}
MG_INLINE void mg_wino_store_f64(double *p, mg_wino_v4d v) {
    wasm_v128_store(p, (v128_t)__builtin_shufflevector(v, v, 0, 1));
    wasm_v128_store(p + 2, (v128_t)__builtin_shufflevector(v, v, 2, 3));
}

/* ---- conv2d_winograd{,4}_weights (W, Packed; conv2d's ints): U = G g G^T of every W[m, c] (computed in
 * f64) as aa * Mp * C elements, aa = (m + 2)^2, Mp = ceil(M / 4) * 4: per MR-row tile i0 of the output
 * channels, the aa matrices' MR x C tiles one after another (one contiguous stream per tile for the run
 * kernel), each k-major: Packed[(i0 * aa + ij * MR) * C + c * MR + r] = U[i0 + r, c][ij], rows past M zero.
 * L input channels at a time: the MR rows' 9 L weights in 9 vector loads each, transposed so that a vector
 * holds one weight of the MR rows (their lanes in the packed order), then per channel G g G^T on MR-lane f64
 * vectors (mg_wino_g) and one MR-value store per ij. Rows past M and the channels of a last group of fewer
 * than L come from a zero-padded copy (W is never read past its end). */
#define MG_CONV2D_WINOGRAD_WEIGHTS(dt, op, m) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        enum { MR = MG_GEMM_MR, AL = m + 2, AA = AL * AL }; \
        MG_WINO_PARAMS(dt, op); \
        const T *w = (const T *)(uintptr_t)t[0]; \
        T *u = (T *)(uintptr_t)t[1]; \
        MG_CHECK(u != 0, MG_NAME(dt, op), "the packed tensor is missing"); \
        /* The aa streams MR * C values apart: a multiple of 4 KB (C a multiple of 1024 / sizeof(T)) puts them in \
         * one L1 set, where the group's L stores per line evict each other: U goes through a line buffer then and \
         * each line is copied whole (ResNet's 512 -> 512 F(2x2): 12 -> 9.5 ns a filter, 256 -> 256 F(4x4): \
         * 28 -> 22), else straight to Packed (the copy would cost ~10%). */ \
        int lined = (ptrdiff_t)MR * C * sizeof(T) % 4096 == 0; \
        for (int32_t o0 = 0; o0 < M; o0 += MR) \
            for (int32_t c = 0; c < C; c += L) { \
                int32_t nc = C - c < L ? C - c : L; \
                _Alignas(16) T pad[MR][9 * L]; \
                const T *src[MR]; \
                for (int r = 0; r < MR; r++) { \
                    const T *row = o0 + r < M ? w + ((ptrdiff_t)(o0 + r) * C + c) * 9 : 0; \
                    src[r] = row; \
                    if (!row || nc < L) { \
                        for (int k = 0; k < 9 * L; k++) pad[r][k] = row && k < 9 * nc ? row[k] : 0; \
                        src[r] = pad[r]; \
                    } \
                } \
                mg_wino_v4d g[9 * L]; /* g[l * 9 + k]: weight k of channel c + l, lane r: row o0 + r */ \
                for (int q = 0; q < 9; q++) { \
                    v128_t x[MR]; \
                    for (int r = 0; r < MR; r++) x[r] = wasm_v128_load(src[r] + q * L); \
                    if (L == 4) { \
                        mg_transpose_4x32(x); \
                        for (int l = 0; l < 4; l++) g[q * 4 + l] = __builtin_convertvector((mg_f32_vt)x[l], mg_wino_v4d); \
                    } else { \
                        mg_transpose_2x64(x); \
                        mg_transpose_2x64(x + 2); \
                        for (int l = 0; l < 2; l++) \
                            g[q * 2 + l] = __builtin_shufflevector((mg_f64_vt)x[l], (mg_f64_vt)x[2 + l], 0, 1, 2, 3); \
                    } \
                } \
                _Alignas(64) T buf[AA][L * MR]; /* this group's U, a line per ij, when lined */ \
                T *dst = u + (ptrdiff_t)o0 * AA * C + (ptrdiff_t)c * MR, *out = lined ? buf[0] : dst; \
                ptrdiff_t os = lined ? L * MR : (ptrdiff_t)MR * C; \
                _Pragma("clang loop unroll(full)") \
                for (int l = 0; l < L; l++) { \
                    mg_wino_v4d h[AL][3]; \
                    for (int j = 0; j < 3; j++) mg_wino_g(&h[0][j], 3, g + l * 9 + j, 3, m); /* G g */ \
                    _Pragma("clang loop unroll(full)") \
                    for (int i = 0; i < AL; i++) { /* (G g) G^T, row i */ \
                        mg_wino_v4d v[AL]; \
                        mg_wino_g(v, 1, h[i], 1, m); \
                        for (int j = 0; j < AL && l < nc; j++) mg_wino_store_##dt(out + (i * AL + j) * os + l * MR, v[j]); \
                    } \
                } \
                for (int ij = 0; ij < AA && lined; ij++, dst += MR * C) /* lined: C a multiple of L, nc = L */ \
                    for (int k = 0; k < MR; k++) MG_STORE(dst + k * L, MG_LOAD(VT, buf[ij] + k * L)); \
            } \
        return 0; \
    }

#define MG_WINO_PARTS(dt, m) \
    /* o[i * os] = (B^T x)[i], i < a, for the a values x[k * xs]: F(2x2): B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; \
     * 0 1 0 -1]; F(4x4): B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; \
     * 0 4 0 -5 0 1], with common subexpressions. */ \
    MG_INLINE void mg_wino_bt_##dt##_##m(mg_##dt##_vt *o, int os, const mg_##dt##_vt *x, int xs) { \
        MG_TYPES(dt); \
        if (m == 2) { \
            o[0] = x[0] - x[2 * xs]; \
            o[os] = x[xs] + x[2 * xs]; \
            o[2 * os] = x[2 * xs] - x[xs]; \
            o[3 * os] = x[xs] - x[3 * xs]; \
            return; \
        } \
        VT x0 = x[0], x1 = x[xs], x2 = x[2 * xs], x3 = x[3 * xs], x4 = x[4 * xs], x5 = x[5 * xs]; \
        VT s12 = x1 + x2, d12 = x1 - x2, s34 = x3 + x4, d42 = x4 - x2, d31 = x3 - x1; \
        o[0] = x4 - (T)5 * x2 + (T)4 * x0; \
        o[os] = s34 - (T)4 * s12; \
        o[2 * os] = (x4 - x3) + (T)4 * d12; \
        o[3 * os] = d42 + (T)2 * d31; \
        o[4 * os] = d42 - (T)2 * d31; \
        o[5 * os] = x5 - (T)5 * x3 + (T)4 * x1; \
    } \
    /* o[i * os] = (A^T x)[i], i < m: F(2x2): A^T = [1 1 1 0; 0 1 -1 -1]; F(4x4): A^T = [1 1 1 1 1 0; \
     * 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]. */ \
    MG_INLINE void mg_wino_at_##dt##_##m(mg_##dt##_vt *o, int os, const mg_##dt##_vt *x, int xs) { \
        MG_TYPES(dt); \
        if (m == 2) { \
            o[0] = x[0] + x[xs] + x[2 * xs]; \
            o[os] = x[xs] - x[2 * xs] - x[3 * xs]; \
            return; \
        } \
        VT s12 = x[xs] + x[2 * xs], d12 = x[xs] - x[2 * xs], s34 = x[3 * xs] + x[4 * xs], d34 = x[3 * xs] - x[4 * xs]; \
        o[0] = x[0] + s12 + s34; \
        o[os] = d12 + (T)2 * d34; \
        o[2 * os] = s12 + (T)4 * s34; \
        o[3 * os] = d12 + (T)8 * d34 + x[5 * xs]; \
    } \
    /* xp[0:cols] = row `row` of the channel xc from column col0 on, 0 outside the image. */ \
    MG_INLINE void mg_wino_row_##dt##_##m(mg_##dt##_t *xp, const mg_##dt##_t *xc, int32_t H, int32_t W, \
                                          int32_t row, int32_t col0, int32_t cols) { \
        int32_t lo = cols, hi = cols, k = 0; /* [lo, hi): the columns inside the image */ \
        if ((uint32_t)row < (uint32_t)H && col0 < W && col0 + cols > 0) { \
            lo = col0 < 0 ? -col0 : 0; \
            hi = W - col0 < cols ? W - col0 : cols; \
        } \
        for (; k < lo; k++) xp[k] = 0; \
        if (hi > lo) { \
            const mg_##dt##_t *src = xc + (ptrdiff_t)row * W + col0; \
            for (; k < hi; k++) xp[k] = src[k]; \
        } \
        for (; k < cols; k++) xp[k] = 0; \
    } \
    /* g[j] (j < a): column j of the L tiles of one input row from r, lane l = r[m * l + j] (reads up to \
     * r[4L + 3]). */ \
    MG_INLINE void mg_wino_gather_##dt##_##m(mg_##dt##_vt *g, const mg_##dt##_t *r) { \
        MG_TYPES(dt); \
        enum { AL = m + 2 }; \
        if (m == 2) { \
            for (int j = 0; j < AL; j++) g[j] = MG_LOAD_EVEN(VT, r + j); \
        } else if (L == 4) { /* two 4 x 4 transposes: columns 0-3, then 4-5 */ \
            v128_t t0[4], t1[4]; \
            for (int l = 0; l < 4; l++) { t0[l] = wasm_v128_load(r + 4 * l); t1[l] = wasm_v128_load(r + 4 * l + 4); } \
            mg_transpose_4x32(t0); \
            mg_transpose_4x32(t1); \
            for (int j = 0; j < AL; j++) g[j] = (VT)(j < 4 ? t0[j % 4] : t1[j % 4]); \
        } else { \
            for (int j = 0; j < AL; j++) \
                g[j] = (VT)wasm_i64x2_shuffle(wasm_v128_load(r + j), wasm_v128_load(r + m + j), 0, 2); \
        } \
    } \
    /* Stores the aa vectors o (lane l: the tile at block position q + l, the first `valid` real) into the \
     * packed panels v[ij][q / NR][c][q % NR]: one store per vector when its lanes stay in one panel (lanes \
     * past `valid` hold later positions, which are written after this), lane by lane otherwise. */ \
    MG_INLINE void mg_wino_put_##dt##_##m(mg_##dt##_t *v, const mg_##dt##_vt *o, int32_t np, int32_t C, int32_t c, \
                                          int32_t q, int32_t valid) { \
        MG_TYPES(dt); \
        enum { NR = MG_GEMM_NV * L, AA = (m + 2) * (m + 2) }; \
        ptrdiff_t ijs = (ptrdiff_t)np * C * NR; \
        if (q % NR + L <= NR) { \
            T *dst = v + ((ptrdiff_t)(q / NR) * C + c) * NR + q % NR; \
            for (int ij = 0; ij < AA; ij++) MG_STORE(dst + ij * ijs, o[ij]); \
            return; \
        } \
        for (int l = 0; l < valid; l++) { \
            T *dst = v + ((ptrdiff_t)((q + l) / NR) * C + c) * NR + (q + l) % NR; \
            for (int ij = 0; ij < AA; ij++) dst[ij * ijs] = o[ij][l]; \
        } \
    } \
    /* V = B^T d B of the tiles [t0, t0 + nt) of one image x (C x H x W), for every channel, into packed \
     * panels (mg_wino_put). A run of tiles in one tile row at a time: its a input rows, zero-padded, are \
     * copied to xp, then L tiles at a time are transformed as vectors (lane = tile). */ \
    static void mg_wino_in_##dt##_##m(mg_##dt##_t *MG_RESTRICT v, const mg_##dt##_t *x, int32_t C, int32_t H, \
                                      int32_t W, int32_t pt, int32_t pl, int32_t TW, int32_t t0, int32_t nt) { \
        MG_TYPES(dt); \
        enum { NR = MG_GEMM_NV * L, AL = m + 2, XW = m * MG_WINO_NT + 4 * L + 8 }; \
        _Alignas(16) T xp[AL][XW]; \
        int32_t np = (nt + NR - 1) / NR; \
        for (int32_t c = 0; c < C; c++) { \
            const T *xc = x + (ptrdiff_t)c * H * W; \
            for (int32_t q = 0; q < nt;) { \
                int32_t th = (t0 + q) / TW, tw0 = (t0 + q) % TW; \
                int32_t n = TW - tw0 < nt - q ? TW - tw0 : nt - q; \
                for (int i = 0; i < AL; i++) /* the last gather reads up to column m * (n - 1) + 4L + 3 */ \
                    mg_wino_row_##dt##_##m(xp[i], xc, H, W, m * th - pt + i, m * tw0 - pl, m * n + 4 * L + 4); \
                for (int32_t s = 0; s < n; s += L) { \
                    VT d[AL][AL], r[AL][AL], o[AL * AL]; \
                    for (int i = 0; i < AL; i++) { /* d B along each row */ \
                        mg_wino_gather_##dt##_##m(d[i], xp[i] + m * s); \
                        mg_wino_bt_##dt##_##m(r[i], 1, d[i], 1); \
                    } \
                    for (int j = 0; j < AL; j++) mg_wino_bt_##dt##_##m(o + j, AL, &r[0][j], AL); /* B^T (d B) */ \
                    mg_wino_put_##dt##_##m(v, o, np, C, c, q + s, n - s < L ? n - s : L); \
                } \
                q += n; \
            } \
        } \
    } \
    /* One output row a of L tiles (lanes) at yr: row[l * m + e] = o[e][l]. */ \
    MG_INLINE void mg_wino_store_row_##dt##_##m(mg_##dt##_t *yr, const mg_##dt##_vt *o) { \
        MG_TYPES(dt); \
        if (m == 2) { \
            MG_STORE(yr, (VT)mg_zip((v128_t)o[0], (v128_t)o[1], sizeof(T), 0)); \
            MG_STORE(yr + L, (VT)mg_zip((v128_t)o[0], (v128_t)o[1], sizeof(T), 1)); \
        } else if (L == 4) { \
            v128_t t4[4] = {(v128_t)o[0], (v128_t)o[1], (v128_t)o[2], (v128_t)o[3]}; \
            mg_transpose_4x32(t4); \
            for (int l = 0; l < 4; l++) wasm_v128_store(yr + 4 * l, t4[l]); \
        } else { \
            for (int l = 0; l < 2; l++) { \
                wasm_v128_store(yr + 4 * l, mg_zip((v128_t)o[0], (v128_t)o[1], sizeof(T), l)); \
                wasm_v128_store(yr + 4 * l + 2, mg_zip((v128_t)o[2], (v128_t)o[3], sizeof(T), l)); \
            } \
        } \
    } \
    /* Output transform of the products acc[ij] (rows: MR output channels, lanes: the NR tiles from block \
     * position q0): Y tile = A^T M A + bias, then the activation ACT (a constant after inlining); m output \
     * rows of L tiles when they lie inside Y, element by element otherwise. */ \
    MG_INLINE void mg_wino_out_##dt##_##m(mg_##dt##_vt acc[][MG_GEMM_MR][MG_GEMM_NV], mg_##dt##_t *y, \
                                          ptrdiff_t plane, int32_t rows, const mg_##dt##_t *bias, int32_t OH, \
                                          int32_t OW, int32_t TW, int32_t t0, int32_t q0, int32_t nt, const int ACT, \
                                          const mg_act *act) { \
        MG_TYPES(dt); \
        enum { AL = m + 2 }; \
        mg_act ka = {ACT, act->a, act->b}; \
        for (int r = 0; r < rows; r++) { \
            VT b = MG_SPLAT(VT, bias ? bias[r] : 0); \
            for (int v = 0; v < MG_GEMM_NV && q0 + v * L < nt; v++) { \
                VT mm[AL * AL], s[m][AL], o[m][m]; \
                for (int ij = 0; ij < AL * AL; ij++) mm[ij] = acc[ij][r][v]; \
                for (int j = 0; j < AL; j++) mg_wino_at_##dt##_##m(&s[0][j], AL, mm + j, AL); /* A^T M */ \
                for (int i = 0; i < m; i++) { /* (A^T M) A */ \
                    mg_wino_at_##dt##_##m(o[i], 1, s[i], 1); \
                    for (int e = 0; e < m; e++) o[i][e] = mg_vact_##dt(o[i][e] + b, &ka); \
                } \
                int32_t q = q0 + v * L, t = t0 + q, th = t / TW, tw = t % TW; \
                if (q + L <= nt && tw + L <= TW && m * (tw + L) <= OW && m * (th + 1) <= OH) { \
                    for (int i = 0; i < m; i++) \
                        mg_wino_store_row_##dt##_##m(y + r * plane + (ptrdiff_t)(m * th + i) * OW + m * tw, o[i]); \
                    continue; \
                } \
                for (int l = 0; l < L && q + l < nt; l++) { \
                    int32_t h0 = (t + l) / TW * m, w0 = (t + l) % TW * m; \
                    for (int i = 0; i < m && h0 + i < OH; i++) \
                        for (int e = 0; e < m && w0 + e < OW; e++) \
                            y[r * plane + (ptrdiff_t)(h0 + i) * OW + w0 + e] = o[i][e][l]; \
                } \
            } \
        } \
    } \
    /* Every MR-channel x NR-tile output of one block: the aa micro-kernel products over all C (U from the \
     * packed weights, V from the block's panels), then the output transform. */ \
    MG_INLINE void mg_wino_gemm_##dt##_##m(const mg_##dt##_t *u, const mg_##dt##_t *v, int32_t M, int32_t C, \
                                           mg_##dt##_t *y, const mg_##dt##_t *bias, int32_t OH, int32_t OW, \
                                           int32_t TW, int32_t t0, int32_t nt, const int ACT, const mg_act *act) { \
        MG_TYPES(dt); \
        enum { MR = MG_GEMM_MR, NR = MG_GEMM_NV * L, AA = (m + 2) * (m + 2) }; \
        int32_t np = (nt + NR - 1) / NR; \
        ptrdiff_t plane = (ptrdiff_t)OH * OW; \
        VT acc[AA][MR][MG_GEMM_NV]; \
        for (int32_t i0 = 0; i0 < M; i0 += MR) \
            for (int32_t p = 0; p < np; p++) { \
                for (int ij = 0; ij < AA; ij++) \
                    mg_gemm_ukr_##dt(C, u + ((ptrdiff_t)i0 * AA + ij * MR) * C, v + ((ptrdiff_t)ij * np + p) * C * NR, \
                                     acc[ij]); \
                mg_wino_out_##dt##_##m(acc, y + i0 * plane, plane, M - i0 < MR ? M - i0 : MR, bias ? bias + i0 : 0, \
                                       OH, OW, TW, t0, p * NR, nt, ACT, act); \
            } \
    }

/* ---- conv2d_winograd{,4} (X, Packed, Bias or 0, Scratch, Y; conv2d's ints): the conv on weights
 * transformed by conv2d_winograd{,4}_weights with the same ints. Scratch: aa * C * nt elements, nt =
 * mg_wino_block's tiles. */
#define MG_CONV2D_WINOGRAD(dt, op, m) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        enum { NR = MG_GEMM_NV * L, AA = (m + 2) * (m + 2) }; \
        MG_WINO_PARAMS(dt, op); \
        const T *x = (const T *)(uintptr_t)t[0], *u = (const T *)(uintptr_t)t[1]; \
        const T *bias = (const T *)(uintptr_t)t[2]; \
        T *v = (T *)(uintptr_t)t[3], *y = (T *)(uintptr_t)t[4]; \
        MG_CHECK(u != 0 && v != 0, MG_NAME(dt, op), "the packed weights or the scratch tensor is missing"); \
        int32_t TW = (OW + m - 1) / m, tiles = (OH + m - 1) / m * TW, nb = mg_wino_block(C, tiles, sizeof(T), NR, AA); \
        for (int32_t n = 0; n < N; n++) { \
            const T *xn = x + (ptrdiff_t)n * C * H * W; \
            T *yn = y + (ptrdiff_t)n * M * OH * OW; \
            for (int32_t t0 = 0; t0 < tiles; t0 += nb) { \
                int32_t nt = tiles - t0 < nb ? tiles - t0 : nb; \
                mg_wino_in_##dt##_##m(v, xn, C, H, W, pt, pl, TW, t0, nt); \
                MG_BY_ACT(&act, mg_wino_gemm_##dt##_##m, u, v, M, C, yn, bias, OH, OW, TW, t0, nt) \
            } \
        } \
        return 0; \
    }

MG_FLOAT(MG_WINO_PARTS, 2)
MG_FLOAT(MG_WINO_PARTS, 4)
MG_FLOAT(MG_CONV2D_WINOGRAD_WEIGHTS, conv2d_winograd_weights, 2)
MG_FLOAT(MG_CONV2D_WINOGRAD, conv2d_winograd, 2)
MG_FLOAT(MG_CONV2D_WINOGRAD_WEIGHTS, conv2d_winograd4_weights, 4)
MG_FLOAT(MG_CONV2D_WINOGRAD, conv2d_winograd4, 4)
