/* gemm.c: Y[b] = act(alpha * op(A[b]) @ op(B[b]) + beta * C), register-tiled SIMD, f32 and f64 from one
 * generic macro.
 *
 * Blocking: K in blocks of KC; for each block, B is packed NR columns at a time into a KC x NR panel on
 * the stack (zero-padded past N, gathered when trans_b), then every MR-row tile of A runs the MR x NR
 * micro-kernel over it: per k, NR/L vector loads of the panel, MR splats of A, MR*NR/L multiply-adds
 * into registers. Edge rows reuse row M-1 (valid memory) and are not stored; edge columns compute on
 * the zero padding and are not stored. The first K block writes alpha*acc + beta*C (reading each C
 * element before writing the same Y element, so Y may alias a full-shape C); later blocks add; the
 * last applies the activation. */
#include "mg.h"

#define MG_GEMM_MR 4
#define MG_GEMM_NV 2 /* vectors per tile row: NR = 2 * lanes (8 for f32, 4 for f64) */
#define MG_GEMM_KC 256

#define MG_GEMM(dt, op) \
    /* acc[r] += sum_k a_r[k * aks] * bp[k][:] for r < MR. */ \
    MG_INLINE void mg_gemm_ukr_##dt(int32_t kb, const mg_##dt##_t *const *ar, ptrdiff_t aks, \
                                    const mg_##dt##_t *bp, mg_##dt##_vt acc[MG_GEMM_MR][MG_GEMM_NV]) { \
        MG_TYPES(dt); \
        VT c00 = acc[0][0], c01 = acc[0][1], c10 = acc[1][0], c11 = acc[1][1]; \
        VT c20 = acc[2][0], c21 = acc[2][1], c30 = acc[3][0], c31 = acc[3][1]; \
        const T *a0 = ar[0], *a1 = ar[1], *a2 = ar[2], *a3 = ar[3]; \
        int32_t k = 0; \
        if (L == 4 && aks != 1 && a1 == a0 + 1 && a3 == a0 + 3) { \
            for (; k < kb; k++) { \
                VT b0 = MG_LOAD(VT, bp), b1 = MG_LOAD(VT, bp + L); \
                bp += 2 * L; \
                VT va = MG_LOAD(VT, a0 + k * aks); \
                VT x0 = MG_SPLAT(VT, va[0]), x1 = MG_SPLAT(VT, va[1]); \
                VT x2 = MG_SPLAT(VT, va[2 % L]), x3 = MG_SPLAT(VT, va[3 % L]); \
                c00 += x0 * b0; c01 += x0 * b1; c10 += x1 * b0; c11 += x1 * b1; \
                c20 += x2 * b0; c21 += x2 * b1; c30 += x3 * b0; c31 += x3 * b1; \
            } \
        } \
        for (; k < kb; k++) { \
            VT b0 = MG_LOAD(VT, bp), b1 = MG_LOAD(VT, bp + L); \
            bp += 2 * L; \
            VT x0 = MG_LOAD_SPLAT(VT, a0 + k * aks), x1 = MG_LOAD_SPLAT(VT, a1 + k * aks); \
            VT x2 = MG_LOAD_SPLAT(VT, a2 + k * aks), x3 = MG_LOAD_SPLAT(VT, a3 + k * aks); \
            c00 += x0 * b0; c01 += x0 * b1; c10 += x1 * b0; c11 += x1 * b1; \
            c20 += x2 * b0; c21 += x2 * b1; c30 += x3 * b0; c31 += x3 * b1; \
        } \
        acc[0][0] = c00; acc[0][1] = c01; acc[1][0] = c10; acc[1][1] = c11; \
        acc[2][0] = c20; acc[2][1] = c21; acc[3][0] = c30; acc[3][1] = c31; \
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
    /* Packs B[k0:k0+kb, j0:j0+nc] (element (k, j) at b[k*bks + j*bjs]) into bp[kb][NR], zero-padded. */ \
    static void mg_gemm_pack_##dt(mg_##dt##_t *MG_RESTRICT bp, const mg_##dt##_t *b, int32_t kb, int32_t nc, \
                                  ptrdiff_t bks, ptrdiff_t bjs) { \
        MG_TYPES(dt); \
        enum { NR = MG_GEMM_NV * L }; \
        if (nc == NR && bjs == 1) { \
            for (int32_t k = 0; k < kb; k++) \
                for (int v = 0; v < MG_GEMM_NV; v++) MG_STORE(bp + k * NR + v * L, MG_LOAD(VT, b + k * bks + v * L)); \
            return; \
        } \
        for (int32_t j = 0; j < NR; j++) \
            for (int32_t k = 0; k < kb; k++) bp[k * NR + j] = j < nc ? b[k * bks + j * bjs] : 0; \
    } \
    \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        enum { MR = MG_GEMM_MR, NR = MG_GEMM_NV * L }; \
        int32_t M = p[0], N = p[1], K = p[2], ta = p[3], tb = p[4]; \
        T alpha = (T)mg_f32_from_bits(p[5]), beta = (T)mg_f32_from_bits(p[6]); \
        ptrdiff_t crs = p[7], ccs = p[8]; \
        int32_t batch = p[9], abs_ = p[10], bbs = p[11], act = p[12]; \
        MG_CHECK(M >= 0 && N >= 0 && K >= 0 && batch >= 0, MG_NAME(dt, op), "M, N, K and batch must be >= 0"); \
        MG_CHECK((ta == 0 || ta == 1) && (tb == 0 || tb == 1), MG_NAME(dt, op), "trans_a and trans_b must be 0 or 1"); \
        MG_CHECK_GOT(act == 0 || act == 1, MG_NAME(dt, op), "act must be 0 (none) or 1 (relu)", act); \
        if (M == 0 || N == 0) return 0; \
        const T *c = (const T *)(uintptr_t)t[2]; \
        _Alignas(16) T bp[MG_GEMM_KC * NR]; \
        /* A(i, k) = a[i*ars + k*aks]; B(k, j) = b[k*bks + j*bjs] */ \
        ptrdiff_t ars = ta ? 1 : K, aks = ta ? M : 1, bks = tb ? 1 : N, bjs = tb ? K : 1; \
        for (int32_t bi = 0; bi < batch; bi++) { \
            const T *a = (const T *)(uintptr_t)t[0] + (ptrdiff_t)bi * abs_; \
            const T *b = (const T *)(uintptr_t)t[1] + (ptrdiff_t)bi * bbs; \
            T *y = (T *)(uintptr_t)t[3] + (ptrdiff_t)bi * M * N; \
            for (int32_t k0 = 0;; k0 += MG_GEMM_KC) { \
                int32_t kb = K - k0 < MG_GEMM_KC ? K - k0 : MG_GEMM_KC; \
                int first = k0 == 0, relu = act == 1 && k0 + kb >= K; \
                for (int32_t j0 = 0; j0 < N; j0 += NR) { \
                    int32_t nc = N - j0 < NR ? N - j0 : NR; \
                    mg_gemm_pack_##dt(bp, b + k0 * bks + j0 * bjs, kb, nc, bks, bjs); \
                    for (int32_t i0 = 0; i0 < M; i0 += MR) { \
                        const T *ar[MR]; \
                        for (int r = 0; r < MR; r++) \
                            ar[r] = a + (ptrdiff_t)(i0 + r < M ? i0 + r : M - 1) * ars + (ptrdiff_t)k0 * aks; \
                        VT acc[MR][MG_GEMM_NV] = {{0}}; \
                        if (ta) mg_gemm_ukr_##dt(kb, ar, aks, bp, acc); \
                        else mg_gemm_ukr_##dt(kb, ar, 1, bp, acc); \
                        for (int r = 0; r < MR && i0 + r < M; r++) \
                            mg_gemm_store_##dt(y + (ptrdiff_t)(i0 + r) * N + j0, nc, acc[r], alpha, \
                                               c ? c + (i0 + r) * crs + j0 * ccs : 0, ccs, beta, first, relu); \
                    } \
                } \
                if (k0 + kb >= K) break; \
            } \
        } \
        return 0; \
    }
MG_FLOAT(MG_GEMM, gemm)
