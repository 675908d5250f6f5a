/* gather.c: indexed reads and writes: gather, gather_elements, gather_nd (over element size), scatter_elements,
 * scatter_nd (per dtype, for their reductions), onehot (per index dtype), range (per dtype). Indices are
 * int32 or int64 (the is64 flag); a negative index counts from the end; an index out of range fails. */
#include "mg.h"
#include "mg_layout.h"

/* Normalises index v against n into r, or fails naming the kernel. */
#define MG_NORM_INDEX(r, v, n, NAME) \
    do { \
        int64_t v_ = (v); \
        if (v_ < 0) v_ += (n); \
        if (v_ < 0 || v_ >= (n)) return mg_fail_got(NAME ": index out of range", (v)); \
        r = (ptrdiff_t)v_; \
    } while (0)

/* ---- gather: Y[o, j, :] = X[o, I[j], :]; X [outer, axis_dim, inner], I [n_idx] ----------------------
 * ints: outer, axis_dim, inner, n_idx, is64. */
#define MG_GATHER(dt, T) \
    MG_KERNEL_DEF(dt, gather) { \
        int32_t outer = p[0], axis_dim = p[1], inner = p[2], n_idx = p[3], is64 = p[4]; \
        MG_CHECK(outer >= 0 && axis_dim >= 0 && inner >= 0 && n_idx >= 0, MG_STR(dt) "_gather", "sizes must be >= 0"); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        const void *ind = (const void *)(uintptr_t)t[1]; \
        T *y = (T *)(uintptr_t)t[2]; \
        for (int32_t o = 0; o < outer; o++, x += (ptrdiff_t)axis_dim * inner) { \
            for (int32_t j = 0; j < n_idx; j++, y += inner) { \
                ptrdiff_t r; \
                MG_NORM_INDEX(r, mg_index_at(ind, j, is64), axis_dim, MG_STR(dt) "_gather"); \
                if (inner == 1) y[0] = x[r]; \
                else __builtin_memcpy(y, x + r * inner, (size_t)inner * sizeof(T)); \
            } \
        } \
        return 0; \
    }
MG_LAYOUT_TYPES(MG_GATHER)

/* Shared walk of gather_elements / scatter_elements: every element e of I (contiguous, shape dims[nd]) pairs
 * with position `off` of the other tensor (strides s[nd], s[axis] taken by the index value). */
#define MG_ELEMENTS_WALK(NAME, BODY) \
    int32_t nd = p[0], axis = p[1], is64 = p[2], axis_dim = p[3]; \
    const int32_t *dims = p + 4, *s = p + 10; \
    MG_CHECK_GOT(nd >= 1 && nd <= 6, NAME, "nd must be in 1..6", nd); \
    MG_CHECK_GOT(axis >= 0 && axis < nd, NAME, "axis out of range", axis); \
    for (int32_t d = 0; d < nd; d++) { \
        MG_CHECK_GOT(dims[d] >= 0, NAME, "dims must be >= 0", dims[d]); \
        if (dims[d] == 0) return 0; \
    } \
    int32_t idx[6] = {0}, n = dims[nd - 1]; \
    ptrdiff_t base = 0, e = 0; \
    for (;;) { \
        for (int32_t j = 0; j < n; j++, e++) { \
            ptrdiff_t r; \
            MG_NORM_INDEX(r, mg_index_at(ind, e, is64), axis_dim, NAME); \
            ptrdiff_t off = base + r * s[axis] + (axis == nd - 1 ? 0 : (ptrdiff_t)j * s[nd - 1]); \
            BODY; \
        } \
        int32_t d = nd - 2; \
        for (; d >= 0; d--) { \
            if (d != axis) base += s[d]; \
            if (++idx[d] < dims[d]) break; \
            if (d != axis) base -= (ptrdiff_t)s[d] * dims[d]; \
            idx[d] = 0; \
        } \
        if (d < 0) return 0; \
    }

/* ---- gather_elements: Y[e] = X[e with axis coordinate I[e]]; ints: nd, axis, is64, axis_dim, dims[6]
 * (the shape of I and Y), x_strides[6] ------------------------------------------------------------------ */
#define MG_GATHER_ELEMENTS(dt, T) \
    MG_KERNEL_DEF(dt, gather_elements) { \
        const T *x = (const T *)(uintptr_t)t[0]; \
        const void *ind = (const void *)(uintptr_t)t[1]; \
        T *y = (T *)(uintptr_t)t[2]; \
        MG_ELEMENTS_WALK(MG_STR(dt) "_gather_elements", y[e] = x[off]) \
    }
MG_LAYOUT_TYPES(MG_GATHER_ELEMENTS)

/* ---- gather_nd: per batch b, Y[b, i, :] = X[b, I[b, i, 0..k-1], :].
 * ints: batch, n_per, k, slice, is64, x_batch_stride, dims[6] (the k indexed dims of X after the batch). */
#define MG_GATHER_ND(dt, T) \
    MG_KERNEL_DEF(dt, gather_nd) { \
        int32_t batch = p[0], n_per = p[1], k = p[2], slice = p[3], is64 = p[4], xbs = p[5]; \
        const int32_t *dims = p + 6; \
        MG_CHECK(batch >= 0 && n_per >= 0 && slice >= 0 && xbs >= 0, MG_STR(dt) "_gather_nd", "sizes must be >= 0"); \
        MG_CHECK_GOT(k >= 0 && k <= 6, MG_STR(dt) "_gather_nd", "k must be in 0..6", k); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        const void *ind = (const void *)(uintptr_t)t[1]; \
        T *y = (T *)(uintptr_t)t[2]; \
        ptrdiff_t e = 0; \
        for (int32_t b = 0; b < batch; b++, x += xbs) { \
            for (int32_t i = 0; i < n_per; i++, y += slice) { \
                ptrdiff_t off = 0; \
                for (int32_t j = 0; j < k; j++, e++) { \
                    ptrdiff_t r; \
                    MG_NORM_INDEX(r, mg_index_at(ind, e, is64), dims[j], MG_STR(dt) "_gather_nd"); \
                    off = off * dims[j] + r; \
                } \
                __builtin_memcpy(y, x + off * slice, (size_t)slice * sizeof(T)); \
            } \
        } \
        return 0; \
    }
MG_LAYOUT_TYPES(MG_GATHER_ND)

/* ---- reductions of the scatters: 0 none, 1 add, 2 mul, 3 max, 4 min (integers wrap) ---------------- */
#define MG_SCATTER_REDUCE(dt, ...) \
    MG_INLINE mg_##dt##_t mg_scatter_red_##dt(mg_##dt##_t a, mg_##dt##_t b, int32_t red) { \
        switch (red) { \
        case 1: return (mg_##dt##_t)(mg_##dt##_a)((mg_##dt##_a)a + (mg_##dt##_a)b); \
        case 2: return (mg_##dt##_t)(mg_##dt##_a)(1u * (mg_##dt##_a)a * (mg_##dt##_a)b); \
        case 3: return b > a ? b : a; \
        case 4: return b < a ? b : a; \
        default: return b; \
        } \
    }
MG_NUM(MG_SCATTER_REDUCE, _)

/* ---- scatter_elements: Y = X, then Y at I[e]'s position gets U[e] (reduced). Y may be X (in place).
 * tensors X, I, U, Y; ints: nd, axis, is64, axis_dim, dims[6] (shape of I and U), y_strides[6], reduction, n (the number of elements of X and Y). */
#define MG_SCATTER_ELEMENTS(dt, ...) \
    MG_KERNEL_DEF(dt, scatter_elements) { \
        MG_TYPES(dt); \
        const void *ind = (const void *)(uintptr_t)t[1]; \
        const T *u = (const T *)(uintptr_t)t[2]; \
        T *y = (T *)(uintptr_t)t[3]; \
        int32_t red = p[16]; \
        MG_CHECK_GOT(p[17] >= 0, MG_NAME(dt, scatter_elements), "n must be >= 0", p[17]); \
        if (t[0] != t[3]) __builtin_memmove(y, (const void *)(uintptr_t)t[0], (size_t)p[17] * sizeof(T)); \
        MG_CHECK_GOT(red >= 0 && red <= 4, MG_NAME(dt, scatter_elements), "reduction must be in 0..4", red); \
        MG_ELEMENTS_WALK(MG_NAME(dt, scatter_elements), y[off] = mg_scatter_red_##dt(y[off], u[e], red)) \
    }
MG_NUM(MG_SCATTER_ELEMENTS, _)

/* ---- scatter_nd: Y = X [dims[0..k-1], slice], then Y[I[i, :], :] op= U[i, :]. Y may be X (in place).
 * tensors X, I, U, Y; ints: n_idx, k, slice, is64, reduction, dims[6]. */
#define MG_SCATTER_ND(dt, ...) \
    MG_KERNEL_DEF(dt, scatter_nd) { \
        MG_TYPES(dt); \
        int32_t n_idx = p[0], k = p[1], slice = p[2], is64 = p[3], red = p[4]; \
        const int32_t *dims = p + 5; \
        MG_CHECK(n_idx >= 0 && slice >= 0, MG_NAME(dt, scatter_nd), "sizes must be >= 0"); \
        MG_CHECK_GOT(k >= 1 && k <= 6, MG_NAME(dt, scatter_nd), "k must be in 1..6", k); \
        MG_CHECK_GOT(red >= 0 && red <= 4, MG_NAME(dt, scatter_nd), "reduction must be in 0..4", red); \
        const void *ind = (const void *)(uintptr_t)t[1]; \
        const T *u = (const T *)(uintptr_t)t[2]; \
        T *y = (T *)(uintptr_t)t[3]; \
        ptrdiff_t total = slice; \
        for (int32_t j = 0; j < k; j++) { \
            MG_CHECK_GOT(dims[j] >= 0, MG_NAME(dt, scatter_nd), "dims must be >= 0", dims[j]); \
            total *= dims[j]; \
        } \
        if (t[0] != t[3]) __builtin_memmove(y, (const void *)(uintptr_t)t[0], (size_t)total * sizeof(T)); \
        ptrdiff_t e = 0; \
        for (int32_t i = 0; i < n_idx; i++, u += slice) { \
            ptrdiff_t off = 0; \
            for (int32_t j = 0; j < k; j++, e++) { \
                ptrdiff_t r; \
                MG_NORM_INDEX(r, mg_index_at(ind, e, is64), dims[j], MG_NAME(dt, scatter_nd)); \
                off = off * dims[j] + r; \
            } \
            T *yr = y + off * slice; \
            if (red == 0) __builtin_memcpy(yr, u, (size_t)slice * sizeof(T)); \
            else for (int32_t s = 0; s < slice; s++) yr[s] = mg_scatter_red_##dt(yr[s], u[s], red); \
        } \
        return 0; \
    }
MG_NUM(MG_SCATTER_ND, _)

/* ---- onehot: Y [outer, depth, inner] = V[1] where I[o, i] (floats truncated; < 0 counts from depth)
 * equals the depth coordinate, else V[0]. Per index dtype; Y's element size esize (1, 2, 4, 8).
 * tensors I, V, Y; ints: outer, depth, inner, esize. */
#define MG_ONEHOT_STORE(esize, y, i, v) \
    switch (esize) { \
    case 1: ((uint8_t *)(y))[i] = *(const uint8_t *)(v); break; \
    case 2: ((uint16_t *)(y))[i] = *(const uint16_t *)(const void *)(v); break; \
    case 4: ((uint32_t *)(y))[i] = *(const uint32_t *)(const void *)(v); break; \
    default: ((uint64_t *)(y))[i] = *(const uint64_t *)(const void *)(v); break; \
    }

#define MG_ONEHOT(dt, ...) \
    MG_KERNEL_DEF(dt, onehot) { \
        MG_TYPES(dt); \
        int32_t outer = p[0], depth = p[1], inner = p[2], es = p[3]; \
        MG_CHECK(outer >= 0 && depth >= 0 && inner >= 0, MG_NAME(dt, onehot), "sizes must be >= 0"); \
        MG_CHECK_GOT(es == 1 || es == 2 || es == 4 || es == 8, MG_NAME(dt, onehot), "esize must be 1, 2, 4 or 8", es); \
        const T *ind = (const T *)(uintptr_t)t[0]; \
        const uint8_t *off_v = (const uint8_t *)(uintptr_t)t[1], *on_v = off_v + es; \
        uint8_t *y = (uint8_t *)(uintptr_t)t[2]; \
        ptrdiff_t total = (ptrdiff_t)outer * depth * inner; \
        for (ptrdiff_t i = 0; i < total; i++) MG_ONEHOT_STORE(es, y, i, off_v); \
        for (int32_t o = 0; o < outer; o++) { \
            for (int32_t i = 0; i < inner; i++) { \
                T v = ind[(ptrdiff_t)o * inner + i]; \
                if (FLT && !((double)v > -9.0e15 && (double)v < 9.0e15)) continue; /* NaN, inf: no hot value */ \
                int64_t c = (int64_t)v; \
                if (c < 0) c += depth; \
                if (c < 0 || c >= depth) continue; \
                MG_ONEHOT_STORE(es, y, ((ptrdiff_t)o * depth + c) * inner + i, on_v); \
            } \
        } \
        return 0; \
    }
MG_NUM(MG_ONEHOT, _)

/* ---- range: Y[i] = start + i * delta, i < n (integers wrap); tensors Start, Delta (scalars), Y ---- */
#define MG_RANGE(dt, ...) \
    MG_KERNEL_DEF(dt, range) { \
        MG_TYPES(dt); \
        int32_t n = p[0]; \
        MG_CHECK_GOT(n >= 0, MG_NAME(dt, range), "n must be >= 0", n); \
        T start = *(const T *)(uintptr_t)t[0], delta = *(const T *)(uintptr_t)t[1]; \
        T *y = (T *)(uintptr_t)t[2]; \
        for (int32_t i = 0; i < n; i++) \
            y[i] = FLT ? (T)(start + (T)i * delta) : (T)(A)((A)start + 1u * (A)i * (A)delta); \
        return 0; \
    }
MG_NUM(MG_RANGE, _)
