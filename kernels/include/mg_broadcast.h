/* mg_broadcast.h: the strided-broadcast walk of the elementwise kernels (the idea of elementwise.c's
 * binary loop as shared macros): the host collapses dims, the kernel walks the outer dims with an
 * odometer and runs one contiguous output row at a time, with SIMD along the row when every operand's
 * inner stride is 1 or 0. */
#ifndef MG_BROADCAST_H
#define MG_BROADCAST_H

#include "mg.h"

/* Checks nd (1..6) and dims (>= 0) of a broadcast layout; returns 0 from the kernel if a dim is 0. */
#define MG_BCAST_CHECK(NAME, nd, dims) \
    do { \
        MG_CHECK_GOT((nd) >= 1 && (nd) <= 6, NAME, "nd must be in 1..6", (nd)); \
        for (int32_t d_ = 0; d_ < (nd); d_++) MG_CHECK_GOT((dims)[d_] >= 0, NAME, "dims must be >= 0", (dims)[d_]); \
        for (int32_t d_ = 0; d_ < (nd); d_++) if ((dims)[d_] == 0) return 0; \
    } while (0)

/* Runs ROW once per innermost row of a K-operand walk (K <= 4) over dims[0..nd): before ROW, off[k]
 * is the element offset of operand k's row start (strides[k] are its element strides) and `row` is
 * the row's index, so a contiguous output row starts at row * dims[nd - 1]. ROW must not break. */
#define MG_BCAST_WALK(nd, dims, K, strides, off, row, ROW) \
    do { \
        int32_t idx_[6] = {0}; \
        ptrdiff_t off[4] = {0}; \
        for (ptrdiff_t row = 0;; row++) { \
            ROW; \
            int32_t d_ = (nd) - 2; \
            for (; d_ >= 0; d_--) { \
                for (int k_ = 0; k_ < (K); k_++) off[k_] += (strides)[k_][d_]; \
                if (++idx_[d_] < (dims)[d_]) break; \
                for (int k_ = 0; k_ < (K); k_++) off[k_] -= (ptrdiff_t)(strides)[k_][d_] * (dims)[d_]; \
                idx_[d_] = 0; \
            } \
            if (d_ < 0) break; \
        } \
    } while (0)

/* One row of a binary op: y[i] = SOP(a[i * sa], b[i * sb]) for i < n. When the inner strides are
 * (1, 1), (1, 0) or (0, 1), whole vectors go through VOP(VT, VT) and STORE(y + i, result); the rest
 * (and the tail) through the scalar SOP. Each element is read before the same element is written. */
#define MG_BCAST_ROW2(VT, L, y, a, b, n, sa, sb, VOP, SOP, STORE) \
    do { \
        int32_t i_ = 0; \
        if ((sa) == 1 && (sb) == 1) { \
            for (; i_ + (L) <= (n); i_ += (L)) STORE((y) + i_, VOP(MG_LOAD(VT, (a) + i_), MG_LOAD(VT, (b) + i_))); \
        } else if ((sa) == 1 && (sb) == 0) { \
            VT vb_ = MG_SPLAT(VT, (b)[0]); \
            for (; i_ + (L) <= (n); i_ += (L)) STORE((y) + i_, VOP(MG_LOAD(VT, (a) + i_), vb_)); \
        } else if ((sa) == 0 && (sb) == 1) { \
            VT va_ = MG_SPLAT(VT, (a)[0]); \
            for (; i_ + (L) <= (n); i_ += (L)) STORE((y) + i_, VOP(va_, MG_LOAD(VT, (b) + i_))); \
        } \
        for (; i_ < (n); i_++) (y)[i_] = SOP((a)[i_ * (sa)], (b)[i_ * (sb)]); \
    } while (0)

/* A whole binary kernel over the layout `nd, dims[nd], a_strides[nd], b_strides[nd]`: A and B of type
 * TI, Y (contiguous) of type TO. */
#define MG_BCAST_BINARY_BODY(NAME, TI, TO, VT, L, VOP, SOP, STORE) \
    do { \
        int32_t nd = p[0]; \
        MG_BCAST_CHECK(NAME, nd, p + 1); \
        const int32_t *dims = p + 1, *st[2] = {p + 1 + nd, p + 1 + 2 * nd}; \
        const TI *a = (const TI *)(uintptr_t)t[0], *b = (const TI *)(uintptr_t)t[1]; \
        TO *y = (TO *)(uintptr_t)t[2]; \
        int32_t n = dims[nd - 1], sa = st[0][nd - 1], sb = st[1][nd - 1]; \
        MG_BCAST_WALK(nd, dims, 2, st, off, row, \
                      MG_BCAST_ROW2(VT, L, y + row * n, a + off[0], b + off[1], n, sa, sb, VOP, SOP, STORE)); \
        return 0; \
    } while (0)

/* Stores a lane mask (all ones / zeros per lane) of L lanes as L bytes 0 or 1 (bool output). */
#define MG_DEFINE_STORE_MASK(dt, ...) \
    MG_INLINE void mg_store_mask_##dt(uint8_t *y, mg_##dt##_vi m) { \
        typedef int8_t B __attribute__((vector_size(mg_##dt##_lanes))); \
        B b = __builtin_convertvector(m, B) & 1; \
        __builtin_memcpy(y, &b, sizeof b); \
    }
MG_ALL(MG_DEFINE_STORE_MASK, _)

#endif
