/* run.c: the program walker mg_run, the kernel table built from mg_kernels.def, the names export,
 * the ABI version and the error buffer (the module's only mutable static state). */
#include "mg.h"

#define MG_ABI_VERSION 2

static char mg_error[256];

int32_t mg_fail(const char *msg) {
    size_t i = 0;
    for (; msg[i] && i < sizeof mg_error - 1; i++) mg_error[i] = msg[i];
    mg_error[i] = 0;
    return 1;
}

int32_t mg_fail_got(const char *msg, int64_t got) {
    mg_fail(msg);
    char digits[24];
    int nd = 0;
    uint64_t u = got < 0 ? 0 - (uint64_t)got : (uint64_t)got;
    do digits[nd++] = (char)('0' + u % 10); while ((u /= 10) != 0);
    if (got < 0) digits[nd++] = '-';
    size_t i = 0;
    while (mg_error[i]) i++;
    const char *pre = " (got ";
    for (const char *s = pre; *s && i < sizeof mg_error - 2; s++) mg_error[i++] = *s;
    while (nd > 0 && i < sizeof mg_error - 2) mg_error[i++] = digits[--nd];
    mg_error[i++] = ')';
    mg_error[i] = 0;
    return 1;
}

#define KERNEL(dt, op, nt, ni) MG_KERNEL_DEF(dt, op);
#include "mg_kernels.def"
#undef KERNEL

typedef struct { mg_kernel_fn fn; int32_t n_tensors, n_ints; } mg_entry;

static const mg_entry mg_table[] = {
#define KERNEL(dt, op, nt, ni) {MG_KERNEL_FN(dt, op), nt, ni},
#include "mg_kernels.def"
#undef KERNEL
};

static const char mg_names[] =
#define KERNEL(dt, op, nt, ni) MG_NAME(dt, op) "\0"
#include "mg_kernels.def"
#undef KERNEL
    "\0";

#define MG_N_KERNELS ((int32_t)(sizeof mg_table / sizeof mg_table[0]))

MG_EXPORT(mg_abi_version) int32_t mg_abi_version(void) { return MG_ABI_VERSION; }
MG_EXPORT(mg_last_error) int32_t mg_last_error(void) { return (int32_t)(uintptr_t)mg_error; }
MG_EXPORT(mg_kernel_names) int32_t mg_kernel_names(void) { return (int32_t)(uintptr_t)mg_names; }

/* Name of opcode op, copied into the error buffer after msg. */
static int32_t mg_fail_op(const char *msg, int32_t op) {
    const char *s = mg_names;
    for (int32_t i = 0; i < op; i++) while (*s++) {}
    mg_fail(msg);
    size_t i = 0;
    while (mg_error[i]) i++;
    while (*s && i < sizeof mg_error - 1) mg_error[i++] = *s++;
    mg_error[i] = 0;
    return 1;
}

MG_EXPORT(mg_run) int32_t mg_run(const int32_t *program, int32_t n_steps) {
    mg_error[0] = 0;
    const int32_t *w = program;
    for (int32_t step = 0; step < n_steps; step++) {
        int32_t op = w[0], nt = w[1], ni = w[2];
        const uint32_t *tensors = (const uint32_t *)(w + 3);
        const int32_t *ints = w + 3 + nt;
        if (op < 0 || op >= MG_N_KERNELS) {
            mg_fail_got("mg_run: unknown opcode", op);
            return 1 + step;
        }
        const mg_entry *e = &mg_table[op];
        int32_t want_ni = e->n_ints;
        if (want_ni < 0) { /* nd-prefixed: validate nd first, the kernel re-checks it */
            want_ni = (ni >= 1 && ints[0] >= 1 && ints[0] <= 6) ? 1 + 3 * ints[0] : ni;
        }
        if (nt != e->n_tensors) {
            mg_fail_op("mg_run: wrong number of tensors for ", op);
            return 1 + step;
        }
        if (ni != want_ni || ni < 1) {
            mg_fail_op("mg_run: wrong number of ints for ", op);
            return 1 + step;
        }
        if (e->fn(tensors, ints) != 0) return 1 + step;
        w = ints + ni;
    }
    return 0;
}
