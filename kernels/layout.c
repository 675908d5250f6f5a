/* layout.c: data movement over element SIZE (u8/u16/u32/u64 serve every dtype of that width):
 * strided N-d copy (Transpose, Concat, Split, Slice, Expand, Tile, DepthToSpace...), fill, pad, trilu. */
#include "mg.h"
#include "mg_layout.h"

/* ---- copy_nd: Y[i] = X[i] over dims, both read/written through element strides --------------------
 * ints: nd, dims[nd], x_strides[nd], y_strides[nd] (strides may be 0 or negative for X). The host puts
 * the loop with y stride 1 last; when the loop before it has x stride 1 (a transpose of the two inner
 * loops) the kernel copies 2-d tiles so that both reads and writes stay in cache lines. */
#define MG_TILE 16

/* 4x4 transpose of 32-bit lanes: rows a, b, c, d -> columns. */
MG_INLINE void mg_t4x4_u32(uint32_t *y, ptrdiff_t ys, const uint32_t *x, ptrdiff_t xs) {
    v128_t a = wasm_v128_load(x), b = wasm_v128_load(x + xs), c = wasm_v128_load(x + 2 * xs),
           d = wasm_v128_load(x + 3 * xs);
    v128_t ab0 = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), ab1 = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7);
    v128_t cd0 = wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), cd1 = wasm_i32x4_shuffle(c, d, 2, 6, 3, 7);
    wasm_v128_store(y, wasm_i64x2_shuffle(ab0, cd0, 0, 2));
    wasm_v128_store(y + ys, wasm_i64x2_shuffle(ab0, cd0, 1, 3));
    wasm_v128_store(y + 2 * ys, wasm_i64x2_shuffle(ab1, cd1, 0, 2));
    wasm_v128_store(y + 3 * ys, wasm_i64x2_shuffle(ab1, cd1, 1, 3));
}

/* y[r * ysr + c] = x[r + c * xsc] for r < R, c < C (x rows contiguous along r, y along c). */
#define MG_TRANSPOSE2D(dt, T) \
    static void mg_transpose2d_##dt(T *y, ptrdiff_t ysr, const T *x, ptrdiff_t xsc, int32_t R, int32_t C) { \
        for (int32_t r0 = 0; r0 < R; r0 += MG_TILE) { \
            int32_t r1 = r0 + MG_TILE < R ? r0 + MG_TILE : R; \
            for (int32_t c0 = 0; c0 < C; c0 += MG_TILE) { \
                int32_t c1 = c0 + MG_TILE < C ? c0 + MG_TILE : C; \
                int32_t r = r0; \
                if (sizeof(T) == 4) { \
                    for (; r + 4 <= r1; r += 4) { \
                        int32_t c = c0; \
                        for (; c + 4 <= c1; c += 4) \
                            mg_t4x4_u32((uint32_t *)(void *)(y + r * ysr + c), ysr, \
                                        (const uint32_t *)(const void *)(x + r + c * xsc), xsc); \
                        for (; c < c1; c++) \
                            for (int32_t rr = r; rr < r + 4; rr++) y[rr * ysr + c] = x[rr + c * xsc]; \
                    } \
                } \
                for (; r < r1; r++) \
                    for (int32_t c = c0; c < c1; c++) y[r * ysr + c] = x[r + c * xsc]; \
            } \
        } \
    }
MG_LAYOUT_TYPES(MG_TRANSPOSE2D)

#define MG_COPY_ND(dt, T) \
    MG_KERNEL_DEF(dt, copy_nd) { \
        int32_t nd = p[0]; \
        MG_CHECK_GOT(nd >= 1 && nd <= 6, MG_STR(dt) "_copy_nd", "nd must be in 1..6", nd); \
        const int32_t *dims = p + 1, *xs = p + 1 + nd, *ys = p + 1 + 2 * nd; \
        for (int32_t d = 0; d < nd; d++) { \
            MG_CHECK_GOT(dims[d] >= 0, MG_STR(dt) "_copy_nd", "dims must be >= 0", dims[d]); \
            if (dims[d] == 0) return 0; \
        } \
        const T *x = (const T *)(uintptr_t)t[0]; \
        T *y = (T *)(uintptr_t)t[1]; \
        int32_t n = dims[nd - 1], sx = xs[nd - 1], sy = ys[nd - 1]; \
        int tiled = nd >= 2 && sy == 1 && xs[nd - 2] == 1 && sx != 1 && ys[nd - 2] != 0; \
        int32_t inner = tiled ? 2 : 1; \
        int32_t idx[6] = {0}; \
        ptrdiff_t xo = 0, yo = 0; \
        for (;;) { \
            const T *xr = x + xo; \
            T *yr = y + yo; \
            if (tiled) { \
                mg_transpose2d_##dt(yr, ys[nd - 2], xr, sx, dims[nd - 2], n); \
            } else if (sx == 1 && sy == 1) { \
                __builtin_memmove(yr, xr, (size_t)n * sizeof(T)); \
            } else if (sx == 0 && sy == 1) { \
                T v = xr[0]; \
                for (int32_t i = 0; i < n; i++) yr[i] = v; \
            } else { \
                for (int32_t i = 0; i < n; i++) yr[(ptrdiff_t)i * sy] = xr[(ptrdiff_t)i * sx]; \
            } \
            int32_t d = nd - 1 - inner; /* odometer over the outer dims */ \
            for (; d >= 0; d--) { \
                xo += xs[d]; yo += ys[d]; \
                if (++idx[d] < dims[d]) break; \
                xo -= (ptrdiff_t)xs[d] * dims[d]; yo -= (ptrdiff_t)ys[d] * dims[d]; idx[d] = 0; \
            } \
            if (d < 0) return 0; \
        } \
    }
MG_LAYOUT_TYPES(MG_COPY_ND)

/* ---- fill: Y[i] = value, i < n; ints: n, lo, hi (the value's bits: low 32, high 32) --------------- */
#define MG_FILL(dt, T) \
    MG_KERNEL_DEF(dt, fill) { \
        MG_CHECK_GOT(p[0] >= 0, MG_STR(dt) "_fill", "n must be >= 0", p[0]); \
        mg_fill_##dt((T *)(uintptr_t)t[0], p[0], mg_bits_##dt(p[1], p[2])); \
        return 0; \
    }
MG_LAYOUT_TYPES(MG_FILL)

/* ---- pad: Y (contiguous, out dims) = X (contiguous, in dims) shifted by begin[d] (may be < 0: crop),
 * the border filled by mode 0 constant (value bits lo, hi), 1 reflect, 2 edge, 3 wrap.
 * ints: mode, nd, lo, hi, in[6], out[6], begin[6] (nd <= 6 entries used). */
MG_INLINE int32_t mg_pad_map(int32_t s, int32_t n, int32_t mode) {
    if (s >= 0 && s < n) return s;
    if (mode == 0) return -1;
    if (mode == 2) return s < 0 ? 0 : n - 1;
    if (mode == 3) { int32_t m = s % n; return m < 0 ? m + n : m; }
    if (n == 1) return 0;
    int32_t period = 2 * (n - 1), m = s % period;
    if (m < 0) m += period;
    return m >= n ? period - m : m;
}

#define MG_PAD(dt, T) \
    MG_KERNEL_DEF(dt, pad) { \
        int32_t mode = p[0], nd = p[1]; \
        const int32_t *in = p + 4, *out = p + 10, *begin = p + 16; \
        MG_CHECK_GOT(mode >= 0 && mode <= 3, MG_STR(dt) "_pad", "mode must be in 0..3", mode); \
        MG_CHECK_GOT(nd >= 1 && nd <= 6, MG_STR(dt) "_pad", "nd must be in 1..6", nd); \
        int32_t empty = 0; \
        for (int32_t d = 0; d < nd; d++) { \
            MG_CHECK_GOT(in[d] >= 0 && out[d] >= 0, MG_STR(dt) "_pad", "dims must be >= 0", in[d] < 0 ? in[d] : out[d]); \
            if (out[d] == 0) return 0; \
            if (in[d] == 0) empty = 1; \
        } \
        MG_CHECK(!empty || mode == 0, MG_STR(dt) "_pad", "reflect/edge/wrap need a non-empty input"); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        T *y = (T *)(uintptr_t)t[1]; \
        T value = mg_bits_##dt(p[2], p[3]); \
        int32_t n_out = out[nd - 1], n_in = in[nd - 1], b = begin[nd - 1]; \
        int32_t lo = b < 0 ? 0 : b > n_out ? n_out : b; /* interior [lo, hi) */ \
        int32_t hi = b + n_in < n_out ? b + n_in : n_out; \
        if (hi < lo) hi = lo; \
        int32_t idx[6] = {0}; \
        for (;;) { \
            ptrdiff_t xo = 0; \
            int32_t outside = 0; \
            for (int32_t d = 0; d < nd - 1; d++) { \
                int32_t s = mg_pad_map(idx[d] - begin[d], in[d], mode); \
                if (s < 0) { outside = 1; break; } \
                xo = xo * in[d] + s; \
            } \
            if (outside || empty) { \
                mg_fill_##dt(y, n_out, value); \
            } else { \
                const T *xr = x + xo * n_in; \
                if (hi > lo) __builtin_memmove(y + lo, xr + (lo - b), (size_t)(hi - lo) * sizeof(T)); \
                if (mode == 0) { \
                    mg_fill_##dt(y, lo, value); \
                    mg_fill_##dt(y + hi, n_out - hi, value); \
                } else { \
                    for (int32_t j = 0; j < lo; j++) y[j] = xr[mg_pad_map(j - b, n_in, mode)]; \
                    for (int32_t j = hi; j < n_out; j++) y[j] = xr[mg_pad_map(j - b, n_in, mode)]; \
                } \
            } \
            y += n_out; \
            int32_t d = nd - 2; \
            for (; d >= 0; d--) { \
                if (++idx[d] < out[d]) break; \
                idx[d] = 0; \
            } \
            if (d < 0) return 0; \
        } \
    }
MG_LAYOUT_TYPES(MG_PAD)

/* ---- trilu: per matrix of [batch, rows, cols], keep j >= i + k (upper) or j <= i + k (lower), zero
 * elsewhere. ints: batch, rows, cols, k, upper. Y may be X (in place). */
#define MG_TRILU(dt, T) \
    MG_KERNEL_DEF(dt, trilu) { \
        int32_t batch = p[0], rows = p[1], cols = p[2], k = p[3], upper = p[4]; \
        MG_CHECK(batch >= 0 && rows >= 0 && cols >= 0, MG_STR(dt) "_trilu", "sizes must be >= 0"); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        T *y = (T *)(uintptr_t)t[1]; \
        for (int32_t b = 0; b < batch; b++) { \
            for (int32_t i = 0; i < rows; i++, x += cols, y += cols) { \
                int64_t e = (int64_t)i + k; /* the diagonal's column in this row */ \
                int32_t lo, hi; /* kept columns [lo, hi) */ \
                if (upper) { lo = e < 0 ? 0 : e > cols ? cols : (int32_t)e; hi = cols; } \
                else { lo = 0; hi = e < 0 ? 0 : e + 1 > cols ? cols : (int32_t)e + 1; } \
                if (hi > lo && y != x) __builtin_memmove(y + lo, x + lo, (size_t)(hi - lo) * sizeof(T)); \
                mg_fill_##dt(y, lo, 0); \
                mg_fill_##dt(y + hi, cols - hi, 0); \
            } \
        } \
        return 0; \
    }
MG_LAYOUT_TYPES(MG_TRILU)
