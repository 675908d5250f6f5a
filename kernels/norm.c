/* norm.c: normalisation kernels: batch norm (inference and training statistics), group norm (also
 * instance norm: one channel per group), layer norm over the last n elements, and LRN across channels.
 * Means and variances take two passes over the data (the mean, then squared deviations). */
#include "mg.h"
#include "mg_math.h"
#include "mg_rmath.h"

/* Sum of x[0..n) and sum of (x[i] - m)^2, 4 vector accumulators each. */
#define MG_NORM_HELPERS(dt, unused) \
    MG_INLINE mg_##dt##_t mg_nm_sum_##dt(const mg_##dt##_t *x, int32_t n) { \
        MG_TYPES(dt); \
        VT a0 = MG_SPLAT(VT, 0), a1 = a0, a2 = a0, a3 = a0; \
        int32_t i = 0; \
        for (; i + 4 * L <= n; i += 4 * L) { \
            a0 += MG_LOAD(VT, x + i); \
            a1 += MG_LOAD(VT, x + i + L); \
            a2 += MG_LOAD(VT, x + i + 2 * L); \
            a3 += MG_LOAD(VT, x + i + 3 * L); \
        } \
        for (; i + L <= n; i += L) a0 += MG_LOAD(VT, x + i); \
        a0 = (a0 + a1) + (a2 + a3); \
        T s = 0; \
        for (int k = 0; k < L; k++) s += a0[k]; \
        for (; i < n; i++) s += x[i]; \
        return s; \
    } \
    MG_INLINE mg_##dt##_t mg_nm_dev2_##dt(const mg_##dt##_t *x, int32_t n, mg_##dt##_t m) { \
        MG_TYPES(dt); \
        VT a0 = MG_SPLAT(VT, 0), a1 = a0, vm = MG_SPLAT(VT, m); \
        int32_t i = 0; \
        for (; i + 2 * L <= n; i += 2 * L) { \
            VT d0 = MG_LOAD(VT, x + i) - vm, d1 = MG_LOAD(VT, x + i + L) - vm; \
            a0 += d0 * d0; \
            a1 += d1 * d1; \
        } \
        for (; i + L <= n; i += L) { \
            VT d0 = MG_LOAD(VT, x + i) - vm; \
            a0 += d0 * d0; \
        } \
        a0 += a1; \
        T s = 0; \
        for (int k = 0; k < L; k++) s += a0[k]; \
        for (; i < n; i++) s += (x[i] - m) * (x[i] - m); \
        return s; \
    } \
    /* y[i] = (x[i] - m) * a + b */ \
    MG_INLINE void mg_nm_affine_##dt(const mg_##dt##_t *x, mg_##dt##_t *y, int32_t n, mg_##dt##_t m, \
                                     mg_##dt##_t a, mg_##dt##_t b) { \
        MG_TYPES(dt); \
        VT vm = MG_SPLAT(VT, m), va = MG_SPLAT(VT, a), vb = MG_SPLAT(VT, b); \
        int32_t i = 0; \
        for (; i + L <= n; i += L) MG_STORE(y + i, (MG_LOAD(VT, x + i) - vm) * va + vb); \
        for (; i < n; i++) y[i] = (x[i] - m) * a + b; \
    }
MG_FLOAT(MG_NORM_HELPERS, _)

#define MG_SQRT(T, v) ((T)__builtin_sqrt((double)(v)))

/* ---- batchnorm (inference): Y = (X - mean[c]) * scale[c] / sqrt(var[c] + eps) + bias[c] over [N, C, HW] */
#define MG_BATCHNORM(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t N = p[0], C = p[1], HW = p[2]; \
        T eps = (T)mg_f32_from_bits(p[3]); \
        MG_CHECK_GOT(N >= 0 && C >= 0 && HW >= 0, MG_NAME(dt, op), "N, C and HW must be >= 0", \
                     N < 0 ? N : C < 0 ? C : HW); \
        const T *x = (const T *)(uintptr_t)t[0], *sc = (const T *)(uintptr_t)t[1], *bi = (const T *)(uintptr_t)t[2]; \
        const T *mean = (const T *)(uintptr_t)t[3], *var = (const T *)(uintptr_t)t[4]; \
        T *y = (T *)(uintptr_t)t[5]; \
        for (int32_t c = 0; c < C; c++) { \
            T a = sc[c] / MG_SQRT(T, var[c] + eps); \
            for (int32_t n = 0; n < N; n++) { \
                ptrdiff_t off = ((ptrdiff_t)n * C + c) * HW; \
                mg_nm_affine_##dt(x + off, y + off, HW, mean[c], a, bi[c]); \
            } \
        } \
        return 0; \
    }
MG_FLOAT(MG_BATCHNORM, batchnorm)

/* ---- batchnorm (training): normalises with the batch statistics (population variance over N and HW)
 * and writes the running statistics mean_in * momentum + batch * (1 - momentum) (outputs optional). */
#define MG_BATCHNORM_TRAIN(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t N = p[0], C = p[1], HW = p[2]; \
        T eps = (T)mg_f32_from_bits(p[3]), mom = (T)mg_f32_from_bits(p[4]); \
        MG_CHECK_GOT(N >= 0 && C >= 0 && HW >= 0, MG_NAME(dt, op), "N, C and HW must be >= 0", \
                     N < 0 ? N : C < 0 ? C : HW); \
        const T *x = (const T *)(uintptr_t)t[0], *sc = (const T *)(uintptr_t)t[1], *bi = (const T *)(uintptr_t)t[2]; \
        const T *mean = (const T *)(uintptr_t)t[3], *var = (const T *)(uintptr_t)t[4]; \
        T *y = (T *)(uintptr_t)t[5], *rmean = (T *)(uintptr_t)t[6], *rvar = (T *)(uintptr_t)t[7]; \
        T cnt = (T)N * (T)HW; \
        for (int32_t c = 0; c < C; c++) { \
            T s = 0, d = 0; \
            for (int32_t n = 0; n < N; n++) s += mg_nm_sum_##dt(x + ((ptrdiff_t)n * C + c) * HW, HW); \
            T m = s / cnt; \
            for (int32_t n = 0; n < N; n++) d += mg_nm_dev2_##dt(x + ((ptrdiff_t)n * C + c) * HW, HW, m); \
            T v = d / cnt; \
            T a = sc[c] / MG_SQRT(T, v + eps); \
            for (int32_t n = 0; n < N; n++) { \
                ptrdiff_t off = ((ptrdiff_t)n * C + c) * HW; \
                mg_nm_affine_##dt(x + off, y + off, HW, m, a, bi[c]); \
            } \
            if (rmean) rmean[c] = mean[c] * mom + m * (1 - mom); \
            if (rvar) rvar[c] = var[c] * mom + v * (1 - mom); \
        } \
        return 0; \
    }
MG_FLOAT(MG_BATCHNORM_TRAIN, batchnorm_train)

/* ---- groupnorm over [N, C, HW] with G groups of C/G channels: each group's block of (C/G) * HW values is
 * normalised, then scaled and shifted per channel (per_channel 1) or per group (0). */
#define MG_GROUPNORM(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t N = p[0], C = p[1], HW = p[2], G = p[3], per_channel = p[5]; \
        T eps = (T)mg_f32_from_bits(p[4]); \
        MG_CHECK_GOT(N >= 0 && C >= 0 && HW >= 0, MG_NAME(dt, op), "N, C and HW must be >= 0", \
                     N < 0 ? N : C < 0 ? C : HW); \
        MG_CHECK_GOT(G >= 1 && C % G == 0, MG_NAME(dt, op), "G must be >= 1 and divide C", G); \
        MG_CHECK_GOT(per_channel == 0 || per_channel == 1, MG_NAME(dt, op), "per_channel must be 0 or 1", \
                     per_channel); \
        const T *x = (const T *)(uintptr_t)t[0], *sc = (const T *)(uintptr_t)t[1], *bi = (const T *)(uintptr_t)t[2]; \
        T *y = (T *)(uintptr_t)t[3]; \
        int32_t Cg = C / G; \
        ptrdiff_t blk = (ptrdiff_t)Cg * HW; \
        for (int32_t n = 0; n < N; n++) { \
            for (int32_t g = 0; g < G; g++) { \
                const T *xb = x + ((ptrdiff_t)n * C + (ptrdiff_t)g * Cg) * HW; \
                T *yb = y + ((ptrdiff_t)n * C + (ptrdiff_t)g * Cg) * HW; \
                T m = mg_nm_sum_##dt(xb, (int32_t)blk) / (T)blk; \
                T v = mg_nm_dev2_##dt(xb, (int32_t)blk, m) / (T)blk; \
                T inv = 1 / MG_SQRT(T, v + eps); \
                for (int32_t cc = 0; cc < Cg; cc++) { \
                    int32_t k = per_channel ? g * Cg + cc : g; \
                    mg_nm_affine_##dt(xb + (ptrdiff_t)cc * HW, yb + (ptrdiff_t)cc * HW, HW, m, inv * sc[k], bi[k]); \
                } \
            } \
        } \
        return 0; \
    }
MG_FLOAT(MG_GROUPNORM, groupnorm)

/* ---- layernorm over rows of n: Y = (X - mean) / sqrt(var + eps) * W + B, W and B of n values (stride 1)
 * or one (stride 0), B optional; Mean and InvStd ([outer], optional) get each row's statistics. */
#define MG_LAYERNORM(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t outer = p[0], n = p[1], ws = p[2], bs = p[3]; \
        T eps = (T)mg_f32_from_bits(p[4]); \
        MG_CHECK_GOT(outer >= 0 && n >= 0, MG_NAME(dt, op), "outer and n must be >= 0", outer < 0 ? outer : n); \
        MG_CHECK_GOT((ws == 0 || ws == 1) && (bs == 0 || bs == 1), MG_NAME(dt, op), "strides must be 0 or 1", \
                     ws == 0 || ws == 1 ? bs : ws); \
        const T *x = (const T *)(uintptr_t)t[0], *w = (const T *)(uintptr_t)t[1], *b = (const T *)(uintptr_t)t[2]; \
        T *y = (T *)(uintptr_t)t[3], *mean_out = (T *)(uintptr_t)t[4], *inv_out = (T *)(uintptr_t)t[5]; \
        const T zero = 0; \
        if (!b) { b = &zero; bs = 0; } \
        for (int32_t o = 0; o < outer; o++) { \
            const T *xr = x + (ptrdiff_t)o * n; \
            T *yr = y + (ptrdiff_t)o * n; \
            T m = n ? mg_nm_sum_##dt(xr, n) / (T)n : (T)0; \
            T v = n ? mg_nm_dev2_##dt(xr, n, m) / (T)n : (T)0; \
            T inv = 1 / MG_SQRT(T, v + eps); \
            if (mean_out) mean_out[o] = m; \
            if (inv_out) inv_out[o] = inv; \
            VT vm = MG_SPLAT(VT, m), vi = MG_SPLAT(VT, inv), w0 = MG_SPLAT(VT, w[0]), b0 = MG_SPLAT(VT, b[0]); \
            int32_t i = 0; \
            for (; i + L <= n; i += L) { \
                VT wv = ws ? MG_LOAD(VT, w + i) : w0, bv = bs ? MG_LOAD(VT, b + i) : b0; \
                MG_STORE(yr + i, (MG_LOAD(VT, xr + i) - vm) * vi * wv + bv); \
            } \
            for (; i < n; i++) yr[i] = (xr[i] - m) * inv * w[ws ? i : 0] + b[bs ? i : 0]; \
        } \
        return 0; \
    }
MG_FLOAT(MG_LAYERNORM, layernorm)

/* ---- LRN across channels of [N, C, HW]: Y = X / (bias + alpha / size * sum of X^2 over the channels
 * [c - (size-1)/2, c + ceil((size-1)/2)]) ^ beta; the power as exp(-beta log(base)) (log 0 = -inf). */
#define MG_LRN(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t N = p[0], C = p[1], HW = p[2], size = p[3]; \
        T alpha = (T)mg_f32_from_bits(p[4]), beta = (T)mg_f32_from_bits(p[5]), bias = (T)mg_f32_from_bits(p[6]); \
        MG_CHECK_GOT(N >= 0 && C >= 0 && HW >= 0, MG_NAME(dt, op), "N, C and HW must be >= 0", \
                     N < 0 ? N : C < 0 ? C : HW); \
        MG_CHECK_GOT(size >= 1, MG_NAME(dt, op), "size must be >= 1", size); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        T *y = (T *)(uintptr_t)t[1]; \
        int32_t lo_off = (size - 1) / 2, hi_off = size / 2; /* floor and ceil of (size-1)/2 */ \
        T k = alpha / (T)size; \
        VT vk = MG_SPLAT(VT, k), vbias = MG_SPLAT(VT, bias), vnb = MG_SPLAT(VT, -beta); \
        for (int32_t n = 0; n < N; n++) { \
            const T *xn = x + (ptrdiff_t)n * C * HW; \
            T *yn = y + (ptrdiff_t)n * C * HW; \
            for (int32_t c = 0; c < C; c++) { \
                int32_t c0 = c - lo_off < 0 ? 0 : c - lo_off, c1 = c + hi_off >= C ? C - 1 : c + hi_off; \
                int32_t j = 0; \
                for (; j + L <= HW; j += L) { \
                    VT s = MG_SPLAT(VT, 0); \
                    for (int32_t q = c0; q <= c1; q++) { \
                        VT v = MG_LOAD(VT, xn + (ptrdiff_t)q * HW + j); \
                        s += v * v; \
                    } \
                    VT base = vbias + vk * s; \
                    VT lg = mg_vlog_##dt(base); \
                    lg = MG_SELECT(base == 0, MG_SPLAT(VT, -__builtin_inf()), lg); \
                    lg = MG_SELECT(base < 0, MG_SPLAT(VT, __builtin_nan("")), lg); \
                    MG_STORE(yn + (ptrdiff_t)c * HW + j, MG_LOAD(VT, xn + (ptrdiff_t)c * HW + j) * mg_vexp_##dt(vnb * lg)); \
                } \
                for (; j < HW; j++) { \
                    T s = 0; \
                    for (int32_t q = c0; q <= c1; q++) s += xn[(ptrdiff_t)q * HW + j] * xn[(ptrdiff_t)q * HW + j]; \
                    T base = bias + k * s; \
                    yn[(ptrdiff_t)c * HW + j] = xn[(ptrdiff_t)c * HW + j] * (T)mg_rx_pow((double)base, -(double)beta); \
                } \
            } \
        } \
        return 0; \
    }
MG_FLOAT(MG_LRN, lrn)
