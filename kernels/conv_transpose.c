/* conv_transpose.c: the col2im half of a transposed convolution (the other half is one gemm step per
 * image: cols = W^T @ X per group). cols holds, per output channel m and kernel tap k, the input-sized
 * plane of contributions; each plane is added into the output at the tap's offset:
 * Y[m, id*sd - pd + kd*dd, ...] += cols[m, kd, kh, kw, id, ih, iw], Y starting at the bias. 1-D, 2-D
 * and 3-D (unit leading dims); SIMD along the row when stride_w is 1 or 2; the valid input range of each tap
 * is computed once. */
#include "mg.h"

/* The low and high halves of x interleaved with -0.0: (x0, -0, x1, -0, ...). */
MG_INLINE mg_f32_vt mg_c2i_lo_f32(mg_f32_vt x) { return __builtin_shufflevector(x, (mg_f32_vt){-0.f, -0.f, -0.f, -0.f}, 0, 4, 1, 5); }
MG_INLINE mg_f32_vt mg_c2i_hi_f32(mg_f32_vt x) { return __builtin_shufflevector(x, (mg_f32_vt){-0.f, -0.f, -0.f, -0.f}, 2, 6, 3, 7); }
MG_INLINE mg_f64_vt mg_c2i_lo_f64(mg_f64_vt x) { return __builtin_shufflevector(x, (mg_f64_vt){-0.0, -0.0}, 0, 2); }
MG_INLINE mg_f64_vt mg_c2i_hi_f64(mg_f64_vt x) { return __builtin_shufflevector(x, (mg_f64_vt){-0.0, -0.0}, 1, 3); }

#define MG_COL2IM(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t M = p[0], D = p[1], H = p[2], W = p[3], OD = p[4], OH = p[5], OW = p[6]; \
        int32_t KD = p[7], KH = p[8], KW = p[9], pd = p[10], ph = p[11], pw = p[12]; \
        int32_t sd = p[13], sh = p[14], sw = p[15], dd = p[16], dh = p[17], dw = p[18]; \
        MG_CHECK_GOT(M >= 0 && D >= 0 && H >= 0 && W >= 0 && OD >= 0 && OH >= 0 && OW >= 0, MG_NAME(dt, op), \
                     "sizes must be >= 0", M); \
        MG_CHECK(KD >= 1 && KH >= 1 && KW >= 1, MG_NAME(dt, op), "kernel sizes must be >= 1"); \
        MG_CHECK(sd >= 1 && sh >= 1 && sw >= 1 && dd >= 1 && dh >= 1 && dw >= 1, MG_NAME(dt, op), \
                 "strides and dilations must be >= 1"); \
        const T *cols = (const T *)(uintptr_t)t[0], *bias = (const T *)(uintptr_t)t[1]; \
        T *y = (T *)(uintptr_t)t[2]; \
        ptrdiff_t pin = (ptrdiff_t)D * H * W, pout = (ptrdiff_t)OD * OH * OW; \
        for (int32_t m = 0; m < M; m++) { \
            T *yp = y + (ptrdiff_t)m * pout; \
            T b0 = bias ? bias[m] : (T)0; \
            for (ptrdiff_t i = 0; i < pout; i++) yp[i] = b0; \
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
                        const T *cp = cols + ((((ptrdiff_t)m * KD + kd) * KH + kh) * KW + kw) * pin; \
                        for (int32_t id = d0; id < d1; id++) { \
                            for (int32_t ih = h0; ih < h1; ih++) { \
                                const T *xr = cp + ((ptrdiff_t)id * H + ih) * W; \
                                T *yr = yp + ((ptrdiff_t)(id * sd + offd) * OH + (ih * sh + offh)) * OW + offw; \
                                int32_t iw = w0; \
                                if (sw == 1) { \
                                    for (; iw + L <= w1; iw += L) \
                                        MG_STORE(yr + iw, MG_LOAD(VT, yr + iw) + MG_LOAD(VT, xr + iw)); \
                                    for (; iw < w1; iw++) yr[iw] += xr[iw]; \
                                } else if (sw == 2) { /* x interleaved with -0.0 (adds nothing) */ \
                                    for (; iw + L < w1; iw += L) { \
                                        VT v = MG_LOAD(VT, xr + iw); \
                                        T *o = yr + 2 * (ptrdiff_t)iw; \
                                        MG_STORE(o, MG_LOAD(VT, o) + mg_c2i_lo_##dt(v)); \
                                        MG_STORE(o + L, MG_LOAD(VT, o + L) + mg_c2i_hi_##dt(v)); \
                                    } \
                                    for (; iw < w1; iw++) yr[2 * (ptrdiff_t)iw] += xr[iw]; \
                                } else { \
                                    for (; iw < w1; iw++) yr[(ptrdiff_t)iw * sw] += xr[iw]; \
                                } \
                            } \
                        } \
                    } \
                } \
            } \
        } \
        return 0; \
    }
MG_FLOAT(MG_COL2IM, col2im)
