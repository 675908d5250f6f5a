/* pool_ext.c: Lp pooling over 1-D, 2-D and 3-D windows (a 2-D or 1-D pool is a 3-D one with unit leading
 * dims). Taps in the padding add 0; Y = (sum |x|^p)^(1/p), p = 1 and 2 without pow. */
#include "mg.h"
#include "mg_math.h"
#include "mg_rmath.h"

#define MG_LPPOOL(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t NC = p[0], D = p[1], H = p[2], W = p[3], OD = p[4], OH = p[5], OW = p[6]; \
        int32_t KD = p[7], KH = p[8], KW = p[9], pd = p[10], ph = p[11], pw = p[12]; \
        int32_t sd = p[13], sh = p[14], sw = p[15], dd = p[16], dh = p[17], dw = p[18]; \
        double pe = (double)mg_f32_from_bits(p[19]); \
        MG_CHECK_GOT(NC >= 0 && D >= 0 && H >= 0 && W >= 0 && OD >= 0 && OH >= 0 && OW >= 0, MG_NAME(dt, op), \
                     "sizes must be >= 0", NC); \
        MG_CHECK(KD >= 1 && KH >= 1 && KW >= 1, MG_NAME(dt, op), "kernel sizes must be >= 1"); \
        MG_CHECK(sd >= 1 && sh >= 1 && sw >= 1 && dd >= 1 && dh >= 1 && dw >= 1, MG_NAME(dt, op), \
                 "strides and dilations must be >= 1"); \
        MG_CHECK(pd >= 0 && ph >= 0 && pw >= 0, MG_NAME(dt, op), "pads must be >= 0"); \
        MG_CHECK(pe > 0, MG_NAME(dt, op), "p must be > 0"); \
        const T *x = (const T *)(uintptr_t)t[0]; \
        T *y = (T *)(uintptr_t)t[1]; \
        int mode = pe == 1 ? 1 : pe == 2 ? 2 : 0; \
        ptrdiff_t plane = (ptrdiff_t)D * H * W; \
        for (int32_t nc = 0; nc < NC; nc++) { \
            const T *xp = x + nc * plane; \
            for (int32_t od = 0; od < OD; od++) \
            for (int32_t oh = 0; oh < OH; oh++) \
            for (int32_t ow = 0; ow < OW; ow++) { \
                double s = 0; \
                for (int32_t kd = 0; kd < KD; kd++) { \
                    int32_t id = od * sd - pd + kd * dd; \
                    if (id < 0 || id >= D) continue; \
                    for (int32_t kh = 0; kh < KH; kh++) { \
                        int32_t ih = oh * sh - ph + kh * dh; \
                        if (ih < 0 || ih >= H) continue; \
                        const T *xr = xp + ((ptrdiff_t)id * H + ih) * W; \
                        for (int32_t kw = 0; kw < KW; kw++) { \
                            int32_t iw = ow * sw - pw + kw * dw; \
                            if (iw < 0 || iw >= W) continue; \
                            double v = (double)xr[iw]; \
                            v = v < 0 ? -v : v; \
                            s += mode == 1 ? v : mode == 2 ? v * v : mg_rx_pow(v, pe); \
                        } \
                    } \
                } \
                y[(((ptrdiff_t)nc * OD + od) * OH + oh) * OW + ow] = \
                    (T)(mode == 1 ? s : mode == 2 ? __builtin_sqrt(s) : mg_rx_pow(s, 1 / pe)); \
            } \
        } \
        return 0; \
    }
MG_FLOAT(MG_LPPOOL, lppool)
