/* pool.c: maxpool2d (dilated, padding never wins) and avgpool2d (count_include_pad) over [NC, H, W].
 * maxpool2d without dilation and with stride_w 1 or 2 is separable: per output row, the max over its
 * window's input rows first (vectors along the row, into a row buffer on the stack that holds the
 * lowest value outside the input), then the max over the window's columns of that buffer (stride 2:
 * even-lane loads). Otherwise each output row accumulates over the kernel taps, each tap over its valid
 * columns (computed up front, no branch inside): SIMD along the row when stride_w is 1 or 2. */
#include "mg.h"

#define MG_POOL_CW 256 /* output columns per chunk of the separable maxpool */
#define MG_POOL_KW 32 /* widest window of the separable maxpool */

/* Size of [lo, lo + k) clipped to [a, b). */
MG_INLINE int32_t mg_clip_count(int32_t lo, int32_t k, int32_t a, int32_t b) {
    int32_t s = lo > a ? lo : a, e = lo + k < b ? lo + k : b;
    return e > s ? e - s : 0;
}

/* b where b > a, else a, in one instruction: a NaN in b is skipped, so from the lowest value on NaN
 * never wins (as in the per-tap loop). */
MG_INLINE mg_f32_vt mg_vmax_f32(mg_f32_vt a, mg_f32_vt b) { return MG_PMAX(a, b); }
MG_INLINE mg_f64_vt mg_vmax_f64(mg_f64_vt a, mg_f64_vt b) { return MG_PMAX(a, b); }
MG_INLINE mg_i8_vt mg_vmax_i8(mg_i8_vt a, mg_i8_vt b) { return (mg_i8_vt)wasm_i8x16_max((v128_t)a, (v128_t)b); }
MG_INLINE mg_u8_vt mg_vmax_u8(mg_u8_vt a, mg_u8_vt b) { return (mg_u8_vt)wasm_u8x16_max((v128_t)a, (v128_t)b); }

/* ---- maxpool2d: ints NC, H, W, OH, OW, KH, KW, pad_top, pad_left, stride_h, stride_w, dil_h, dil_w.
 * A window that sees no input element gives the dtype's lowest value (-inf for floats). */
#define MG_MAXPOOL2D(dt, op) \
    /* t[j] = max of nr rows of x0 (row stride W) at j, vectors from j while inside [j, hi); NR: nr as a \
     * constant, or 0. Returns where it stopped. */ \
    MG_INLINE int32_t mg_maxpool_rows_##dt(const mg_##dt##_t *x0, int32_t W, int32_t nr, int32_t j, int32_t hi, \
                                           mg_##dt##_t *t, const int NR) { \
        MG_TYPES(dt); \
        VT lowest = MG_SPLAT(VT, MG_LOWEST(T, FLT)); \
        for (; j + L <= hi; j += L) { \
            VT m = lowest; \
            for (int32_t r = 0; r < (NR ? NR : nr); r++) m = mg_vmax_##dt(m, MG_LOAD(VT, x0 + (ptrdiff_t)r * W + j)); \
            MG_STORE(t + j, m); \
        } \
        return j; \
    } \
    /* max over kw < KW of t[(o + l)*S + kw] for the L lanes l; KWC: KW as a constant, or 0. 3 taps at \
     * stride 2 are the even lanes, the odd lanes and the even lanes shifted by one (two loads, a splat). */ \
    MG_INLINE mg_##dt##_vt mg_maxpool_cols_##dt(const mg_##dt##_t *t, int32_t o, int32_t KW, const int KWC, \
                                                const int S) { \
        MG_TYPES(dt); \
        if (S == 2 && KWC == 3) { \
            const T *p = t + 2 * o; \
            v128_t v0 = wasm_v128_load(p), v1 = wasm_v128_load(p + L), nx = (v128_t)MG_LOAD_SPLAT(VT, p + 2 * L); \
            v128_t e = mg_even_lanes(v0, v1, sizeof(T)); \
            return mg_vmax_##dt(mg_vmax_##dt((VT)e, (VT)mg_odd_lanes(v0, v1, sizeof(T))), \
                                (VT)mg_shift_in(e, nx, sizeof(T))); \
        } \
        VT m = S == 1 ? MG_LOAD(VT, t + o) : MG_LOAD_EVEN(VT, t + 2 * o); \
        for (int32_t kw = 1; kw < (KWC ? KWC : KW); kw++) \
            m = mg_vmax_##dt(m, S == 1 ? MG_LOAD(VT, t + o + kw) : MG_LOAD_EVEN(VT, t + 2 * o + kw)); \
        return m; \
    } \
    /* Output columns [c0, c0 + cw) of one output row from input rows [r0, r1) (inside the input), \
     * separably: t[j] = max over the rows of column c0*S - pl + j (lowest outside [0, W); NaN skipped), then \
     * y[o] = max over kw of t[o*S + kw]. */ \
    MG_INLINE void mg_maxpool_sep_##dt(const mg_##dt##_t *xp, mg_##dt##_t *yr, int32_t W, int32_t r0, int32_t r1, \
                                       int32_t c0, int32_t cw, int32_t KW, int32_t pl, mg_##dt##_t *t, const int S) { \
        MG_TYPES(dt); \
        const T lowest = MG_LOWEST(T, FLT); \
        int32_t c = c0 * S - pl, n = ((cw + L - 1) / L * L) * S + KW + L; /* what the column pass reads */ \
        int32_t lo = c < 0 ? (-c < n ? -c : n) : 0, hi = W - c < n ? W - c : n, j = 0; \
        if (hi < lo || r0 >= r1) hi = lo; \
        for (; j < lo; j++) t[j] = lowest; \
        const T *x0 = xp + (ptrdiff_t)r0 * W + c; \
        switch (r1 - r0) { /* the common window heights unrolled */ \
        case 3: j = mg_maxpool_rows_##dt(x0, W, 3, j, hi, t, 3); break; \
        case 2: j = mg_maxpool_rows_##dt(x0, W, 2, j, hi, t, 2); break; \
        default: j = mg_maxpool_rows_##dt(x0, W, r1 - r0, j, hi, t, 0); break; \
        } \
        if (j < hi && hi - lo >= L) /* the last vector overlaps the previous one (scalar max is branchy) */ \
            j = mg_maxpool_rows_##dt(x0, W, r1 - r0, hi - L, hi, t, 0); \
        for (; j < hi; j++) { \
            T m = lowest; \
            for (int32_t r = 0; r < r1 - r0; r++) m = x0[(ptrdiff_t)r * W + j] > m ? x0[(ptrdiff_t)r * W + j] : m; \
            t[j] = m; \
        } \
        for (; j < n; j++) t[j] = lowest; \
        int32_t o = 0; \
        for (;; o += L) { \
            if (o + L > cw) { /* the last vector overlaps the previous one, or the row is short */ \
                if (o == cw || cw < L) break; \
                o = cw - L; \
            } \
            MG_STORE(yr + o, KW == 3 ? mg_maxpool_cols_##dt(t, o, 3, 3, S) : mg_maxpool_cols_##dt(t, o, KW, 0, S)); \
            if (o + L == cw) { o = cw; break; } \
        } \
        for (; o < cw; o++) { \
            T m = t[o * S]; \
            for (int32_t kw = 1; kw < KW; kw++) m = t[o * S + kw] > m ? t[o * S + kw] : m; \
            yr[o] = m; \
        } \
    } \
    MG_INLINE void mg_maxpool_sep_all_##dt(const mg_##dt##_t *x, mg_##dt##_t *y, int32_t NC, int32_t H, int32_t W, \
                                           int32_t OH, int32_t OW, int32_t KH, int32_t KW, int32_t pt, int32_t pl, \
                                           int32_t sh, const int S) { \
        MG_TYPES(dt); \
        T t[MG_POOL_CW * 2 + MG_POOL_KW + 2 * L]; \
        for (int32_t nc = 0; nc < NC; nc++) { \
            const T *xp = x + (ptrdiff_t)nc * H * W; \
            T *yp = y + (ptrdiff_t)nc * OH * OW; \
            for (int32_t oh = 0; oh < OH; oh++) { \
                int32_t r0 = oh * sh - pt, r1 = r0 + KH; \
                if (r0 < 0) r0 = 0; \
                if (r1 > H) r1 = H; \
                for (int32_t c0 = 0; c0 < OW; c0 += MG_POOL_CW) \
                    mg_maxpool_sep_##dt(xp, yp + (ptrdiff_t)oh * OW + c0, W, r0, r1, c0, \
                                        OW - c0 < MG_POOL_CW ? OW - c0 : MG_POOL_CW, KW, pl, t, S); \
            } \
        } \
    } \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t NC = p[0], H = p[1], W = p[2], OH = p[3], OW = p[4], KH = p[5], KW = p[6]; \
        int32_t pt = p[7], pl = p[8], sh = p[9], sw = p[10], dh = p[11], dw = p[12]; \
        MG_CHECK(NC >= 0 && H >= 0 && W >= 0 && OH >= 0 && OW >= 0, MG_NAME(dt, op), "sizes must be >= 0"); \
        MG_CHECK(KH >= 1 && KW >= 1, MG_NAME(dt, op), "KH and KW must be >= 1"); \
        MG_CHECK(pt >= 0 && pl >= 0, MG_NAME(dt, op), "pads must be >= 0"); \
        MG_CHECK(sh >= 1 && sw >= 1 && dh >= 1 && dw >= 1, MG_NAME(dt, op), "strides and dilations must be >= 1"); \
        const T lowest = MG_LOWEST(T, FLT); \
        if (dh == 1 && dw == 1 && KW <= MG_POOL_KW && (sw == 1 || sw == 2)) { \
            const T *x = (const T *)(uintptr_t)t[0]; \
            T *y = (T *)(uintptr_t)t[1]; \
            if (sw == 1) mg_maxpool_sep_all_##dt(x, y, NC, H, W, OH, OW, KH, KW, pt, pl, sh, 1); \
            else mg_maxpool_sep_all_##dt(x, y, NC, H, W, OH, OW, KH, KW, pt, pl, sh, 2); \
            return 0; \
        } \
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
