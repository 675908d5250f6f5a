/* mg_layout.h: what the layout kernels (layout.c, gather.c, resize.c) share: the element-size types,
 * filling, value bits, and reading int32/int64 indices. */
#ifndef MG_LAYOUT_H
#define MG_LAYOUT_H
#include "mg.h"

/* X(tag, C type): one entry per element size; the tag is the kernels' name prefix. */
#define MG_LAYOUT_TYPES(X) X(u8, uint8_t) X(u16, uint16_t) X(u32, uint32_t) X(u64, uint64_t)

#define MG_LAYOUT_HELPERS(dt, T) \
    MG_INLINE T mg_bits_##dt(int32_t lo, int32_t hi) { \
        return (T)(((uint64_t)(uint32_t)hi << 32) | (uint32_t)lo); } \
    MG_INLINE void mg_fill_##dt(T *y, int32_t n, T v) { \
        for (int32_t i = 0; i < n; i++) y[i] = v; }
MG_LAYOUT_TYPES(MG_LAYOUT_HELPERS)

/* Element i of an index tensor of int64 (is64) or int32. */
MG_INLINE int64_t mg_index_at(const void *p, ptrdiff_t i, int32_t is64) {
    return is64 ? ((const int64_t *)p)[i] : (int64_t)((const int32_t *)p)[i];
}

#endif
