/* mg_conv.h: what conv.c and winograd.c share: the conv geometry and the check of conv2d's 19 ints. */
#ifndef MG_CONV_H
#define MG_CONV_H

#include "mg_gemm.h"

typedef struct {
    int32_t C, H, W, KH, KW, Cg, pt, pl, sh, sw, dh, dw;
    mg_act act;
} mg_conv_geom;

/* Reads and checks conv2d's 19 ints (N, C, H, W, M, OH, OW, KH, KW, group, pads, strides, dilations, act)
 * into locals of those names and `geo`; returns the error from the kernel `op` when one is bad. */
#define MG_CONV_PARAMS(dt, op) \
    int32_t N = p[0], C = p[1], H = p[2], W = p[3], M = p[4], OH = p[5], OW = p[6], KH = p[7], KW = p[8]; \
    int32_t G = p[9], pt = p[10], pl = p[11], sh = p[12], sw = p[13], dh = p[14], dw = p[15]; \
    mg_act act = mg_act_from(p[16], p[17], p[18]); \
    MG_CHECK(N >= 0 && C >= 0 && H >= 0 && W >= 0 && M >= 0 && OH >= 0 && OW >= 0, MG_NAME(dt, op), \
             "N, C, H, W, M, OH, OW must be >= 0"); \
    MG_CHECK(KH >= 1 && KW >= 1, MG_NAME(dt, op), "KH and KW must be >= 1"); \
    MG_CHECK_GOT(G >= 1 && C % G == 0 && M % G == 0, MG_NAME(dt, op), "group must be >= 1 and divide C and M", G); \
    MG_CHECK(pt >= 0 && pl >= 0, MG_NAME(dt, op), "pads must be >= 0"); \
    MG_CHECK(sh >= 1 && sw >= 1 && dh >= 1 && dw >= 1, MG_NAME(dt, op), "strides and dilations must be >= 1"); \
    MG_CHECK_GOT(act.code >= 0 && act.code < MG_ACT_COUNT, MG_NAME(dt, op), "act must be in 0..6", act.code); \
    mg_conv_geom geo = {C, H, W, KH, KW, C / G, pt, pl, sh, sw, dh, dw, act}

#endif
