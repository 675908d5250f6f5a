/* conv.c: direct NCHW conv2d with groups, dilations, bias and activation, no scratch.
 *
 * Output-stationary: each output element is computed once, accumulating over C/group x KH x KW in
 * registers, starting from the bias; the activation is applied on the way out. When stride_w is 1 or 2,
 * a row of outputs is split into its interior (columns where every kernel tap reads inside the input)
 * and its borders. Interior tiles of NM output channels (of one group) x NV vectors along the output
 * width keep NM*NV accumulators in registers: per tap, NV vector loads of the input row (stride 2:
 * two loads and an even-lane shuffle each), NM weight splats, NM*NV multiply-adds. Border columns,
 * tile remainders and other strides go through a scalar path. The valid range of kernel rows of each
 * output row (and of kernel columns of each border column) is computed up front, so padding costs no
 * branch in an inner loop. */
#include "mg.h"

typedef struct {
    int32_t C, H, W, KH, KW, Cg, pt, pl, sh, sw, dh, dw, act;
} mg_conv_geom;

#ifndef MG_CONV_NM
#define MG_CONV_NM 4 /* output channels per tile */
#define MG_CONV_NV 3 /* vectors along the output width per tile: 12 accumulators */
#endif

#define MG_CONV2D(dt, op) \
    /* Y[m + mm, oh, ow + v*L + l] for mm < NM, v < NV, all taps valid (interior, stride_w == 1). \
     * x: the group's first input channel; w: channel m's weights; kh in [kh0, kh1) valid for oh. */ \
    MG_INLINE void mg_conv_tile_##dt(const mg_conv_geom *g, mg_##dt##_t *y, ptrdiff_t y_m, const mg_##dt##_t *x, \
                                     const mg_##dt##_t *w, const mg_##dt##_t *bias, int32_t oh, int32_t ow, \
                                     int32_t kh0, int32_t kh1, const int NM, const int NV, const int S) { \
        MG_TYPES(dt); \
        VT acc[MG_CONV_NM][MG_CONV_NV]; \
        ptrdiff_t w_m = (ptrdiff_t)g->Cg * g->KH * g->KW, hw = (ptrdiff_t)g->H * g->W; \
        for (int mm = 0; mm < NM; mm++) \
            for (int v = 0; v < NV; v++) acc[mm][v] = MG_SPLAT(VT, bias ? bias[mm] : 0); \
        const T *xr0 = x + (ptrdiff_t)(oh * g->sh - g->pt) * g->W + (ow * S - g->pl); \
        for (int32_t c = 0; c < g->Cg; c++) { \
            for (int32_t kh = kh0; kh < kh1; kh++) { \
                const T *xr = xr0 + c * hw + (ptrdiff_t)kh * g->dh * g->W; \
                const T *wr = w + ((ptrdiff_t)c * g->KH + kh) * g->KW; \
                for (int32_t kw = 0; kw < g->KW; kw++) { \
                    const T *xs = xr + kw * g->dw; \
                    VT xv[MG_CONV_NV]; \
                    for (int v = 0; v < NV; v++) \
                        xv[v] = S == 1 ? MG_LOAD(VT, xs + v * L) : MG_LOAD_EVEN(VT, xs + 2 * v * L); \
                    for (int mm = 0; mm < NM; mm++) { \
                        VT wv = MG_SPLAT(VT, wr[mm * w_m + kw]); \
                        for (int v = 0; v < NV; v++) acc[mm][v] += wv * xv[v]; \
                    } \
                } \
            } \
        } \
        for (int mm = 0; mm < NM; mm++) \
            for (int v = 0; v < NV; v++) { \
                VT r = acc[mm][v]; \
                if (g->act) r = (VT)wasm_v128_andnot((v128_t)r, (v128_t)(r < 0)); \
                MG_STORE(y + mm * y_m + ow + v * L, r); \
            } \
    } \
    /* One output Y[m, oh, ow] (any stride), taps clipped to the input. */ \
    static mg_##dt##_t mg_conv_point_##dt(const mg_conv_geom *g, const mg_##dt##_t *x, const mg_##dt##_t *w, \
                                          mg_##dt##_t b, int32_t oh, int32_t ow, int32_t kh0, int32_t kh1) { \
        MG_TYPES(dt); \
        int32_t col = ow * g->sw - g->pl; \
        int32_t kw0 = mg_tap_lo(col, g->dw), kw1 = mg_tap_hi(col, g->dw, g->W, g->KW); \
        T s = b; \
        for (int32_t c = 0; c < g->Cg; c++) \
            for (int32_t kh = kh0; kh < kh1; kh++) { \
                const T *xr = x + ((ptrdiff_t)c * g->H + oh * g->sh - g->pt + kh * g->dh) * g->W + col; \
                const T *wr = w + ((ptrdiff_t)c * g->KH + kh) * g->KW; \
                for (int32_t kw = kw0; kw < kw1; kw++) s += wr[kw] * xr[kw * g->dw]; \
            } \
        return g->act && s < 0 ? 0 : s; \
    } \
    /* Tiles over the interior columns [ow, i1) of one output row; returns the first column left. */ \
    MG_INLINE int32_t mg_conv_tiles_##dt(const mg_conv_geom *g, mg_##dt##_t *yr, ptrdiff_t y_m, \
                                         const mg_##dt##_t *x, const mg_##dt##_t *w, const mg_##dt##_t *bias, \
                                         int32_t oh, int32_t ow, int32_t i1, int32_t kh0, int32_t kh1, int NM, \
                                         const int S) { \
        MG_TYPES(dt); \
        enum { NV = MG_CONV_NV }; \
        if (NM == MG_CONV_NM) { \
            for (; ow + NV * L <= i1; ow += NV * L) mg_conv_tile_##dt(g, yr, y_m, x, w, bias, oh, ow, kh0, kh1, MG_CONV_NM, NV, S); \
            for (; ow + L <= i1; ow += L) mg_conv_tile_##dt(g, yr, y_m, x, w, bias, oh, ow, kh0, kh1, MG_CONV_NM, 1, S); \
        } else { \
            for (; ow + NV * L <= i1; ow += NV * L) mg_conv_tile_##dt(g, yr, y_m, x, w, bias, oh, ow, kh0, kh1, 1, NV, S); \
            for (; ow + L <= i1; ow += L) mg_conv_tile_##dt(g, yr, y_m, x, w, bias, oh, ow, kh0, kh1, 1, 1, S); \
        } \
        return ow; \
    } \
    /* Output rows of channels m .. m+NM-1 (same group). */ \
    static void mg_conv_rows_##dt(const mg_conv_geom *g, mg_##dt##_t *y, int32_t OH, int32_t OW, \
                                  const mg_##dt##_t *x, const mg_##dt##_t *w, const mg_##dt##_t *bias, int NM) { \
        MG_TYPES(dt); \
        ptrdiff_t y_m = (ptrdiff_t)OH * OW, w_m = (ptrdiff_t)g->Cg * g->KH * g->KW; \
        /* interior columns: every kw in range (tap 0 has the highest lower bound, tap KW-1 the lowest \
         * upper); with stride 2 the tile also loads the element after its last one. */ \
        int32_t i0 = OW, i1 = OW; \
        if (g->sw <= 2) { \
            i0 = mg_tap_lo(-g->pl, g->sw); \
            i1 = mg_tap_hi((g->KW - 1) * g->dw - g->pl + g->sw - 1, g->sw, g->W, OW); \
            if (i1 < i0) i1 = i0 = OW; \
        } \
        for (int32_t oh = 0; oh < OH; oh++) { \
            int32_t row = oh * g->sh - g->pt; \
            int32_t kh0 = mg_tap_lo(row, g->dh), kh1 = mg_tap_hi(row, g->dh, g->H, g->KH); \
            if (kh1 < kh0) kh1 = kh0; \
            mg_##dt##_t *yr = y + (ptrdiff_t)oh * OW; \
            int32_t ow = i0; \
            if (g->sw == 1) ow = mg_conv_tiles_##dt(g, yr, y_m, x, w, bias, oh, ow, i1, kh0, kh1, NM, 1); \
            else if (g->sw == 2) ow = mg_conv_tiles_##dt(g, yr, y_m, x, w, bias, oh, ow, i1, kh0, kh1, NM, 2); \
            for (int mm = 0; mm < NM; mm++) { \
                T b = bias ? bias[mm] : 0; \
                for (int32_t o = 0; o < OW; o++) { \
                    if (o == i0) o = ow; /* skip the columns done by tiles */ \
                    if (o >= OW) break; \
                    yr[mm * y_m + o] = mg_conv_point_##dt(g, x, w + mm * w_m, b, oh, o, kh0, kh1); \
                } \
            } \
        } \
    } \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t N = p[0], C = p[1], H = p[2], W = p[3], M = p[4], OH = p[5], OW = p[6], KH = p[7], KW = p[8]; \
        int32_t G = p[9], pt = p[10], pl = p[11], sh = p[12], sw = p[13], dh = p[14], dw = p[15], act = p[16]; \
        MG_CHECK(N >= 0 && C >= 0 && H >= 0 && W >= 0 && M >= 0 && OH >= 0 && OW >= 0, MG_NAME(dt, op), \
                 "N, C, H, W, M, OH, OW must be >= 0"); \
        MG_CHECK(KH >= 1 && KW >= 1, MG_NAME(dt, op), "KH and KW must be >= 1"); \
        MG_CHECK_GOT(G >= 1 && C % G == 0 && M % G == 0, MG_NAME(dt, op), \
                     "group must be >= 1 and divide C and M", G); \
        MG_CHECK(pt >= 0 && pl >= 0, MG_NAME(dt, op), "pads must be >= 0"); \
        MG_CHECK(sh >= 1 && sw >= 1 && dh >= 1 && dw >= 1, MG_NAME(dt, op), "strides and dilations must be >= 1"); \
        MG_CHECK_GOT(act == 0 || act == 1, MG_NAME(dt, op), "act must be 0 (none) or 1 (relu)", act); \
        const T *x = (const T *)(uintptr_t)t[0], *w = (const T *)(uintptr_t)t[1]; \
        const T *bias = (const T *)(uintptr_t)t[2]; \
        T *y = (T *)(uintptr_t)t[3]; \
        mg_conv_geom g = {C, H, W, KH, KW, C / G, pt, pl, sh, sw, dh, dw, act}; \
        int32_t Mg = M / G; \
        ptrdiff_t plane = (ptrdiff_t)OH * OW, w_m = (ptrdiff_t)g.Cg * KH * KW; \
        for (int32_t n = 0; n < N; n++) \
            for (int32_t m = 0; m < M;) { \
                int NM = (m % Mg) + MG_CONV_NM <= Mg ? MG_CONV_NM : 1; /* channels of one group at a time */ \
                const T *xg = x + ((ptrdiff_t)n * C + (ptrdiff_t)(m / Mg) * g.Cg) * H * W; \
                mg_conv_rows_##dt(&g, y + ((ptrdiff_t)n * M + m) * plane, OH, OW, xg, w + m * w_m, \
                                  bias ? bias + m : 0, NM); \
                m += NM; \
            } \
        return 0; \
    }
MG_FLOAT(MG_CONV2D, conv2d)
