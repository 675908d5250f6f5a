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
 * is written, so Y may alias a full-shape C); later blocks add to Y; the last applies the activation.
 * gemm_pack_b / gemm_packed_b: the blocked path with a constant B packed once at load (a plan init step).
 * gemv_pack_b / gemv_packed_b: a few rows (M <= 3) times a constant B packed at load for dot products. */
#include "mg_gemm.h"

#ifndef MG_GEMM_SMALL_K
#define MG_GEMM_SMALL_K 256 /* K up to this (<= NP * KC: one B panel fits bp): A packed once per MC rows, B read in place */
#endif

/* Small K (the 1x1 convs of mobile nets): A packed once per MC rows, B read in place (row-major, no
 * packing; the last columns packed, zero-padded), a column strip of NP panels swept down all rows of the A
 * block, each tile started from beta * C (any broadcast; alpha is 1) and written once with the activation
 * ACT (a constant). */
#define MG_GEMM_SMALLK(dt, ...) \
    MG_INLINE void mg_gemm_smallk_##dt(int32_t M, int32_t N, int32_t K, const mg_##dt##_t *a, ptrdiff_t ars, \
                                       ptrdiff_t aks, const mg_##dt##_t *b, mg_##dt##_t *y, const mg_##dt##_t *c, \
                                       ptrdiff_t crs, ptrdiff_t ccs, mg_##dt##_t beta, mg_##dt##_t *ap, mg_##dt##_t *bp, \
                                       const int ACT, const mg_act *act) { \
        MG_TYPES(dt); \
        enum { MR = MG_GEMM_MR, NR = MG_GEMM_NV * L, NP = MG_GEMM_NP }; \
        int32_t mc = MG_GEMM_A_BYTES / ((int32_t)sizeof(T) * K) / MR * MR; \
        for (int32_t m0 = 0; m0 < M; m0 += mc) { \
            int32_t mb = M - m0 < mc ? M - m0 : mc; \
            mg_gemm_pack_a_##dt(ap, a + m0 * ars, mb, K, ars, aks); \
            int32_t nfull = N / (NP * NR) * (NP * NR); \
            for (int32_t j0 = 0; j0 < nfull; j0 += NP * NR) \
                for (int32_t i0 = 0; i0 < mb; i0 += MR) { \
                    int32_t rows = mb - i0 < MR ? mb - i0 : MR; \
                    T *yt = y + (ptrdiff_t)(m0 + i0) * N + j0; \
                    for (int jp = 0; jp < NP * NR; jp += NR) { \
                        VT acc[MR][MG_GEMM_NV]; \
                        mg_gemm_acc_c_##dt(acc, c ? c + (m0 + i0) * crs + (j0 + jp) * ccs : 0, crs, ccs, beta, rows, NR); \
                        mg_gemm_ukr_bs_##dt(K, ap + i0 * K, b + j0 + jp, N, acc); \
                        mg_gemm_put_##dt(yt + jp, N, rows, acc, ACT, act); \
                    } \
                } \
            for (int32_t j0 = nfull; j0 < N; j0 += NR) { /* the last columns: one panel at a time, zero-padded */ \
                int32_t nc = N - j0 < NR ? N - j0 : NR; \
                mg_gemm_pack_b_##dt(bp, b + j0, K, nc, N, 1); \
                for (int32_t i0 = 0; i0 < mb; i0 += MR) { \
                    int32_t rows = mb - i0 < MR ? mb - i0 : MR; \
                    T *yt = y + (ptrdiff_t)(m0 + i0) * N + j0; \
                    VT acc[MR][MG_GEMM_NV]; \
                    mg_gemm_acc_c_##dt(acc, c ? c + (m0 + i0) * crs + j0 * ccs : 0, crs, ccs, beta, rows, nc); \
                    mg_gemm_ukr_bs_##dt(K, ap + i0 * K, bp, NR, acc); \
                    if (nc == NR) mg_gemm_put_##dt(yt, N, rows, acc, ACT, act); \
                    else /* through the general store (the bias is already in acc) */ \
                        for (int32_t r = 0; r < rows; r++) \
                            mg_gemm_store_##dt(yt + (ptrdiff_t)r * N, nc, acc[r], 1, 0, 0, 0, 1, act); \
                } \
            } \
        } \
    }
MG_FLOAT(MG_GEMM_SMALLK, _)

/* The general blocking (see the top) with the small-K path's epilogue (alpha 1, any C); each
 * tile starts from the bias (first K block) or from Y, and is written once per block, with ACT after the
 * last one. B is packed panel by panel into bp, or, with bpk, read from panels gemm_pack_b wrote at load. */
#define MG_GEMM_BLOCKED(dt, ...) \
    MG_INLINE void mg_gemm_blocked_##dt(int32_t M, int32_t N, int32_t K, const mg_##dt##_t *a, ptrdiff_t ars, \
                                        ptrdiff_t aks, const mg_##dt##_t *b, ptrdiff_t bks, ptrdiff_t bjs, \
                                        mg_##dt##_t *y, const mg_##dt##_t *c, ptrdiff_t crs, ptrdiff_t ccs, \
                                        mg_##dt##_t beta, mg_##dt##_t *ap, mg_##dt##_t *bp, const mg_##dt##_t *bpk, \
                                        const int ACT, const mg_act *act) { \
        MG_TYPES(dt); \
        enum { MR = MG_GEMM_MR, NR = MG_GEMM_NV * L, KC = MG_GEMM_KC, NP = MG_GEMM_NP, \
               MC = MG_GEMM_A_BYTES / (KC * sizeof(T)) / MR * MR }; \
        ptrdiff_t np_ = (ptrdiff_t)(N + NR - 1) / NR * NR; /* bpk's columns: gemm_pack_b's panels */ \
        for (int32_t k0 = 0; k0 < K; k0 += KC) { \
            int32_t kb = K - k0 < KC ? K - k0 : KC; \
            int first = k0 == 0, last = k0 + kb >= K; \
            for (int32_t m0 = 0; m0 < M; m0 += MC) { \
                int32_t mb = M - m0 < MC ? M - m0 : MC; \
                mg_gemm_pack_a_##dt(ap, a + m0 * ars + k0 * aks, mb, kb, ars, aks); \
                for (int32_t j0 = 0; j0 < N; j0 += NP * NR) { \
                    int32_t ncp = N - j0 < NP * NR ? N - j0 : NP * NR; \
                    const T *bk = bpk ? bpk + k0 * np_ + (ptrdiff_t)j0 * kb : bp; \
                    if (!bpk) mg_gemm_pack_panels_##dt(bp, b + k0 * bks + j0 * bjs, kb, ncp, bks, bjs); \
                    for (int32_t i0 = 0; i0 < mb; i0 += MR) { \
                        int32_t rows = mb - i0 < MR ? mb - i0 : MR; \
                        for (int32_t jp = 0; jp < ncp; jp += NR) { \
                            int32_t nc = ncp - jp < NR ? ncp - jp : NR; \
                            T *yt = y + (ptrdiff_t)(m0 + i0) * N + j0 + jp; \
                            VT acc[MR][MG_GEMM_NV]; \
                            if (first) mg_gemm_acc_c_##dt(acc, c ? c + (m0 + i0) * crs + (j0 + jp) * ccs : 0, crs, ccs, beta, rows, nc); \
                            else mg_gemm_get_##dt(yt, N, rows, nc, acc); \
                            mg_gemm_ukr_bs_##dt(kb, ap + i0 * kb, bk + (ptrdiff_t)jp * kb, NR, acc); \
                            if (nc == NR) mg_gemm_put_##dt(yt, N, rows, acc, last ? ACT : 0, act); \
                            else mg_gemm_put_part_##dt(yt, N, rows, nc, acc, last ? ACT : 0, act); \
                        } \
                    } \
                } \
            } \
        } \
    }
MG_FLOAT(MG_GEMM_BLOCKED, _)

/* gemm's ints (ABI.md), shared by gemm, gemm_packed_b and gemv_packed_b; alpha (p[5]) each reads its own
 * way. Then the check of the flags: trans_a, trans_b, act. */
#define MG_GEMM_INTS \
    int32_t M = p[0], N = p[1], K = p[2], ta = p[3], tb = p[4]; \
    T beta = (T)mg_f32_from_bits(p[6]); \
    ptrdiff_t crs = p[7], ccs = p[8]; \
    int32_t batch = p[9], abs_ = p[10], bbs = p[11]; \
    mg_act act = mg_act_from(p[12], p[13], p[14])
#define MG_GEMM_CHECK_FLAGS(dt, op) \
    MG_CHECK((ta == 0 || ta == 1) && (tb == 0 || tb == 1), MG_NAME(dt, op), "trans_a and trans_b must be 0 or 1"); \
    MG_CHECK_GOT(act.code >= 0 && act.code < MG_ACT_COUNT, MG_NAME(dt, op), "act must be in 0..6", act.code)

#define MG_GEMM(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        enum { MR = MG_GEMM_MR, NR = MG_GEMM_NV * L, KC = MG_GEMM_KC, \
               MC = MG_GEMM_A_BYTES / (KC * sizeof(T)) / MR * MR }; \
        MG_GEMM_INTS; \
        T alpha = (T)mg_f32_from_bits(p[5]); \
        MG_CHECK(M >= 0 && N >= 0 && K >= 0 && batch >= 0, MG_NAME(dt, op), "M, N, K and batch must be >= 0"); \
        MG_GEMM_CHECK_FLAGS(dt, op); \
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
                                           c ? c + i * crs + j0 * ccs : 0, ccs, beta, 1, &act); \
                    } \
                continue; \
            } \
            if (M <= 2 && !tb) { /* one or two rows times B: stream B once per row, no packing */ \
                for (int32_t i = 0; i < M; i++) \
                    mg_gemm_row_##dt(N, K, a + i * ars, aks, b, y + (ptrdiff_t)i * N, alpha, \
                                     c ? c + i * crs : 0, ccs, beta, &act); \
                continue; \
            } \
            if (!tb && K > 0 && K <= MG_GEMM_SMALL_K && alpha == 1) { \
                MG_BY_ACT(&act, mg_gemm_smallk_##dt, M, N, K, a, ars, aks, b, y, c, crs, ccs, beta, ap, bp) \
                continue; \
            } \
            if (K > 0 && alpha == 1) { \
                MG_BY_ACT(&act, mg_gemm_blocked_##dt, M, N, K, a, ars, aks, b, bks, bjs, y, c, crs, ccs, beta, ap, bp, 0) \
                continue; \
            } \
            for (int32_t k0 = 0;; k0 += KC) { /* once even when K == 0: Y = beta * C */ \
                int32_t kb = K - k0 < KC ? K - k0 : KC; \
                int first = k0 == 0; \
                const mg_act *last = k0 + kb >= K ? &act : 0; \
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
                                                       c ? c + i * crs + (j0 + jp) * ccs : 0, ccs, beta, first, last); \
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

/* The packing kernels' ints and tensors (B, Packed; gemm's ints, only N, K and trans_b used): B read with
 * strides bks along k and bjs along n, written to bp. */
#define MG_PACK_B_PARAMS(dt, op) \
    int32_t N = p[1], K = p[2], tb = p[4]; \
    MG_CHECK(N >= 0 && K >= 0, MG_NAME(dt, op), "N and K must be >= 0"); \
    MG_CHECK(tb == 0 || tb == 1, MG_NAME(dt, op), "trans_b must be 0 or 1"); \
    const T *b = (const T *)(uintptr_t)t[0]; \
    T *bp = (T *)(uintptr_t)t[1]; \
    MG_CHECK(bp != 0, MG_NAME(dt, op), "the packed tensor is missing"); \
    ptrdiff_t bks = tb ? 1 : N, bjs = tb ? K : 1

/* ---- gemm_pack_b (tensors B, Packed; gemm's ints, only N, K, trans_b used and M, batch ignored): B's panels
 * as the blocked path packs them, once at load for a constant B: per K block k0 of KC (at k0 * Np, Np =
 * ceil(N / NR) * NR), NR-column panels j (at j * kb, kb = min(KC, K - k0)), each kb x NR k-major, zero
 * columns past N. gemm_packed_b (A, Packed, C or 0, Y; gemm's ints) then runs the blocked path on them: it
 * requires alpha 1, K >= 1 and b_batch_stride 0 (one B for every batch). */
#define MG_GEMM_PACK_B(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        enum { NR = MG_GEMM_NV * L, KC = MG_GEMM_KC }; \
        MG_PACK_B_PARAMS(dt, op); \
        ptrdiff_t np_ = (ptrdiff_t)(N + NR - 1) / NR * NR; \
        for (int32_t k0 = 0; k0 < K; k0 += KC) { \
            int32_t kb = K - k0 < KC ? K - k0 : KC; \
            for (int32_t j0 = 0; j0 < N; j0 += NR) \
                mg_gemm_pack_b_##dt(bp + k0 * np_ + (ptrdiff_t)j0 * kb, b + k0 * bks + j0 * bjs, kb, \
                                    N - j0 < NR ? N - j0 : NR, bks, bjs); \
        } \
        return 0; \
    }
MG_FLOAT(MG_GEMM_PACK_B, gemm_pack_b)

#define MG_GEMM_PACKED_B(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        enum { MR = MG_GEMM_MR, KC = MG_GEMM_KC, MC = MG_GEMM_A_BYTES / (KC * sizeof(T)) / MR * MR }; \
        MG_GEMM_INTS; \
        float alpha = mg_f32_from_bits(p[5]); \
        MG_CHECK(M >= 0 && N >= 0 && K >= 1 && batch >= 0, MG_NAME(dt, op), "M, N, batch must be >= 0 and K >= 1"); \
        MG_GEMM_CHECK_FLAGS(dt, op); \
        MG_CHECK(alpha == 1.0f && bbs == 0, MG_NAME(dt, op), "alpha must be 1 and b_batch_stride 0"); \
        if (M == 0 || N == 0) return 0; \
        const T *c = (const T *)(uintptr_t)t[2], *bpk = (const T *)(uintptr_t)t[1]; \
        MG_CHECK(bpk != 0, MG_NAME(dt, op), "the packed B is missing"); \
        _Alignas(16) T ap[MC * KC]; \
        ptrdiff_t ars = ta ? 1 : K, aks = ta ? M : 1; \
        for (int32_t bi = 0; bi < batch; bi++) { \
            const T *a = (const T *)(uintptr_t)t[0] + (ptrdiff_t)bi * abs_; \
            T *y = (T *)(uintptr_t)t[3] + (ptrdiff_t)bi * M * N; \
            MG_BY_ACT(&act, mg_gemm_blocked_##dt, M, N, K, a, ars, aks, 0, 0, 0, y, c, crs, ccs, beta, ap, 0, bpk) \
        } \
        return 0; \
    }
MG_FLOAT(MG_GEMM_PACKED_B, gemm_packed_b)

/* ---- gemv_pack_b / gemv_packed_b: a few rows of A (M <= 3: batch-1 fully connected layers) times a
 * constant B packed once at load for dot products. Packed: J-column groups (J = MG_GEMV_J), each
 * ceil(K / L) steps of J vectors holding L consecutive k of one column:
 * Packed[(g * Kv + kv) * J * L + j * L + l] = op(B)[kv * L + l, g * J + j] (Kv = ceil(K / L)), 0 past K or N.
 * The run streams it once: per group and k step, one vector load of L values of each row of A times one
 * vector per column into M x J / M accumulators of L partial sums (all M rows, J / M columns at a time),
 * added up at the end. Why dot products of 6 columns: wasmtime's code generator
 * issues every load of a loop body before the body's arithmetic (loads may trap, so they keep their
 * order; the multiply-adds sink to the block's end), so all of a body's loaded vectors and its
 * accumulators are live at once in 16 vector registers: 6 vector multiply-adds per step is the most
 * without spills, and 6 accumulators each taking one add per step hide the add latency. A dot product
 * also needs no splat of A. Measured M = 1, K = 784, N = 512 (f32): 26 us, against 29 for 16-column
 * panels [N/16][K][16] with a splat of A(0, k) per k, and 44 for gemm's dot products on B^T in place.
 * Four rows (4 x 2 accumulators, 6 loads) lost to gemm_packed_b's 4 x 8 micro-kernel: 94 against 84 us. */
#define MG_GEMV_J 6

/* Makes p opaque to the compiler once per loop step: otherwise loop strength reduction gives each load
 * its own induction variable (an i32.add per load), instead of constant offsets from one pointer. */
#define MG_OPAQUE(p) __asm__("" : "+r"(p))

#define MG_GEMV_PACK_B(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        enum { J = MG_GEMV_J }; \
        MG_PACK_B_PARAMS(dt, op); \
        for (int32_t j0 = 0; j0 < N; j0 += J) \
            for (int32_t k0 = 0; k0 < K; k0 += L) \
                for (int32_t j = j0; j < j0 + J; j++) \
                    for (int32_t k = k0; k < k0 + L; k++) *bp++ = j < N && k < K ? b[k * bks + j * bjs] : 0; \
        return 0; \
    }
MG_FLOAT(MG_GEMV_PACK_B, gemv_pack_b)

#define MG_GEMV_PARTS(dt, ...) \
    /* acc[r][c] = the L partial sums of row r < R of A (at a + r * ars; tail[r]: its last K % L elements, \
     * zero-padded) dotted with column c < C of a packed group (b: the group plus the first column's offset). */ \
    MG_INLINE void mg_gemv_tile_##dt(int32_t K, const mg_##dt##_t *a, ptrdiff_t ars, const mg_##dt##_vt *tail, \
                                     const mg_##dt##_t *b, const int R, const int C, mg_##dt##_vt acc[3][MG_GEMV_J]) { \
        MG_TYPES(dt); \
        for (int r = 0; r < R; r++) \
            for (int c = 0; c < C; c++) acc[r][c] = MG_SPLAT(VT, 0); \
        for (const mg_##dt##_t *ae = a + K / L * L; a < ae; a += L, b += MG_GEMV_J * L) { \
            MG_OPAQUE(b); \
            VT x[3]; \
            for (int r = 0; r < R; r++) x[r] = MG_LOAD(VT, a + r * ars); \
            for (int r = 0; r < R; r++) \
                for (int c = 0; c < C; c++) acc[r][c] += x[r] * MG_LOAD(VT, b + c * L); \
        } \
        if (K % L) \
            for (int r = 0; r < R; r++) \
                for (int c = 0; c < C; c++) acc[r][c] += tail[r] * MG_LOAD(VT, b + c * L); \
    } \
    \
    /* Rows [0, R) of Y (at y, N columns): Y(r, j) = A(r, :) . op(B)(:, j) + beta * C(r, j) (row r of A at \
     * a + r * K), every group, C columns at a time (the activation comes after, over whole rows). */ \
    MG_INLINE void mg_gemv_rows_##dt(int32_t N, int32_t K, const mg_##dt##_t *a, \
                                     const mg_##dt##_vt *tail, const mg_##dt##_t *bp, mg_##dt##_t *y, \
                                     const mg_##dt##_t *c, ptrdiff_t crs, ptrdiff_t ccs, mg_##dt##_t beta, const int R) { \
        MG_TYPES(dt); \
        enum { J = MG_GEMV_J }; \
        const int C = J / R; \
        ptrdiff_t gs = (ptrdiff_t)(K + L - 1) / L * L * J; /* elements per group */ \
        for (int32_t j0 = 0; j0 < N; j0 += J, bp += gs) \
            for (int32_t c0 = 0; c0 < J && j0 + c0 < N; c0 += C) { \
                VT acc[3][J]; \
                mg_gemv_tile_##dt(K, a, K, tail, bp + c0 * L, R, C, acc); \
                for (int r = 0; r < R; r++) \
                    for (int cq = 0; cq < C; cq += L) { /* L columns' sums at a time, by a transpose */ \
                        v128_t v[4]; \
                        for (int l = 0; l < L; l++) v[l] = (v128_t)(cq + l < C ? acc[r][cq + l] : MG_SPLAT(VT, 0)); \
                        if (L == 4) mg_transpose_4x32(v); else mg_transpose_2x64(v); \
                        VT s = (VT)v[0]; \
                        for (int l = 1; l < L; l++) s += (VT)v[l]; \
                        int32_t j = j0 + c0 + cq, n = C - cq < L ? C - cq : L; \
                        n = N - j < n ? N - j : n; \
                        T *yr = y + (ptrdiff_t)r * N + j; \
                        const T *cr = c ? c + r * crs + j * ccs : 0; \
                        if (n == L && ccs <= 1) { \
                            if (cr) s += beta * (ccs ? MG_LOAD(VT, cr) : MG_SPLAT(VT, cr[0])); \
                            MG_STORE(yr, s); \
                        } else { \
                            T sum[L]; \
                            MG_STORE(sum, s); \
                            for (int32_t q = 0; q < n; q++) yr[q] = sum[q] + (cr ? beta * cr[q * ccs] : 0); \
                        } \
                    } \
            } \
    }
MG_FLOAT(MG_GEMV_PARTS, _)

/* One function per R: each gets its own register allocation (inlined together, the accumulator loops
 * of one R lost registers to the others' live values and reloaded the row stride from the stack). */
#define MG_GEMV_ROWS_R(dt, R) \
    __attribute__((noinline)) static void mg_gemv_rows##R##_##dt(int32_t N, int32_t K, const mg_##dt##_t *a, \
            const mg_##dt##_vt *tail, const mg_##dt##_t *bp, mg_##dt##_t *y, const mg_##dt##_t *c, ptrdiff_t crs, \
            ptrdiff_t ccs, mg_##dt##_t beta) { \
        mg_gemv_rows_##dt(N, K, a, tail, bp, y, c, crs, ccs, beta, R); \
    }
#define MG_GEMV_ROWS(dt, ...) MG_GEMV_ROWS_R(dt, 1) MG_GEMV_ROWS_R(dt, 2) MG_GEMV_ROWS_R(dt, 3)
MG_FLOAT(MG_GEMV_ROWS, _)

#define MG_GEMV_PACKED_B(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        MG_GEMM_INTS; \
        float alpha = mg_f32_from_bits(p[5]); \
        MG_CHECK(M >= 0 && M <= 3 && N >= 0 && K >= 1 && batch >= 0, MG_NAME(dt, op), \
                 "M must be in 0..3, N and batch >= 0, K >= 1"); \
        MG_GEMM_CHECK_FLAGS(dt, op); \
        MG_CHECK(ta == 0 || M <= 1, MG_NAME(dt, op), "trans_a needs M <= 1 (rows of A contiguous)"); \
        MG_CHECK(alpha == 1.0f && bbs == 0, MG_NAME(dt, op), "alpha must be 1 and b_batch_stride 0"); \
        const T *c = (const T *)(uintptr_t)t[2], *bp = (const T *)(uintptr_t)t[1]; \
        MG_CHECK(bp != 0, MG_NAME(dt, op), "the packed B is missing"); \
        int32_t kv = K / L * L; \
        for (int32_t bi = 0; bi < batch; bi++) { \
            const T *a = (const T *)(uintptr_t)t[0] + (ptrdiff_t)bi * abs_; \
            T *y = (T *)(uintptr_t)t[3] + (ptrdiff_t)bi * M * N; \
            VT tail[3]; \
            for (int32_t i = 0; i < M; i++) { \
                T v[L] = {0}; \
                for (int32_t k = kv; k < K; k++) v[k - kv] = a[(ptrdiff_t)i * K + k]; \
                tail[i] = MG_LOAD(VT, v); \
            } \
            switch (M) { /* all rows at once: M x J / M accumulators */ \
            case 1: mg_gemv_rows1_##dt(N, K, a, tail, bp, y, c, crs, ccs, beta); break; \
            case 2: mg_gemv_rows2_##dt(N, K, a, tail, bp, y, c, crs, ccs, beta); break; \
            case 3: mg_gemv_rows3_##dt(N, K, a, tail, bp, y, c, crs, ccs, beta); break; \
            } \
            for (int32_t i = 0; i < M; i++) mg_act_row_##dt(y + (ptrdiff_t)i * N, N, &act); \
        } \
        return 0; \
    }
MG_FLOAT(MG_GEMV_PACKED_B, gemv_packed_b)
