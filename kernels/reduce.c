/* reduce.c: argmax/argmin over the middle axis of [outer, n, inner] and equal_count. */
#include "mg.h"

/* ---- argmax / argmin: Y[o, j] (int64) = index of the extreme of X[o, :, j] ---------------------------
 * Like numpy: the first extreme wins (the last with select_last_index), and a NaN counts as the extreme
 * (the first NaN; the last with select_last_index). CMP is > for argmax, < for argmin. */
#define MG_ARG_EXTREME(dt, op, CMP) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t outer = p[0], n = p[1], inner = p[2], last = p[3]; \
        MG_CHECK_GOT(outer >= 0 && inner >= 0, MG_NAME(dt, op), "outer and inner must be >= 0", \
                     outer < 0 ? outer : inner); \
        MG_CHECK_GOT(n >= 1, MG_NAME(dt, op), "n (the reduced extent) must be >= 1", n); \
        MG_CHECK_GOT(last == 0 || last == 1, MG_NAME(dt, op), "select_last_index must be 0 or 1", last); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        int64_t *y = (int64_t *)(uintptr_t)t[1]; \
        for (int32_t o = 0; o < outer; o++) { \
            for (int32_t j = 0; j < inner; j++) { \
                const T *col = x + ((ptrdiff_t)o * n * inner + j); \
                T best = col[0]; \
                int32_t bi = 0; \
                if (last) { \
                    for (int32_t i = 1; i < n; i++) { \
                        T v = col[(ptrdiff_t)i * inner]; \
                        if (v != v || (best == best && !(best CMP v))) { best = v; bi = i; } \
                    } \
                } else { \
                    for (int32_t i = 1; i < n; i++) { \
                        T v = col[(ptrdiff_t)i * inner]; \
                        if (v CMP best || (v != v && best == best)) { best = v; bi = i; } \
                    } \
                } \
                y[(ptrdiff_t)o * inner + j] = bi; \
            } \
        } \
        return 0; \
    }
MG_NUM(MG_ARG_EXTREME, argmax, >)
MG_NUM(MG_ARG_EXTREME, argmin, <)

/* ---- equal_count: Y[0] = #{i < n : A[i] == B[i]}, stored in the dtype (wrapping for integers) ----- */
#define MG_EQUAL_COUNT(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t n = p[0]; \
        MG_CHECK_GOT(n >= 0, MG_NAME(dt, op), "n must be >= 0", n); \
        const T *a = (const T *)(uintptr_t)t[0], *b = (const T *)(uintptr_t)t[1]; \
        uint32_t count = 0; \
        for (int32_t i = 0; i < n; i++) count += a[i] == b[i]; \
        *(T *)(uintptr_t)t[2] = (T)(A)count; \
        return 0; \
    }
MG_NUM(MG_EQUAL_COUNT, equal_count)
