/* pool.c: maxpool2d (dilated, padding never wins) and avgpool2d (count_include_pad) over [NC, H, W].
 * Each output row accumulates over the kernel taps, each tap over its valid columns (computed up front,
 * no branch inside): SIMD along the row when stride_w is 1 or 2 (even-lane loads). */
#include "mg.h"

/* Size of [lo, lo + k) clipped to [a, b). */
MG_INLINE int32_t mg_clip_count(int32_t lo, int32_t k, int32_t a, int32_t b) {
    int32_t s = lo > a ? lo : a, e = lo + k < b ? lo + k : b;
    return e > s ? e - s : 0;
}

/* ---- maxpool2d: ints NC, H, W, OH, OW, KH, KW, pad_top, pad_left, stride_h, stride_w, dil_h, dil_w.
 * A window that sees no input element gives the dtype's lowest value (-inf for floats). */
#define MG_MAXPOOL2D(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t NC = p[0], H = p[1], W = p[2], OH = p[3], OW = p[4], KH = p[5], KW = p[6]; \
        int32_t pt = p[7], pl = p[8], sh = p[9], sw = p[10], dh = p[11], dw = p[12]; \
        MG_CHECK(NC >= 0 && H >= 0 && W >= 0 && OH >= 0 && OW >= 0, MG_NAME(dt, op), "sizes must be >= 0"); \
        MG_CHECK(KH >= 1 && KW >= 1, MG_NAME(dt, op), "KH and KW must be >= 1"); \
        MG_CHECK(pt >= 0 && pl >= 0, MG_NAME(dt, op), "pads must be >= 0"); \
        MG_CHECK(sh >= 1 && sw >= 1 && dh >= 1 && dw >= 1, MG_NAME(dt, op), "strides and dilations must be >= 1"); \
        const T lowest = MG_LOWEST(T, FLT); \
        for (int32_t nc = 0; nc < NC; nc++) { \
            const T *xp = (const T *)(uintptr_t)t[0] + (ptrdiff_t)nc * H * W; \
            T *yp = (T *)(uintptr_t)t[1] + (ptrdiff_t)nc * OH * OW; \
            for (int32_t oh = 0; oh < OH; oh++) { \
                T *yr = yp + (ptrdiff_t)oh * OW; \
                for (int32_t ow = 0; ow < OW; ow++) yr[ow] = lowest; \
                for (int32_t kh = 0; kh < KH; kh++) { \
                    int32_t ih = oh * sh - pt + kh * dh; \
                    if (ih < 0 || ih >= H) continue; \
                    const T *xr = xp + (ptrdiff_t)ih * W; \
                    for (int32_t kw = 0; kw < KW; kw++) { \
                        int32_t off = kw * dw - pl; \
                        int32_t ow0 = mg_tap_lo(off, sw), n = mg_tap_hi(off, sw, W, OW) - ow0, i = 0; \
                        const T *xs = xr + (ow0 * sw + off); \
                        T *ys = yr + ow0; \
                        if (sw == 1) { \
                            for (; i + L <= n; i += L) { \
                                VT a = MG_LOAD(VT, ys + i), b = MG_LOAD(VT, xs + i); \
                                MG_STORE(ys + i, MG_SELECT(b > a, b, a)); \
                            } \
                        } else if (sw == 2) { /* i + L < n: the element after the last lane is valid */ \
                            for (; i + L < n; i += L) { \
                                VT a = MG_LOAD(VT, ys + i), b = MG_LOAD_EVEN(VT, xs + 2 * i); \
                                MG_STORE(ys + i, MG_SELECT(b > a, b, a)); \
                            } \
                        } \
                        for (; i < n; i++) { \
                            T v = xs[(ptrdiff_t)i * sw]; \
                            if (v > ys[i]) ys[i] = v; \
                        } \
                    } \
                } \
            } \
        } \
        return 0; \
    }
MG_FLOAT_8BIT(MG_MAXPOOL2D, maxpool2d)

/* ---- avgpool2d: ints NC, H, W, OH, OW, KH, KW, pad_top, pad_left, pad_bottom, pad_right, stride_h,
 * stride_w, count_include_pad. Sum over the window clipped to the input, divided by the window's size
 * clipped to the input (or, with count_include_pad, to the padded extent). An empty divisor gives 0. */
#define MG_AVGPOOL2D(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t NC = p[0], H = p[1], W = p[2], OH = p[3], OW = p[4], KH = p[5], KW = p[6]; \
        int32_t pt = p[7], pl = p[8], pb = p[9], pr = p[10], sh = p[11], sw = p[12], cip = p[13]; \
        MG_CHECK(NC >= 0 && H >= 0 && W >= 0 && OH >= 0 && OW >= 0, MG_NAME(dt, op), "sizes must be >= 0"); \
        MG_CHECK(KH >= 1 && KW >= 1, MG_NAME(dt, op), "KH and KW must be >= 1"); \
        MG_CHECK(pt >= 0 && pl >= 0 && pb >= 0 && pr >= 0, MG_NAME(dt, op), "pads must be >= 0"); \
        MG_CHECK(sh >= 1 && sw >= 1, MG_NAME(dt, op), "strides must be >= 1"); \
        MG_CHECK_GOT(cip == 0 || cip == 1, MG_NAME(dt, op), "count_include_pad must be 0 or 1", cip); \
        int32_t h0 = cip ? -pt : 0, h1 = cip ? H + pb : H, w0 = cip ? -pl : 0, w1 = cip ? W + pr : W; \
        for (int32_t nc = 0; nc < NC; nc++) { \
            const T *xp = (const T *)(uintptr_t)t[0] + (ptrdiff_t)nc * H * W; \
            T *yp = (T *)(uintptr_t)t[1] + (ptrdiff_t)nc * OH * OW; \
            for (int32_t oh = 0; oh < OH; oh++) { \
                T *yr = yp + (ptrdiff_t)oh * OW; \
                for (int32_t ow = 0; ow < OW; ow++) yr[ow] = 0; \
                for (int32_t kh = 0; kh < KH; kh++) { \
                    int32_t ih = oh * sh - pt + kh; \
                    if (ih < 0 || ih >= H) continue; \
                    const T *xr = xp + (ptrdiff_t)ih * W; \
                    for (int32_t kw = 0; kw < KW; kw++) { \
                        int32_t off = kw - pl; \
                        int32_t ow0 = mg_tap_lo(off, sw), n = mg_tap_hi(off, sw, W, OW) - ow0, i = 0; \
                        const T *xs = xr + (ow0 * sw + off); \
                        T *ys = yr + ow0; \
                        if (sw == 1) \
                            for (; i + L <= n; i += L) MG_STORE(ys + i, MG_LOAD(VT, ys + i) + MG_LOAD(VT, xs + i)); \
                        else if (sw == 2) \
                            for (; i + L < n; i += L) MG_STORE(ys + i, MG_LOAD(VT, ys + i) + MG_LOAD_EVEN(VT, xs + 2 * i)); \
                        for (; i < n; i++) ys[i] += xs[(ptrdiff_t)i * sw]; \
                    } \
                } \
                int32_t hc = mg_clip_count(oh * sh - pt, KH, h0, h1); \
                for (int32_t ow = 0; ow < OW; ow++) { \
                    int32_t count = hc * mg_clip_count(ow * sw - pl, KW, w0, w1); \
                    yr[ow] = count ? yr[ow] / (T)count : 0; \
                } \
            } \
        } \
        return 0; \
    }
MG_FLOAT(MG_AVGPOOL2D, avgpool2d)
