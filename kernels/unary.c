/* unary.c: elementwise unary math (neg abs sign reciprocal sqrt exp log floor ceil round erf not isnan
 * isinf), the parameterised activations (one kernel per float dtype; `kind` picks the function, alpha
 * and beta come as float32 bits) and clip with optional min / max tensors. */
#include "mg.h"
#include "mg_broadcast.h"
#include "mg_math.h"

/* Y[i] = F(X[i], extra...) for i < n, F a vector function; the tail goes through lane 0 of a splat. */
#define MG_MAP(VT, L, x, y, n, F, ...) \
    do { \
        int32_t i_ = 0; \
        for (; i_ + (L) <= (n); i_ += (L)) MG_STORE((y) + i_, F(MG_LOAD(VT, (x) + i_), ##__VA_ARGS__)); \
        for (; i_ < (n); i_++) (y)[i_] = F(MG_SPLAT(VT, (x)[i_]), ##__VA_ARGS__)[0]; \
    } while (0)

#define MG_UNARY_KERNEL(dt, op, F) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t n = p[0]; \
        MG_CHECK_GOT(n >= 0, MG_NAME(dt, op), "n must be >= 0", n); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        T *y = (T *)(uintptr_t)t[1]; \
        MG_MAP(VT, L, x, y, n, F); \
        return 0; \
    }

/* ---- integer and float basics ---------------------------------------------------------------------- */
#define MG_DEFINE_BASICS(dt, ...) \
    MG_INLINE mg_##dt##_vt mg_vneg_##dt(mg_##dt##_vt x) { return (mg_##dt##_vt)(-(mg_##dt##_va)x); } \
    /* |x|: the sign bit cleared for floats (-0, NaN), -x wrapping for integers (abs(MIN) = MIN). */ \
    MG_INLINE mg_##dt##_vt mg_vabsval_##dt(mg_##dt##_vt x) { \
        if (mg_##dt##_flt) return (mg_##dt##_vt)((mg_##dt##_vi)x & ~MG_SPLAT(mg_##dt##_vi, MG_LOWEST(mg_##dt##_i, 0))); \
        return MG_SELECT(x < 0, mg_vneg_##dt(x), x); \
    } \
    /* sign: 1, -1, +0 for +-0, NaN for NaN (x - x), like numpy. */ \
    MG_INLINE mg_##dt##_vt mg_vsign_##dt(mg_##dt##_vt x) { \
        return MG_SELECT(x > 0, MG_SPLAT(mg_##dt##_vt, 1), MG_SELECT(x < 0, MG_SPLAT(mg_##dt##_vt, -1), x - x)); \
    }
MG_NUM(MG_DEFINE_BASICS, _)
#define MG_ABS(dt, ...) MG_UNARY_KERNEL(dt, abs, mg_vabsval_##dt)
#define MG_SIGN(dt, ...) MG_UNARY_KERNEL(dt, sign, mg_vsign_##dt)
#define MG_NEG(dt, ...) MG_UNARY_KERNEL(dt, neg, mg_vneg_##dt)
MG_SIGNED(MG_NEG, _)
MG_NUM(MG_ABS, _)
MG_NUM(MG_SIGN, _)

/* wasm's rounding instructions (nearest = round half to even) and sqrt. */
#define MG_DEFINE_FROUND(dt, W) \
    MG_INLINE mg_##dt##_vt mg_vsqrt_##dt(mg_##dt##_vt x) { return (mg_##dt##_vt)W##_sqrt((v128_t)x); } \
    MG_INLINE mg_##dt##_vt mg_vfloor_##dt(mg_##dt##_vt x) { return (mg_##dt##_vt)W##_floor((v128_t)x); } \
    MG_INLINE mg_##dt##_vt mg_vceil_##dt(mg_##dt##_vt x) { return (mg_##dt##_vt)W##_ceil((v128_t)x); } \
    MG_INLINE mg_##dt##_vt mg_vround_##dt(mg_##dt##_vt x) { return (mg_##dt##_vt)W##_nearest((v128_t)x); } \
    MG_INLINE mg_##dt##_vt mg_vreciprocal_##dt(mg_##dt##_vt x) { return 1 / x; }
MG_DEFINE_FROUND(f32, wasm_f32x4)
MG_DEFINE_FROUND(f64, wasm_f64x2)
#define MG_FLOAT_UNARY(dt, op, F) MG_UNARY_KERNEL(dt, op, F##_##dt)
MG_FLOAT(MG_FLOAT_UNARY, reciprocal, mg_vreciprocal)
MG_FLOAT(MG_FLOAT_UNARY, sqrt, mg_vsqrt)
MG_FLOAT(MG_FLOAT_UNARY, exp, mg_vexp)
MG_FLOAT(MG_FLOAT_UNARY, log, mg_vlog_any)
MG_FLOAT(MG_FLOAT_UNARY, floor, mg_vfloor)
MG_FLOAT(MG_FLOAT_UNARY, ceil, mg_vceil)
MG_FLOAT(MG_FLOAT_UNARY, round, mg_vround)
MG_FLOAT(MG_FLOAT_UNARY, erf, mg_verf)

MG_INLINE mg_bool_vt mg_vnot_bool(mg_bool_vt x) { return x ^ 1; }
MG_UNARY_KERNEL(bool, not, mg_vnot_bool)

/* ---- isnan, isinf(detect_positive, detect_negative): bool output ----------------------------------- */
#define MG_FLOAT_TEST(dt, op, IS_INF) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t n = p[0]; \
        MG_CHECK_GOT(n >= 0, MG_NAME(dt, op), "n must be >= 0", n); \
        int32_t pos = 1, neg = 1; \
        if (IS_INF) { \
            pos = p[1], neg = p[2]; \
            MG_CHECK(((pos | neg) & ~1) == 0, MG_NAME(dt, op), "detect flags must be 0 or 1"); \
        } \
        VT inf = MG_SPLAT(VT, __builtin_inf()); \
        VI mp = MG_SPLAT(VI, -pos), mn = MG_SPLAT(VI, -neg); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        uint8_t *y = (uint8_t *)(uintptr_t)t[1]; \
        int32_t i = 0; \
        for (; i + L <= n; i += L) { \
            VT v = MG_LOAD(VT, x + i); \
            mg_store_mask_##dt(y + i, IS_INF ? (VI)(((v == inf) & mp) | ((v == -inf) & mn)) : (VI)(v != v)); \
        } \
        for (; i < n; i++) \
            y[i] = IS_INF ? (x[i] == inf[0] && pos) || (x[i] == -inf[0] && neg) \
                                                         : x[i] != x[i]; \
        return 0; \
    }
MG_FLOAT(MG_FLOAT_TEST, isnan, 0)
MG_FLOAT(MG_FLOAT_TEST, isinf, 1)

/* ---- activations: Y = f(X; alpha, beta) ------------------------------------------------------------ */
enum {
    MG_ACT_LEAKYRELU, MG_ACT_ELU, MG_ACT_SELU, MG_ACT_CELU, MG_ACT_HARDSIGMOID, MG_ACT_HARDSWISH,
    MG_ACT_SOFTPLUS, MG_ACT_SOFTSIGN, MG_ACT_GELU, MG_ACT_GELU_TANH, MG_ACT_MISH, MG_ACT_THRESHOLDEDRELU,
    MG_ACT_CLIP, MG_ACT_DIV, MG_ACT_COUNT
};

/* gelu: 0.5 x (1 + erf(t)), t = x / sqrt 2, with 1 + erf(t) = erfc(|t|) for t < 0 (no cancellation). erfc's
 * relative sensitivity to t grows like 2 t^2, so the rounding error d of t = x K is recovered exactly
 * (K = KH + KM, KH and x's high part XH short enough for exact products) and applied to erfc as
 * C (1 - d (2a + 1/a)) (its log-derivative) past |t| = 0.875. */
#define MG_GELU_K(X) \
    X(f32, 0x1.6a09e6p-1, 0x1.6ap-1, 0x1.3cccfep-14, 12) \
    X(f64, 0x1.6a09e667f3bcdp-1, 0x1.6a09e6p-1, 0x1.9fcef32422cbfp-27, 27)
#define MG_DEFINE_GELU(dt, K, KH, KM, SPLIT) \
    MG_INLINE mg_##dt##_vt mg_gelu_##dt(mg_##dt##_vt x, mg_##dt##_vt a_, mg_##dt##_vt b_) { \
        MG_TYPES(dt); \
        (void)a_; (void)b_; \
        VT t = x * (T)K, E, C; \
        VT xh = (VT)((VI)x & MG_SPLAT(VI, -((mg_##dt##_i)1 << SPLIT))), xl = x - xh; \
        VT d = (xh * (T)KH - t) + ((xh * (T)KM + xl * (T)KH) + xl * (T)KM); \
        VT a = mg_vabs_##dt(t); \
        mg_verf_parts_##dt(a, &E, &C); \
        VT da = MG_SELECT(t < 0, -d, d); \
        C = MG_SELECT(a >= (T)0.875, C * (1 - da * (2 * a + 1 / a)), C); \
        return (T)0.5 * x * MG_SELECT(t >= 0, 1 + E, C); \
    }
MG_GELU_K(MG_DEFINE_GELU)

#define MG_DEFINE_ACTS(dt, ...) \
    MG_INLINE mg_##dt##_vt mg_log1p01_##dt(mg_##dt##_vt v) { /* log(1 + v) for v in [0, 1] (Kahan) */ \
        mg_##dt##_vt w = 1 + v; \
        return MG_SELECT(w == 1, v, mg_vlog_##dt(w) * (v / (w - 1))); \
    } \
    MG_INLINE mg_##dt##_vt mg_leakyrelu_##dt(mg_##dt##_vt x, mg_##dt##_vt a, mg_##dt##_vt b) { \
        (void)b; return MG_SELECT(x < 0, a * x, x); } \
    MG_INLINE mg_##dt##_vt mg_elu_##dt(mg_##dt##_vt x, mg_##dt##_vt a, mg_##dt##_vt b) { \
        (void)b; return MG_SELECT(x < 0, a * mg_vexpm1_##dt(x), x); } \
    MG_INLINE mg_##dt##_vt mg_selu_##dt(mg_##dt##_vt x, mg_##dt##_vt a, mg_##dt##_vt g) { \
        return g * MG_SELECT(x > 0, x, a * mg_vexpm1_##dt(x)); } \
    MG_INLINE mg_##dt##_vt mg_celu_##dt(mg_##dt##_vt x, mg_##dt##_vt a, mg_##dt##_vt b) { \
        (void)b; return MG_SELECT(x > 0, x, a * mg_vexpm1_##dt(x / a)); } \
    MG_INLINE mg_##dt##_vt mg_hardsigmoid_##dt(mg_##dt##_vt x, mg_##dt##_vt a, mg_##dt##_vt b) { \
        return MG_PMAX(MG_PMIN(a * x + b, MG_SPLAT(mg_##dt##_vt, 1)), MG_SPLAT(mg_##dt##_vt, 0)); } \
    MG_INLINE mg_##dt##_vt mg_hardswish_##dt(mg_##dt##_vt x, mg_##dt##_vt a, mg_##dt##_vt b) { \
        (void)a; (void)b; \
        return x * mg_hardsigmoid_##dt(x, MG_SPLAT(mg_##dt##_vt, 1.0 / 6), MG_SPLAT(mg_##dt##_vt, 0.5)); } \
    MG_INLINE mg_##dt##_vt mg_softplus_##dt(mg_##dt##_vt x, mg_##dt##_vt a, mg_##dt##_vt b) { \
        (void)a; (void)b; \
        return MG_PMAX(x, MG_SPLAT(mg_##dt##_vt, 0)) + mg_log1p01_##dt(mg_vexp_##dt(-mg_vabs_##dt(x))); } \
    MG_INLINE mg_##dt##_vt mg_softsign_##dt(mg_##dt##_vt x, mg_##dt##_vt a, mg_##dt##_vt b) { \
        (void)a; (void)b; return x / (1 + mg_vabs_##dt(x)); } \
    /* 0.5 x (1 + tanh v) = x sigmoid(2 v), v = sqrt(2 / pi) (x + 0.044715 x^3). */ \
    MG_INLINE mg_##dt##_vt mg_gelu_tanh_##dt(mg_##dt##_vt x, mg_##dt##_vt a, mg_##dt##_vt b) { \
        (void)a; (void)b; \
        const mg_##dt##_t k = (mg_##dt##_t)(2 * 0.79788456080286535588); \
        return x * mg_vsigmoid_##dt(x * (k + (mg_##dt##_t)(2 * 0.79788456080286535588 * 0.044715) * x * x)); } \
    /* x tanh(log(1 + e^x)) = x n / (n + 2), n = e^x (e^x + 2); x itself where that rounds to x. */ \
    MG_INLINE mg_##dt##_vt mg_mish_##dt(mg_##dt##_vt x, mg_##dt##_vt a, mg_##dt##_vt b) { \
        (void)a; (void)b; \
        mg_##dt##_vt u = mg_vexp_##dt(x), n = u * (u + 2); \
        return MG_SELECT(x > 20, x, x * (n / (n + 2))); } \
    MG_INLINE mg_##dt##_vt mg_thresholdedrelu_##dt(mg_##dt##_vt x, mg_##dt##_vt a, mg_##dt##_vt b) { \
        (void)b; return MG_SELECT(x > a, x, MG_SPLAT(mg_##dt##_vt, 0)); } \
    MG_INLINE mg_##dt##_vt mg_clipf_##dt(mg_##dt##_vt x, mg_##dt##_vt a, mg_##dt##_vt b) { \
        return MG_PMIN(MG_PMAX(x, a), b); } \
    MG_INLINE mg_##dt##_vt mg_divf_##dt(mg_##dt##_vt x, mg_##dt##_vt a, mg_##dt##_vt b) { \
        (void)b; return x / a; }
MG_FLOAT(MG_DEFINE_ACTS, _)

#define MG_ACT_CASE(K, f) \
    case K: MG_MAP(VT, L, x, y, n, f, a, b); return 0;
#define MG_ACT(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t n = p[0], kind = p[1]; \
        MG_CHECK_GOT(n >= 0, MG_NAME(dt, op), "n must be >= 0", n); \
        VT a = MG_SPLAT(VT, mg_f32_from_bits(p[2])), b = MG_SPLAT(VT, mg_f32_from_bits(p[3])); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        T *y = (T *)(uintptr_t)t[1]; \
        switch (kind) { \
            MG_ACT_CASE(MG_ACT_LEAKYRELU, mg_leakyrelu_##dt) \
            MG_ACT_CASE(MG_ACT_ELU, mg_elu_##dt) \
            MG_ACT_CASE(MG_ACT_SELU, mg_selu_##dt) \
            MG_ACT_CASE(MG_ACT_CELU, mg_celu_##dt) \
            MG_ACT_CASE(MG_ACT_HARDSIGMOID, mg_hardsigmoid_##dt) \
            MG_ACT_CASE(MG_ACT_HARDSWISH, mg_hardswish_##dt) \
            MG_ACT_CASE(MG_ACT_SOFTPLUS, mg_softplus_##dt) \
            MG_ACT_CASE(MG_ACT_SOFTSIGN, mg_softsign_##dt) \
            MG_ACT_CASE(MG_ACT_GELU, mg_gelu_##dt) \
            MG_ACT_CASE(MG_ACT_GELU_TANH, mg_gelu_tanh_##dt) \
            MG_ACT_CASE(MG_ACT_MISH, mg_mish_##dt) \
            MG_ACT_CASE(MG_ACT_THRESHOLDEDRELU, mg_thresholdedrelu_##dt) \
            MG_ACT_CASE(MG_ACT_CLIP, mg_clipf_##dt) \
            MG_ACT_CASE(MG_ACT_DIV, mg_divf_##dt) \
        } \
        return mg_fail_got(MG_NAME(dt, op) ": unknown activation kind", kind); \
    }
MG_FLOAT(MG_ACT, act)

/* ---- clip: Y = min(max(X, Min), Max) with Min / Max one-element tensors, either absent (address 0) ---
 * (NaN passes; Min > Max gives Max, like numpy.clip). */
#define MG_CLIP(dt, op) \
    MG_INLINE mg_##dt##_vt mg_vclip_##dt(mg_##dt##_vt v, mg_##dt##_vt lo, mg_##dt##_vt hi, int has_lo, int has_hi) { \
        if (has_lo) v = MG_SELECT(v < lo, lo, v); \
        if (has_hi) v = MG_SELECT(v > hi, hi, v); \
        return v; \
    } \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t n = p[0]; \
        MG_CHECK_GOT(n >= 0, MG_NAME(dt, op), "n must be >= 0", n); \
        const T *x = (const T *)(uintptr_t)t[0], *mn = (const T *)(uintptr_t)t[1], *mx = (const T *)(uintptr_t)t[2]; \
        T *y = (T *)(uintptr_t)t[3]; \
        VT lo = MG_SPLAT(VT, mn ? *mn : 0), hi = MG_SPLAT(VT, mx ? *mx : 0); \
        if (mn && mx) MG_MAP(VT, L, x, y, n, mg_vclip_##dt, lo, hi, 1, 1); \
        else if (mn) MG_MAP(VT, L, x, y, n, mg_vclip_##dt, lo, hi, 1, 0); \
        else if (mx) MG_MAP(VT, L, x, y, n, mg_vclip_##dt, lo, hi, 0, 1); \
        else MG_MAP(VT, L, x, y, n, mg_vclip_##dt, lo, hi, 0, 0); \
        return 0; \
    }
MG_NUM(MG_CLIP, clip)
