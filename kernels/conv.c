/* conv.c: direct NCHW conv2d with groups, dilations, bias and activation, no scratch.
 *
 * Output-stationary: each output element is computed once, accumulating over C/group x KH x KW in
 * registers, starting from the bias; the activation is applied on the way out. When stride_w is 1 or 2,
 * a row of outputs is split into its interior (columns where every kernel tap reads inside the input)
 * and its borders. Interior tiles of NM output channels (of one group) x NV vectors along the output
 * width keep NM*NV accumulators in registers: per tap, NV vector loads of the input row (stride 2:
 * two loads and an even-lane shuffle each), NM weight splats, NM*NV multiply-adds. Border columns,
 * tile remainders and other strides go through a scalar path. The valid range of kernel rows of each
 * output row (and of kernel columns of each border column) is computed up front, so padding costs no
 * branch in an inner loop. */
#include "mg_conv.h"

#ifndef MG_CONV_NM
#define MG_CONV_NM 4 /* output channels per tile */
#define MG_CONV_NV 3 /* vectors along the output width per tile: 12 accumulators */
#endif

#define MG_CONV2D(dt, op) \
    /* Y[m + mm, oh, ow + v*L + l] for mm < NM, v < NV, all taps valid (interior, stride_w == 1). \
     * x: the group's first input channel; w: channel m's weights; kh in [kh0, kh1) valid for oh. */ \
    MG_INLINE void mg_conv_tile_##dt(const mg_conv_geom *g, mg_##dt##_t *y, ptrdiff_t y_m, const mg_##dt##_t *x, \
                                     const mg_##dt##_t *w, const mg_##dt##_t *bias, int32_t oh, int32_t ow, \
                                     int32_t kh0, int32_t kh1, const int NM, const int NV, const int S) { \
        MG_TYPES(dt); \
        VT acc[MG_CONV_NM][MG_CONV_NV]; \
        ptrdiff_t w_m = (ptrdiff_t)g->Cg * g->KH * g->KW, hw = (ptrdiff_t)g->H * g->W; \
        for (int mm = 0; mm < NM; mm++) \
            for (int v = 0; v < NV; v++) acc[mm][v] = MG_SPLAT(VT, bias ? bias[mm] : 0); \
        const T *xr0 = x + (ptrdiff_t)(oh * g->sh - g->pt) * g->W + (ow * S - g->pl); \
        for (int32_t c = 0; c < g->Cg; c++) { \
            for (int32_t kh = kh0; kh < kh1; kh++) { \
                const T *xr = xr0 + c * hw + (ptrdiff_t)kh * g->dh * g->W; \
                const T *wr = w + ((ptrdiff_t)c * g->KH + kh) * g->KW; \
                for (int32_t kw = 0; kw < g->KW; kw++) { \
                    const T *xs = xr + kw * g->dw; \
                    VT xv[MG_CONV_NV]; \
                    for (int v = 0; v < NV; v++) \
                        xv[v] = S == 1 ? MG_LOAD(VT, xs + v * L) : MG_LOAD_EVEN(VT, xs + 2 * v * L); \
                    for (int mm = 0; mm < NM; mm++) { \
                        VT wv = MG_SPLAT(VT, wr[mm * w_m + kw]); \
                        for (int v = 0; v < NV; v++) acc[mm][v] += wv * xv[v]; \
                    } \
                } \
            } \
        } \
        for (int mm = 0; mm < NM; mm++) \
            for (int v = 0; v < NV; v++) { \
                VT r = acc[mm][v]; \
                r = mg_vact_##dt(r, &g->act); \
                MG_STORE(y + mm * y_m + ow + v * L, r); \
            } \
    } \
    /* One output Y[m, oh, ow] (any stride), taps clipped to the input. */ \
    static mg_##dt##_t mg_conv_point_##dt(const mg_conv_geom *g, const mg_##dt##_t *x, const mg_##dt##_t *w, \
                                          mg_##dt##_t b, int32_t oh, int32_t ow, int32_t kh0, int32_t kh1) { \
        MG_TYPES(dt); \
        int32_t col = ow * g->sw - g->pl; \
        int32_t kw0 = mg_tap_lo(col, g->dw), kw1 = mg_tap_hi(col, g->dw, g->W, g->KW); \
        T s = b; \
        for (int32_t c = 0; c < g->Cg; c++) \
            for (int32_t kh = kh0; kh < kh1; kh++) { \
                const T *xr = x + ((ptrdiff_t)c * g->H + oh * g->sh - g->pt + kh * g->dh) * g->W + col; \
                const T *wr = w + ((ptrdiff_t)c * g->KH + kh) * g->KW; \
                for (int32_t kw = kw0; kw < kw1; kw++) s += wr[kw] * xr[kw * g->dw]; \
            } \
        return g->act.code ? mg_vact_##dt(MG_SPLAT(VT, s), &g->act)[0] : s; \
    } \
    /* Tiles over the interior columns [ow, i1) of one output row; returns the first column left. */ \
    MG_INLINE int32_t mg_conv_tiles_##dt(const mg_conv_geom *g, mg_##dt##_t *yr, ptrdiff_t y_m, \
                                         const mg_##dt##_t *x, const mg_##dt##_t *w, const mg_##dt##_t *bias, \
                                         int32_t oh, int32_t ow, int32_t i1, int32_t kh0, int32_t kh1, int NM, \
                                         const int S) { \
        MG_TYPES(dt); \
        enum { NV = MG_CONV_NV }; \
        if (NM == MG_CONV_NM) { \
            for (; ow + NV * L <= i1; ow += NV * L) mg_conv_tile_##dt(g, yr, y_m, x, w, bias, oh, ow, kh0, kh1, MG_CONV_NM, NV, S); \
            for (; ow + L <= i1; ow += L) mg_conv_tile_##dt(g, yr, y_m, x, w, bias, oh, ow, kh0, kh1, MG_CONV_NM, 1, S); \
        } else { \
            for (; ow + NV * L <= i1; ow += NV * L) mg_conv_tile_##dt(g, yr, y_m, x, w, bias, oh, ow, kh0, kh1, 1, NV, S); \
            for (; ow + L <= i1; ow += L) mg_conv_tile_##dt(g, yr, y_m, x, w, bias, oh, ow, kh0, kh1, 1, 1, S); \
        } \
        return ow; \
    } \
    /* Output rows of channels m .. m+NM-1 (same group). */ \
    static void mg_conv_rows_##dt(const mg_conv_geom *g, mg_##dt##_t *y, int32_t OH, int32_t OW, \
                                  const mg_##dt##_t *x, const mg_##dt##_t *w, const mg_##dt##_t *bias, int NM) { \
        MG_TYPES(dt); \
        ptrdiff_t y_m = (ptrdiff_t)OH * OW, w_m = (ptrdiff_t)g->Cg * g->KH * g->KW; \
        /* interior columns: every kw in range (tap 0 has the highest lower bound, tap KW-1 the lowest \
         * upper); with stride 2 the tile also loads the element after its last one. */ \
        int32_t i0 = OW, i1 = OW; \
        if (g->sw <= 2) { \
            i0 = mg_tap_lo(-g->pl, g->sw); \
            i1 = mg_tap_hi((g->KW - 1) * g->dw - g->pl + g->sw - 1, g->sw, g->W, OW); \
            if (i1 < i0) i1 = i0 = OW; \
        } \
        for (int32_t oh = 0; oh < OH; oh++) { \
            int32_t row = oh * g->sh - g->pt; \
            int32_t kh0 = mg_tap_lo(row, g->dh), kh1 = mg_tap_hi(row, g->dh, g->H, g->KH); \
            if (kh1 < kh0) kh1 = kh0; \
            mg_##dt##_t *yr = y + (ptrdiff_t)oh * OW; \
            int32_t ow = i0; \
            if (g->sw == 1) ow = mg_conv_tiles_##dt(g, yr, y_m, x, w, bias, oh, ow, i1, kh0, kh1, NM, 1); \
            else if (g->sw == 2) ow = mg_conv_tiles_##dt(g, yr, y_m, x, w, bias, oh, ow, i1, kh0, kh1, NM, 2); \
            for (int mm = 0; mm < NM; mm++) { \
                T b = bias ? bias[mm] : 0; \
                for (int32_t o = 0; o < OW; o++) { \
                    if (o == i0) o = ow; /* skip the columns done by tiles */ \
                    if (o >= OW) break; \
                    yr[mm * y_m + o] = mg_conv_point_##dt(g, x, w + mm * w_m, b, oh, o, kh0, kh1); \
                } \
            } \
        } \
    } \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        MG_CONV_PARAMS(dt, op); \
        const T *x = (const T *)(uintptr_t)t[0], *w = (const T *)(uintptr_t)t[1]; \
        const T *bias = (const T *)(uintptr_t)t[2]; \
        T *y = (T *)(uintptr_t)t[3]; \
        int32_t Mg = M / G; \
        ptrdiff_t plane = (ptrdiff_t)OH * OW, w_m = (ptrdiff_t)geo.Cg * KH * KW; \
        for (int32_t n = 0; n < N; n++) \
            for (int32_t m = 0; m < M;) { \
                int NM = (m % Mg) + MG_CONV_NM <= Mg ? MG_CONV_NM : 1; /* channels of one group at a time */ \
                const T *xg = x + ((ptrdiff_t)n * C + (ptrdiff_t)(m / Mg) * geo.Cg) * H * W; \
                mg_conv_rows_##dt(&geo, y + ((ptrdiff_t)n * M + m) * plane, OH, OW, xg, w + m * w_m, \
                                  bias ? bias + m : 0, NM); \
                m += NM; \
            } \
        return 0; \
    }
MG_FLOAT(MG_CONV2D, conv2d)

/* ---- conv2d_im2col: the same conv as GEMMs, per group Y[n, g] (Mg x OH*OW) = W_g (Mg x K) @ cols (K x
 * OH*OW), K = Cg*KH*KW, with gemm.c's micro-kernel. The group's weights are packed once per run into the
 * scratch tensor (MR-row tiles per KC block of K: ceil(Mg / 4) * 4 * K elements; with a single chunk of
 * pixels each KC block is packed just before its use instead, so big weights are read from memory once);
 * conv2d_im2col_packed instead reads them as conv2d_pack_weights packed them once at load. The columns
 * are never stored whole: per chunk of NT output pixels and KC block of K, im2col writes them straight
 * into packed B panels on the stack (two vector loads per panel row when its NR pixels sit in one output
 * row inside the input, stride 1 or 2; with stride 2 (f32) a whole kernel row's taps from one load,
 * shuffled; zeros in the top/bottom padding; a clipped gather otherwise); a pointwise conv's columns are
 * X's rows, copied as they are. The sweep over the chunk's tiles runs out of
 * line, the last panel's nc < NR pixels through a kernel whose cost is per pixel. The epilogue adds the
 * bias and applies act. */
#ifndef MG_IM2COL_BYTES
#define MG_IM2COL_BYTES 32768 /* packed B block on the stack: KC x NT, NT = 64 (f32) or 32 (f64) */
#endif
#ifndef MG_IM2COL_KC
#define MG_IM2COL_KC MG_GEMM_KC
#endif

/* One K block of one pixel chunk: every MR-row tile of the group's Mg rows times every panel, each tile
 * started from the bias (first block) or from Y, written back with the activation ACT (a constant; 0 before
 * the last block). */
#define MG_IM2COL_SWEEP_ACT(dt, k) \
    __attribute__((noinline)) static void mg_im2col_sweep##k##_##dt(const mg_##dt##_t *apk, const mg_##dt##_t *bp, \
            int32_t kb, int32_t Mg, int32_t jc, mg_##dt##_t *yj, ptrdiff_t P, const mg_##dt##_t *bias, int first, \
            const mg_act *act) { \
        mg_im2col_sweep_##dt(apk, bp, kb, Mg, jc, yj, P, bias, first, k, act); \
    }

#define MG_IM2COL_SWEEP(dt, ...) \
    /* Columns [0, NC) (NC < NR) of rows [0, rows) of a tile, the rows in the lanes: acc[j][h] holds rows \
     * h*L .. h*L+L-1 of column j; ap: the tile's packed weights, bp: the packed panel. Each output is the \
     * same sum in the same order as in the micro-kernel (bias or Y, then + a*b per k), so the results are \
     * the same; the cost is per column. The activation is applied when `act` is not 0. */ \
    MG_INLINE void mg_im2col_cols_##dt(int32_t kb, const mg_##dt##_t *ap, const mg_##dt##_t *bp, \
                                       mg_##dt##_t *yt, ptrdiff_t P, int32_t rows, const mg_##dt##_t *bias, int first, \
                                       const int NC, const mg_act *act) { \
        MG_TYPES(dt); \
        enum { MR = MG_GEMM_MR, H = MG_GEMM_MR / L }; \
        VT acc[MG_GEMM_NV * L][H]; \
        for (int j = 0; j < NC; j++) { \
            _Alignas(16) T tmp[MR] = {0}; \
            for (int r = 0; r < rows; r++) tmp[r] = first ? (bias ? bias[r] : 0) : yt[r * P + j]; \
            for (int h = 0; h < H; h++) acc[j][h] = MG_LOAD(VT, tmp + h * L); \
        } \
        for (int32_t k = 0; k < kb; k++, ap += MR, bp += MG_GEMM_NV * L) { \
            VT av[H]; \
            for (int h = 0; h < H; h++) av[h] = MG_LOAD(VT, ap + h * L); \
            for (int j = 0; j < NC; j++) { \
                VT bj = MG_SPLAT(VT, bp[j]); \
                for (int h = 0; h < H; h++) acc[j][h] += av[h] * bj; \
            } \
        } \
        for (int j = 0; j < NC; j++) \
            for (int h = 0; h < H; h++) { \
                VT v = act ? mg_vact_##dt(acc[j][h], act) : acc[j][h]; \
                for (int l = 0; l < L; l++) \
                    if (h * L + l < rows) yt[(h * L + l) * P + j] = v[l]; \
            } \
    } \
    /* mg_im2col_cols for a runtime nc, out of line (the last panel only). */ \
    __attribute__((noinline)) static void mg_im2col_edge_##dt(int32_t kb, const mg_##dt##_t *ap, const mg_##dt##_t *bp, \
            mg_##dt##_t *yt, ptrdiff_t P, int32_t rows, const mg_##dt##_t *bias, int first, int32_t nc, \
            const mg_act *act) { \
        MG_TYPES(dt); \
        enum { NR = MG_GEMM_NV * L }; \
        switch (nc) { /* nc < NR: the cases past 3 are f32 only (NC = 0 for f64) */ \
        case 1: mg_im2col_cols_##dt(kb, ap, bp, yt, P, rows, bias, first, 1, act); break; \
        case 2: mg_im2col_cols_##dt(kb, ap, bp, yt, P, rows, bias, first, 2, act); break; \
        case 3: mg_im2col_cols_##dt(kb, ap, bp, yt, P, rows, bias, first, 3, act); break; \
        case 4: mg_im2col_cols_##dt(kb, ap, bp, yt, P, rows, bias, first, 4 % NR, act); break; \
        case 5: mg_im2col_cols_##dt(kb, ap, bp, yt, P, rows, bias, first, 5 % NR, act); break; \
        case 6: mg_im2col_cols_##dt(kb, ap, bp, yt, P, rows, bias, first, 6 % NR, act); break; \
        default: mg_im2col_cols_##dt(kb, ap, bp, yt, P, rows, bias, first, 7 % NR, act); break; \
        } \
    } \
    /* One K block of one pixel chunk: every MR-row tile of the group's Mg rows (apk: their packed weights) \
     * times every panel of bp (jc pixels), each tile started from the bias (first block) or from Y, written \
     * back with the activation ACT (a constant; 0 before the last block). */ \
    MG_INLINE void mg_im2col_sweep_##dt(const mg_##dt##_t *apk, const mg_##dt##_t *bp, int32_t kb, int32_t Mg, \
                                        int32_t jc, mg_##dt##_t *yj, ptrdiff_t P, const mg_##dt##_t *bias, \
                                        int first, const int ACT, const mg_act *act) { \
        MG_TYPES(dt); \
        enum { MR = MG_GEMM_MR, NR = MG_GEMM_NV * L }; \
        mg_act ka = {ACT, act->a, act->b}; \
        int32_t nfull = jc / NR, nc = jc % NR; \
        for (int32_t i0 = 0; i0 < Mg; i0 += MR) { \
            int32_t rows = Mg - i0 < MR ? Mg - i0 : MR; \
            const T *bi = bias ? bias + i0 : 0; \
            for (int32_t pi = 0; pi < nfull; pi++) { \
                T *yt = yj + (ptrdiff_t)i0 * P + pi * NR; \
                VT acc[MR][MG_GEMM_NV]; \
                if (first) mg_gemm_acc_bias_##dt(acc, bi, 1, 1, rows); \
                else mg_gemm_get_##dt(yt, P, rows, NR, acc); \
                mg_gemm_ukr_bs_##dt(kb, apk + (ptrdiff_t)i0 * kb, bp + (ptrdiff_t)pi * kb * NR, NR, acc); \
                mg_gemm_put_##dt(yt, P, rows, acc, ACT, act); \
            } \
            if (nc) /* the last panel's columns */ \
                mg_im2col_edge_##dt(kb, apk + (ptrdiff_t)i0 * kb, bp + (ptrdiff_t)nfull * kb * NR, \
                                    yj + (ptrdiff_t)i0 * P + nfull * NR, P, rows, bi, first, nc, ACT ? &ka : 0); \
        } \
    } \
    /* The sweep per activation code, out of line: compiled alone, its micro-kernel loop does not depend on \
     * the code around its call. mg_im2col_sweeps_<dt>[code] is the copy for an activation code. */ \
    MG_IM2COL_SWEEP_ACT(dt, 0) MG_IM2COL_SWEEP_ACT(dt, 1) MG_IM2COL_SWEEP_ACT(dt, 2) MG_IM2COL_SWEEP_ACT(dt, 3) \
    MG_IM2COL_SWEEP_ACT(dt, 4) MG_IM2COL_SWEEP_ACT(dt, 5) MG_IM2COL_SWEEP_ACT(dt, 6) \
    static void (*const mg_im2col_sweeps_##dt[MG_ACT_COUNT])(const mg_##dt##_t *, const mg_##dt##_t *, int32_t, \
            int32_t, int32_t, mg_##dt##_t *, ptrdiff_t, const mg_##dt##_t *, int, const mg_act *) = { \
        mg_im2col_sweep0_##dt, mg_im2col_sweep1_##dt, mg_im2col_sweep2_##dt, mg_im2col_sweep3_##dt, \
        mg_im2col_sweep4_##dt, mg_im2col_sweep5_##dt, mg_im2col_sweep6_##dt};
MG_FLOAT(MG_IM2COL_SWEEP, _)

#define MG_CONV2D_IM2COL(dt, op) \
    /* Row dy, dx (one tap) of panel pi: dst[0:NR] for the panel's pixels (rows/cols given). */ \
    MG_INLINE void mg_im2col_panel_##dt(mg_##dt##_t *MG_RESTRICT dst, const mg_##dt##_t *xc, const mg_conv_geom *g, \
                                        int32_t dy, int32_t dx, const int32_t *prow, const int32_t *pcol, \
                                        const uint8_t *straight, int32_t pi, int32_t jc) { \
        MG_TYPES(dt); \
        enum { NR = MG_GEMM_NV * L }; \
        const int32_t *pr = prow + pi * NR, *pc = pcol + pi * NR; \
        int32_t ih = pr[0] + dy, iw = pc[0] + dx; \
        if (straight[pi]) { /* NR pixels of one output row: one input row, columns iw + j*sw */ \
            if ((uint32_t)ih >= (uint32_t)g->H) { /* in the top or bottom padding */ \
                for (int v = 0; v < MG_GEMM_NV; v++) MG_STORE(dst + v * L, MG_SPLAT(VT, 0)); \
                return; \
            } \
            const T *row = xc + (ptrdiff_t)ih * g->W; \
            if (iw >= 0 && g->sw == 1 && iw + NR <= g->W) { \
                for (int v = 0; v < MG_GEMM_NV; v++) MG_STORE(dst + v * L, MG_LOAD(VT, row + iw + v * L)); \
                return; \
            } \
            if (iw >= 0 && g->sw == 2 && iw + 2 * NR <= g->W) { \
                for (int v = 0; v < MG_GEMM_NV; v++) MG_STORE(dst + v * L, MG_LOAD_EVEN(VT, row + iw + 2 * v * L)); \
                return; \
            } \
            for (int j = 0; j < NR; j++) { /* a left or right border */ \
                int32_t q = iw + j * g->sw; \
                dst[j] = (uint32_t)q < (uint32_t)g->W ? row[q] : 0; \
            } \
            return; \
        } \
        for (int j = 0; j < NR; j++) { \
            int32_t r = pr[j] + dy, q = pc[j] + dx; \
            dst[j] = pi * NR + j < jc && (uint32_t)r < (uint32_t)g->H && (uint32_t)q < (uint32_t)g->W \
                         ? xc[(ptrdiff_t)r * g->W + q] : 0; \
        } \
    } \
    /* Taps kw = 0 .. KW-1 (KW <= 7) of kernel row dy for panel pi of a stride-2 conv (f32, dilation 1) into \
     * dst + kw*NR: when the panel lies in one output row inside the input, its input elements are loaded \
     * once (6 vectors), split into even and odd lanes, and tap kw is the even (kw even) or odd lanes shifted \
     * by kw/2: shuffles instead of two loads and a shuffle per tap (the 3-channel stems' 7x7 and 3x3). \
     * Other panels: each tap through mg_im2col_panel. */ \
    MG_INLINE void mg_im2col_s2taps_##dt(mg_##dt##_t *MG_RESTRICT dst, const mg_##dt##_t *xc, const mg_conv_geom *g, \
                                         int32_t dy, const int32_t *prow, const int32_t *pcol, \
                                         const uint8_t *straight, int32_t pi, int32_t jc) { \
        MG_TYPES(dt); \
        enum { NR = MG_GEMM_NV * L }; \
        int32_t ih = prow[pi * NR] + dy, iw = pcol[pi * NR], KW = g->KW; \
        if (L == 4 && straight[pi] && (uint32_t)ih < (uint32_t)g->H && iw >= 0 && iw + 6 * L <= g->W) { \
            const T *src = xc + (ptrdiff_t)ih * g->W + iw; \
            v128_t v[6], e[3], o[3]; \
            for (int i = 0; i < 6; i++) v[i] = wasm_v128_load(src + i * L); \
            for (int i = 0; i < 3; i++) { \
                e[i] = wasm_i32x4_shuffle(v[2 * i], v[2 * i + 1], 0, 2, 4, 6); \
                o[i] = wasm_i32x4_shuffle(v[2 * i], v[2 * i + 1], 1, 3, 5, 7); \
            } \
            wasm_v128_store(dst, e[0]), wasm_v128_store(dst + L, e[1]); \
            if (KW > 1) wasm_v128_store(dst + NR, o[0]), wasm_v128_store(dst + NR + L, o[1]); \
            if (KW > 2) wasm_v128_store(dst + 2 * NR, wasm_i32x4_shuffle(e[0], e[1], 1, 2, 3, 4)), \
                        wasm_v128_store(dst + 2 * NR + L, wasm_i32x4_shuffle(e[1], e[2], 1, 2, 3, 4)); \
            if (KW > 3) wasm_v128_store(dst + 3 * NR, wasm_i32x4_shuffle(o[0], o[1], 1, 2, 3, 4)), \
                        wasm_v128_store(dst + 3 * NR + L, wasm_i32x4_shuffle(o[1], o[2], 1, 2, 3, 4)); \
            if (KW > 4) wasm_v128_store(dst + 4 * NR, wasm_i32x4_shuffle(e[0], e[1], 2, 3, 4, 5)), \
                        wasm_v128_store(dst + 4 * NR + L, wasm_i32x4_shuffle(e[1], e[2], 2, 3, 4, 5)); \
            if (KW > 5) wasm_v128_store(dst + 5 * NR, wasm_i32x4_shuffle(o[0], o[1], 2, 3, 4, 5)), \
                        wasm_v128_store(dst + 5 * NR + L, wasm_i32x4_shuffle(o[1], o[2], 2, 3, 4, 5)); \
            if (KW > 6) wasm_v128_store(dst + 6 * NR, wasm_i32x4_shuffle(e[0], e[1], 3, 4, 5, 6)), \
                        wasm_v128_store(dst + 6 * NR + L, wasm_i32x4_shuffle(e[1], e[2], 3, 4, 5, 6)); \
            return; \
        } \
        for (int32_t kw = 0; kw < KW; kw++) \
            mg_im2col_panel_##dt(dst + kw * NR, xc, g, dy, kw, prow, pcol, straight, pi, jc); \
    } \
    /* bp[panel][k - k0][NR] for k in [k0, k0 + kb), pixels [j0, j0 + jc) of the chunk (rows/cols given). */ \
    static void mg_im2col_pack_##dt(mg_##dt##_t *MG_RESTRICT bp, const mg_##dt##_t *x, const mg_conv_geom *g, \
                                    int32_t k0, int32_t kb, const int32_t *prow, const int32_t *pcol, \
                                    const uint8_t *straight, int32_t jc) { \
        MG_TYPES(dt); \
        enum { NR = MG_GEMM_NV * L }; \
        int32_t khw = g->KH * g->KW, c = k0 / khw, kh = k0 % khw / g->KW, kw = k0 % g->KW; \
        ptrdiff_t hw = (ptrdiff_t)g->H * g->W; \
        int32_t np = (jc + NR - 1) / NR; \
        int taps = L == 4 && g->sw == 2 && g->dw == 1 && g->KW <= 7; /* whole kernel rows by mg_im2col_s2taps */ \
        for (int32_t k = 0; k < kb;) { \
            const T *xc = x + c * hw; \
            int32_t dy = kh * g->dh, dx = kw * g->dw; \
            if (taps && kw == 0 && k + g->KW <= kb) { \
                for (int32_t pi = 0; pi < np; pi++) \
                    mg_im2col_s2taps_##dt(bp + ((ptrdiff_t)pi * kb + k) * NR, xc, g, dy, prow, pcol, straight, pi, jc); \
                k += g->KW; \
                if (++kh == g->KH) { kh = 0; c++; } \
                continue; \
            } \
            for (int32_t pi = 0; pi < np; pi++) \
                mg_im2col_panel_##dt(bp + ((ptrdiff_t)pi * kb + k) * NR, xc, g, dy, dx, prow, pcol, straight, pi, jc); \
            k++; \
            if (++kw == g->KW) { kw = 0; if (++kh == g->KH) { kh = 0; c++; } } \
        } \
    } \
    /* A pointwise conv's columns are rows of X (row stride P): a plain panel copy of jc pixels, kb rows. Out \
     * of line: inlined, it slowed the other convs' micro-kernel loop by ~5%. */ \
    __attribute__((noinline)) static void mg_im2col_pack_pw_##dt(mg_##dt##_t *MG_RESTRICT bp, const mg_##dt##_t *x, \
                                                                 int32_t kb, int32_t jc, ptrdiff_t P) { \
        MG_TYPES(dt); \
        enum { NP = MG_GEMM_NP * MG_GEMM_NV * L }; \
        for (int32_t p0 = 0; p0 < jc; p0 += NP) \
            mg_gemm_pack_panels_##dt(bp + (ptrdiff_t)p0 * kb, x + p0, kb, jc - p0 < NP ? jc - p0 : NP, P, 1); \
    } \
    /* The im2col GEMM. ap: with `packed`, the weights of every group packed by conv2d_pack_weights (group \
     * gi at gi * Mp * K, K block k0 at k0 * Mp inside it); else scratch for one group, packed here. */ \
    static void mg_im2col_conv_##dt(const mg_conv_geom *geo, int32_t N, int32_t M, int32_t OH, int32_t OW, int32_t G, \
                                    const mg_##dt##_t *x, const mg_##dt##_t *w, const mg_##dt##_t *bias, \
                                    mg_##dt##_t *ap, mg_##dt##_t *y, int packed) { \
        MG_TYPES(dt); \
        enum { MR = MG_GEMM_MR, NR = MG_GEMM_NV * L, KC = MG_IM2COL_KC, NT = MG_IM2COL_BYTES / (KC * sizeof(T)) }; \
        int32_t C = geo->C, H = geo->H, W = geo->W, sh = geo->sh, sw = geo->sw, pt = geo->pt, pl = geo->pl; \
        int32_t Mg = M / G, Cg = geo->Cg, K = Cg * geo->KH * geo->KW, Mp = (Mg + MR - 1) / MR * MR, P = OH * OW; \
        int pw = geo->KH == 1 && geo->KW == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && OH == H && OW == W; \
        const mg_act act = geo->act; \
        _Alignas(16) T bp[KC * NT]; \
        int32_t prow[NT], pcol[NT]; \
        uint8_t straight[NT / NR]; \
        if (P == 0 || Mg == 0) return; \
        for (int32_t gi = 0; gi < G; gi++) { \
            const T *wg = packed ? 0 : w + (ptrdiff_t)gi * Mg * K; \
            T *ag = packed ? ap + (ptrdiff_t)gi * Mp * K : ap; \
            /* one chunk: pack each K block as it comes (stays in cache) unless packed at load */ \
            int single = !packed && P <= NT && N == 1; \
            for (int32_t k0 = 0; !packed && !single && k0 < K; k0 += KC) \
                mg_gemm_pack_a_##dt(ag + (ptrdiff_t)k0 * Mp, wg + k0, Mg, K - k0 < KC ? K - k0 : KC, K, 1); \
            for (int32_t n = 0; n < N; n++) { \
                const T *xg = x + ((ptrdiff_t)n * C + (ptrdiff_t)gi * Cg) * H * W; \
                T *yg = y + ((ptrdiff_t)n * M + (ptrdiff_t)gi * Mg) * P; \
                int32_t oh = 0, ow = 0; \
                for (int32_t j0 = 0; j0 < P; j0 += NT) { \
                    int32_t jc = P - j0 < NT ? P - j0 : NT; \
                    for (int32_t j = 0; j < jc && !pw; j++) { \
                        prow[j] = oh * sh - pt; \
                        pcol[j] = ow * sw - pl; \
                        if (j % NR == 0) straight[j / NR] = ow + NR <= OW; \
                        if (++ow == OW) { ow = 0; oh++; } \
                    } \
                    for (int32_t k0 = 0;; k0 += KC) { /* once even when K == 0: Y = bias */ \
                        int32_t kb = K - k0 < KC ? K - k0 : KC; \
                        const T *apk = ag + (single ? 0 : (ptrdiff_t)k0 * Mp); \
                        if (single) mg_gemm_pack_a_##dt(ag, wg + k0, Mg, kb, K, 1); \
                        const T *bg = bias ? bias + gi * Mg : 0; \
                        T *yj = yg + j0; \
                        if (pw) mg_im2col_pack_pw_##dt(bp, xg + (ptrdiff_t)k0 * P + j0, kb, jc, P); \
                        else mg_im2col_pack_##dt(bp, xg, geo, k0, kb, prow, pcol, straight, jc); \
                        mg_im2col_sweeps_##dt[k0 + kb < K ? 0 : act.code](apk, bp, kb, Mg, jc, yj, P, bg, k0 == 0, \
                                                                          &act); /* the activation after the last block */ \
                        if (k0 + kb >= K) break; \
                    } \
                } \
            } \
        } \
    } \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        MG_CONV_PARAMS(dt, op); \
        MG_CHECK(t[3] != 0, MG_NAME(dt, op), "the scratch tensor is missing"); \
        mg_im2col_conv_##dt(&geo, N, M, OH, OW, G, (const T *)(uintptr_t)t[0], (const T *)(uintptr_t)t[1], \
                            (const T *)(uintptr_t)t[2], (T *)(uintptr_t)t[3], (T *)(uintptr_t)t[4], 0); \
        return 0; \
    }
MG_FLOAT(MG_CONV2D_IM2COL, conv2d_im2col)

/* ---- conv2d_pack_weights (tensors W, Packed; conv2d's ints): the weights of every group in the layout
 * conv2d_im2col packs them in, group gi at gi * Mp * K elements (Mp = ceil(M/group / 4) * 4, K = C/group
 * * KH * KW), K block k0 (of MG_IM2COL_KC) at k0 * Mp inside it, MR-row tiles, rows past M/group zero.
 * A plan runs it once at load on constant weights; conv2d_im2col_packed (X, Packed, Bias or 0, Y) then
 * runs the conv on them without packing. */
#define MG_CONV2D_PACK_WEIGHTS(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        enum { MR = MG_GEMM_MR, KC = MG_IM2COL_KC }; \
        MG_CONV_PARAMS(dt, op); \
        (void)geo; \
        const T *w = (const T *)(uintptr_t)t[0]; \
        T *ap = (T *)(uintptr_t)t[1]; \
        MG_CHECK(ap != 0, MG_NAME(dt, op), "the packed tensor is missing"); \
        int32_t Mg = M / G, K = (C / G) * KH * KW, Mp = (Mg + MR - 1) / MR * MR; \
        for (int32_t gi = 0; gi < G && Mg > 0; gi++) \
            for (int32_t k0 = 0; k0 < K; k0 += KC) \
                mg_gemm_pack_a_##dt(ap + (ptrdiff_t)gi * Mp * K + (ptrdiff_t)k0 * Mp, w + (ptrdiff_t)gi * Mg * K + k0, \
                                    Mg, K - k0 < KC ? K - k0 : KC, K, 1); \
        return 0; \
    }
MG_FLOAT(MG_CONV2D_PACK_WEIGHTS, conv2d_pack_weights)

#define MG_CONV2D_IM2COL_PACKED(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        MG_CONV_PARAMS(dt, op); \
        MG_CHECK(t[1] != 0, MG_NAME(dt, op), "the packed weights are missing"); \
        mg_im2col_conv_##dt(&geo, N, M, OH, OW, G, (const T *)(uintptr_t)t[0], 0, (const T *)(uintptr_t)t[2], \
                            (T *)(uintptr_t)t[1], (T *)(uintptr_t)t[3], 1); \
        return 0; \
    }
MG_FLOAT(MG_CONV2D_IM2COL_PACKED, conv2d_im2col_packed)

/* ---- dwconv2d: depthwise 3x3 (group == C == M, dilation 1), stride 1 or 2, any pads. Same ints as
 * conv2d. Per channel, two output rows per pass (they share input rows; MG_DW_R), each output vector
 * from bias-initialised registers and 9 multiply-adds; the activation (a constant per copy of the loops)
 * is applied on the way out. Interior columns (every tap inside the row) read the input rows in place:
 * three loads per input row (stride 2: two loads and a splat, split into even / odd lanes and the even
 * lanes shifted by one). Border columns, and rows whose taps leave the input, read padded copies of
 * the rows' needed columns on the stack (zeros outside the input; stride 2: already split into even and
 * odd columns), MG_DW_CW columns at a time. A partial last vector overlaps the previous one (or goes
 * lane by lane when the row is shorter than a vector). */
#define MG_DW_CW 128 /* output columns per padded chunk */
#define MG_DW_R 4 /* output rows per pass, at most: 2, or 4 at stride 1 in rows of up to MG_DW_NARROW */
#define MG_DW_NARROW 8
#define MG_DW_ROWS 6 /* input rows of a pass, at most: (R - 1) * S + 3 */
#define MG_DW_SPILL(S) ((S) == 1)

/* One function per activation and stride (small functions: wasmtime allocates registers per function). */
#define MG_DW_STRIDE(dt, ACT) \
    static __attribute__((noinline)) void mg_dw_s1_a##ACT##_##dt(const mg_##dt##_t *x, const mg_##dt##_t *w, \
                                                                 const mg_##dt##_t *bias, mg_##dt##_t *y, int32_t NC, \
                                                                 int32_t C, int32_t H, int32_t W, int32_t OH, int32_t OW, \
                                                                 int32_t pt, int32_t pl, const mg_act *act) { \
        mg_dw_all_##dt(x, w, bias, y, NC, C, H, W, OH, OW, pt, pl, 1, ACT, act); \
    } \
    static __attribute__((noinline)) void mg_dw_s2_a##ACT##_##dt(const mg_##dt##_t *x, const mg_##dt##_t *w, \
                                                                 const mg_##dt##_t *bias, mg_##dt##_t *y, int32_t NC, \
                                                                 int32_t C, int32_t H, int32_t W, int32_t OH, int32_t OW, \
                                                                 int32_t pt, int32_t pl, const mg_act *act) { \
        mg_dw_all_##dt(x, w, bias, y, NC, C, H, W, OH, OW, pt, pl, 2, ACT, act); \
    }

#define MG_DWCONV2D(dt, op) \
    /* The padded input row from column c: p[j] = xr[c + j] inside [0, W), else 0 (xr 0: a padding row). \
     * Stride 1: ev[j] = p[j]; stride 2: ev[j] = p[2j], od[j] = p[2j + 1]; j in [0, n). */ \
    MG_INLINE void mg_dw_pad_##dt(const mg_##dt##_t *xr, int32_t W, int32_t c, int32_t n, mg_##dt##_t *ev, \
                                  mg_##dt##_t *od, const int S) { \
        MG_TYPES(dt); \
        int32_t j = 0; \
        if (xr) { \
            for (; j < n && c + S * j < 0; j++) { \
                ev[j] = 0; \
                if (S == 2) od[j] = (uint32_t)(c + 2 * j + 1) < (uint32_t)W ? xr[c + 2 * j + 1] : 0; \
            } \
            for (; j + L <= n && c + S * (j + L) <= W; j += L) { \
                const T *s = xr + c + S * j; \
                if (S == 1) { MG_STORE(ev + j, MG_LOAD(VT, s)); continue; } \
                v128_t v0 = wasm_v128_load(s), v1 = wasm_v128_load(s + L); \
                MG_STORE(ev + j, (VT)(L == 4 ? wasm_i32x4_shuffle(v0, v1, 0, 2, 4, 6) : wasm_i64x2_shuffle(v0, v1, 0, 2))); \
                MG_STORE(od + j, (VT)(L == 4 ? wasm_i32x4_shuffle(v0, v1, 1, 3, 5, 7) : wasm_i64x2_shuffle(v0, v1, 1, 3))); \
            } \
        } \
        for (; j < n; j++) { \
            int32_t i = c + S * j; \
            ev[j] = xr && (uint32_t)i < (uint32_t)W ? xr[i] : 0; \
            if (S == 2) od[j] = xr && (uint32_t)(i + 1) < (uint32_t)W ? xr[i + 1] : 0; \
        } \
    } \
    /* acc[r] = bias + the 3x3 taps of output rows r < R at column j: input row k from rk[k] (D: the input \
     * row itself, at column S*j; else its padded copy rk[k][0] / rk[k][1] as mg_dw_pad writes it). \
     * No FP contraction: each product is added as soon as it is made (acc + w*x, in this order), which \
     * keeps few vectors live after wasmtime's instruction placement. */ \
    MG_INLINE void mg_dw_vec_##dt(const mg_##dt##_t *const rk[][2], ptrdiff_t j, const mg_##dt##_vt wv[9], \
                                  mg_##dt##_vt vb, mg_##dt##_vt acc[MG_DW_R], const int R, const int S, const int D, \
                                  mg_##dt##_t *ys, int32_t OW) { \
        _Pragma("clang fp contract(off)") MG_TYPES(dt); \
        for (int r = 0; r < R; r++) acc[r] = vb; \
        for (int k = 0; k < (R - 1) * S + 3; k++) { \
            VT t0, t1, t2; \
            if (S == 1) { \
                const T *e = rk[k][0] + j; \
                t1 = MG_LOAD(VT, e + 1); \
                /* D 2 / 3: the first / last vector of a row padded by one: a zero shifted in */ \
                v128_t z = wasm_i64x2_splat(0); \
                t0 = D != 2 ? MG_LOAD(VT, e) \
                            : (VT)(L == 4 ? wasm_i32x4_shuffle(z, t1, 3, 4, 5, 6) : wasm_i64x2_shuffle(z, t1, 1, 2)); \
                t2 = D == 3 ? (VT)mg_shift_in((v128_t)t1, z, sizeof(T)) : MG_LOAD(VT, e + 2); \
            } else if (D == 2) { /* the first vector, pads 1: x[-1], x[1].. is x[1], x[3].. with a zero in front */ \
                const T *e = rk[k][0] + 2 * j; \
                v128_t v0 = wasm_v128_load(e), v1 = wasm_v128_load(e + L), z = wasm_i64x2_splat(0); \
                v128_t od = L == 4 ? wasm_i32x4_shuffle(v0, v1, 1, 3, 5, 7) : wasm_i64x2_shuffle(v0, v1, 1, 3); \
                t0 = (VT)(L == 4 ? wasm_i32x4_shuffle(z, od, 3, 4, 5, 6) : wasm_i64x2_shuffle(z, od, 1, 2)); \
                t1 = (VT)(L == 4 ? wasm_i32x4_shuffle(v0, v1, 0, 2, 4, 6) : wasm_i64x2_shuffle(v0, v1, 0, 2)); \
                t2 = (VT)od; \
            } else if (D) { \
                const T *e = rk[k][0] + 2 * j; \
                v128_t v0 = wasm_v128_load(e), v1 = wasm_v128_load(e + L); \
                v128_t nx = L == 4 ? wasm_v128_load32_zero(e + 2 * L) : wasm_v128_load64_zero(e + 2 * L); /* lane 0 */ \
                v128_t ev = L == 4 ? wasm_i32x4_shuffle(v0, v1, 0, 2, 4, 6) : wasm_i64x2_shuffle(v0, v1, 0, 2); \
                t0 = (VT)ev; \
                t1 = (VT)(L == 4 ? wasm_i32x4_shuffle(v0, v1, 1, 3, 5, 7) : wasm_i64x2_shuffle(v0, v1, 1, 3)); \
                t2 = (VT)(L == 4 ? wasm_i32x4_shuffle(ev, nx, 1, 2, 3, 4) : wasm_i64x2_shuffle(ev, nx, 1, 2)); \
            } else { \
                t0 = MG_LOAD(VT, rk[k][0] + j), t1 = MG_LOAD(VT, rk[k][1] + j), t2 = MG_LOAD(VT, rk[k][0] + j + 1); \
            } \
            for (int r = 0; r < R; r++) { \
                int kk = k - r * S; \
                if (kk < 0 || kk > 2) continue; \
                acc[r] += wv[kk * 3] * t0; acc[r] += wv[kk * 3 + 1] * t1; acc[r] += wv[kk * 3 + 2] * t2; \
                if (MG_DW_SPILL(S) && kk < 2) MG_STORE(ys + (ptrdiff_t)r * OW, acc[r]); \
            } \
        } \
    } \
    /* Output rows y[r * OW + 0:cw], r < R, from the rows rk (see mg_dw_vec). */ \
    MG_INLINE void mg_dw_rows_##dt(const mg_##dt##_t *const rk[][2], mg_##dt##_t *y, int32_t OW, int32_t cw, \
                                   const mg_##dt##_vt wv[9], mg_##dt##_vt vb, const int R, const int S, const int D, \
                                   const int ACT, const mg_act *act) { \
        MG_TYPES(dt); \
        mg_act ka = {ACT, act->a, act->b}; \
        VT acc[MG_DW_R]; \
        int32_t j = 0; \
        for (; j + L <= cw; j += L) { \
            mg_dw_vec_##dt(rk, j, wv, vb, acc, R, S, D, y + j, OW); \
            for (int r = 0; r < R; r++) MG_STORE(y + (ptrdiff_t)r * OW + j, mg_vact_##dt(acc[r], &ka)); \
        } \
        if (j == cw) return; \
        j = cw >= L ? cw - L : 0; \
        T tmp[MG_DW_R * L]; \
        if (cw >= L) mg_dw_vec_##dt(rk, j, wv, vb, acc, R, S, D, y + j, OW); \
        else mg_dw_vec_##dt(rk, j, wv, vb, acc, R, S, D, tmp, L); \
        for (int r = 0; r < R; r++) { \
            VT v = mg_vact_##dt(acc[r], &ka); \
            if (cw >= L) { MG_STORE(y + (ptrdiff_t)r * OW + j, v); continue; } \
            for (int32_t i = 0; i < cw; i++) y[(ptrdiff_t)r * OW + i] = v[i]; \
        } \
    } \
    /* Output columns [c0, c1) of R rows from input row ih0 on, through padded copies in buf. */ \
    MG_INLINE void mg_dw_padded_##dt(const mg_##dt##_t *x, mg_##dt##_t *y, int32_t H, int32_t W, int32_t OW, \
                                     int32_t ih0, int32_t pl, int32_t c0, int32_t c1, mg_##dt##_t *buf, \
                                     const mg_##dt##_vt wv[9], mg_##dt##_vt vb, const int R, const int S, \
                                     const int ACT, const mg_act *act) { \
        MG_TYPES(dt); \
        enum { RS = MG_DW_CW + 2 * L }; /* one padded row: the vectors read up to MG_DW_CW + 1 */ \
        const T *rk[MG_DW_ROWS][2]; \
        for (int32_t c = c0; c < c1; c += MG_DW_CW) { \
            int32_t cw = c1 - c < MG_DW_CW ? c1 - c : MG_DW_CW, n = (cw + L - 1) / L * L + 3 - S; \
            for (int k = 0; k < (R - 1) * S + 3; k++) { \
                int32_t ih = ih0 + k; \
                T *ev = buf + 2 * k * RS, *od = ev + RS; \
                mg_dw_pad_##dt((uint32_t)ih < (uint32_t)H ? x + (ptrdiff_t)ih * W : 0, W, c * S - pl, n, ev, od, S); \
                rk[k][0] = ev; rk[k][1] = od; \
            } \
            mg_dw_rows_##dt(rk, y + c, OW, cw, wv, vb, R, S, 0, ACT, act); \
        } \
    } \
    /* R output rows from oh. Interior columns [e0, e1) read the input rows in place (rows outside the \
     * input read zrow, zeros, when it is given); with pads 1 the first vector (and at stride 1 the last) \
     * also does, a zero shifted in; other borders and rows go through padded copies. */ \
    MG_INLINE void mg_dw_pass_##dt(const mg_##dt##_t *x, mg_##dt##_t *y, int32_t H, int32_t W, int32_t OW, \
                                   int32_t oh, int32_t pt, int32_t pl, int32_t e0, int32_t e1, mg_##dt##_t *buf, \
                                   const mg_##dt##_t *zrow, const mg_##dt##_vt wv[9], mg_##dt##_vt vb, const int R, \
                                   const int S, const int ACT, const mg_act *act) { \
        MG_TYPES(dt); \
        const int NR = (R - 1) * S + 3; \
        int32_t ih0 = oh * S - pt; \
        T *yr = y + (ptrdiff_t)oh * OW; \
        if (e1 - e0 < L || (!zrow && (ih0 < 0 || ih0 + NR > H))) { \
            mg_dw_padded_##dt(x, yr, H, W, OW, ih0, pl, 0, OW, buf, wv, vb, R, S, ACT, act); \
            return; \
        } \
        const T *row[MG_DW_ROWS], *rk[MG_DW_ROWS][2]; \
        for (int k = 0; k < NR; k++) row[k] = (uint32_t)(ih0 + k) < (uint32_t)H ? x + (ptrdiff_t)(ih0 + k) * W : zrow; \
        int left = pl == 1 && (S == 1 ? OW == W && W >= L + 2 : W >= 2 * L), right = S == 1 && left; \
        int32_t a = left ? L : e0, b = right ? OW - L : e1; \
        if (b > a && b - a < L) a = b - L; \
        if (b > a) { \
            for (int k = 0; k < NR; k++) rk[k][0] = rk[k][1] = row[k] + a * S - pl; \
            mg_dw_rows_##dt(rk, yr + a, OW, b - a, wv, vb, R, S, 1, ACT, act); \
        } \
        if (left) { \
            for (int k = 0; k < NR; k++) rk[k][0] = rk[k][1] = row[k] + S - 2; \
            mg_dw_rows_##dt(rk, yr, OW, L, wv, vb, R, S, 2, ACT, act); \
        } else if (e0 > 0) { /* widened to a whole vector where the row allows (overlapping the interior) */ \
            mg_dw_padded_##dt(x, yr, H, W, OW, ih0, pl, 0, e0 > L || OW < L ? e0 : L, buf, wv, vb, R, S, ACT, act); \
        } \
        if (right) { \
            for (int k = 0; k < NR; k++) rk[k][0] = rk[k][1] = row[k] + W - L - 1; \
            mg_dw_rows_##dt(rk, yr + W - L, OW, L, wv, vb, R, S, 3, ACT, act); \
        } else if (e1 < OW) { \
            mg_dw_padded_##dt(x, yr, H, W, OW, ih0, pl, OW - e1 >= L ? e1 : OW - L, OW, buf, wv, vb, R, S, ACT, act); \
        } \
    } \
    /* All N * C channels with stride S and activation ACT (constants: one copy of the loops each). */ \
    MG_INLINE void mg_dw_all_##dt(const mg_##dt##_t *x, const mg_##dt##_t *w, const mg_##dt##_t *bias, mg_##dt##_t *y, \
                                  int32_t NC, int32_t C, int32_t H, int32_t W, int32_t OH, int32_t OW, int32_t pt, \
                                  int32_t pl, const int S, const int ACT, const mg_act *act) { \
        MG_TYPES(dt); \
        T buf[MG_DW_ROWS * 2 * (MG_DW_CW + 2 * L)]; \
        /* interior output columns: every vector from e0 to e1 - L reads inside the row (up to \
         * column S*j - pl + S*L + 2 - S) */ \
        int32_t e0 = (pl + S - 1) / S, e1 = W + pl + S - 3 >= 0 ? (W + pl + S - 3) / S : 0; \
        if (e1 > OW) e1 = OW; \
        /* a zero row for the rows outside the input, when the row fits (reads from zrow - 1 to zrow + W + 2L) */ \
        T zero[2 * MG_DW_CW + 4 * L]; \
        const T *zrow = 0; \
        if (W <= 2 * MG_DW_CW) { \
            for (int32_t i = 0; i < 2 * MG_DW_CW + 4 * L; i += L) MG_STORE(zero + i, MG_SPLAT(VT, 0)); \
            zrow = zero + L; \
        } \
        for (int32_t nc = 0; nc < NC; nc++) { \
            const T *xp = x + (ptrdiff_t)nc * H * W, *wc = w + (nc % C) * 9; \
            T *yp = y + (ptrdiff_t)nc * OH * OW; \
            VT wv[9], vb = MG_SPLAT(VT, bias ? bias[nc % C] : 0); \
            for (int k = 0; k < 9; k++) wv[k] = MG_SPLAT(VT, wc[k]); \
            /* passes of R rows, the last one overlapping the previous (one copy of the loops runs) */ \
            if (S == 1 && OW <= MG_DW_NARROW && OH >= 4) { /* short rows: fewer, taller passes */ \
                for (int32_t oh = 0; oh < OH; oh += 4) \
                    mg_dw_pass_##dt(xp, yp, H, W, OW, oh + 4 <= OH ? oh : OH - 4, pt, pl, e0, e1, buf, zrow, wv, vb, 4, \
                                    S, ACT, act); \
            } else if (OH >= 2) { \
                for (int32_t oh = 0; oh < OH; oh += 2) \
                    mg_dw_pass_##dt(xp, yp, H, W, OW, oh + 2 <= OH ? oh : OH - 2, pt, pl, e0, e1, buf, zrow, wv, vb, 2, \
                                    S, ACT, act); \
            } else if (OH == 1) { \
                mg_dw_pass_##dt(xp, yp, H, W, OW, 0, pt, pl, e0, e1, buf, zrow, wv, vb, 1, S, ACT, act); \
            } \
        } \
    } \
    MG_DW_STRIDE(dt, 0) MG_DW_STRIDE(dt, 1) MG_DW_STRIDE(dt, 2) MG_DW_STRIDE(dt, 3) MG_DW_STRIDE(dt, 4) \
    MG_DW_STRIDE(dt, 5) MG_DW_STRIDE(dt, 6) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t N = p[0], C = p[1], H = p[2], W = p[3], M = p[4], OH = p[5], OW = p[6], KH = p[7], KW = p[8]; \
        int32_t G = p[9], pt = p[10], pl = p[11], sh = p[12], sw = p[13], dh = p[14], dw = p[15]; \
        mg_act act = mg_act_from(p[16], p[17], p[18]); \
        MG_CHECK(N >= 0 && C >= 0 && H >= 0 && W >= 0 && OH >= 0 && OW >= 0, MG_NAME(dt, op), "sizes must be >= 0"); \
        MG_CHECK(G == C && M == C && KH == 3 && KW == 3 && dh == 1 && dw == 1, MG_NAME(dt, op), \
                 "only depthwise 3x3 (group == C == M, dilation 1)"); \
        MG_CHECK_GOT(sh == sw && (sh == 1 || sh == 2), MG_NAME(dt, op), "strides must be 1 or 2", sh); \
        MG_CHECK(pt >= 0 && pl >= 0, MG_NAME(dt, op), "pads must be >= 0"); \
        MG_CHECK_GOT(act.code >= 0 && act.code < MG_ACT_COUNT, MG_NAME(dt, op), "act must be in 0..6", act.code); \
        const T *x = (const T *)(uintptr_t)t[0], *w = (const T *)(uintptr_t)t[1], *bias = (const T *)(uintptr_t)t[2]; \
        T *y = (T *)(uintptr_t)t[3]; \
        switch (act.code) { /* one copy of the loops per activation */ \
        case 0: (sh == 1 ? mg_dw_s1_a0_##dt : mg_dw_s2_a0_##dt)(x, w, bias, y, N * C, C, H, W, OH, OW, pt, pl, &act); break; \
        case 1: (sh == 1 ? mg_dw_s1_a1_##dt : mg_dw_s2_a1_##dt)(x, w, bias, y, N * C, C, H, W, OH, OW, pt, pl, &act); break; \
        case 2: (sh == 1 ? mg_dw_s1_a2_##dt : mg_dw_s2_a2_##dt)(x, w, bias, y, N * C, C, H, W, OH, OW, pt, pl, &act); break; \
        case 3: (sh == 1 ? mg_dw_s1_a3_##dt : mg_dw_s2_a3_##dt)(x, w, bias, y, N * C, C, H, W, OH, OW, pt, pl, &act); break; \
        case 4: (sh == 1 ? mg_dw_s1_a4_##dt : mg_dw_s2_a4_##dt)(x, w, bias, y, N * C, C, H, W, OH, OW, pt, pl, &act); break; \
        case 5: (sh == 1 ? mg_dw_s1_a5_##dt : mg_dw_s2_a5_##dt)(x, w, bias, y, N * C, C, H, W, OH, OW, pt, pl, &act); break; \
        default: (sh == 1 ? mg_dw_s1_a6_##dt : mg_dw_s2_a6_##dt)(x, w, bias, y, N * C, C, H, W, OH, OW, pt, pl, &act); break; \
        } \
        return 0; \
    }
MG_FLOAT(MG_DWCONV2D, dwconv2d)
