/* mg.h: what every kernel file shares: the export macro, the status helpers, and the dtype tables
 * (X-macros) from which every kernel is instantiated. No libc: only freestanding headers. */
#ifndef MG_H
#define MG_H

#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>
/* wasm_simd128.h pulls in stdbool.h, whose `bool` macro (-> _Bool) would rename the bool dtype token when
 * it passes through a dtype list (mg__Bool_t, "_Bool_and"): the dtype is named bool, the C type is uint8_t. */
#undef bool

#define MG_EXPORT(name) __attribute__((export_name(#name)))
#define MG_INLINE static inline __attribute__((always_inline))
#define MG_RESTRICT __restrict__

/* ---- status ----------------------------------------------------------------------------------------
 * A kernel returns 0, or calls mg_fail and returns its (non-zero) result. The message buffer in run.c
 * is the module's only mutable static state. */
int32_t mg_fail(const char *msg);
int32_t mg_fail_got(const char *msg, int64_t got); /* appends " (got <got>)" */

/* Kernel-side checks. NAME is the kernel's name as a string literal, e.g. "f32_add". */
#define MG_CHECK(cond, NAME, what) \
    do { if (!(cond)) return mg_fail(NAME ": " what); } while (0)
#define MG_CHECK_GOT(cond, NAME, what, got) \
    do { if (!(cond)) return mg_fail_got(NAME ": " what, (int64_t)(got)); } while (0)

/* A kernel: tensor addresses (0 = absent), then its ints. */
typedef int32_t (*mg_kernel_fn)(const uint32_t *t, const int32_t *p);
#define MG_KERNEL_FN(dt, op) mg_k_##dt##_##op
#define MG_KERNEL_DEF(dt, op) int32_t MG_KERNEL_FN(dt, op)(const uint32_t *t, const int32_t *p)
#define MG_STR_(x) #x
#define MG_STR(x) MG_STR_(x)
#define MG_NAME(dt, op) MG_STR(dt) "_" MG_STR(op)

/* ---- dtypes ----------------------------------------------------------------------------------------
 * X(dt, T, A, I, FLT): dtype name, C type, arithmetic type (the unsigned twin for integers, so that
 * + - * wrap like numpy without UB; T itself for floats), same-width signed integer (the lane type
 * of a vector comparison's mask), 1 for floating point. */
#define MG_DTYPE_TABLE(X) \
    X(f32, float, float, int32_t, 1) \
    X(f64, double, double, int64_t, 1) \
    X(i8, int8_t, uint8_t, int8_t, 0) \
    X(u8, uint8_t, uint8_t, int8_t, 0) \
    X(i16, int16_t, uint16_t, int16_t, 0) \
    X(i32, int32_t, uint32_t, int32_t, 0) \
    X(i64, int64_t, uint64_t, int64_t, 0) \
    X(bool, uint8_t, uint8_t, int8_t, 0)

/* Per dtype: mg_<dt>_t (T), mg_<dt>_a (A), mg_<dt>_i (I), their 128-bit vectors mg_<dt>_vt, _va, _vi,
 * and the constants mg_<dt>_flt and mg_<dt>_lanes. A generic kernel opens with MG_TYPES(dt). */
#define MG_DECLARE_DTYPE(dt, T, A, I, FLT) \
    typedef T mg_##dt##_t; \
    typedef A mg_##dt##_a; \
    typedef I mg_##dt##_i; \
    typedef T mg_##dt##_vt __attribute__((vector_size(16), aligned(1))); \
    typedef A mg_##dt##_va __attribute__((vector_size(16), aligned(1))); \
    typedef I mg_##dt##_vi __attribute__((vector_size(16), aligned(1))); \
    enum { mg_##dt##_flt = FLT, mg_##dt##_lanes = 16 / sizeof(T) };
MG_DTYPE_TABLE(MG_DECLARE_DTYPE)

#define MG_TYPES(dt) \
    typedef mg_##dt##_t T; typedef mg_##dt##_a A; typedef mg_##dt##_vt VT; typedef mg_##dt##_va VA; \
    typedef mg_##dt##_vi VI; enum { FLT = mg_##dt##_flt, L = mg_##dt##_lanes }; \
    (void)sizeof(T); (void)sizeof(A); (void)sizeof(VT); (void)sizeof(VA); (void)sizeof(VI)

/* Dtype lists: X(dt, args...) for each dtype a kernel family supports (ABI.md's table). */
#define MG_FLOAT(X, ...) X(f32, __VA_ARGS__) X(f64, __VA_ARGS__)
#define MG_INT(X, ...) \
    X(i8, __VA_ARGS__) X(u8, __VA_ARGS__) X(i16, __VA_ARGS__) X(i32, __VA_ARGS__) X(i64, __VA_ARGS__)
#define MG_NUM(X, ...) MG_FLOAT(X, __VA_ARGS__) MG_INT(X, __VA_ARGS__)
#define MG_SIGNED(X, ...) \
    MG_FLOAT(X, __VA_ARGS__) X(i8, __VA_ARGS__) X(i16, __VA_ARGS__) X(i32, __VA_ARGS__) X(i64, __VA_ARGS__)
#define MG_FLOAT_8BIT(X, ...) MG_FLOAT(X, __VA_ARGS__) X(i8, __VA_ARGS__) X(u8, __VA_ARGS__)
/* Every stored dtype: the numeric ones and bool (one byte, 0 or 1). */
#define MG_ALL(X, ...) MG_NUM(X, __VA_ARGS__) X(bool, __VA_ARGS__)

/* ---- vectors ---------------------------------------------------------------------------------------
 * The vector types are unaligned (aligned(1)), so these are plain v128.load / v128.store. */
#define MG_LOAD(VT, p) (*(const VT *)(const void *)(p))
#define MG_STORE(p, v) (*(__typeof__((v) + 0) *)(void *)(p) = (v))
#define MG_SPLAT(VT, x) \
    ((VT)_Generic(((VT){0})[0], float: wasm_f32x4_splat, double: wasm_f64x2_splat, \
                  int8_t: wasm_i8x16_splat, uint8_t: wasm_u8x16_splat, int16_t: wasm_i16x8_splat, \
                  uint16_t: wasm_u16x8_splat, int32_t: wasm_i32x4_splat, uint32_t: wasm_u32x4_splat, \
                  int64_t: wasm_i64x2_splat, uint64_t: wasm_u64x2_splat)(x))
/* Splat of the element at p (v128.loadN_splat). */
#define MG_LOAD_SPLAT(VT, p) \
    ((VT)_Generic(((VT){0})[0], float: wasm_v128_load32_splat, double: wasm_v128_load64_splat, \
                  int8_t: wasm_v128_load8_splat, uint8_t: wasm_v128_load8_splat, \
                  int16_t: wasm_v128_load16_splat, uint16_t: wasm_v128_load16_splat, \
                  int32_t: wasm_v128_load32_splat, uint32_t: wasm_v128_load32_splat, \
                  int64_t: wasm_v128_load64_splat, uint64_t: wasm_v128_load64_splat)(p))
/* m ? a : b per lane, m a comparison mask (all ones / all zeros per lane). */
#define MG_SELECT(m, a, b) \
    ((__typeof__(a))wasm_v128_bitselect((v128_t)(a), (v128_t)(b), (v128_t)(m)))

/* wasm's pseudo-min/max (one instruction each): pmin(a, b) = b < a ? b : a, pmax(a, b) = a < b ? b : a,
 * so a NaN in a passes through. Float vectors only. */
#define MG_PMIN(a, b) \
    ((__typeof__((a) + 0))_Generic(((a) + 0)[0], float: wasm_f32x4_pmin, double: wasm_f64x2_pmin)( \
        (v128_t)(a), (v128_t)(b)))
#define MG_PMAX(a, b) \
    ((__typeof__((a) + 0))_Generic(((a) + 0)[0], float: wasm_f32x4_pmax, double: wasm_f64x2_pmax)( \
        (v128_t)(a), (v128_t)(b)))

/* The even lanes of the 2L elements at p (p[0], p[2], ..., p[2L-2]): a stride-2 load. Reads p[2L-1]. */
#define MG_LOAD_EVEN(VT, p) \
    ((VT)mg_even_lanes(wasm_v128_load(p), wasm_v128_load((const char *)(p) + 16), sizeof(((VT){0})[0])))
MG_INLINE v128_t mg_even_lanes(v128_t lo, v128_t hi, size_t lane_bytes) {
    switch (lane_bytes) {
    case 1: return wasm_i8x16_shuffle(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    case 2: return wasm_i16x8_shuffle(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14);
    case 4: return wasm_i32x4_shuffle(lo, hi, 0, 2, 4, 6);
    default: return wasm_i64x2_shuffle(lo, hi, 0, 2);
    }
}

/* The odd lanes of lo:hi (lo[1], lo[3], ..., hi[L-1]), and lanes 1.. of a followed by lane 0 of b (a
 * shifted down by one, b's first lane in at the top): with the even lanes, a stride-2 window's taps. */
MG_INLINE v128_t mg_odd_lanes(v128_t lo, v128_t hi, size_t lane_bytes) {
    switch (lane_bytes) {
    case 1: return wasm_i8x16_shuffle(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    case 2: return wasm_i16x8_shuffle(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15);
    case 4: return wasm_i32x4_shuffle(lo, hi, 1, 3, 5, 7);
    default: return wasm_i64x2_shuffle(lo, hi, 1, 3);
    }
}
MG_INLINE v128_t mg_shift_in(v128_t a, v128_t b, size_t lane_bytes) {
    switch (lane_bytes) {
    case 1: return wasm_i8x16_shuffle(a, b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
    case 2: return wasm_i16x8_shuffle(a, b, 1, 2, 3, 4, 5, 6, 7, 8);
    case 4: return wasm_i32x4_shuffle(a, b, 1, 2, 3, 4);
    default: return wasm_i64x2_shuffle(a, b, 1, 2);
    }
}

MG_INLINE float mg_f32_from_bits(int32_t bits) {
    float f;
    __builtin_memcpy(&f, &bits, sizeof f);
    return f;
}

/* Lowest value of a type: -inf for floats, the minimum for integers. */
#define MG_LOWEST(T, FLT) \
    ((FLT) ? (T)-__builtin_inf() : ((T)-1 < 0) ? (T)((uint64_t)1 << (8 * sizeof(T) - 1)) : (T)0)

/* The output positions o in [lo, hi) of a sliding window tap whose input index is o*s + off (s >= 1)
 * that fall inside [0, n_in), clipped to [0, n_out): lets padding cost no branch in inner loops. */
MG_INLINE int32_t mg_tap_lo(int32_t off, int32_t s) {
    int32_t a = -off; /* ceil(-off / s) */
    int32_t lo = a >= 0 ? (a + s - 1) / s : -((-a) / s);
    return lo < 0 ? 0 : lo;
}
MG_INLINE int32_t mg_tap_hi(int32_t off, int32_t s, int32_t n_in, int32_t n_out) {
    int32_t a = n_in - 1 - off; /* floor(a / s) + 1 */
    int32_t hi = (a >= 0 ? a / s : -((-a + s - 1) / s)) + 1;
    return hi > n_out ? n_out : hi;
}

#endif
