/* mg_math.h: vectorised exp, expm1-based tanh, sigmoid and log for f32 and f64, written once as
 * macros over each float dtype's parameters (no libc). Scalars go through lane 0 of a splat.
 *
 * exp(x): x = n ln2 + r with |r| <= ln2/2 (Cody-Waite ln2 = hi + lo), exp(r) - 1 as a Taylor polynomial
 * (degree 7 for f32, 13 for f64: truncation < 1e-8 / 1e-17 relative), and 2^n built in the exponent
 * bits as 2^(n/2) * 2^(n - n/2) so that results in the subnormal range round once and overflow gives
 * inf. x is clamped to [LO, HI] first (just past underflow to 0 and overflow to inf); NaN passes. */
#ifndef MG_MATH_H
#define MG_MATH_H

#include "mg.h"

static const double mg_inv_fact[] = {
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320, 1.0 / 362880,
    1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0, 1.0 / 87178291200.0,
};

/* dt, mantissa bits, exponent bias, exp clamp [LO, HI], ln2 hi/lo, exp degree, log terms, tanh
 * saturation (|x| beyond which tanh rounds to +-1). */
#define MG_MATH_PARAMS(X) \
    X(f32, 23, 127, -104.0, 100.0, 0x1.62e4p-1, 0x1.7f7d1cf79abcap-20, 7, 5, 10.0) \
    X(f64, 52, 1023, -746.0, 710.0, 0x1.62e42fee00000p-1, 0x1.a39ef35793c76p-33, 13, 11, 20.0)

#define MG_DEFINE_MATH(dt, MB, BIAS, LO, HI, LN2HI, LN2LO, EXP_DEG, LOG_TERMS, TANH_SAT) \
    /* sum_{i<n} c[i] r^i (n <= 12) by Estrin's scheme: depth log2 n instead of n multiply-adds, since \
     * exp is latency-bound. r2 = r*r; n is a constant, so the conditions fold away. */ \
    MG_INLINE mg_##dt##_vt mg_estrin_##dt(mg_##dt##_vt r, mg_##dt##_vt r2, const double *c, const int n) { \
        MG_TYPES(dt); \
        VT a[6]; \
        for (int i = 0; i < 6; i++) \
            a[i] = 2 * i + 1 < n ? (T)c[2 * i] + (T)c[2 * i + 1] * r : MG_SPLAT(VT, 2 * i < n ? c[2 * i] : 0); \
        VT r4 = r2 * r2; \
        VT b0 = n > 2 ? a[0] + a[1] * r2 : a[0]; \
        VT b1 = n > 6 ? a[2] + a[3] * r2 : a[2]; \
        VT b2 = n > 10 ? a[4] + a[5] * r2 : a[4]; \
        VT d0 = n > 4 ? b0 + b1 * r4 : b0; \
        return n > 8 ? d0 + b2 * (r4 * r4) : d0; \
    } \
    /* exp(x) = (1 + p) * s1 * s2 with p = exp(r) - 1. */ \
    MG_INLINE void mg_exp_parts_##dt(mg_##dt##_vt x, mg_##dt##_vt *p, mg_##dt##_vt *s1, mg_##dt##_vt *s2) { \
        MG_TYPES(dt); \
        const T magic = (T)(1.5 * (double)((int64_t)1 << MB)); \
        x = MG_PMIN(MG_PMAX(x, MG_SPLAT(VT, LO)), MG_SPLAT(VT, HI)); /* NaN passes */ \
        VT t = x * (T)1.44269504088896340736 + magic; /* round(x / ln2) in the low mantissa bits */ \
        VT n = t - magic; \
        VI ni = (VI)t - (VI)MG_SPLAT(VT, magic); \
        VT r = (x - n * (T)LN2HI) - n * (T)LN2LO; \
        VT r2 = r * r; \
        *p = r + r2 * mg_estrin_##dt(r, r2, mg_inv_fact + 2, EXP_DEG - 1); \
        VI n1 = ni >> 1; \
        VI n2 = ni - n1; \
        *s1 = (VT)((n1 + BIAS) << MB); \
        *s2 = (VT)((n2 + BIAS) << MB); \
    } \
    MG_INLINE mg_##dt##_vt mg_vexp_##dt(mg_##dt##_vt x) { \
        mg_##dt##_vt p, s1, s2; \
        mg_exp_parts_##dt(x, &p, &s1, &s2); \
        return ((p + 1) * s1) * s2; \
    } \
    MG_INLINE mg_##dt##_t mg_exp_##dt(mg_##dt##_t x) { \
        return mg_vexp_##dt(MG_SPLAT(mg_##dt##_vt, x))[0]; \
    } \
    MG_INLINE mg_##dt##_vt mg_vabs_##dt(mg_##dt##_vt x) { \
        MG_TYPES(dt); \
        return (VT)((VI)x & ~MG_SPLAT(VI, MG_LOWEST(mg_##dt##_i, 0))); \
    } \
    /* 1 / (1 + e^-|x|), or e^-|x| / (1 + e^-|x|) for x < 0: no cancellation, saturates to 1 and 0. */ \
    MG_INLINE mg_##dt##_vt mg_vsigmoid_##dt(mg_##dt##_vt x) { \
        MG_TYPES(dt); \
        VT e = mg_vexp_##dt(-mg_vabs_##dt(x)); \
        VT r = 1 / (1 + e); \
        return MG_SELECT(x >= 0, r, e * r); \
    } \
    /* tanh|x| = m / (m + 2), m = expm1(2|x|) = (2^n - 1) + 2^n p; |x| clamped where tanh rounds to 1; \
     * accurate near 0 because m = p there (n = 0). The sign of x is copied back. */ \
    MG_INLINE mg_##dt##_vt mg_vtanh_##dt(mg_##dt##_vt x) { \
        MG_TYPES(dt); \
        VT ax = mg_vabs_##dt(x); \
        ax = MG_PMIN(ax, MG_SPLAT(VT, TANH_SAT)); \
        VT p, s1, s2; \
        mg_exp_parts_##dt(ax + ax, &p, &s1, &s2); \
        VT s = s1 * s2; \
        VT m = (s - 1) + s * p; \
        VT th = m / (m + 2); \
        return (VT)((VI)th | ((VI)x & MG_SPLAT(VI, MG_LOWEST(mg_##dt##_i, 0)))); \
    } \
    /* log(x) for positive normal x: x = 2^e (1 + f), sqrt(1/2) <= 1 + f < sqrt(2), s = f / (2 + f), \
     * log(1 + f) = f - (f^2/2 - s (f^2/2 + R(s^2))) as in fdlibm, R from the atanh series. */ \
    MG_INLINE mg_##dt##_vt mg_vlog_##dt(mg_##dt##_vt x) { \
        MG_TYPES(dt); \
        const mg_##dt##_i mant = ((mg_##dt##_i)1 << MB) - 1; \
        VI bits = (VI)x; \
        VI e = ((bits >> MB) & (2 * BIAS + 1)) - BIAS; \
        VT m = (VT)((bits & mant) | ((VI){0} + ((mg_##dt##_i)BIAS << MB))); \
        VI big = m > (T)1.41421356237309504880; \
        m = MG_SELECT(big, m * (T)0.5, m); \
        e = e - big; \
        VT f = m - 1; \
        VT s = f / (f + 2); \
        VT z = s * s; \
        VT R = MG_SPLAT(VT, 2.0 / (2 * LOG_TERMS + 1)); \
        for (int k = LOG_TERMS - 1; k >= 1; k--) R = R * z + (T)(2.0 / (2 * k + 1)); \
        R = R * z; \
        VT hfsq = (T)0.5 * f * f; \
        VT ef = __builtin_convertvector(e, VT); \
        VT lg = ef * (T)LN2HI + ((f - (hfsq - s * (hfsq + R))) + ef * (T)LN2LO); \
        return MG_SELECT(x != x, x, lg); \
    } \
    MG_INLINE mg_##dt##_t mg_log_##dt(mg_##dt##_t x) { \
        return mg_vlog_##dt(MG_SPLAT(mg_##dt##_vt, x))[0]; \
    }
MG_MATH_PARAMS(MG_DEFINE_MATH)

/* ---- added by the elementwise family: expm1, log on the whole line, erf/erfc, pow ---------------------
 * erf fits (mpmath chebyfit, max abs error 8.9e-9 / 3.3e-19 for A, 8.0e-9 / 3.4e-17 for H):
 *   |x| < 0.875:      erf(x) = x + x * A(x^2)
 *   0.875 <= x <= X1: erfc(x) = t exp(-x^2) exp(H(u)), t = 2 / (2 + x), u = (t - HC) * HWINV in [-1, 1]
 * with exp(-x^2) = exp(-xh^2) exp(-(x - xh)(x + xh)), xh = x with its low SPLIT mantissa bits cleared,
 * so that xh^2 is exact (no rounding error of x^2 amplified by exp). Past X1 erfc rounds to 0. */
static const double mg_erf_a_f32[] = {
    0x1.06eba6ed5c7d6p-3, -0x1.81270e0cfded5p-2, 0x1.ce218d31fe223p-4, -0x1.b6f9c49e08251p-6,
    0x1.49eeb95aba2ecp-8, -0x1.45d2c0b5d71e6p-11};
static const double mg_erf_h_f32[] = {
    -0x1.8b29913db2bb9p-1, 0x1.6b99e1333bd60p-2, 0x1.41b86e0f517fep-6, -0x1.97a5ead0867fcp-8,
    -0x1.616ce97c547d6p-10, 0x1.2bf7befcc96a9p-12, 0x1.9ea305342630ap-14, -0x1.2ad12de24b3d9p-16,
    -0x1.b9a4689e87238p-18};
static const double mg_erf_a_f64[] = {
    0x1.06eba8214db69p-3, -0x1.812746b0379e5p-2, 0x1.ce2f21a0429b5p-4, -0x1.b82ce3127b6e8p-6,
    0x1.565bcd0bcba51p-8, -0x1.c02db363e49a7p-11, 0x1.f9a30fd49d11cp-14, -0x1.f4d0198dfdacdp-17,
    0x1.b9c0f24056849p-20, -0x1.5dcf0eeb43e89p-23, 0x1.e541441ab429dp-27, -0x1.dc6f00288b59bp-31};
static const double mg_erf_h_f64[] = {
    -0x1.a7c51f651cfe2p-1, 0x1.9d6a3a1277d6ep-2, 0x1.ec84a52fb4585p-6, -0x1.0e4022f6ede8dp-7,
    -0x1.6b6d5e61c6bcep-9, 0x1.93df200fddfe8p-12, 0x1.2c1155eb5a166p-12, -0x1.f1ce7f872b584p-16,
    -0x1.158b6f900fc8ep-15, 0x1.0b07cdc6c3950p-18, 0x1.0d91df632ec9cp-18, -0x1.8d6abf6c65999p-21,
    -0x1.f886524729a41p-22, 0x1.340ba6b6fb5d4p-23, 0x1.89d297680585dp-25, -0x1.ac494314b8204p-26,
    -0x1.3fc78a2a31b27p-29, 0x1.d5a3583e8f696p-29, -0x1.1e49f43f378cap-32, -0x1.2d5f7c85f2743p-32,
    0x1.eecfa826eaf2dp-35};

/* dt, mantissa bits, smallest normal, erf A / H coefficient counts, HC, HWINV, X1, SPLIT bits. */
#define MG_MATH_PARAMS2(X) \
    X(f32, 23, 0x1p-126, 6, 9, 0x1.b2f171df77029p-2, 0x1.d87e6b74f0329p+1, 11.0, 12) \
    X(f64, 52, 0x1p-1022, 12, 21, 0x1.86e2c24f9c646p-2, 0x1.97bcb1e0c04cfp+1, 27.5, 27)

#define MG_DEFINE_MATH2(dt, MB, MIN_NORMAL, A_N, H_N, HC, HWINV, X1, SPLIT) \
    /* sum_{k<n} c[k] x^k by Horner's rule. */ \
    MG_INLINE mg_##dt##_vt mg_vhorner_##dt(mg_##dt##_vt x, const double *c, const int n) { \
        MG_TYPES(dt); \
        VT r = MG_SPLAT(VT, c[n - 1]); \
        for (int k = n - 2; k >= 0; k--) r = r * x + (T)c[k]; \
        return r; \
    } \
    /* exp(x) - 1: (2^n - 1) + 2^n p near 0 (no cancellation), exp(x) - 1 past x = 2 (no overflow of \
     * 2^n alone). */ \
    MG_INLINE mg_##dt##_vt mg_vexpm1_##dt(mg_##dt##_vt x) { \
        MG_TYPES(dt); \
        VT p, s1, s2; \
        mg_exp_parts_##dt(x, &p, &s1, &s2); \
        VT s = s1 * s2; \
        VT near = (s - 1) + s * p; \
        VT far = ((p + 1) * s1) * s2 - 1; \
        return MG_SELECT(x > 2, far, near); \
    } \
    /* log on the whole line: subnormals scaled by 2^MB first, log 0 = -inf, log(x < 0) = NaN, \
     * log inf = inf, NaN passes. */ \
    MG_INLINE mg_##dt##_vt mg_vlog_any_##dt(mg_##dt##_vt x) { \
        MG_TYPES(dt); \
        VI sub = x < (T)MIN_NORMAL; \
        VT xs = MG_SELECT(sub, x * (T)((double)((int64_t)1 << MB)), x); \
        VT lg = mg_vlog_##dt(xs) - MG_SELECT(sub, MG_SPLAT(VT, MB * 0.69314718055994530942), MG_SPLAT(VT, 0)); \
        lg = MG_SELECT(x == 0, MG_SPLAT(VT, -__builtin_inf()), lg); \
        lg = MG_SELECT(x < 0, MG_SPLAT(VT, __builtin_nan("")), lg); \
        return MG_SELECT(x == (T)__builtin_inf(), x, lg); \
    } \
    /* *E = erf(a), *C = erfc(a) for a = |x| >= 0 (NaN gives NaN in both). */ \
    MG_INLINE void mg_verf_parts_##dt(mg_##dt##_vt a, mg_##dt##_vt *E, mg_##dt##_vt *C) { \
        MG_TYPES(dt); \
        VT es = a + a * mg_vhorner_##dt(a * a, mg_erf_a_##dt, A_N); \
        VT ab = MG_PMIN(a, MG_SPLAT(VT, X1)); \
        VT t = 2 / (2 + ab); \
        VT h = mg_vhorner_##dt((t - (T)HC) * (T)HWINV, mg_erf_h_##dt, H_N); \
        VT ah = (VT)((VI)ab & MG_SPLAT(VI, -((mg_##dt##_i)1 << SPLIT))); \
        VT cb = (t * mg_vexp_##dt(-(ah * ah))) * mg_vexp_##dt((ah - ab) * (ah + ab) + h); \
        VI small = a < (T)0.875; \
        *E = MG_SELECT(small, es, 1 - cb); \
        *C = MG_SELECT(small, 1 - es, cb); \
    } \
    MG_INLINE mg_##dt##_vt mg_verf_##dt(mg_##dt##_vt x) { \
        MG_TYPES(dt); \
        VT E, C; \
        mg_verf_parts_##dt(mg_vabs_##dt(x), &E, &C); \
        return (VT)((VI)E | ((VI)x & MG_SPLAT(VI, MG_LOWEST(mg_##dt##_i, 0)))); \
    } \
    /* x^y as exp(y log|x|) with C99's special cases: y = 0 or x = 1 give 1, |x| = 1 and y = +-inf give 1, \
     * finite x < 0 needs an integer y (else NaN) and an odd y keeps x's sign (also for x = -0 and -inf). */ \
    MG_INLINE mg_##dt##_vt mg_vpow_core_##dt(mg_##dt##_vt x, mg_##dt##_vt y) { \
        MG_TYPES(dt); \
        VT ax = mg_vabs_##dt(x); \
        VT r = mg_vexp_##dt(y * mg_vlog_any_##dt(ax)); \
        VT yt = mg_vtrunc_##dt(y); \
        VI yint = yt == y; \
        VI odd = yint & (mg_vtrunc_##dt(y * (T)0.5) * 2 != y); \
        VT inf = MG_SPLAT(VT, __builtin_inf()); \
        r = (VT)((VI)r | ((VI)x & odd & MG_SPLAT(VI, MG_LOWEST(mg_##dt##_i, 0)))); \
        r = MG_SELECT((x < 0) & (ax != inf) & ~yint, MG_SPLAT(VT, __builtin_nan("")), r); \
        VI one = (y == 0) | (x == 1) | ((ax == 1) & (mg_vabs_##dt(y) == inf)); \
        r = MG_SELECT(one, MG_SPLAT(VT, 1), r); \
        /* an integer |y| <= 64 by binary powering (exact for exactly representable results, such as \
         * integer powers of integers; a few roundings otherwise), unless that over- or underflows */ \
        VT e = MG_SELECT(yint & (mg_vabs_##dt(y) <= 64), mg_vabs_##dt(y), MG_SPLAT(VT, 0)), acc = MG_SPLAT(VT, 1), \
           base = x; \
        for (int k = 0; k < 7; k++) { \
            VT half = mg_vtrunc_##dt(e * (T)0.5); \
            acc = MG_SELECT(e != half + half, acc * base, acc); \
            base = base * base; \
            e = half; \
        } \
        acc = MG_SELECT(y < 0, 1 / acc, acc); \
        VI use = yint & (mg_vabs_##dt(y) <= 64) & (mg_vabs_##dt(acc) < inf) & (acc != 0); \
        return MG_SELECT(use, acc, r); \
    }
MG_INLINE mg_f32_vt mg_vtrunc_f32(mg_f32_vt x) { return (mg_f32_vt)wasm_f32x4_trunc((v128_t)x); }
MG_INLINE mg_f64_vt mg_vtrunc_f64(mg_f64_vt x) { return (mg_f64_vt)wasm_f64x2_trunc((v128_t)x); }
MG_MATH_PARAMS2(MG_DEFINE_MATH2)

/* f64 pow as is; f32 pow computed in f64 (the error of y log x is scaled by |y log x| in exp). */
MG_INLINE mg_f64_vt mg_vpow_f64(mg_f64_vt x, mg_f64_vt y) { return mg_vpow_core_f64(x, y); }
MG_INLINE mg_f32_vt mg_vpow_f32(mg_f32_vt x, mg_f32_vt y) {
    v128_t xv = (v128_t)x, yv = (v128_t)y;
    mg_f64_vt lo = mg_vpow_core_f64((mg_f64_vt)wasm_f64x2_promote_low_f32x4(xv),
                                    (mg_f64_vt)wasm_f64x2_promote_low_f32x4(yv));
    mg_f64_vt hi = mg_vpow_core_f64((mg_f64_vt)wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(xv, xv, 2, 3, 2, 3)),
                                    (mg_f64_vt)wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(yv, yv, 2, 3, 2, 3)));
    v128_t l = wasm_f32x4_demote_f64x2_zero((v128_t)lo), h = wasm_f32x4_demote_f64x2_zero((v128_t)hi);
    return (mg_f32_vt)wasm_i32x4_shuffle(l, h, 0, 1, 4, 5);
}

#endif
