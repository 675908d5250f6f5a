/* conv_transpose.c: transposed convolution over 1-D, 2-D and 3-D NC... inputs (a 2-D or 1-D one has unit
 * leading spatial dims). Each input value scatters into the output: Y[n, m, id*sd - pd + kd*dd, ...] +=
 * X[n, c, id, ...] * W[c, m % (M/group), kd, ...], one kernel tap over a whole input row at a time
 * (SIMD along the row when stride_w is 1); the valid input range of each tap is computed once. */
#include "mg.h"

#define MG_CONV_TRANSPOSE(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t N = p[0], C = p[1], D = p[2], H = p[3], W = p[4], M = p[5], OD = p[6], OH = p[7], OW = p[8]; \
        int32_t KD = p[9], KH = p[10], KW = p[11], G = p[12], pd = p[13], ph = p[14], pw = p[15]; \
        int32_t sd = p[16], sh = p[17], sw = p[18], dd = p[19], dh = p[20], dw = p[21]; \
        MG_CHECK_GOT(N >= 0 && C >= 0 && D >= 0 && H >= 0 && W >= 0 && M >= 0 && OD >= 0 && OH >= 0 && OW >= 0, \
                     MG_NAME(dt, op), "sizes must be >= 0", N); \
        MG_CHECK(KD >= 1 && KH >= 1 && KW >= 1, MG_NAME(dt, op), "kernel sizes must be >= 1"); \
        MG_CHECK_GOT(G >= 1 && C % G == 0 && M % G == 0, MG_NAME(dt, op), "group must divide C and M", G); \
        MG_CHECK(sd >= 1 && sh >= 1 && sw >= 1 && dd >= 1 && dh >= 1 && dw >= 1, MG_NAME(dt, op), \
                 "strides and dilations must be >= 1"); \
        const T *x = (const T *)(uintptr_t)t[0], *w = (const T *)(uintptr_t)t[1], *bias = (const T *)(uintptr_t)t[2]; \
        T *y = (T *)(uintptr_t)t[3]; \
        int32_t Cg = C / G, Mg = M / G; \
        ptrdiff_t pin = (ptrdiff_t)D * H * W, pout = (ptrdiff_t)OD * OH * OW, ksz = (ptrdiff_t)KD * KH * KW; \
        for (int32_t n = 0; n < N; n++) { \
            for (int32_t m = 0; m < M; m++) { \
                T *yp = y + ((ptrdiff_t)n * M + m) * pout; \
                T b0 = bias ? bias[m] : (T)0; \
                for (ptrdiff_t i = 0; i < pout; i++) yp[i] = b0; \
                int32_t g = m / Mg, mm = m - g * Mg; \
                for (int32_t cg = 0; cg < Cg; cg++) { \
                    int32_t c = g * Cg + cg; \
                    const T *xp = x + ((ptrdiff_t)n * C + c) * pin; \
                    const T *wp = w + ((ptrdiff_t)c * Mg + mm) * ksz; \
                    for (int32_t kd = 0; kd < KD; kd++) { \
                        int32_t offd = kd * dd - pd; \
                        int32_t d0 = mg_tap_lo(offd, sd), d1 = mg_tap_hi(offd, sd, OD, D); \
                        for (int32_t kh = 0; kh < KH; kh++) { \
                            int32_t offh = kh * dh - ph; \
                            int32_t h0 = mg_tap_lo(offh, sh), h1 = mg_tap_hi(offh, sh, OH, H); \
                            for (int32_t kw = 0; kw < KW; kw++) { \
                                int32_t offw = kw * dw - pw; \
                                int32_t w0 = mg_tap_lo(offw, sw), w1 = mg_tap_hi(offw, sw, OW, W); \
                                if (w0 >= w1) continue; \
                                T wv = wp[((ptrdiff_t)kd * KH + kh) * KW + kw]; \
                                VT vw = MG_SPLAT(VT, wv); \
                                for (int32_t id = d0; id < d1; id++) { \
                                    for (int32_t ih = h0; ih < h1; ih++) { \
                                        const T *xr = xp + ((ptrdiff_t)id * H + ih) * W; \
                                        T *yr = yp + ((ptrdiff_t)(id * sd + offd) * OH + (ih * sh + offh)) * OW + offw; \
                                        int32_t iw = w0; \
                                        if (sw == 1) { \
                                            for (; iw + L <= w1; iw += L) \
                                                MG_STORE(yr + iw, MG_LOAD(VT, yr + iw) + vw * MG_LOAD(VT, xr + iw)); \
                                            for (; iw < w1; iw++) yr[iw] += wv * xr[iw]; \
                                        } else { \
                                            for (; iw < w1; iw++) yr[(ptrdiff_t)iw * sw] += wv * xr[iw]; \
                                        } \
                                    } \
                                } \
                            } \
                        } \
                    } \
                } \
            } \
        } \
        return 0; \
    }
MG_FLOAT(MG_CONV_TRANSPOSE, conv_transpose)
