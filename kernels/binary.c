/* binary.c: broadcasting binary ops beyond add/sub/mul/div (pow, mod/fmod, min/max, prelu, bit shifts,
 * comparisons with a bool output, logical and/or/xor) and where, over mg_broadcast.h's walk. Each op is
 * a scalar and a vector function per dtype; ops without a SIMD form run their scalar per lane. */
#include "mg.h"
#include "mg_broadcast.h"
#include "mg_math.h"

/* Vector op from a scalar one (lane by lane), and scalar op from a vector one (lane 0 of splats). */
#define MG_LANEWISE(dt, op) \
    MG_INLINE mg_##dt##_vt mg_v##op##_##dt(mg_##dt##_vt a, mg_##dt##_vt b) { \
        mg_##dt##_vt r; \
        for (int i = 0; i < mg_##dt##_lanes; i++) r[i] = mg_##op##_##dt(a[i], b[i]); \
        return r; \
    }
#define MG_SPLATWISE(dt, op) \
    MG_INLINE mg_##dt##_t mg_##op##_##dt(mg_##dt##_t a, mg_##dt##_t b) { \
        return mg_v##op##_##dt(MG_SPLAT(mg_##dt##_vt, a), MG_SPLAT(mg_##dt##_vt, b))[0]; \
    }

/* A binary kernel whose output has the inputs' dtype. */
#define MG_SAME_BINARY(dt, op) \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        MG_BCAST_BINARY_BODY(MG_NAME(dt, op), T, T, VT, L, mg_v##op##_##dt, mg_##op##_##dt, MG_STORE); \
    }

/* ---- pow ------------------------------------------------------------------------------------------
 * Floats: mg_math.h's pow. Integers: by squaring, wrapping like numpy; a negative exponent gives
 * 1 / x^-e truncated: 1 for x = 1, +-1 for x = -1, else 0. */
#define MG_DEFINE_POW_INT(dt, ...) \
    MG_INLINE mg_##dt##_t mg_pow_##dt(mg_##dt##_t x, mg_##dt##_t e) { \
        typedef mg_##dt##_a A; \
        if (e < 0) return x == 1 ? 1 : (x == (mg_##dt##_t)-1 ? ((e & 1) ? x : 1) : 0); \
        A r = 1, b = (A)x; \
        for (uint64_t u = (uint64_t)e; u; u >>= 1) { \
            if (u & 1) r = (A)(1u * r * b); \
            b = (A)(1u * b * b); \
        } \
        return (mg_##dt##_t)r; \
    } \
    MG_LANEWISE(dt, pow)
MG_INT(MG_DEFINE_POW_INT, _)
MG_FLOAT(MG_SPLATWISE, pow)
MG_NUM(MG_SAME_BINARY, pow)

/* ---- fmod (C remainder: the sign of x) and mod (numpy / Python: the sign of y) ----------------------
 * Integers: x % 0 = 0 and MIN % -1 = 0 (wasm would trap). Floats: fmod is exact (a shift-and-subtract
 * long division of the significands, at most ~2100 steps); mod adds y when the signs differ and gives
 * a zero the sign of y, as numpy does. */
#define MG_DEFINE_MOD_INT(dt, ...) \
    MG_INLINE mg_##dt##_t mg_fmod_##dt(mg_##dt##_t x, mg_##dt##_t y) { \
        if (y == 0 || ((mg_##dt##_t)-1 < 0 && y == (mg_##dt##_t)-1)) return 0; \
        return (mg_##dt##_t)(x % y); \
    } \
    MG_INLINE mg_##dt##_t mg_mod_##dt(mg_##dt##_t x, mg_##dt##_t y) { \
        mg_##dt##_t r = mg_fmod_##dt(x, y); \
        if (r != 0 && ((r < 0) != (y < 0))) r = (mg_##dt##_t)(mg_##dt##_a)((mg_##dt##_a)r + (mg_##dt##_a)y); \
        return r; \
    } \
    MG_LANEWISE(dt, fmod) \
    MG_LANEWISE(dt, mod)
MG_INT(MG_DEFINE_MOD_INT, _)

#define MG_DEFINE_FMOD_FLOAT(dt, U, MB) \
    MG_INLINE mg_##dt##_t mg_fmod_##dt(mg_##dt##_t x, mg_##dt##_t y) { \
        const U top = (U)1 << (8 * sizeof(U) - 1), one = (U)1 << MB, inf = ((top - 1) >> MB) << MB; \
        U ux, uy; \
        __builtin_memcpy(&ux, &x, sizeof x); \
        __builtin_memcpy(&uy, &y, sizeof y); \
        U sign = ux & top, ax = ux & ~top, ay = uy & ~top; \
        if (ax >= inf || ay > inf || ay == 0) return (x * y) / (x * y); /* NaN */ \
        if (ax < ay) return x; \
        if (ax == ay) return 0 * x; \
        int32_t ex = (int32_t)(ax >> MB), ey = (int32_t)(ay >> MB); \
        U mx = ax & (one - 1), my = ay & (one - 1); \
        if (ex) mx |= one; else for (ex = 1; !(mx & one); ex--) mx <<= 1; \
        if (ey) my |= one; else for (ey = 1; !(my & one); ey--) my <<= 1; \
        for (; ex > ey; ex--) { /* invariant: mx < 2 my */ \
            if (mx >= my) mx -= my; \
            mx <<= 1; \
        } \
        if (mx >= my) mx -= my; \
        if (mx == 0) return 0 * x; \
        for (; !(mx & one); ex--) mx <<= 1; \
        U bits = ex > 0 ? ((mx - one) | ((U)ex << MB)) : mx >> (1 - ex); \
        bits |= sign; \
        mg_##dt##_t r; \
        __builtin_memcpy(&r, &bits, sizeof r); \
        return r; \
    } \
    MG_INLINE mg_##dt##_t mg_mod_##dt(mg_##dt##_t x, mg_##dt##_t y) { \
        mg_##dt##_t r = mg_fmod_##dt(x, y); \
        if (r == 0) return y < 0 ? -(mg_##dt##_t)0 : 0; \
        if ((r < 0) != (y < 0)) r += y; \
        return r; \
    } \
    MG_LANEWISE(dt, fmod) \
    MG_LANEWISE(dt, mod)
MG_DEFINE_FMOD_FLOAT(f32, uint32_t, 23)
MG_DEFINE_FMOD_FLOAT(f64, uint64_t, 52)
MG_NUM(MG_SAME_BINARY, fmod)
MG_NUM(MG_SAME_BINARY, mod)

/* ---- min, max: NaN in either operand gives NaN (numpy's minimum / maximum) -------------------------- */
#define MG_DEFINE_MINMAX(dt, ...) \
    MG_INLINE mg_##dt##_vt mg_vmin_##dt(mg_##dt##_vt a, mg_##dt##_vt b) { \
        mg_##dt##_vt m = MG_SELECT(a < b, a, b); \
        return mg_##dt##_flt ? MG_SELECT(a != a, a, MG_SELECT(b != b, b, m)) : m; \
    } \
    MG_INLINE mg_##dt##_vt mg_vmax_##dt(mg_##dt##_vt a, mg_##dt##_vt b) { \
        mg_##dt##_vt m = MG_SELECT(a > b, a, b); \
        return mg_##dt##_flt ? MG_SELECT(a != a, a, MG_SELECT(b != b, b, m)) : m; \
    } \
    MG_SPLATWISE(dt, min) \
    MG_SPLATWISE(dt, max)
MG_NUM(MG_DEFINE_MINMAX, _)
MG_NUM(MG_SAME_BINARY, min)
MG_NUM(MG_SAME_BINARY, max)

/* ---- prelu: x < 0 ? slope * x : x (A = X, B = slope) ----------------------------------------------- */
#define MG_DEFINE_PRELU(dt, ...) \
    MG_INLINE mg_##dt##_vt mg_vprelu_##dt(mg_##dt##_vt x, mg_##dt##_vt s) { \
        return MG_SELECT(x < 0, (mg_##dt##_vt)((mg_##dt##_va)s * (mg_##dt##_va)x), x); \
    } \
    MG_SPLATWISE(dt, prelu)
MG_SIGNED(MG_DEFINE_PRELU, _)
MG_SIGNED(MG_SAME_BINARY, prelu)

/* ---- bit shifts: a shift count outside [0, bits) gives 0 (shr of a negative signed value: -1) ------- */
#define MG_DEFINE_SHIFT(dt, ...) \
    MG_INLINE mg_##dt##_t mg_shl_##dt(mg_##dt##_t a, mg_##dt##_t b) { \
        if (b < 0 || (uint64_t)b >= 8 * sizeof a) return 0; \
        return (mg_##dt##_t)(mg_##dt##_a)((mg_##dt##_a)a << b); \
    } \
    MG_INLINE mg_##dt##_t mg_shr_##dt(mg_##dt##_t a, mg_##dt##_t b) { \
        if (b < 0 || (uint64_t)b >= 8 * sizeof a) return a < 0 ? (mg_##dt##_t)-1 : 0; \
        return (mg_##dt##_t)(a >> b); \
    } \
    MG_LANEWISE(dt, shl) \
    MG_LANEWISE(dt, shr)
MG_INT(MG_DEFINE_SHIFT, _)
MG_INT(MG_SAME_BINARY, shl)
MG_INT(MG_SAME_BINARY, shr)

/* ---- comparisons: bool output (less / less_equal are greater / greater_equal with swapped operands) */
#define MG_DEFINE_CMP(dt, op, OP) \
    MG_INLINE mg_##dt##_vi mg_v##op##_##dt(mg_##dt##_vt a, mg_##dt##_vt b) { return (mg_##dt##_vi)(a OP b); } \
    MG_INLINE uint8_t mg_##op##_##dt(mg_##dt##_t a, mg_##dt##_t b) { return a OP b; } \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        MG_BCAST_BINARY_BODY(MG_NAME(dt, op), T, uint8_t, VT, L, mg_v##op##_##dt, mg_##op##_##dt, \
                             mg_store_mask_##dt); \
    }
#define MG_EQUAL(dt, ...) MG_DEFINE_CMP(dt, equal, ==)
#define MG_GREATER(dt, ...) MG_DEFINE_CMP(dt, greater, >)
#define MG_GREATER_EQUAL(dt, ...) MG_DEFINE_CMP(dt, greater_equal, >=)
MG_ALL(MG_EQUAL, _)
MG_NUM(MG_GREATER, _)
MG_NUM(MG_GREATER_EQUAL, _)

/* ---- logical and / or / xor on bool (bytes 0 or 1) ------------------------------------------------- */
#define MG_DEFINE_LOGIC(op, OP) \
    MG_INLINE mg_bool_vt mg_v##op##_bool(mg_bool_vt a, mg_bool_vt b) { return a OP b; } \
    MG_INLINE uint8_t mg_##op##_bool(uint8_t a, uint8_t b) { return (uint8_t)(a OP b); } \
    MG_SAME_BINARY(bool, op)
MG_DEFINE_LOGIC(and, &)
MG_DEFINE_LOGIC(or, |)
MG_DEFINE_LOGIC(xor, ^)

/* ---- where: Out = C ? X : Y, one kernel per element size (u8: bool/i8/u8, i16, i32: f32/i32, i64:
 * f64/i64). Fixed layout: nd, dims[6], c_strides[6], x_strides[6], y_strides[6] (first nd used). */
#define MG_WHERE(dt, op) \
    static void mg_where_row_##dt(mg_##dt##_t *o, const uint8_t *c, const mg_##dt##_t *x, \
                                  const mg_##dt##_t *y, int32_t n, int32_t sc, int32_t sx, int32_t sy) { \
        MG_TYPES(dt); \
        int32_t i = 0; \
        if (sc == 1 && sx <= 1 && sy <= 1) { \
            typedef uint8_t CB __attribute__((vector_size(L))); \
            typedef mg_##dt##_i VIp __attribute__((vector_size(16))); \
            VT xs = MG_SPLAT(VT, x[0]), ys = MG_SPLAT(VT, y[0]); \
            for (; i + L <= n; i += L) { \
                CB cb; \
                __builtin_memcpy(&cb, c + i, sizeof cb); \
                VIp m = __builtin_convertvector(cb, VIp) != 0; \
                VT vx = sx ? MG_LOAD(VT, x + i) : xs, vy = sy ? MG_LOAD(VT, y + i) : ys; \
                MG_STORE(o + i, MG_SELECT(m, vx, vy)); \
            } \
        } \
        for (; i < n; i++) o[i] = c[i * sc] ? x[i * sx] : y[i * sy]; \
    } \
    MG_KERNEL_DEF(dt, op) { \
        MG_TYPES(dt); \
        int32_t nd = p[0]; \
        MG_BCAST_CHECK(MG_NAME(dt, op), nd, p + 1); \
        const int32_t *dims = p + 1, *st[3] = {p + 7, p + 13, p + 19}; \
        const uint8_t *c = (const uint8_t *)(uintptr_t)t[0]; \
        const T *x = (const T *)(uintptr_t)t[1], *y = (const T *)(uintptr_t)t[2]; \
        T *o = (T *)(uintptr_t)t[3]; \
        int32_t n = dims[nd - 1], sc = st[0][nd - 1], sx = st[1][nd - 1], sy = st[2][nd - 1]; \
        MG_BCAST_WALK(nd, dims, 3, st, off, row, \
                      mg_where_row_##dt(o + row * n, c + off[0], x + off[1], y + off[2], n, sc, sx, sy)); \
        return 0; \
    }
MG_WHERE(u8, where)
MG_WHERE(i16, where)
MG_WHERE(i32, where)
MG_WHERE(i64, where)
