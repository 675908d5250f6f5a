/* cast.c: Y = X converted to the dtype `to` (an ONNX TensorProto code), one kernel per source dtype.
 * float -> integer truncates toward zero into int32 (int64 for i64), then wraps to narrower targets; NaN and
 * values outside int32 (int64) give INT32_MIN (INT64_MIN): what numpy's astype and onnxruntime do on x86
 * (cvttss2si). integer -> integer wraps (two's complement); -> bool is x != 0; bool -> any is 0 or 1;
 * f64 -> f32 and integer -> float round to nearest. */
#include "mg.h"

#define MG_ISBOOL_f32 0
#define MG_ISBOOL_f64 0
#define MG_ISBOOL_i8 0
#define MG_ISBOOL_u8 0
#define MG_ISBOOL_i16 0
#define MG_ISBOOL_i32 0
#define MG_ISBOOL_i64 0
#define MG_ISBOOL_bool 1

/* X(dt, onnx code, args...) for every target dtype. */
#define MG_CAST_TARGETS(X, ...) \
    X(f32, 1, __VA_ARGS__) X(u8, 2, __VA_ARGS__) X(i8, 3, __VA_ARGS__) X(i16, 5, __VA_ARGS__) \
    X(i32, 6, __VA_ARGS__) X(i64, 7, __VA_ARGS__) X(bool, 9, __VA_ARGS__) X(f64, 11, __VA_ARGS__)

#define MG_DEFINE_CONV(ddt, code, sdt) \
    MG_INLINE mg_##ddt##_t mg_conv_##sdt##_##ddt(mg_##sdt##_t x) { \
        typedef mg_##ddt##_t D; \
        typedef mg_##ddt##_a DA; \
        if (MG_ISBOOL_##ddt) return x != 0; \
        if (mg_##ddt##_flt) return (D)x; \
        if (!mg_##sdt##_flt) return (D)(DA)x; \
        if (sizeof(D) == 8) /* [-2^63, 2^63) truncates, everything else (NaN too) gives INT64_MIN */ \
            return x >= -0x1p63 && x < 0x1p63 ? (D)(int64_t)x : (D)INT64_MIN; \
        return (D)(DA)(uint32_t)(x > -0x1p31 - 1 && x < 0x1p31 ? (int32_t)x : INT32_MIN); \
    }
#define MG_DEFINE_CONVS(sdt, ...) MG_CAST_TARGETS(MG_DEFINE_CONV, sdt)
MG_ALL(MG_DEFINE_CONVS, _)

#define MG_CAST_CASE(ddt, code, sdt) \
    case code: { \
        mg_##ddt##_t *y = (mg_##ddt##_t *)(uintptr_t)t[1]; \
        for (int32_t i = 0; i < n; i++) y[i] = mg_conv_##sdt##_##ddt(x[i]); \
        return 0; \
    }
#define MG_CAST(sdt, op) \
    MG_KERNEL_DEF(sdt, op) { \
        int32_t n = p[0]; \
        MG_CHECK_GOT(n >= 0, MG_NAME(sdt, op), "n must be >= 0", n); \
        const mg_##sdt##_t *x = (const mg_##sdt##_t *)(uintptr_t)t[0]; \
        switch (p[1]) { MG_CAST_TARGETS(MG_CAST_CASE, sdt) } \
        return mg_fail_got(MG_NAME(sdt, op) ": unsupported target dtype code", p[1]); \
    }
MG_ALL(MG_CAST, cast)
