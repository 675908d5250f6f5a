/* mg_gemm.h: the pieces of the packed GEMM shared by gemm.c and conv.c's im2col path: the MR x NR
 * micro-kernel, A/B packing, the small-M paths, and the epilogue (alpha, beta * C or a bias, then an
 * activation). See gemm.c for the blocking. */
#ifndef MG_GEMM_H
#define MG_GEMM_H

#include "mg.h"
#include "mg_math.h"

/* Fused activations (the `act` int of gemm and conv2d): 0 none, 1 relu, 2 clip(a, b), 3 sigmoid,
 * 4 hardswish x * clip(x / 6 + 1/2, 0, 1), 5 gelu 0.5 x (1 + erf(x / sqrt 2)), 6 leakyrelu (x < 0 ? a x : x).
 * a and b come as float32 bits (act_alpha_bits, act_beta_bits). NaN passes through every one. */
enum { MG_ACT_NONE, MG_ACT_RELU, MG_ACT_CLIP, MG_ACT_SIGMOID, MG_ACT_HARDSWISH, MG_ACT_GELU, MG_ACT_LEAKYRELU,
       MG_ACT_COUNT };
typedef struct {
    int32_t code;
    float a, b;
} mg_act;

/* fn(args..., ACT, act) with ACT the literal act->code (0..6; anything else as 6): one copy of an inlined
 * kernel per activation, whose switch over ACT folds away. */
#define MG_BY_ACT(act, fn, ...) \
    switch ((act)->code) { \
    case 0: fn(__VA_ARGS__, 0, act); break; \
    case 1: fn(__VA_ARGS__, 1, act); break; \
    case 2: fn(__VA_ARGS__, 2, act); break; \
    case 3: fn(__VA_ARGS__, 3, act); break; \
    case 4: fn(__VA_ARGS__, 4, act); break; \
    case 5: fn(__VA_ARGS__, 5, act); break; \
    default: fn(__VA_ARGS__, 6, act); break; \
    }

MG_INLINE mg_act mg_act_from(int32_t code, int32_t a_bits, int32_t b_bits) {
    mg_act r = {code, mg_f32_from_bits(a_bits), mg_f32_from_bits(b_bits)};
    return r;
}

/* erf for the GELU epilogue. f32: erf(x) = x P(x^2) / Q(x^2) on |x| <= 4 (x clamped there; erf(4) rounds
 * to 1 in f32), P degree 6 and Q degree 4 in x^2, fitted for relative error (max 3.7e-7 evaluated in f32
 * over (0, 4], /tmp fit by weighted least squares against math.erf), the result clamped to [-1, 1]: ~20
 * vector ops and one division, several times cheaper than mg_verf_f32's two exps. f64: mg_verf_f64. */
static const float mg_gelu_erf_p[] = {0x1.20dd74p+0f, 0x1.a82338p-3f, 0x1.a60ff6p-5f, 0x1.057444p-8f,
                                      0x1.34d5ccp-13f, -0x1.04b1acp-19f, 0x1.485c96p-26f};
static const float mg_gelu_erf_q[] = {1.0f, 0x1.08a2dap-1f, 0x1.e329a2p-4f, 0x1.ea1232p-7f, 0x1.0b9cc2p-10f};
MG_INLINE mg_f32_vt mg_vgelu_erf_f32(mg_f32_vt x) {
    typedef mg_f32_vt VT;
    VT xc = MG_PMIN(MG_PMAX(x, MG_SPLAT(VT, -4.0f)), MG_SPLAT(VT, 4.0f)); /* NaN passes */
    VT z = xc * xc;
    VT p = MG_SPLAT(VT, mg_gelu_erf_p[6]), q = MG_SPLAT(VT, mg_gelu_erf_q[4]);
    for (int k = 5; k >= 0; k--) p = p * z + mg_gelu_erf_p[k];
    for (int k = 3; k >= 0; k--) q = q * z + mg_gelu_erf_q[k];
    VT r = xc * p / q;
    return MG_PMIN(MG_PMAX(r, MG_SPLAT(VT, -1.0f)), MG_SPLAT(VT, 1.0f));
}
MG_INLINE mg_f64_vt mg_vgelu_erf_f64(mg_f64_vt x) { return mg_verf_f64(x); }

#define MG_DEFINE_ACT(dt, ...) \
    MG_INLINE mg_##dt##_vt mg_vact_##dt(mg_##dt##_vt x, const mg_act *act) { \
        MG_TYPES(dt); \
        switch (act->code) { \
        case MG_ACT_RELU: return (VT)wasm_v128_andnot((v128_t)x, (v128_t)(x < 0)); \
        case MG_ACT_CLIP: return MG_PMIN(MG_PMAX(x, MG_SPLAT(VT, act->a)), MG_SPLAT(VT, act->b)); \
        case MG_ACT_SIGMOID: return mg_vsigmoid_##dt(x); \
        case MG_ACT_HARDSWISH: \
            return x * MG_PMIN(MG_PMAX(x * (T)(1.0 / 6) + (T)0.5, MG_SPLAT(VT, 0)), MG_SPLAT(VT, 1)); \
        case MG_ACT_GELU: return (T)0.5 * x * (1 + mg_vgelu_erf_##dt(x * (T)0.70710678118654752440)); \
        case MG_ACT_LEAKYRELU: return MG_SELECT(x < 0, x * (T)act->a, x); \
        default: return x; \
        } \
    } \
    /* y[0:n] = act(y[0:n]) */ \
    static void mg_act_row_##dt(mg_##dt##_t *y, int32_t n, const mg_act *act) { \
        MG_TYPES(dt); \
        if (act->code == MG_ACT_NONE) return; \
        int32_t j = 0; \
        for (; j + L <= n; j += L) MG_STORE(y + j, mg_vact_##dt(MG_LOAD(VT, y + j), act)); \
        for (; j < n; j++) y[j] = mg_vact_##dt(MG_SPLAT(VT, y[j]), act)[0]; \
    }
MG_FLOAT(MG_DEFINE_ACT, _)

#define MG_GEMM_MR 4
#define MG_GEMM_NV 2 /* vectors per tile row: NR = 2 * lanes (8 for f32, 4 for f64) */
#define MG_GEMM_KC 128
#define MG_GEMM_NP 2 /* B panels packed per pass */
#define MG_GEMM_A_BYTES 32768 /* packed A block: MC = 64 rows (f32), 32 (f64) */

/* In-register transpose of a 4 x 4 block of 32-bit lanes, or a 2 x 2 block of 64-bit lanes. */
MG_INLINE void mg_transpose_4x32(v128_t r[4]) {
    v128_t t0 = wasm_i32x4_shuffle(r[0], r[1], 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r[0], r[1], 2, 6, 3, 7);
    v128_t t2 = wasm_i32x4_shuffle(r[2], r[3], 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r[2], r[3], 2, 6, 3, 7);
    r[0] = wasm_i64x2_shuffle(t0, t2, 0, 2);
    r[1] = wasm_i64x2_shuffle(t0, t2, 1, 3);
    r[2] = wasm_i64x2_shuffle(t1, t3, 0, 2);
    r[3] = wasm_i64x2_shuffle(t1, t3, 1, 3);
}
MG_INLINE void mg_transpose_2x64(v128_t r[4]) {
    v128_t t0 = wasm_i64x2_shuffle(r[0], r[1], 0, 2), t1 = wasm_i64x2_shuffle(r[0], r[1], 1, 3);
    r[0] = t0;
    r[1] = t1;
}

#define MG_GEMM_PARTS(dt, ...) \
    /* The micro-kernel with B read in place: bp[k*bs + v*L] (bs = N for an unpacked row-major B, whose \
     * NR columns from j0 are all inside). */ \
    MG_INLINE void mg_gemm_ukr_bs_##dt(int32_t kb, const mg_##dt##_t *ap, const mg_##dt##_t *bp, ptrdiff_t bs, \
                                       mg_##dt##_vt acc[MG_GEMM_MR][MG_GEMM_NV]) { \
        MG_TYPES(dt); \
        enum { MR = MG_GEMM_MR }; \
        VT c00 = acc[0][0], c01 = acc[0][1], c10 = acc[1][0], c11 = acc[1][1]; \
        VT c20 = acc[2][0], c21 = acc[2][1], c30 = acc[3][0], c31 = acc[3][1]; \
        for (int32_t k = 0; k < kb; k++) { \
            VT b0 = MG_LOAD(VT, bp), b1 = MG_LOAD(VT, bp + L); \
            VT a01 = MG_LOAD(VT, ap), a23 = MG_LOAD(VT, ap + (L == 4 ? 0 : 2)); \
            bp += bs; \
            ap += MR; \
            VT x0 = MG_SPLAT(VT, a01[0]), x1 = MG_SPLAT(VT, a01[1]); \
            VT x2 = MG_SPLAT(VT, L == 4 ? a01[2 % L] : a23[0]), x3 = MG_SPLAT(VT, L == 4 ? a01[3 % L] : a23[1]); \
            c00 += x0 * b0; c01 += x0 * b1; c10 += x1 * b0; c11 += x1 * b1; \
            c20 += x2 * b0; c21 += x2 * b1; c30 += x3 * b0; c31 += x3 * b1; \
        } \
        acc[0][0] = c00; acc[0][1] = c01; acc[1][0] = c10; acc[1][1] = c11; \
        acc[2][0] = c20; acc[2][1] = c21; acc[3][0] = c30; acc[3][1] = c31; \
    } \
    \
    /* acc[r][v] = sum_k ap[k][r] * bp[k][v*L : v*L + L]: the micro-kernel on packed panels. */ \
    MG_INLINE void mg_gemm_ukr_##dt(int32_t kb, const mg_##dt##_t *ap, const mg_##dt##_t *bp, \
                                    mg_##dt##_vt acc[MG_GEMM_MR][MG_GEMM_NV]) { \
        for (int r = 0; r < MG_GEMM_MR; r++) \
            for (int v = 0; v < MG_GEMM_NV; v++) acc[r][v] = (mg_##dt##_vt){0}; \
        mg_gemm_ukr_bs_##dt(kb, ap, bp, MG_GEMM_NV * mg_##dt##_lanes, acc); \
    } \
    \
    /* Writes rows [0, rows) of a full MR x NR tile: y[r*ldy + :NR] = act(acc[r]) (the bias is already in \
     * acc); ACT is a constant after inlining, so the activation's switch folds away. */ \
    MG_INLINE void mg_gemm_put_##dt(mg_##dt##_t *y, ptrdiff_t ldy, int32_t rows, mg_##dt##_vt acc[MG_GEMM_MR][MG_GEMM_NV], \
                                    const int ACT, const mg_act *act) { \
        MG_TYPES(dt); \
        mg_act ka = {ACT, act->a, act->b}; \
        for (int r = 0; r < MG_GEMM_MR; r++) { \
            if (r >= rows) break; \
            for (int v = 0; v < MG_GEMM_NV; v++) MG_STORE(y + r * ldy + v * L, mg_vact_##dt(acc[r][v], &ka)); \
        } \
    } \
    /* Accumulators starting at the per-row bias beta*c[i*crs] (c may be 0) for rows i0.. of the tile; rows \
     * past M read the last row. */ \
    MG_INLINE void mg_gemm_acc_bias_##dt(mg_##dt##_vt acc[MG_GEMM_MR][MG_GEMM_NV], const mg_##dt##_t *c, ptrdiff_t crs, \
                                         mg_##dt##_t beta, int32_t rows) { \
        MG_TYPES(dt); \
        for (int r = 0; r < MG_GEMM_MR; r++) { \
            VT v0 = MG_SPLAT(VT, c ? beta * c[(r < rows ? r : rows - 1) * crs] : 0); \
            for (int v = 0; v < MG_GEMM_NV; v++) acc[r][v] = v0; \
        } \
    } \
    \
    /* The first nc columns of rows [0, rows) of a tile: put with ACT (nc < NR: through a buffer). */ \
    MG_INLINE void mg_gemm_put_part_##dt(mg_##dt##_t *y, ptrdiff_t ldy, int32_t rows, int32_t nc, \
                                         mg_##dt##_vt acc[MG_GEMM_MR][MG_GEMM_NV], const int ACT, const mg_act *act) { \
        MG_TYPES(dt); \
        mg_act ka = {ACT, act->a, act->b}; \
        T tmp[MG_GEMM_NV * L]; \
        for (int r = 0; r < rows; r++) { \
            for (int v = 0; v < MG_GEMM_NV; v++) MG_STORE(tmp + v * L, mg_vact_##dt(acc[r][v], &ka)); \
            for (int32_t j = 0; j < nc; j++) y[r * ldy + j] = tmp[j]; \
        } \
    } \
    /* acc = the tile's first nc columns of rows [0, rows) of y (zeros elsewhere). */ \
    MG_INLINE void mg_gemm_get_##dt(const mg_##dt##_t *y, ptrdiff_t ldy, int32_t rows, int32_t nc, \
                                    mg_##dt##_vt acc[MG_GEMM_MR][MG_GEMM_NV]) { \
        MG_TYPES(dt); \
        for (int r = 0; r < MG_GEMM_MR; r++) { \
            if (r < rows && nc == MG_GEMM_NV * L) { \
                for (int v = 0; v < MG_GEMM_NV; v++) acc[r][v] = MG_LOAD(VT, y + r * ldy + v * L); \
            } else { \
                T tmp[MG_GEMM_NV * L] = {0}; \
                for (int32_t j = 0; r < rows && j < nc; j++) tmp[j] = y[r * ldy + j]; \
                for (int v = 0; v < MG_GEMM_NV; v++) acc[r][v] = MG_LOAD(VT, tmp + v * L); \
            } \
        } \
    } \
    \
    /* Accumulators starting at beta * C for a tile whose element (r, j) of C is c[r*crs + j*ccs] (c may \
     * be 0: zeros); rows past `rows` repeat the last row, columns past nc are 0. */ \
    MG_INLINE void mg_gemm_acc_c_##dt(mg_##dt##_vt acc[MG_GEMM_MR][MG_GEMM_NV], const mg_##dt##_t *c, ptrdiff_t crs, \
                                      ptrdiff_t ccs, mg_##dt##_t beta, int32_t rows, int32_t nc) { \
        MG_TYPES(dt); \
        if (!c || ccs == 0) { mg_gemm_acc_bias_##dt(acc, c, crs, beta, rows); return; } \
        for (int r = 0; r < MG_GEMM_MR; r++) { \
            const T *cr = c + (r < rows ? r : rows - 1) * crs; \
            if (ccs == 1 && nc == MG_GEMM_NV * L) { \
                for (int v = 0; v < MG_GEMM_NV; v++) acc[r][v] = beta * MG_LOAD(VT, cr + v * L); \
            } else { \
                T tmp[MG_GEMM_NV * L] = {0}; \
                for (int32_t j = 0; j < nc; j++) tmp[j] = beta * cr[j * ccs]; \
                for (int v = 0; v < MG_GEMM_NV; v++) acc[r][v] = MG_LOAD(VT, tmp + v * L); \
            } \
        } \
    } \
    /* Small M with trans_b: each Y element is a dot product of two contiguous rows, A(i, :) and \
     * B^T(j, :); NR of them at a time, SIMD along k, no packing. acc gets the NR sums. */ \
    static void mg_gemm_dot_##dt(int32_t K, const mg_##dt##_t *a, const mg_##dt##_t *bt, int32_t nc, \
                                 mg_##dt##_vt acc[MG_GEMM_NV]) { \
        MG_TYPES(dt); \
        enum { NR = MG_GEMM_NV * L }; \
        VT s[NR]; \
        T out[NR]; \
        for (int j = 0; j < NR; j++) s[j] = MG_SPLAT(VT, 0); \
        int32_t k = 0; \
        if (nc == NR) { \
            for (; k + L <= K; k += L) { \
                VT va = MG_LOAD(VT, a + k); \
                for (int j = 0; j < NR; j++) s[j] += va * MG_LOAD(VT, bt + (ptrdiff_t)j * K + k); \
            } \
        } \
        for (int j = 0; j < NR; j++) { \
            T r = 0; \
            for (int l = 0; l < L; l++) r += s[j][l]; \
            if (j < nc) for (int32_t kk = k; kk < K; kk++) r += a[kk] * bt[(ptrdiff_t)j * K + kk]; \
            out[j] = r; \
        } \
        for (int v = 0; v < MG_GEMM_NV; v++) acc[v] = MG_LOAD(VT, out + v * L); \
    } \
    \
    /* Small M without trans_b: one row of Y at a time, y = beta*c, then y += alpha*A(i, k) * B(k, :) \
     * four rows of B at a time (B streamed contiguously, Y row in cache), then the activation. */ \
    static void mg_gemm_row_##dt(int32_t N, int32_t K, const mg_##dt##_t *a, ptrdiff_t aks, const mg_##dt##_t *b, \
                                 mg_##dt##_t *y, mg_##dt##_t alpha, const mg_##dt##_t *c, ptrdiff_t ccs, \
                                 mg_##dt##_t beta, const mg_act *act) { \
        MG_TYPES(dt); \
        for (int32_t j = 0; j < N; j++) y[j] = c ? beta * c[j * ccs] : 0; \
        int32_t k = 0; \
        for (; k + 4 <= K; k += 4) { \
            const T *b0 = b + (ptrdiff_t)k * N, *b1 = b0 + N, *b2 = b1 + N, *b3 = b2 + N; \
            T w0 = alpha * a[k * aks], w1 = alpha * a[(k + 1) * aks]; \
            T w2 = alpha * a[(k + 2) * aks], w3 = alpha * a[(k + 3) * aks]; \
            VT v0 = MG_SPLAT(VT, w0), v1 = MG_SPLAT(VT, w1), v2 = MG_SPLAT(VT, w2), v3 = MG_SPLAT(VT, w3); \
            int32_t j = 0; \
            for (; j + L <= N; j += L) \
                MG_STORE(y + j, MG_LOAD(VT, y + j) + ((v0 * MG_LOAD(VT, b0 + j) + v1 * MG_LOAD(VT, b1 + j)) + \
                                                      (v2 * MG_LOAD(VT, b2 + j) + v3 * MG_LOAD(VT, b3 + j)))); \
            for (; j < N; j++) y[j] += (w0 * b0[j] + w1 * b1[j]) + (w2 * b2[j] + w3 * b3[j]); \
        } \
        for (; k < K; k++) { \
            const T *b0 = b + (ptrdiff_t)k * N; \
            T w0 = alpha * a[k * aks]; \
            VT v0 = MG_SPLAT(VT, w0); \
            int32_t j = 0; \
            for (; j + L <= N; j += L) MG_STORE(y + j, MG_LOAD(VT, y + j) + v0 * MG_LOAD(VT, b0 + j)); \
            for (; j < N; j++) y[j] += w0 * b0[j]; \
        } \
        mg_act_row_##dt(y, N, act); \
    } \
    \
    /* One tile row: y[0:nc] = (first ? beta*c : y) + alpha*acc, then act unless act is 0. */ \
    static void mg_gemm_store_##dt(mg_##dt##_t *y, int32_t nc, const mg_##dt##_vt *acc, mg_##dt##_t alpha, \
                                   const mg_##dt##_t *c, ptrdiff_t ccs, mg_##dt##_t beta, int first, const mg_act *act) { \
        MG_TYPES(dt); \
        if (nc == MG_GEMM_NV * L && (c == 0 || !first || ccs == 1 || ccs == 0)) { \
            for (int v = 0; v < MG_GEMM_NV; v++) { \
                VT r = acc[v] * alpha; \
                if (!first) r += MG_LOAD(VT, y + v * L); \
                else if (c && ccs == 1) r += beta * MG_LOAD(VT, c + v * L); \
                else if (c) r += beta * c[0]; \
                if (act) r = mg_vact_##dt(r, act); \
                MG_STORE(y + v * L, r); \
            } \
            return; \
        } \
        T tmp[MG_GEMM_NV * L]; \
        for (int v = 0; v < MG_GEMM_NV; v++) MG_STORE(tmp + v * L, acc[v]); \
        for (int32_t j = 0; j < nc; j++) { \
            T r = alpha * tmp[j]; \
            if (!first) r += y[j]; \
            else if (c) r += beta * c[j * ccs]; \
            y[j] = r; \
        } \
        if (act) mg_act_row_##dt(y, nc, act); \
    } \
    \
    /* Packs the mb x kb block of A at a (element (i, k) at a[i*ars + k*aks]) into MR-row tiles. */ \
    static void mg_gemm_pack_a_##dt(mg_##dt##_t *MG_RESTRICT ap, const mg_##dt##_t *a, int32_t mb, int32_t kb, \
                                    ptrdiff_t ars, ptrdiff_t aks) { \
        MG_TYPES(dt); \
        for (int32_t i0 = 0; i0 < mb; i0 += MG_GEMM_MR, ap += MG_GEMM_MR * kb) { \
            int32_t k = 0; \
            if (aks == 1 && i0 + MG_GEMM_MR <= mb) /* rows contiguous: L x L register transposes */ \
                for (; k + L <= kb; k += L) { \
                    v128_t r[4]; \
                    for (int h = 0; h < MG_GEMM_MR; h += L) { \
                        for (int l = 0; l < L; l++) r[l] = wasm_v128_load(a + (i0 + h + l) * ars + k); \
                        if (L == 4) mg_transpose_4x32(r); else mg_transpose_2x64(r); \
                        for (int l = 0; l < L; l++) wasm_v128_store(ap + (k + l) * MG_GEMM_MR + h, r[l]); \
                    } \
                } \
            for (int r = 0; r < MG_GEMM_MR; r++) { \
                if (i0 + r < mb) { \
                    const mg_##dt##_t *row = a + (i0 + r) * ars; \
                    for (int32_t kk = k; kk < kb; kk++) ap[kk * MG_GEMM_MR + r] = row[kk * aks]; \
                } else { \
                    for (int32_t kk = k; kk < kb; kk++) ap[kk * MG_GEMM_MR + r] = 0; \
                } \
            } \
        } \
    } \
    \
    /* Packs B[0:kb, 0:nc] at b (element (k, j) at b[k*bks + j*bjs]) into bp[kb][NR], zero-padded. */ \
    static void mg_gemm_pack_b_##dt(mg_##dt##_t *MG_RESTRICT bp, const mg_##dt##_t *b, int32_t kb, int32_t nc, \
                                    ptrdiff_t bks, ptrdiff_t bjs) { \
        MG_TYPES(dt); \
        enum { NR = MG_GEMM_NV * L }; \
        int32_t k = 0; \
        if (nc == NR && bks == 1) { /* B^T: transpose L x L blocks in registers */ \
            for (; k + L <= kb; k += L) \
                for (int jb = 0; jb < NR; jb += L) { \
                    v128_t r[4]; \
                    for (int l = 0; l < L; l++) r[l] = wasm_v128_load(b + (jb + l) * bjs + k); \
                    if (L == 4) mg_transpose_4x32(r); else mg_transpose_2x64(r); \
                    for (int l = 0; l < L; l++) wasm_v128_store(bp + (k + l) * NR + jb, r[l]); \
                } \
        } \
        for (; k < kb; k++) \
            for (int32_t j = 0; j < NR; j++) bp[k * NR + j] = j < nc ? b[k * bks + j * bjs] : 0; \
    } \
    /* Packs up to MG_GEMM_NP panels (nc <= NP*NR columns), panel p at bp + p*kb*NR. Rows of B are \
     * read NP*NR elements (a whole cache line for f32) at a time when B is not transposed. */ \
    static void mg_gemm_pack_panels_##dt(mg_##dt##_t *MG_RESTRICT bp, const mg_##dt##_t *b, int32_t kb, \
                                         int32_t nc, ptrdiff_t bks, ptrdiff_t bjs) { \
        MG_TYPES(dt); \
        enum { NR = MG_GEMM_NV * L, NV = MG_GEMM_NP * MG_GEMM_NV }; \
        if (nc == MG_GEMM_NP * NR && bjs == 1) { \
            for (int32_t k = 0; k < kb; k++) \
                for (int v = 0; v < NV; v++) \
                    MG_STORE(bp + (v / MG_GEMM_NV) * kb * NR + k * NR + (v % MG_GEMM_NV) * L, \
                             MG_LOAD(VT, b + k * bks + v * L)); \
            return; \
        } \
        for (int32_t p = 0; p * NR < nc; p++) \
            mg_gemm_pack_b_##dt(bp + p * kb * NR, b + p * NR * bjs, kb, nc - p * NR < NR ? nc - p * NR : NR, bks, bjs); \
    }
MG_FLOAT(MG_GEMM_PARTS, _)

#endif
