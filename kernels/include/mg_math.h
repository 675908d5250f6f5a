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

#endif
