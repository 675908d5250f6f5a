/* resize.c: Resize (ONNX), nearest over up to 6 dims (any element size) and bilinear over the last two
 * dims (f32, f64). Source coordinates follow onnx's reference (computed in f64 from the f64 scale the
 * host passes as two ints); per-axis tables go to the scratch tensor first. */
#include "mg.h"
#include "mg_layout.h"

/* coordinate_transformation_mode */
enum { MG_HALF_PIXEL, MG_ASYMMETRIC, MG_ALIGN_CORNERS, MG_PYTORCH_HALF_PIXEL, MG_TF_HALF_PIXEL_FOR_NN,
       MG_TF_CROP_AND_RESIZE, MG_HALF_PIXEL_SYMMETRIC, MG_N_COORD_MODES };

MG_INLINE double mg_f64_from_bits(int32_t lo, int32_t hi) {
    uint64_t u = ((uint64_t)(uint32_t)hi << 32) | (uint32_t)lo;
    double d;
    __builtin_memcpy(&d, &u, sizeof d);
    return d;
}

/* Per axis: in, out, scale (f64 bits lo, hi), roi start, roi end (f64 bits). */
typedef struct { int32_t in, out; double scale, r0, r1; } mg_axis;

MG_INLINE mg_axis mg_axis_at(const int32_t *q) {
    mg_axis a = {q[0], q[1], mg_f64_from_bits(q[2], q[3]), mg_f64_from_bits(q[4], q[5]), mg_f64_from_bits(q[6], q[7])};
    return a;
}

/* The source coordinate of output index x (onnx reference's _compute_x_ori); *ext set when it falls outside
 * the input in tf_crop_and_resize. */
static double mg_resize_coord(int32_t mode, int32_t x, const mg_axis *a, int32_t *ext) {
    /* ow: the spec's length_resized = scale * in, fractional when a scale does not divide (onnx's reference;
     * onnxruntime uses the integer output length there: they agree whenever scale * in is whole) */
    double y = (double)x, in = (double)a->in, ow = a->scale * in, r;
    *ext = 0;
    switch (mode) {
    case MG_ASYMMETRIC: return y / a->scale;
    case MG_ALIGN_CORNERS: return ow == 1 ? 0.0 : y * (in - 1) / (ow - 1);
    case MG_PYTORCH_HALF_PIXEL: return ow == 1 ? -0.5 : (y + 0.5) / a->scale - 0.5;
    case MG_TF_HALF_PIXEL_FOR_NN: return (y + 0.5) / a->scale;
    case MG_TF_CROP_AND_RESIZE:
        r = ow == 1 ? (a->r1 - a->r0) * (in - 1) / 2 : y * (a->r1 - a->r0) * (in - 1) / (ow - 1);
        r = r + a->r0 * (in - 1);
        *ext = r < 0 || r > in - 1;
        return r;
    case MG_HALF_PIXEL_SYMMETRIC: {
        double adjustment = (double)a->out / ow, center = in / 2;
        return center * (1 - adjustment) + (y + 0.5) / a->scale - 0.5;
    }
    default: return (y + 0.5) / a->scale - 0.5;
    }
}

/* floor(v) clamped to [-1, n] (so that the conversion to int cannot trap on huge or NaN values). */
MG_INLINE int32_t mg_floor_clamped(double v, int32_t n) {
    double f = __builtin_floor(v);
    if (!(f >= -1)) return -1;
    if (f > n) return n;
    return (int32_t)f;
}

MG_INLINE int32_t mg_clampi(int32_t i, int32_t n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

/* An axis the reference skips: same size, scale 1, the whole roi. */
MG_INLINE int mg_axis_identity(const mg_axis *a) {
    return a->in == a->out && a->scale == 1 && a->r0 == 0 && a->r1 == 1;
}

/* nearest_mode: 0 round_prefer_floor, 1 round_prefer_ceil, 2 floor, 3 ceil, 4 "simple" (opset < 11: ceil
 * when downsampling, else floor). -1 marks an extrapolated position. */
static void mg_nearest_table(int32_t *tab, const mg_axis *a, int32_t cmode, int32_t nmode) {
    for (int32_t x = 0; x < a->out; x++) {
        if (mg_axis_identity(a)) { tab[x] = x; continue; }
        int32_t ext;
        double v = mg_resize_coord(cmode, x, a, &ext);
        int32_t f = mg_floor_clamped(v, a->in);
        double frac = v - __builtin_floor(v);
        int32_t i = f;
        if (frac > 0 && f >= 0 && f < a->in) {
            int up = nmode == 0 ? frac > 0.5 : nmode == 1 ? frac >= 0.5 : nmode == 4 ? a->scale < 1 : nmode == 3;
            i = f + up;
        }
        tab[x] = ext ? -1 : mg_clampi(i, a->in);
    }
}

#define MG_CHECK_AXIS(a, NAME) \
    MG_CHECK((a).in >= 1 && (a).out >= 0 && (a).scale > 0, NAME, "axis sizes must be >= 1 and scales > 0")

/* ---- resize_nearest: tensors X, Scratch (sum(out) int32), Y; ints: nd, coord_mode, nearest_mode,
 * extrapolation value bits (lo, hi), then per dim (nd <= 6 of 6 slots): in, out, scale (f64 lo, hi),
 * roi start (f64 lo, hi), roi end (f64 lo, hi). X and Y contiguous. */
#define MG_RESIZE_NEAREST(dt, T) \
    MG_KERNEL_DEF(dt, resize_nearest) { \
        int32_t nd = p[0], cmode = p[1], nmode = p[2]; \
        MG_CHECK_GOT(nd >= 1 && nd <= 6, MG_STR(dt) "_resize_nearest", "nd must be in 1..6", nd); \
        MG_CHECK_GOT(cmode >= 0 && cmode < MG_N_COORD_MODES, MG_STR(dt) "_resize_nearest", "bad coordinate mode", cmode); \
        MG_CHECK_GOT(nmode >= 0 && nmode <= 4, MG_STR(dt) "_resize_nearest", "bad nearest mode", nmode); \
        T ext = mg_bits_##dt(p[3], p[4]); \
        mg_axis ax[6]; \
        int32_t *tab[6], *s = (int32_t *)(uintptr_t)t[1]; \
        ptrdiff_t xstride[6]; \
        for (int32_t d = 0; d < nd; d++) { \
            ax[d] = mg_axis_at(p + 5 + 8 * d); \
            MG_CHECK_AXIS(ax[d], MG_STR(dt) "_resize_nearest"); \
            if (ax[d].out == 0) return 0; \
        } \
        for (int32_t d = nd - 1; d >= 0; d--) xstride[d] = d == nd - 1 ? 1 : xstride[d + 1] * ax[d + 1].in; \
        for (int32_t d = 0; d < nd; d++) { \
            tab[d] = s; \
            mg_nearest_table(s, &ax[d], cmode, nmode); \
            s += ax[d].out; \
        } \
        const T *x = (const T *)(uintptr_t)t[0]; \
        T *y = (T *)(uintptr_t)t[2]; \
        int32_t idx[6] = {0}, n = ax[nd - 1].out; \
        const int32_t *last = tab[nd - 1]; \
        for (;;) { \
            ptrdiff_t xo = 0; \
            int32_t outside = 0; \
            for (int32_t d = 0; d < nd - 1; d++) { \
                int32_t i = tab[d][idx[d]]; \
                if (i < 0) outside = 1; \
                xo += (ptrdiff_t)i * xstride[d]; \
            } \
            if (outside) { \
                mg_fill_##dt(y, n, ext); \
            } else { \
                const T *xr = x + xo; \
                for (int32_t j = 0; j < n; j++) y[j] = last[j] < 0 ? ext : xr[last[j]]; \
            } \
            y += n; \
            int32_t d = nd - 2; \
            for (; d >= 0; d--) { \
                if (++idx[d] < ax[d].out) break; \
                idx[d] = 0; \
            } \
            if (d < 0) return 0; \
        } \
    }
MG_LAYOUT_TYPES(MG_RESIZE_NEAREST)

/* ---- resize_linear: Y [B, OH, OW] bilinear from X [B, H, W]; tensors X, Scratch ((OH + OW) * 16 bytes), Y;
 * ints: B, H, W, OH, OW, coord_mode, extrapolation value (f32 bits), then for H and W: scale (f64 lo, hi),
 * roi start (f64 lo, hi), roi end (f64 lo, hi). */
#define MG_RESIZE_LINEAR(dt, ...) \
    static void mg_linear_table_##dt(int32_t *i0, int32_t *i1, mg_##dt##_t *w, const mg_axis *a, int32_t cmode) { \
        for (int32_t x = 0; x < a->out; x++) { \
            if (mg_axis_identity(a)) { i0[x] = i1[x] = x; w[x] = 0; continue; } \
            int32_t ext; \
            double v = mg_resize_coord(cmode, x, a, &ext); \
            int32_t f = mg_floor_clamped(v, a->in); \
            double frac = v - __builtin_floor(v); \
            if (!(frac >= 0 && frac < 1) || f < 0 || f >= a->in - 1) frac = 0; /* clamped: both taps equal */ \
            i0[x] = ext ? -1 : mg_clampi(f, a->in); \
            i1[x] = mg_clampi(f + 1, a->in); \
            w[x] = (mg_##dt##_t)frac; \
            if (f < 0) i1[x] = i0[x]; \
        } \
    } \
    MG_KERNEL_DEF(dt, resize_linear) { \
        MG_TYPES(dt); \
        int32_t B = p[0], H = p[1], W = p[2], OH = p[3], OW = p[4], cmode = p[5]; \
        T ext = (T)mg_f32_from_bits(p[6]); \
        MG_CHECK(B >= 0 && H >= 1 && W >= 1 && OH >= 0 && OW >= 0, MG_NAME(dt, resize_linear), "sizes must be >= 0 (H, W >= 1)"); \
        MG_CHECK_GOT(cmode >= 0 && cmode < MG_N_COORD_MODES, MG_NAME(dt, resize_linear), "bad coordinate mode", cmode); \
        mg_axis ah = {H, OH, mg_f64_from_bits(p[7], p[8]), mg_f64_from_bits(p[9], p[10]), mg_f64_from_bits(p[11], p[12])}; \
        mg_axis aw = {W, OW, mg_f64_from_bits(p[13], p[14]), mg_f64_from_bits(p[15], p[16]), mg_f64_from_bits(p[17], p[18])}; \
        MG_CHECK_AXIS(ah, MG_NAME(dt, resize_linear)); \
        MG_CHECK_AXIS(aw, MG_NAME(dt, resize_linear)); \
        int32_t *h0 = (int32_t *)(uintptr_t)t[1], *h1 = h0 + OH, *w0 = h1 + OH, *w1 = w0 + OW; \
        T *wh = (T *)(void *)(w1 + OW), *ww = wh + OH; \
        mg_linear_table_##dt(h0, h1, wh, &ah, cmode); \
        mg_linear_table_##dt(w0, w1, ww, &aw, cmode); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        T *y = (T *)(uintptr_t)t[2]; \
        for (int32_t b = 0; b < B; b++, x += (ptrdiff_t)H * W) { \
            for (int32_t oh = 0; oh < OH; oh++, y += OW) { \
                if (h0[oh] < 0) { for (int32_t j = 0; j < OW; j++) y[j] = ext; continue; } \
                const T *r0 = x + (ptrdiff_t)h0[oh] * W, *r1 = x + (ptrdiff_t)h1[oh] * W; \
                T a = wh[oh], a1 = 1 - a; \
                for (int32_t j = 0; j < OW; j++) { \
                    int32_t c0 = w0[j], c1 = w1[j]; \
                    if (c0 < 0) { y[j] = ext; continue; } \
                    T v0 = a1 * r0[c0] + a * r1[c0], v1 = a1 * r0[c1] + a * r1[c1], c = ww[j]; \
                    y[j] = (1 - c) * v0 + c * v1; \
                } \
            } \
        } \
        return 0; \
    }
MG_FLOAT(MG_RESIZE_LINEAR, _)
