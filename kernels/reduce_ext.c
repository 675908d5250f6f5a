/* reduce_ext.c: reductions over the middle axis of [outer, n, inner] (sum, sum of squares, sum of |x|,
 * product, max, min, log-sum-exp) with a final transform (divide by a count, sqrt, log), cumulative sum,
 * top-k and hardmax. Several reduced axes are either collapsed into n or reduced by successive steps. */
#include "mg.h"
#include "mg_math.h"
#include "mg_rmath.h"

/* ---- per-dtype helpers ----------------------------------------------------------------------------- */
#define MG_RX_HELPERS(dt, unused) \
    /* |x| in the arithmetic type (integers wrap: |MIN| = MIN, like numpy). */ \
    MG_INLINE mg_##dt##_va mg_rx_vabs_##dt(mg_##dt##_vt x) { \
        MG_TYPES(dt); \
        return FLT ? (VA)((VI)x & MG_SPLAT(VI, ~MG_LOWEST(mg_##dt##_i, 0))) \
                   : MG_SELECT(x < 0, (VA){0} - (VA)x, (VA)x); \
    } \
    MG_INLINE mg_##dt##_a mg_rx_abs_##dt(mg_##dt##_t x) { \
        return (mg_##dt##_a)(x < 0 ? (mg_##dt##_a)0 - (mg_##dt##_a)x : (mg_##dt##_a)x); \
    } \
    /* max / min: a NaN wins. pmax(a, b) = a < b ? b : a keeps a NaN a (one instruction, unlike \
     * f32x4.max); a NaN b is selected explicitly. */ \
    MG_INLINE mg_##dt##_vt mg_rx_vmax_##dt(mg_##dt##_vt a, mg_##dt##_vt b) { \
        MG_TYPES(dt); \
        return FLT ? MG_SELECT(b != b, b, (VT)(sizeof(T) == 4 ? wasm_f32x4_pmax((v128_t)a, (v128_t)b) \
                                                             : wasm_f64x2_pmax((v128_t)a, (v128_t)b))) \
                   : MG_SELECT(a > b, a, b); \
    } \
    MG_INLINE mg_##dt##_vt mg_rx_vmin_##dt(mg_##dt##_vt a, mg_##dt##_vt b) { \
        MG_TYPES(dt); \
        return FLT ? MG_SELECT(b != b, b, (VT)(sizeof(T) == 4 ? wasm_f32x4_pmin((v128_t)a, (v128_t)b) \
                                                             : wasm_f64x2_pmin((v128_t)a, (v128_t)b))) \
                   : MG_SELECT(a < b, a, b); \
    } \
    MG_INLINE mg_##dt##_t mg_rx_max_##dt(mg_##dt##_t a, mg_##dt##_t b) { return (b > a || b != b) ? b : a; } \
    MG_INLINE mg_##dt##_t mg_rx_min_##dt(mg_##dt##_t a, mg_##dt##_t b) { return (b < a || b != b) ? b : a; } \
    /* The final transform of a reduced value: 1 divide by count (integers: truncating, 0 for count 0), \
     * 2 sqrt, 3 log (floats only; checked by the kernels). */ \
    MG_INLINE mg_##dt##_t mg_rx_post_##dt(mg_##dt##_t v, int32_t post, int32_t count) { \
        MG_TYPES(dt); \
        if (post == 1) { \
            if (FLT) return v / (T)count; \
            return count ? (T)(A)((int64_t)v / count) : (T)0; \
        } \
        if (post == 2) return (T)__builtin_sqrt((double)v); \
        if (post == 3) return (T)mg_rx_log((double)v); \
        return v; \
    }

MG_NUM(MG_RX_HELPERS, _)

#define MG_RX_CHECK(NAME, outer, n, inner, post, count) \
    MG_CHECK_GOT((outer) >= 0 && (inner) >= 0 && (n) >= 0, NAME, "outer, n and inner must be >= 0", \
                 (outer) < 0 ? (outer) : (n) < 0 ? (n) : (inner)); \
    MG_CHECK_GOT((post) >= 0 && (post) <= (FLT ? 3 : 1), NAME, \
                 "post must be 0 none, 1 divide (2 sqrt, 3 log for floats)", post); \
    MG_CHECK_GOT((count) >= 0, NAME, "count must be >= 0", count)

/* ---- reduce: Y[o, j] = post(fold of X[o, :, j]) -----------------------------------------------------
 * R is the accumulator type (A for sums and products: integers wrap; T for max and min), INIT its
 * identity; SSTEP/VSTEP fold one element / vector in, SCOMB/VCOMB merge two partial results. Along n
 * (inner == 1): 4 vector accumulators then a horizontal merge; across inner: 4 vectors of columns. */
#define MG_REDUCE(dt, op, R, INIT, SSTEP, VSTEP, SCOMB, VCOMB) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        typedef R RT; \
        typedef RT VR __attribute__((vector_size(16), aligned(1))); \
        int32_t outer = p[0], n = p[1], inner = p[2], post = p[3], count = p[4]; \
        MG_RX_CHECK(MG_NAME(dt, op), outer, n, inner, post, count); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        T *y = (T *)(uintptr_t)t[1]; \
        const RT init = (RT)(INIT); \
        if (inner == 1) { \
            for (int32_t o = 0; o < outer; o++) { \
                const T *row = x + (ptrdiff_t)o * n; \
                VR a0 = MG_SPLAT(VR, init), a1 = a0, a2 = a0, a3 = a0; \
                int32_t i = 0; \
                for (; i + 4 * L <= n; i += 4 * L) { \
                    a0 = VSTEP(a0, MG_LOAD(VT, row + i)); \
                    a1 = VSTEP(a1, MG_LOAD(VT, row + i + L)); \
                    a2 = VSTEP(a2, MG_LOAD(VT, row + i + 2 * L)); \
                    a3 = VSTEP(a3, MG_LOAD(VT, row + i + 3 * L)); \
                } \
                for (; i + L <= n; i += L) a0 = VSTEP(a0, MG_LOAD(VT, row + i)); \
                a0 = VCOMB(VCOMB(a0, a1), VCOMB(a2, a3)); \
                RT s = a0[0]; \
                for (int k = 1; k < L; k++) s = SCOMB(s, a0[k]); \
                for (; i < n; i++) s = SSTEP(s, row[i]); \
                y[o] = mg_rx_post_##dt((T)s, post, count); \
            } \
            return 0; \
        } \
        for (int32_t o = 0; o < outer; o++) { \
            const T *blk = x + (ptrdiff_t)o * n * inner; \
            T *yo = y + (ptrdiff_t)o * inner; \
            int32_t j = 0; \
            for (; j + 4 * L <= inner; j += 4 * L) { \
                VR a0 = MG_SPLAT(VR, init), a1 = a0, a2 = a0, a3 = a0; \
                for (int32_t i = 0; i < n; i++) { \
                    const T *r = blk + (ptrdiff_t)i * inner + j; \
                    a0 = VSTEP(a0, MG_LOAD(VT, r)); \
                    a1 = VSTEP(a1, MG_LOAD(VT, r + L)); \
                    a2 = VSTEP(a2, MG_LOAD(VT, r + 2 * L)); \
                    a3 = VSTEP(a3, MG_LOAD(VT, r + 3 * L)); \
                } \
                MG_STORE(yo + j, (VT)a0); \
                MG_STORE(yo + j + L, (VT)a1); \
                MG_STORE(yo + j + 2 * L, (VT)a2); \
                MG_STORE(yo + j + 3 * L, (VT)a3); \
            } \
            for (; j + L <= inner; j += L) { \
                VR a0 = MG_SPLAT(VR, init); \
                for (int32_t i = 0; i < n; i++) a0 = VSTEP(a0, MG_LOAD(VT, blk + (ptrdiff_t)i * inner + j)); \
                MG_STORE(yo + j, (VT)a0); \
            } \
            for (; j < inner; j++) { \
                RT s = init; \
                for (int32_t i = 0; i < n; i++) s = SSTEP(s, blk[(ptrdiff_t)i * inner + j]); \
                yo[j] = (T)s; \
            } \
            if (post) \
                for (j = 0; j < inner; j++) yo[j] = mg_rx_post_##dt(yo[j], post, count); \
        } \
        return 0; \
    }

#define MG_RX_ADD(a, b) ((a) + (b))
#define MG_RX_MUL(a, b) ((a) * (b))
#define MG_RX_SUM_S(a, x) ((a) + (A)(x))
#define MG_RX_SUM_V(a, x) ((a) + (VA)(x))
#define MG_RX_SQ_S(a, x) ((a) + (A)(x) * (A)(x))
#define MG_RX_SQ_V(a, x) ((a) + (VA)(x) * (VA)(x))
#define MG_RX_PROD_S(a, x) ((a) * (A)(x))
#define MG_RX_PROD_V(a, x) ((a) * (VA)(x))

#define MG_REDUCE_SUM(dt, op) MG_REDUCE(dt, op, A, 0, MG_RX_SUM_S, MG_RX_SUM_V, MG_RX_ADD, MG_RX_ADD)
#define MG_REDUCE_SUMSQ(dt, op) MG_REDUCE(dt, op, A, 0, MG_RX_SQ_S, MG_RX_SQ_V, MG_RX_ADD, MG_RX_ADD)
#define MG_REDUCE_PROD(dt, op) MG_REDUCE(dt, op, A, 1, MG_RX_PROD_S, MG_RX_PROD_V, MG_RX_MUL, MG_RX_MUL)
#define MG_REDUCE_MAX(dt, op) \
    MG_REDUCE(dt, op, T, MG_LOWEST(T, FLT), mg_rx_max_##dt, mg_rx_vmax_##dt, mg_rx_max_##dt, mg_rx_vmax_##dt)
#define MG_REDUCE_MIN(dt, op) \
    MG_REDUCE(dt, op, T, MG_RX_HIGHEST(T, FLT), mg_rx_min_##dt, mg_rx_vmin_##dt, mg_rx_min_##dt, mg_rx_vmin_##dt)
#define MG_RX_HIGHEST(T, FLT) \
    ((FLT) ? (T)__builtin_inf() : (T)((T)-1 < 0 ? ((uint64_t)1 << (8 * sizeof(T) - 1)) - 1 : ~(uint64_t)0))

/* asum steps per dtype: a + |x|. */
#define MG_RX_ASUM_DEF(dt, unused) \
    MG_INLINE mg_##dt##_a mg_rx_asum_s_##dt(mg_##dt##_a a, mg_##dt##_t x) { return a + mg_rx_abs_##dt(x); } \
    MG_INLINE mg_##dt##_va mg_rx_asum_v_##dt(mg_##dt##_va a, mg_##dt##_vt x) { return a + mg_rx_vabs_##dt(x); }
MG_NUM(MG_RX_ASUM_DEF, _)
#define MG_REDUCE_ASUM(dt, op) \
    MG_REDUCE(dt, op, A, 0, mg_rx_asum_s_##dt, mg_rx_asum_v_##dt, MG_RX_ADD, MG_RX_ADD)

MG_NUM(MG_REDUCE_SUM, reduce_sum)
MG_NUM(MG_REDUCE_SUMSQ, reduce_sumsq)
MG_NUM(MG_REDUCE_ASUM, reduce_asum)
MG_NUM(MG_REDUCE_PROD, reduce_prod)
MG_NUM(MG_REDUCE_MAX, reduce_max)
MG_NUM(MG_REDUCE_MIN, reduce_min)

/* ---- log-sum-exp: Y = m + log(sum exp(X - m)), m the max (Y = m when m is infinite or NaN, so an empty
 * or all -inf slice gives -inf). Two passes over each slice: the max, then the exponentials. */
#define MG_RX_LSE_FINISH(m, s) ((m) - (m) != 0 ? (m) : (m) + (T)mg_rx_log((double)(s)))
#define MG_REDUCE_LSE(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t outer = p[0], n = p[1], inner = p[2], post = p[3], count = p[4]; \
        MG_RX_CHECK(MG_NAME(dt, op), outer, n, inner, post, count); \
        MG_CHECK_GOT(post == 0, MG_NAME(dt, op), "post must be 0", post); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        T *y = (T *)(uintptr_t)t[1]; \
        const T lowest = MG_LOWEST(T, FLT); \
        if (inner == 1) { \
            for (int32_t o = 0; o < outer; o++) { \
                const T *row = x + (ptrdiff_t)o * n; \
                VT vm = MG_SPLAT(VT, lowest); \
                int32_t i = 0; \
                for (; i + L <= n; i += L) vm = mg_rx_vmax_##dt(vm, MG_LOAD(VT, row + i)); \
                T m = vm[0]; \
                for (int k = 1; k < L; k++) m = mg_rx_max_##dt(m, vm[k]); \
                for (; i < n; i++) m = mg_rx_max_##dt(m, row[i]); \
                VT vs = MG_SPLAT(VT, 0), vmm = MG_SPLAT(VT, m); \
                for (i = 0; i + L <= n; i += L) vs += mg_vexp_##dt(MG_LOAD(VT, row + i) - vmm); \
                T s = 0; \
                for (int k = 0; k < L; k++) s += vs[k]; \
                for (; i < n; i++) s += mg_exp_##dt(row[i] - m); \
                y[o] = MG_RX_LSE_FINISH(m, s); \
            } \
            return 0; \
        } \
        for (int32_t o = 0; o < outer; o++) { \
            const T *blk = x + (ptrdiff_t)o * n * inner; \
            T *yo = y + (ptrdiff_t)o * inner; \
            int32_t j = 0; \
            for (; j + L <= inner; j += L) { \
                VT vm = MG_SPLAT(VT, lowest), vs = MG_SPLAT(VT, 0); \
                for (int32_t i = 0; i < n; i++) vm = mg_rx_vmax_##dt(vm, MG_LOAD(VT, blk + (ptrdiff_t)i * inner + j)); \
                for (int32_t i = 0; i < n; i++) vs += mg_vexp_##dt(MG_LOAD(VT, blk + (ptrdiff_t)i * inner + j) - vm); \
                for (int k = 0; k < L; k++) yo[j + k] = MG_RX_LSE_FINISH(vm[k], vs[k]); \
            } \
            for (; j < inner; j++) { \
                T m = lowest, s = 0; \
                for (int32_t i = 0; i < n; i++) m = mg_rx_max_##dt(m, blk[(ptrdiff_t)i * inner + j]); \
                for (int32_t i = 0; i < n; i++) s += mg_exp_##dt(blk[(ptrdiff_t)i * inner + j] - m); \
                yo[j] = MG_RX_LSE_FINISH(m, s); \
            } \
        } \
        return 0; \
    }
MG_FLOAT(MG_REDUCE_LSE, reduce_lse)

/* ---- cumsum along the middle axis: exclusive shifts by one (Y starts at 0), reverse runs from the end.
 * Each step adds a row of inner values to the previous output row (SIMD across inner). */
#define MG_CUMSUM(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t outer = p[0], n = p[1], inner = p[2], excl = p[3], rev = p[4]; \
        MG_CHECK_GOT(outer >= 0 && inner >= 0 && n >= 0, MG_NAME(dt, op), "outer, n and inner must be >= 0", \
                     outer < 0 ? outer : n < 0 ? n : inner); \
        MG_CHECK_GOT(excl == 0 || excl == 1, MG_NAME(dt, op), "exclusive must be 0 or 1", excl); \
        MG_CHECK_GOT(rev == 0 || rev == 1, MG_NAME(dt, op), "reverse must be 0 or 1", rev); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        T *y = (T *)(uintptr_t)t[1]; \
        ptrdiff_t step = rev ? -(ptrdiff_t)inner : (ptrdiff_t)inner; \
        for (int32_t o = 0; o < outer; o++) { \
            ptrdiff_t base = (ptrdiff_t)o * n * inner + (rev ? (ptrdiff_t)(n - 1) * inner : 0); \
            for (int32_t i = 0; i < n; i++) { \
                T *yr = y + base + i * step; \
                const T *prev = yr - step; \
                const T *xr = x + base + i * step - (excl ? step : 0); \
                int32_t j = 0; \
                if (i == 0) { \
                    for (; j < inner; j++) yr[j] = excl ? (T)0 : xr[j]; \
                    continue; \
                } \
                for (; j + L <= inner; j += L) \
                    MG_STORE(yr + j, (VT)((VA)MG_LOAD(VT, prev + j) + (VA)MG_LOAD(VT, xr + j))); \
                for (; j < inner; j++) yr[j] = (T)((A)prev[j] + (A)xr[j]); \
            } \
        } \
        return 0; \
    }
MG_NUM(MG_CUMSUM, cumsum)

/* ---- top-k along the middle axis: Values (dt) and Indices (int64) of shape [outer, k, inner], sorted
 * best first; a tie goes to the lower index, a NaN ranks above every number. A heap of k indices in the
 * int32 scratch (k entries) keeps the best k seen, worst at its root: O(n log k) per slice. */
#define MG_TOPK(dt, op) \
    MG_INLINE int mg_tk_before_##dt(mg_##dt##_t a, int32_t ia, mg_##dt##_t b, int32_t ib, int32_t largest) { \
        int gt = (a != a) ? (b == b) : (a > b); /* a ranks above b as a value */ \
        int lt = (b != b) ? (a == a) : (a < b); \
        if (largest ? gt : lt) return 1; \
        if (largest ? lt : gt) return 0; \
        return ia < ib; \
    } \
    /* Sifts (v, i) down from the root of a heap of `size` indices (worst at the root); its final slot. */ \
    MG_INLINE int32_t mg_tk_sift_##dt(int32_t *heap, int32_t size, const mg_##dt##_t *col, ptrdiff_t inner, \
                                      mg_##dt##_t v, int32_t i, int32_t largest) { \
        int32_t pos = 0; \
        for (;;) { \
            int32_t c = 2 * pos + 1; \
            if (c >= size) break; \
            int32_t hc = heap[c]; \
            if (c + 1 < size) { \
                int32_t hd = heap[c + 1]; \
                if (mg_tk_before_##dt(col[(ptrdiff_t)hc * inner], hc, col[(ptrdiff_t)hd * inner], hd, largest)) { \
                    c++; \
                    hc = hd; \
                } \
            } \
            if (!mg_tk_before_##dt(v, i, col[(ptrdiff_t)hc * inner], hc, largest)) break; \
            heap[pos] = hc; \
            pos = c; \
        } \
        return pos; \
    } \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t outer = p[0], n = p[1], inner = p[2], k = p[3], largest = p[4]; \
        MG_CHECK_GOT(outer >= 0 && inner >= 0 && n >= 0, MG_NAME(dt, op), "outer, n and inner must be >= 0", \
                     outer < 0 ? outer : n < 0 ? n : inner); \
        MG_CHECK_GOT(k >= 0 && k <= n, MG_NAME(dt, op), "k must be in 0..n", k); \
        MG_CHECK_GOT(largest == 0 || largest == 1, MG_NAME(dt, op), "largest must be 0 or 1", largest); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        T *vals = (T *)(uintptr_t)t[1]; \
        int64_t *idx = (int64_t *)(uintptr_t)t[2]; \
        int32_t *heap = (int32_t *)(uintptr_t)t[3]; \
        if (k == 0) return 0; \
        for (int32_t o = 0; o < outer; o++) { \
            for (int32_t j = 0; j < inner; j++) { \
                const T *col = x + (ptrdiff_t)o * n * inner + j; \
                int32_t size = 0; \
                for (int32_t i = 0; i < n; i++) { \
                    T v = col[(ptrdiff_t)i * inner]; \
                    int32_t pos; \
                    if (size < k) { /* sift up: a worse element rises toward the root */ \
                        pos = size++; \
                        while (pos > 0) { \
                            int32_t par = (pos - 1) >> 1; \
                            int32_t h = heap[par]; \
                            if (!mg_tk_before_##dt(col[(ptrdiff_t)h * inner], h, v, i, largest)) break; \
                            heap[pos] = h; \
                            pos = par; \
                        } \
                        heap[pos] = i; \
                        continue; \
                    } \
                    int32_t r = heap[0]; \
                    if (!mg_tk_before_##dt(v, i, col[(ptrdiff_t)r * inner], r, largest)) continue; \
                    pos = mg_tk_sift_##dt(heap, size, col, inner, v, i, largest); /* replace the root */ \
                    heap[pos] = i; \
                } \
                /* pop the worst to the back: a sorted list, best first */ \
                ptrdiff_t ob = (ptrdiff_t)o * k * inner + j; \
                while (size > 0) { \
                    int32_t top = heap[0]; \
                    int32_t last = heap[--size]; \
                    int32_t pos = mg_tk_sift_##dt(heap, size, col, inner, col[(ptrdiff_t)last * inner], last, largest); \
                    heap[pos] = last; \
                    vals[ob + (ptrdiff_t)size * inner] = col[(ptrdiff_t)top * inner]; \
                    idx[ob + (ptrdiff_t)size * inner] = top; \
                } \
            } \
        } \
        return 0; \
    }
MG_NUM(MG_TOPK, topk)

/* ---- hardmax: Y = 1 at the first maximum of X[o, :, j] (the first NaN if any), 0 elsewhere. */
#define MG_HARDMAX(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t outer = p[0], n = p[1], inner = p[2]; \
        MG_CHECK_GOT(outer >= 0 && inner >= 0 && n >= 0, MG_NAME(dt, op), "outer, n and inner must be >= 0", \
                     outer < 0 ? outer : n < 0 ? n : inner); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        T *y = (T *)(uintptr_t)t[1]; \
        ptrdiff_t total = (ptrdiff_t)outer * n * inner; \
        for (ptrdiff_t i = 0; i < total; i++) y[i] = 0; \
        if (n == 0) return 0; \
        for (int32_t o = 0; o < outer; o++) { \
            for (int32_t j = 0; j < inner; j++) { \
                const T *col = x + (ptrdiff_t)o * n * inner + j; \
                T best = col[0]; \
                int32_t bi = 0; \
                for (int32_t i = 1; i < n && best == best; i++) { \
                    T v = col[(ptrdiff_t)i * inner]; \
                    if (v > best || v != v) { best = v; bi = i; } \
                } \
                y[(ptrdiff_t)o * n * inner + j + (ptrdiff_t)bi * inner] = 1; \
            } \
        } \
        return 0; \
    }
MG_FLOAT(MG_HARDMAX, hardmax)
