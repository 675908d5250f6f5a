/* mg_rmath.h: scalar log and pow over every double (the reduction, normalisation and pooling-extra
 * kernels' final transforms): mg_log_f64 on the positive normal range, IEEE limits around it. */
#ifndef MG_RMATH_H
#define MG_RMATH_H

#include "mg_math.h"

MG_INLINE double mg_rx_log(double v) {
    if (v != v) return v;
    if (v < 0) return __builtin_nan("");
    if (v == 0) return -__builtin_inf();
    if (v == __builtin_inf()) return v;
    if (v < 2.2250738585072014e-308) return mg_log_f64(v * 18014398509481984.0) - 37.42994775023704; /* 2^54 */
    return mg_log_f64(v);
}

/* v^e for v >= 0 (or NaN): 0^e = 0 for e > 0, inf for e < 0, 1 for e == 0. */
MG_INLINE double mg_rx_pow(double v, double e) {
    if (e == 0) return 1;
    if (v == 0) return e > 0 ? 0 : __builtin_inf();
    return mg_exp_f64(e * mg_rx_log(v));
}

#endif
