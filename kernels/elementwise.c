/* elementwise.c: binary add/sub/mul/div over strided broadcast operands, unary relu/sigmoid/tanh, copy.
 * Each op is one generic macro instantiated per dtype from mg.h's lists. */
#include "mg.h"
#include "mg_math.h"

/* ---- scalar and vector ops --------------------------------------------------------------------------
 * Integers compute in the unsigned twin A (wraps like numpy); `1u *` keeps u16 * u16 out of signed int.
 * Integer division: truncation toward zero, x / 0 = 0, MIN / -1 = MIN (wasm would trap on both). */
#define MG_DEFINE_ARITH(dt, ...) \
    MG_INLINE mg_##dt##_t mg_add_##dt(mg_##dt##_t a, mg_##dt##_t b) { \
        return (mg_##dt##_t)(mg_##dt##_a)((mg_##dt##_a)a + (mg_##dt##_a)b); } \
    MG_INLINE mg_##dt##_t mg_sub_##dt(mg_##dt##_t a, mg_##dt##_t b) { \
        return (mg_##dt##_t)(mg_##dt##_a)((mg_##dt##_a)a - (mg_##dt##_a)b); } \
    MG_INLINE mg_##dt##_t mg_mul_##dt(mg_##dt##_t a, mg_##dt##_t b) { \
        return (mg_##dt##_t)(mg_##dt##_a)(1u * (mg_##dt##_a)a * (mg_##dt##_a)b); } \
    MG_INLINE mg_##dt##_t mg_div_##dt(mg_##dt##_t a, mg_##dt##_t b) { \
        if (mg_##dt##_flt) return a / b; \
        if (b == 0) return 0; \
        if ((mg_##dt##_t)-1 < 0 && b == (mg_##dt##_t)-1) return (mg_##dt##_t)(mg_##dt##_a)(0 - (mg_##dt##_a)a); \
        return a / b; } \
    MG_INLINE mg_##dt##_vt mg_vadd_##dt(mg_##dt##_vt a, mg_##dt##_vt b) { \
        return (mg_##dt##_vt)((mg_##dt##_va)a + (mg_##dt##_va)b); } \
    MG_INLINE mg_##dt##_vt mg_vsub_##dt(mg_##dt##_vt a, mg_##dt##_vt b) { \
        return (mg_##dt##_vt)((mg_##dt##_va)a - (mg_##dt##_va)b); } \
    MG_INLINE mg_##dt##_vt mg_vmul_##dt(mg_##dt##_vt a, mg_##dt##_vt b) { \
        return (mg_##dt##_vt)((mg_##dt##_va)a * (mg_##dt##_va)b); } \
    MG_INLINE mg_##dt##_vt mg_vdiv_##dt(mg_##dt##_vt a, mg_##dt##_vt b) { \
        if (mg_##dt##_flt) return a / b; \
        mg_##dt##_vt r; \
        for (int i = 0; i < mg_##dt##_lanes; i++) r[i] = mg_div_##dt(a[i], b[i]); \
        return r; }
MG_NUM(MG_DEFINE_ARITH, _)

/* ---- binary: Y (contiguous, shape dims) = A op B, A and B read through their strides --------------
 * The host has collapsed dims; the innermost dim gets SIMD when both inner strides are 1 or one is 0.
 * In place (Y == A or Y == B, same shape): every element is read before it is written. */
#define MG_BINARY_INNER(dt, op) \
    static void mg_binary_row_##dt##_##op(mg_##dt##_t *y, const mg_##dt##_t *a, const mg_##dt##_t *b, \
                                          int32_t n, int32_t sa, int32_t sb) { \
        MG_TYPES(dt); \
        int32_t i = 0; \
        if (sa == 1 && sb == 1) { \
            for (; i + L <= n; i += L) MG_STORE(y + i, mg_v##op##_##dt(MG_LOAD(VT, a + i), MG_LOAD(VT, b + i))); \
        } else if (sa == 1 && sb == 0) { \
            VT vb = MG_SPLAT(VT, b[0]); \
            for (; i + L <= n; i += L) MG_STORE(y + i, mg_v##op##_##dt(MG_LOAD(VT, a + i), vb)); \
        } else if (sa == 0 && sb == 1) { \
            VT va = MG_SPLAT(VT, a[0]); \
            for (; i + L <= n; i += L) MG_STORE(y + i, mg_v##op##_##dt(va, MG_LOAD(VT, b + i))); \
        } \
        for (; i < n; i++) y[i] = mg_##op##_##dt(a[i * sa], b[i * sb]); \
    }

#define MG_BINARY(dt, op) \
    MG_BINARY_INNER(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t nd = p[0]; \
        MG_CHECK_GOT(nd >= 1 && nd <= 6, MG_NAME(dt, op), "nd must be in 1..6", nd); \
        const int32_t *dims = p + 1, *as = p + 1 + nd, *bs = p + 1 + 2 * nd; \
        for (int32_t d = 0; d < nd; d++) { \
            MG_CHECK_GOT(dims[d] >= 0, MG_NAME(dt, op), "dims must be >= 0", dims[d]); \
            if (dims[d] == 0) return 0; \
        } \
        const T *a = (const T *)(uintptr_t)t[0], *b = (const T *)(uintptr_t)t[1]; \
        T *y = (T *)(uintptr_t)t[2]; \
        int32_t n = dims[nd - 1], idx[6] = {0}; \
        ptrdiff_t ao = 0, bo = 0; \
        for (;;) { \
            mg_binary_row_##dt##_##op(y, a + ao, b + bo, n, as[nd - 1], bs[nd - 1]); \
            y += n; \
            int32_t d = nd - 2; /* odometer over the outer dims */ \
            for (; d >= 0; d--) { \
                ao += as[d]; bo += bs[d]; \
                if (++idx[d] < dims[d]) break; \
                ao -= (ptrdiff_t)as[d] * dims[d]; bo -= (ptrdiff_t)bs[d] * dims[d]; idx[d] = 0; \
            } \
            if (d < 0) return 0; \
        } \
    }
MG_NUM(MG_BINARY, add)
MG_NUM(MG_BINARY, sub)
MG_NUM(MG_BINARY, mul)
MG_NUM(MG_BINARY, div)

/* ---- unary: Y[i] = f(X[i]), i < n ---------------------------------------------------------------- */
#define MG_UNARY(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t n = p[0]; \
        MG_CHECK_GOT(n >= 0, MG_NAME(dt, op), "n must be >= 0", n); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        T *y = (T *)(uintptr_t)t[1]; \
        int32_t i = 0; \
        for (; i + L <= n; i += L) MG_STORE(y + i, mg_v##op##_##dt(MG_LOAD(VT, x + i))); \
        for (; i < n; i++) y[i] = mg_v##op##_##dt(MG_SPLAT(VT, x[i]))[0]; \
        return 0; \
    }

/* relu: x < 0 ? 0 : x (NaN passes, like numpy's maximum). */
#define MG_DEFINE_RELU(dt, ...) \
    MG_INLINE mg_##dt##_vt mg_vrelu_##dt(mg_##dt##_vt x) { \
        return (mg_##dt##_vt)wasm_v128_andnot((v128_t)x, (v128_t)(x < 0)); }
MG_SIGNED(MG_DEFINE_RELU, _)
MG_SIGNED(MG_UNARY, relu)
MG_FLOAT(MG_UNARY, sigmoid)
MG_FLOAT(MG_UNARY, tanh)

/* ---- copy: nbytes from X to Y (memmove: overlap allowed) ----------------------------------------- */
MG_KERNEL_DEF(u8, copy) {
    MG_CHECK_GOT(p[0] >= 0, "u8_copy", "nbytes must be >= 0", p[0]);
    __builtin_memmove((void *)(uintptr_t)t[1], (const void *)(uintptr_t)t[0], (size_t)p[0]);
    return 0;
}
