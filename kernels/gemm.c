/* gemm.c: Y[b] = act(alpha * op(A[b]) @ op(B[b]) + beta * C), register-tiled SIMD, f32 and f64 from one
 * generic macro.
 *
 * Blocking (GotoBLAS-like, buffers on the stack since the ABI gives no scratch): K in blocks of KC; per
 * block, A in blocks of MC rows packed k-major in MR-row tiles (ap[tile][k][r], zero rows past M), and
 * per A block, B packed NR columns at a time into a KC x NR panel (zero columns past N; a gather when
 * trans_b). The MR x NR micro-kernel then keeps MR x NR/L accumulators in registers; per k it loads
 * MR/L vectors of A and splats their lanes (a shuffle, cheaper here than load-splat), loads NR/L vectors
 * of B, and does MR*NR/L multiply-adds. Edge rows/columns compute on the zero padding and are not
 * stored. The first K block writes alpha*acc + beta*C (each C element is read before the same Y element
 * is written, so Y may alias a full-shape C); later blocks add to Y; the last applies the activation. */
#include "mg.h"

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

#define MG_GEMM(dt, op) \
    /* acc[r][v] = sum_k ap[k][r] * bp[k][v*L : v*L + L] */ \
    MG_INLINE void mg_gemm_ukr_##dt(int32_t kb, const mg_##dt##_t *ap, const mg_##dt##_t *bp, \
                                    mg_##dt##_vt acc[MG_GEMM_MR][MG_GEMM_NV]) { \
        MG_TYPES(dt); \
        enum { MR = MG_GEMM_MR }; \
        VT c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0}; \
        for (int32_t k = 0; k < kb; k++) { \
            VT b0 = MG_LOAD(VT, bp), b1 = MG_LOAD(VT, bp + L); \
            VT a01 = MG_LOAD(VT, ap), a23 = MG_LOAD(VT, ap + (L == 4 ? 0 : 2)); /* rows 0-3 (f32) or 0-1, 2-3 */ \
            bp += 2 * L; \
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
     * four rows of B at a time (B streamed contiguously, Y row in cache), then relu. */ \
    static void mg_gemm_row_##dt(int32_t N, int32_t K, const mg_##dt##_t *a, ptrdiff_t aks, const mg_##dt##_t *b, \
                                 mg_##dt##_t *y, mg_##dt##_t alpha, const mg_##dt##_t *c, ptrdiff_t ccs, \
                                 mg_##dt##_t beta, int relu) { \
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
        if (relu) \
            for (int32_t j = 0; j < N; j++) y[j] = y[j] < 0 ? 0 : y[j]; \
    } \
    \
    /* One tile row: y[0:nc] = (first ? beta*c : y) + alpha*acc, then relu if asked. */ \
    static void mg_gemm_store_##dt(mg_##dt##_t *y, int32_t nc, const mg_##dt##_vt *acc, mg_##dt##_t alpha, \
                                   const mg_##dt##_t *c, ptrdiff_t ccs, mg_##dt##_t beta, int first, int relu) { \
        MG_TYPES(dt); \
        if (nc == MG_GEMM_NV * L && (c == 0 || !first || ccs == 1 || ccs == 0)) { \
            for (int v = 0; v < MG_GEMM_NV; v++) { \
                VT r = acc[v] * alpha; \
                if (!first) r += MG_LOAD(VT, y + v * L); \
                else if (c && ccs == 1) r += beta * MG_LOAD(VT, c + v * L); \
                else if (c) r += beta * c[0]; \
                if (relu) r = (VT)wasm_v128_andnot((v128_t)r, (v128_t)(r < 0)); \
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
            if (relu && r < 0) r = 0; \
            y[j] = r; \
        } \
    } \
    \
    /* Packs the mb x kb block of A at a (element (i, k) at a[i*ars + k*aks]) into MR-row tiles. */ \
    static void mg_gemm_pack_a_##dt(mg_##dt##_t *MG_RESTRICT ap, const mg_##dt##_t *a, int32_t mb, int32_t kb, \
                                    ptrdiff_t ars, ptrdiff_t aks) { \
        for (int32_t i0 = 0; i0 < mb; i0 += MG_GEMM_MR, ap += MG_GEMM_MR * kb) \
            for (int r = 0; r < MG_GEMM_MR; r++) { \
                if (i0 + r < mb) { \
                    const mg_##dt##_t *row = a + (i0 + r) * ars; \
                    for (int32_t k = 0; k < kb; k++) ap[k * MG_GEMM_MR + r] = row[k * aks]; \
                } else { \
                    for (int32_t k = 0; k < kb; k++) ap[k * MG_GEMM_MR + r] = 0; \
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
    } \
    \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        enum { MR = MG_GEMM_MR, NR = MG_GEMM_NV * L, KC = MG_GEMM_KC, \
               MC = MG_GEMM_A_BYTES / (KC * sizeof(T)) / MR * MR }; \
        int32_t M = p[0], N = p[1], K = p[2], ta = p[3], tb = p[4]; \
        T alpha = (T)mg_f32_from_bits(p[5]), beta = (T)mg_f32_from_bits(p[6]); \
        ptrdiff_t crs = p[7], ccs = p[8]; \
        int32_t batch = p[9], abs_ = p[10], bbs = p[11], act = p[12]; \
        MG_CHECK(M >= 0 && N >= 0 && K >= 0 && batch >= 0, MG_NAME(dt, op), "M, N, K and batch must be >= 0"); \
        MG_CHECK((ta == 0 || ta == 1) && (tb == 0 || tb == 1), MG_NAME(dt, op), "trans_a and trans_b must be 0 or 1"); \
        MG_CHECK_GOT(act == 0 || act == 1, MG_NAME(dt, op), "act must be 0 (none) or 1 (relu)", act); \
        if (M == 0 || N == 0) return 0; \
        const T *c = (const T *)(uintptr_t)t[2]; \
        _Alignas(16) T ap[MC * KC]; \
        _Alignas(16) T bp[MG_GEMM_NP * KC * NR]; \
        /* A(i, k) = a[i*ars + k*aks]; B(k, j) = b[k*bks + j*bjs] */ \
        ptrdiff_t ars = ta ? 1 : K, aks = ta ? M : 1, bks = tb ? 1 : N, bjs = tb ? K : 1; \
        for (int32_t bi = 0; bi < batch; bi++) { \
            const T *a = (const T *)(uintptr_t)t[0] + (ptrdiff_t)bi * abs_; \
            const T *b = (const T *)(uintptr_t)t[1] + (ptrdiff_t)bi * bbs; \
            T *y = (T *)(uintptr_t)t[3] + (ptrdiff_t)bi * M * N; \
            if (M <= MR && tb && !ta) { /* a few rows times B^T: dot products, no packing */ \
                for (int32_t i = 0; i < M; i++) \
                    for (int32_t j0 = 0; j0 < N; j0 += NR) { \
                        int32_t nc = N - j0 < NR ? N - j0 : NR; \
                        VT acc[MG_GEMM_NV]; \
                        mg_gemm_dot_##dt(K, a + (ptrdiff_t)i * K, b + (ptrdiff_t)j0 * K, nc, acc); \
                        mg_gemm_store_##dt(y + (ptrdiff_t)i * N + j0, nc, acc, alpha, \
                                           c ? c + i * crs + j0 * ccs : 0, ccs, beta, 1, act == 1); \
                    } \
                continue; \
            } \
            if (M <= 2 && !tb) { /* one or two rows times B: stream B once per row, no packing */ \
                for (int32_t i = 0; i < M; i++) \
                    mg_gemm_row_##dt(N, K, a + i * ars, aks, b, y + (ptrdiff_t)i * N, alpha, \
                                     c ? c + i * crs : 0, ccs, beta, act == 1); \
                continue; \
            } \
            for (int32_t k0 = 0;; k0 += KC) { /* once even when K == 0: Y = beta * C */ \
                int32_t kb = K - k0 < KC ? K - k0 : KC; \
                int first = k0 == 0, relu = act == 1 && k0 + kb >= K; \
                for (int32_t m0 = 0; m0 < M; m0 += MC) { \
                    int32_t mb = M - m0 < MC ? M - m0 : MC; \
                    mg_gemm_pack_a_##dt(ap, a + m0 * ars + k0 * aks, mb, kb, ars, aks); \
                    for (int32_t j0 = 0; j0 < N; j0 += MG_GEMM_NP * NR) { \
                        int32_t ncp = N - j0 < MG_GEMM_NP * NR ? N - j0 : MG_GEMM_NP * NR; \
                        mg_gemm_pack_panels_##dt(bp, b + k0 * bks + j0 * bjs, kb, ncp, bks, bjs); \
                        for (int32_t jp = 0; jp < ncp; jp += NR) { \
                            int32_t nc = ncp - jp < NR ? ncp - jp : NR; \
                            const T *bpp = bp + jp / NR * kb * NR; \
                            for (int32_t i0 = 0; i0 < mb; i0 += MR) { \
                                VT acc[MR][MG_GEMM_NV]; \
                                mg_gemm_ukr_##dt(kb, ap + i0 * kb, bpp, acc); \
                                for (int32_t r = 0, i = m0 + i0; r < MR && i < M; r++, i++) \
                                    mg_gemm_store_##dt(y + (ptrdiff_t)i * N + j0 + jp, nc, acc[r], alpha, \
                                                       c ? c + i * crs + (j0 + jp) * ccs : 0, ccs, beta, first, relu); \
                            } \
                        } \
                    } \
                } \
                if (k0 + kb >= K) break; \
            } \
        } \
        return 0; \
    }
MG_FLOAT(MG_GEMM, gemm)
