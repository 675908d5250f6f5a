/* conv.c: direct NCHW conv2d with groups, dilations, bias and activation, no scratch.
 *
 * For each output plane (n, m): start from the bias, then for each input channel of m's group and each
 * kernel tap (kh, kw), add w * (the input row segment the tap sees) to each output row: an axpy over the
 * output columns, SIMD when stride_w == 1. The valid output rows and columns of each tap are computed
 * up front, so padding costs no branch in the inner loop. */
#include "mg.h"

#define MG_CONV2D(dt, op) \
    /* y[i] += w * x[i * sx] for i < n */ \
    MG_INLINE void mg_axpy_##dt(mg_##dt##_t *y, const mg_##dt##_t *x, mg_##dt##_t w, int32_t n, int32_t sx) { \
        MG_TYPES(dt); \
        int32_t i = 0; \
        if (sx == 1) { \
            VT vw = MG_SPLAT(VT, w); \
            for (; i + 2 * L <= n; i += 2 * L) { \
                VT y0 = MG_LOAD(VT, y + i) + vw * MG_LOAD(VT, x + i); \
                VT y1 = MG_LOAD(VT, y + i + L) + vw * MG_LOAD(VT, x + i + L); \
                MG_STORE(y + i, y0); \
                MG_STORE(y + i + L, y1); \
            } \
            for (; i + L <= n; i += L) MG_STORE(y + i, MG_LOAD(VT, y + i) + vw * MG_LOAD(VT, x + i)); \
        } \
        for (; i < n; i++) y[i] += w * x[(ptrdiff_t)i * sx]; \
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
        const T *x = (const T *)(uintptr_t)t[0], *wt = (const T *)(uintptr_t)t[1]; \
        const T *bias = (const T *)(uintptr_t)t[2]; \
        T *y = (T *)(uintptr_t)t[3]; \
        int32_t Cg = C / G, Mg = M / G; \
        ptrdiff_t plane = (ptrdiff_t)OH * OW; \
        for (int32_t n = 0; n < N; n++) { \
            for (int32_t m = 0; m < M; m++) { \
                T *yp = y + ((ptrdiff_t)n * M + m) * plane; \
                T b0 = bias ? bias[m] : 0; \
                for (ptrdiff_t i = 0; i < plane; i++) yp[i] = b0; \
                const T *xg = x + ((ptrdiff_t)n * C + (ptrdiff_t)(m / Mg) * Cg) * H * W; \
                for (int32_t c = 0; c < Cg; c++) { \
                    const T *xc = xg + (ptrdiff_t)c * H * W; \
                    const T *wc = wt + ((ptrdiff_t)m * Cg + c) * KH * KW; \
                    for (int32_t kh = 0; kh < KH; kh++) { \
                        int32_t hoff = kh * dh - pt; \
                        int32_t oh1 = mg_tap_hi(hoff, sh, H, OH); \
                        for (int32_t oh = mg_tap_lo(hoff, sh); oh < oh1; oh++) { \
                            T *yr = yp + (ptrdiff_t)oh * OW; \
                            const T *xr = xc + (ptrdiff_t)(oh * sh + hoff) * W; \
                            for (int32_t kw = 0; kw < KW; kw++) { \
                                int32_t woff = kw * dw - pl; \
                                int32_t ow0 = mg_tap_lo(woff, sw), ow1 = mg_tap_hi(woff, sw, W, OW); \
                                if (ow0 < ow1) \
                                    mg_axpy_##dt(yr + ow0, xr + ow0 * sw + woff, wc[kh * KW + kw], ow1 - ow0, sw); \
                            } \
                        } \
                    } \
                } \
                if (act == 1) { \
                    ptrdiff_t i = 0; \
                    for (; i + L <= plane; i += L) { \
                        VT v = MG_LOAD(VT, yp + i); \
                        MG_STORE(yp + i, (VT)wasm_v128_andnot((v128_t)v, (v128_t)(v < 0))); \
                    } \
                    for (; i < plane; i++) yp[i] = yp[i] < 0 ? 0 : yp[i]; \
                } \
            } \
        } \
        return 0; \
    }
MG_FLOAT(MG_CONV2D, conv2d)
