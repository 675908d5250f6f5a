/* einsum.c: a generic strided contraction of one or two operands: for every index of Y's (up to 6) dims,
 * Y = sum over up to 6 reduced dims of A[...] * B[...] (B absent: A alone), each operand addressed by its
 * own strides per dim (a repeated letter of an equation has the sum of its strides: a diagonal). With
 * no reduced dims and one operand it is a strided copy (a transpose). */
#include "mg.h"

#define MG_EINSUM(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t no = p[0], nr = p[1]; \
        MG_CHECK_GOT(no >= 0 && no <= 6, MG_NAME(dt, op), "n_out must be in 0..6", no); \
        MG_CHECK_GOT(nr >= 0 && nr <= 6, MG_NAME(dt, op), "n_red must be in 0..6", nr); \
        const int32_t *od = p + 2, *rd = p + 8, *aos = p + 14, *ars = p + 20, *bos = p + 26, *brs = p + 32; \
        for (int k = 0; k < 6; k++) \
            MG_CHECK_GOT(od[k] >= 0 && rd[k] >= 0, MG_NAME(dt, op), "dims must be >= 0", od[k] < 0 ? od[k] : rd[k]); \
        const T *a = (const T *)(uintptr_t)t[0], *b = (const T *)(uintptr_t)t[1]; \
        T *y = (T *)(uintptr_t)t[2]; \
        int32_t odim[6], rdim[6]; \
        ptrdiff_t oas[6], obs[6], ras[6], rbs[6]; \
        /* dims beyond the counts are unit dims, so the loops below always run 6 deep */ \
        for (int k = 0; k < 6; k++) { \
            odim[k] = k < no ? od[k] : 1; \
            oas[k] = k < no ? aos[k] : 0; \
            obs[k] = k < no ? bos[k] : 0; \
            rdim[k] = k < nr ? rd[k] : 1; \
            ras[k] = k < nr ? ars[k] : 0; \
            rbs[k] = k < nr ? brs[k] : 0; \
        } \
        ptrdiff_t total = 1; \
        for (int k = 0; k < 6; k++) total *= odim[k]; \
        if (total == 0) return 0; \
        int32_t rlast = nr ? nr - 1 : 0; /* the innermost reduced loop runs flat */ \
        int32_t rn = rdim[rlast]; \
        ptrdiff_t rsa = ras[rlast], rsb = rbs[rlast]; \
        rdim[rlast] = 1; \
        int32_t oi[6] = {0, 0, 0, 0, 0, 0}; \
        ptrdiff_t ao = 0, bo = 0; \
        for (ptrdiff_t flat = 0; flat < total; flat++) { \
            A acc = 0; \
            for (int32_t r0 = 0; r0 < rdim[0]; r0++) \
            for (int32_t r1 = 0; r1 < rdim[1]; r1++) \
            for (int32_t r2 = 0; r2 < rdim[2]; r2++) \
            for (int32_t r3 = 0; r3 < rdim[3]; r3++) \
            for (int32_t r4 = 0; r4 < rdim[4]; r4++) \
            for (int32_t r5 = 0; r5 < rdim[5]; r5++) { \
                const T *pa = a + ao + r0 * ras[0] + r1 * ras[1] + r2 * ras[2] + r3 * ras[3] + r4 * ras[4] + r5 * ras[5]; \
                if (b) { \
                    const T *pb = b + bo + r0 * rbs[0] + r1 * rbs[1] + r2 * rbs[2] + r3 * rbs[3] + r4 * rbs[4] + r5 * rbs[5]; \
                    for (int32_t i = 0; i < rn; i++) acc += (A)pa[i * rsa] * (A)pb[i * rsb]; \
                } else { \
                    for (int32_t i = 0; i < rn; i++) acc += (A)pa[i * rsa]; \
                } \
            } \
            y[flat] = (T)acc; \
            for (int k = no - 1; k >= 0; k--) { /* odometer over the output dims, last fastest */ \
                ao += oas[k]; \
                bo += obs[k]; \
                if (++oi[k] < odim[k]) break; \
                ao -= oas[k] * odim[k]; \
                bo -= obs[k] * odim[k]; \
                oi[k] = 0; \
            } \
        } \
        return 0; \
    }
MG_NUM(MG_EINSUM, einsum)
