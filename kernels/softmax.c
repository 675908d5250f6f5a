/* softmax.c: softmax and logsoftmax over the middle axis of [outer, n, inner], numerically stable:
 * y = exp(x - max) / sum(exp(x - max)), log y = (x - max) - log(sum(exp(x - max))).
 * inner == 1: SIMD along the row. inner > 1: SIMD across L adjacent columns, the last columns one at a
 * time through lane 0 of the same code. In place (Y == X) works: each pass reads before it writes. */
#include "mg.h"
#include "mg_math.h"

#define MG_SOFTMAX(dt, op, LOG) \
    /* A row of n contiguous elements. */ \
    static void mg_##op##_row_##dt(const mg_##dt##_t *x, mg_##dt##_t *y, int32_t n) { \
        MG_TYPES(dt); \
        int32_t i = 0; \
        VT vm = MG_SPLAT(VT, -__builtin_inf()); \
        for (; i + L <= n; i += L) { VT v = MG_LOAD(VT, x + i); vm = MG_SELECT(v > vm, v, vm); } \
        T mx = vm[0]; \
        for (int l = 1; l < L; l++) mx = vm[l] > mx ? vm[l] : mx; \
        for (; i < n; i++) mx = x[i] > mx ? x[i] : mx; \
        VT vs = MG_SPLAT(VT, 0), vmx = MG_SPLAT(VT, mx); \
        for (i = 0; i + L <= n; i += L) { \
            VT e = mg_vexp_##dt(MG_LOAD(VT, x + i) - vmx); \
            vs += e; \
            if (!LOG) MG_STORE(y + i, e); \
        } \
        T sum = 0; \
        for (int l = 0; l < L; l++) sum += vs[l]; \
        for (; i < n; i++) { T e = mg_exp_##dt(x[i] - mx); sum += e; if (!LOG) y[i] = e; } \
        if (LOG) { \
            T lg = mg_log_##dt(sum); \
            VT vlg = MG_SPLAT(VT, lg); \
            for (i = 0; i + L <= n; i += L) MG_STORE(y + i, (MG_LOAD(VT, x + i) - vmx) - vlg); \
            for (; i < n; i++) y[i] = (x[i] - mx) - lg; \
        } else { \
            T r = 1 / sum; \
            for (i = 0; i + L <= n; i += L) MG_STORE(y + i, MG_LOAD(VT, y + i) * r); \
            for (; i < n; i++) y[i] *= r; \
        } \
    } \
    /* W (L or 1) adjacent columns j..j+W of n rows with row stride s; W == 1 goes through lane 0. */ \
    MG_INLINE void mg_##op##_cols_##dt(const mg_##dt##_t *x, mg_##dt##_t *y, int32_t n, ptrdiff_t s, int W) { \
        MG_TYPES(dt); \
        VT vm = MG_SPLAT(VT, -__builtin_inf()), vs = MG_SPLAT(VT, 0); \
        for (int32_t i = 0; i < n; i++) { \
            VT v = W == L ? MG_LOAD(VT, x + i * s) : MG_SPLAT(VT, x[i * s]); \
            vm = MG_SELECT(v > vm, v, vm); \
        } \
        for (int32_t i = 0; i < n; i++) { \
            VT e = mg_vexp_##dt((W == L ? MG_LOAD(VT, x + i * s) : MG_SPLAT(VT, x[i * s])) - vm); \
            vs += e; \
            if (!LOG) { if (W == L) MG_STORE(y + i * s, e); else y[i * s] = e[0]; } \
        } \
        VT f = LOG ? mg_vlog_##dt(vs) : 1 / vs; \
        for (int32_t i = 0; i < n; i++) { \
            VT r = LOG ? ((W == L ? MG_LOAD(VT, x + i * s) : MG_SPLAT(VT, x[i * s])) - vm) - f \
                       : (W == L ? MG_LOAD(VT, y + i * s) : MG_SPLAT(VT, y[i * s])) * f; \
            if (W == L) MG_STORE(y + i * s, r); else y[i * s] = r[0]; \
        } \
    } \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t outer = p[0], n = p[1], inner = p[2]; \
        MG_CHECK(outer >= 0 && n >= 0 && inner >= 0, MG_NAME(dt, op), "outer, n and inner must be >= 0"); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        T *y = (T *)(uintptr_t)t[1]; \
        for (int32_t o = 0; o < outer; o++) { \
            ptrdiff_t base = (ptrdiff_t)o * n * inner; \
            if (inner == 1) { mg_##op##_row_##dt(x + base, y + base, n); continue; } \
            int32_t j = 0; \
            for (; j + L <= inner; j += L) mg_##op##_cols_##dt(x + base + j, y + base + j, n, inner, L); \
            for (; j < inner; j++) mg_##op##_cols_##dt(x + base + j, y + base + j, n, inner, 1); \
        } \
        return 0; \
    }
MG_FLOAT(MG_SOFTMAX, softmax, 0)
MG_FLOAT(MG_SOFTMAX, logsoftmax, 1)
