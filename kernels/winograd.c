/* winograd.c: 3x3 stride-1 conv2d as Winograd F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2015). Each 2x2 output tile of a channel is A^T [sum_c U_c . V_c] A, with
 * U = G g G^T the 4x4 transform of a 3x3 filter and V = B^T d B that of the 4x4 input tile d, so the
 * 36 multiplies per tile and (output, input) channel pair of the direct conv become 16: one GEMM per
 * position ij of the 4x4 transform, M_ij (M x tiles) = U_ij (M x C) @ V_ij (C x tiles), 2.25x fewer
 * multiply-adds than im2col for the same micro-kernel.
 *
 * conv2d_winograd_weights (an init step on constant weights) writes U straight into the micro-kernel's
 * packed-A layout (mg_gemm.h): for each of the 16 matrices, MR-row tiles of C columns, k-major. conv2d_winograd
 * works per block of tiles (row-major over the image, at most MG_WINO_NT): the input transform writes V for
 * every input channel into packed-B panels of NR tiles in the scratch; then per MR output channels and
 * panel the 16 micro-kernel products over all C land in a 2 KB local array, and the output transform
 * (+ bias, activation) writes them to Y. Inputs outside the image read as 0 (any pads); tiles past OH / OW
 * (odd output sizes) are computed and not stored. */
#include "mg_conv.h"

#define MG_WINO_VBYTES 262144 /* scratch for the transformed inputs of one block (16 x C x tiles values) */
#define MG_WINO_NT 64         /* at most this many tiles per block */

/* Tiles per block: the panels of nr tiles whose 16 x C values fit in MG_WINO_VBYTES (at least one), at most
 * MG_WINO_NT and no more than the image's `tiles` need. ABI.md states the same formula for the scratch. */
static int32_t mg_wino_block(int32_t C, int32_t tiles, int32_t size, int32_t nr) {
    int32_t nt = MG_WINO_VBYTES / size / (16 * (C > 0 ? C : 1)) / nr * nr, need = (tiles + nr - 1) / nr * nr;
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

/* ---- conv2d_winograd_weights (W, Packed; conv2d's ints): U = G g G^T of every W[m, c] (computed in f64) as
 * 16 * Mp * C elements, Mp = ceil(M / 4) * 4: per MR-row tile i0 of the output channels, the 16 matrices' MR x C
 * tiles one after another (one contiguous stream per tile for the run kernel), each k-major:
 * Packed[(i0 * 16 + ij * MR) * C + c * MR + r] = U[i0 + r, c][ij], rows past M zero. */
#define MG_CONV2D_WINOGRAD_WEIGHTS(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        enum { MR = MG_GEMM_MR }; \
        MG_WINO_PARAMS(dt, op); \
        const T *w = (const T *)(uintptr_t)t[0]; \
        T *u = (T *)(uintptr_t)t[1]; \
        MG_CHECK(u != 0, MG_NAME(dt, op), "the packed tensor is missing"); \
        int32_t Mp = (M + MR - 1) / MR * MR; \
        for (int32_t m = 0; m < Mp; m++) \
            for (int32_t c = 0; c < C; c++) { \
                double g[3][3] = {{0}}, h[4][3], r[4][4]; \
                for (int k = 0; k < 9 && m < M; k++) g[k / 3][k % 3] = w[((ptrdiff_t)m * C + c) * 9 + k]; \
                for (int j = 0; j < 3; j++) { /* G g */ \
                    h[0][j] = g[0][j]; \
                    h[1][j] = (g[0][j] + g[1][j] + g[2][j]) * 0.5; \
                    h[2][j] = (g[0][j] - g[1][j] + g[2][j]) * 0.5; \
                    h[3][j] = g[2][j]; \
                } \
                for (int i = 0; i < 4; i++) { /* (G g) G^T */ \
                    r[i][0] = h[i][0]; \
                    r[i][1] = (h[i][0] + h[i][1] + h[i][2]) * 0.5; \
                    r[i][2] = (h[i][0] - h[i][1] + h[i][2]) * 0.5; \
                    r[i][3] = h[i][2]; \
                } \
                for (int ij = 0; ij < 16; ij++) \
                    u[((ptrdiff_t)m / MR * 16 + ij) * MR * C + (ptrdiff_t)c * MR + m % MR] = (T)r[ij / 4][ij % 4]; \
            } \
        return 0; \
    }
MG_FLOAT(MG_CONV2D_WINOGRAD_WEIGHTS, conv2d_winograd_weights)

#define MG_WINO_PARTS(dt, ...) \
    /* xp[0:cols] = row `row` of the channel xc from column col0 on, 0 outside the image. */ \
    MG_INLINE void mg_wino_row_##dt(mg_##dt##_t *xp, const mg_##dt##_t *xc, int32_t H, int32_t W, int32_t row, \
                                    int32_t col0, int32_t cols) { \
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
    /* Stores the 16 vectors o (lane l: the tile at block position q + l, the first `valid` real) into the \
     * packed panels v[ij][q / NR][c][q % NR]: one store per vector when its lanes stay in one panel (lanes \
     * past `valid` hold later positions, which are written after this), lane by lane otherwise. */ \
    MG_INLINE void mg_wino_put_##dt(mg_##dt##_t *v, const mg_##dt##_vt o[16], int32_t np, int32_t C, int32_t c, \
                                    int32_t q, int32_t valid) { \
        MG_TYPES(dt); \
        enum { NR = MG_GEMM_NV * L }; \
        ptrdiff_t ijs = (ptrdiff_t)np * C * NR; \
        if (q % NR + L <= NR) { \
            T *dst = v + ((ptrdiff_t)(q / NR) * C + c) * NR + q % NR; \
            for (int ij = 0; ij < 16; ij++) MG_STORE(dst + ij * ijs, o[ij]); \
            return; \
        } \
        for (int l = 0; l < valid; l++) { \
            T *dst = v + ((ptrdiff_t)((q + l) / NR) * C + c) * NR + (q + l) % NR; \
            for (int ij = 0; ij < 16; ij++) dst[ij * ijs] = o[ij][l]; \
        } \
    } \
    /* V = B^T d B of the tiles [t0, t0 + nt) of one image x (C x H x W), for every channel, into packed \
     * panels (mg_wino_put). A run of tiles in one tile row at a time: its 4 input rows, zero-padded, are \
     * copied to xp, then L tiles at a time are transformed as vectors (lane = tile; even-lane loads). */ \
    static void mg_wino_in_##dt(mg_##dt##_t *MG_RESTRICT v, const mg_##dt##_t *x, int32_t C, int32_t H, int32_t W, \
                                int32_t pt, int32_t pl, int32_t TW, int32_t t0, int32_t nt) { \
        MG_TYPES(dt); \
        enum { NR = MG_GEMM_NV * L, XW = 2 * MG_WINO_NT + 4 * L }; \
        _Alignas(16) T xp[4][XW]; \
        int32_t np = (nt + NR - 1) / NR; \
        for (int32_t c = 0; c < C; c++) { \
            const T *xc = x + (ptrdiff_t)c * H * W; \
            for (int32_t q = 0; q < nt;) { \
                int32_t th = (t0 + q) / TW, tw0 = (t0 + q) % TW; \
                int32_t n = TW - tw0 < nt - q ? TW - tw0 : nt - q; \
                for (int i = 0; i < 4; i++) /* the last vector reads up to column 2n + 2L */ \
                    mg_wino_row_##dt(xp[i], xc, H, W, 2 * th - pt + i, 2 * tw0 - pl, 2 * n + 2 * L + 1); \
                for (int32_t s = 0; s < n; s += L) { \
                    VT d[4][4], o[16]; \
                    for (int i = 0; i < 4; i++) { /* d B along the row */ \
                        const T *r = xp[i] + 2 * s; \
                        VT e0 = MG_LOAD_EVEN(VT, r), e1 = MG_LOAD_EVEN(VT, r + 1); \
                        VT e2 = MG_LOAD_EVEN(VT, r + 2), e3 = MG_LOAD_EVEN(VT, r + 3); \
                        d[i][0] = e0 - e2; \
                        d[i][1] = e1 + e2; \
                        d[i][2] = e2 - e1; \
                        d[i][3] = e1 - e3; \
                    } \
                    for (int j = 0; j < 4; j++) { /* B^T (d B) */ \
                        o[j] = d[0][j] - d[2][j]; \
                        o[4 + j] = d[1][j] + d[2][j]; \
                        o[8 + j] = d[2][j] - d[1][j]; \
                        o[12 + j] = d[1][j] - d[3][j]; \
                    } \
                    mg_wino_put_##dt(v, o, np, C, c, q + s, n - s < L ? n - s : L); \
                } \
                q += n; \
            } \
        } \
    } \
    /* Output transform of the products acc[ij] (rows: MR output channels, lanes: the NR tiles from block \
     * position q0): Y tile = A^T M A + bias, then the activation ACT (a constant after inlining); two \
     * output rows of L tiles per store pair when they lie inside Y, element by element otherwise. */ \
    MG_INLINE void mg_wino_out_##dt(mg_##dt##_vt acc[16][MG_GEMM_MR][MG_GEMM_NV], mg_##dt##_t *y, ptrdiff_t plane, \
                                    int32_t rows, const mg_##dt##_t *bias, int32_t OH, int32_t OW, int32_t TW, \
                                    int32_t t0, int32_t q0, int32_t nt, const int ACT, const mg_act *act) { \
        MG_TYPES(dt); \
        mg_act ka = {ACT, act->a, act->b}; \
        for (int r = 0; r < rows; r++) { \
            VT b = MG_SPLAT(VT, bias ? bias[r] : 0); \
            for (int v = 0; v < MG_GEMM_NV && q0 + v * L < nt; v++) { \
                VT s[2][4], o[2][2]; \
                for (int j = 0; j < 4; j++) { /* A^T M */ \
                    VT m1 = acc[4 + j][r][v], m2 = acc[8 + j][r][v]; \
                    s[0][j] = acc[j][r][v] + m1 + m2; \
                    s[1][j] = m1 - m2 - acc[12 + j][r][v]; \
                } \
                for (int a = 0; a < 2; a++) { /* (A^T M) A */ \
                    o[a][0] = mg_vact_##dt(s[a][0] + s[a][1] + s[a][2] + b, &ka); \
                    o[a][1] = mg_vact_##dt(s[a][1] - s[a][2] - s[a][3] + b, &ka); \
                } \
                int32_t q = q0 + v * L, t = t0 + q, th = t / TW, tw = t % TW; \
                if (q + L <= nt && tw + L <= TW && 2 * (tw + L) <= OW && 2 * th + 2 <= OH) { \
                    T *yr = y + r * plane + (ptrdiff_t)2 * th * OW + 2 * tw; \
                    for (int a = 0; a < 2; a++) { \
                        MG_STORE(yr + a * OW, (VT)mg_zip((v128_t)o[a][0], (v128_t)o[a][1], sizeof(T), 0)); \
                        MG_STORE(yr + a * OW + L, (VT)mg_zip((v128_t)o[a][0], (v128_t)o[a][1], sizeof(T), 1)); \
                    } \
                    continue; \
                } \
                for (int l = 0; l < L && q + l < nt; l++) { \
                    int32_t h0 = (t + l) / TW * 2, w0 = (t + l) % TW * 2; \
                    for (int a = 0; a < 2 && h0 + a < OH; a++) \
                        for (int e = 0; e < 2 && w0 + e < OW; e++) \
                            y[r * plane + (ptrdiff_t)(h0 + a) * OW + w0 + e] = o[a][e][l]; \
                } \
            } \
        } \
    } \
    /* Every MR-channel x NR-tile output of one block: the 16 micro-kernel products over all C (U from the \
     * packed weights, V from the block's panels), then the output transform. */ \
    MG_INLINE void mg_wino_gemm_##dt(const mg_##dt##_t *u, const mg_##dt##_t *v, int32_t M, int32_t C, \
                                     mg_##dt##_t *y, const mg_##dt##_t *bias, int32_t OH, int32_t OW, int32_t TW, \
                                     int32_t t0, int32_t nt, const int ACT, const mg_act *act) { \
        MG_TYPES(dt); \
        enum { MR = MG_GEMM_MR, NR = MG_GEMM_NV * L }; \
        int32_t np = (nt + NR - 1) / NR; \
        ptrdiff_t plane = (ptrdiff_t)OH * OW; \
        VT acc[16][MR][MG_GEMM_NV]; \
        for (int32_t i0 = 0; i0 < M; i0 += MR) \
            for (int32_t p = 0; p < np; p++) { \
                for (int ij = 0; ij < 16; ij++) \
                    mg_gemm_ukr_##dt(C, u + ((ptrdiff_t)i0 * 16 + ij * MR) * C, v + ((ptrdiff_t)ij * np + p) * C * NR, \
                                     acc[ij]); \
                mg_wino_out_##dt(acc, y + i0 * plane, plane, M - i0 < MR ? M - i0 : MR, bias ? bias + i0 : 0, OH, OW, \
                                 TW, t0, p * NR, nt, ACT, act); \
            } \
    }
MG_FLOAT(MG_WINO_PARTS, _)

/* ---- conv2d_winograd (X, Packed, Bias or 0, Scratch, Y; conv2d's ints): the conv on weights transformed by
 * conv2d_winograd_weights with the same ints. Scratch: 16 * C * nt elements, nt = mg_wino_block's tiles. */
#define MG_CONV2D_WINOGRAD(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        enum { NR = MG_GEMM_NV * L }; \
        MG_WINO_PARAMS(dt, op); \
        const T *x = (const T *)(uintptr_t)t[0], *u = (const T *)(uintptr_t)t[1]; \
        const T *bias = (const T *)(uintptr_t)t[2]; \
        T *v = (T *)(uintptr_t)t[3], *y = (T *)(uintptr_t)t[4]; \
        MG_CHECK(u != 0 && v != 0, MG_NAME(dt, op), "the packed weights or the scratch tensor is missing"); \
        int32_t TW = (OW + 1) / 2, tiles = (OH + 1) / 2 * TW, nb = mg_wino_block(C, tiles, sizeof(T), NR); \
        for (int32_t n = 0; n < N; n++) { \
            const T *xn = x + (ptrdiff_t)n * C * H * W; \
            T *yn = y + (ptrdiff_t)n * M * OH * OW; \
            for (int32_t t0 = 0; t0 < tiles; t0 += nb) { \
                int32_t nt = tiles - t0 < nb ? tiles - t0 : nb; \
                mg_wino_in_##dt(v, xn, C, H, W, pt, pl, TW, t0, nt); \
                switch (act.code) { \
                case 0: mg_wino_gemm_##dt(u, v, M, C, yn, bias, OH, OW, TW, t0, nt, 0, &act); break; \
                case 1: mg_wino_gemm_##dt(u, v, M, C, yn, bias, OH, OW, TW, t0, nt, 1, &act); break; \
                case 2: mg_wino_gemm_##dt(u, v, M, C, yn, bias, OH, OW, TW, t0, nt, 2, &act); break; \
                case 3: mg_wino_gemm_##dt(u, v, M, C, yn, bias, OH, OW, TW, t0, nt, 3, &act); break; \
                case 4: mg_wino_gemm_##dt(u, v, M, C, yn, bias, OH, OW, TW, t0, nt, 4, &act); break; \
                case 5: mg_wino_gemm_##dt(u, v, M, C, yn, bias, OH, OW, TW, t0, nt, 5, &act); break; \
                default: mg_wino_gemm_##dt(u, v, M, C, yn, bias, OH, OW, TW, t0, nt, 6, &act); break; \
                } \
            } \
        } \
        return 0; \
    }
MG_FLOAT(MG_CONV2D_WINOGRAD, conv2d_winograd)
