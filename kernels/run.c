/* run.c: the program walker mg_run, the kernel table built from mg_kernels.def, the names export,
 * the ABI version and the error buffer (the module's only mutable static state; the threaded build,
 * MG_THREADS, adds the worker pool's control block below). */
#include "mg.h"

#define MG_ABI_VERSION 2

static char mg_error[256];

#ifdef MG_THREADS
/* Parallel steps may fail at once: the first mg_fail* of a run owns the message, the others keep quiet. */
static int32_t mg_error_taken;
static int mg_error_claim(void) { return __atomic_exchange_n(&mg_error_taken, 1, __ATOMIC_SEQ_CST) == 0; }
#else
static int mg_error_claim(void) { return 1; }
#endif

static size_t mg_error_put(size_t i, const char *s, size_t room) {
    for (; *s && i < room; s++) mg_error[i++] = *s;
    mg_error[i] = 0;
    return i;
}

int32_t mg_fail(const char *msg) {
    if (mg_error_claim()) mg_error_put(0, msg, sizeof mg_error - 1);
    return 1;
}

int32_t mg_fail_got(const char *msg, int64_t got) {
    if (!mg_error_claim()) return 1;
    char digits[24];
    int nd = 0;
    uint64_t u = got < 0 ? 0 - (uint64_t)got : (uint64_t)got;
    do digits[nd++] = (char)('0' + u % 10); while ((u /= 10) != 0);
    if (got < 0) digits[nd++] = '-';
    size_t i = mg_error_put(mg_error_put(0, msg, sizeof mg_error - 1), " (got ", sizeof mg_error - 2);
    while (nd > 0 && i < sizeof mg_error - 2) mg_error[i++] = digits[--nd];
    mg_error[i++] = ')';
    mg_error[i] = 0;
    return 1;
}

#define KERNEL(dt, op, nt, ni) MG_KERNEL_DEF(dt, op);
#include "mg_kernels.def"
#undef KERNEL

/* The control step u8_parallel (no tensors, ints: n): the next n steps are independent (each writes bytes
 * no other one reads or writes), so a threaded module may run them at once; run alone it does nothing.
 * It is not in mg_kernels.def (it computes nothing) but has an opcode and a name like the kernels. */
MG_KERNEL_DEF(u8, parallel) {
    (void)t;
    (void)p;
    return 0;
}

typedef struct { mg_kernel_fn fn; int32_t n_tensors, n_ints; } mg_entry;

static const mg_entry mg_table[] = {
#define KERNEL(dt, op, nt, ni) {MG_KERNEL_FN(dt, op), nt, ni},
#include "mg_kernels.def"
#undef KERNEL
    {MG_KERNEL_FN(u8, parallel), 0, 1},
};

static const char mg_names[] =
#define KERNEL(dt, op, nt, ni) MG_NAME(dt, op) "\0"
#include "mg_kernels.def"
#undef KERNEL
    "u8_parallel\0"
    "\0";

#define MG_N_KERNELS ((int32_t)(sizeof mg_table / sizeof mg_table[0]))
#define MG_OP_PARALLEL (MG_N_KERNELS - 1)

/* The step of mg_run's program that the calling (main) thread runs or last ran: after a trap, the host
 * names that step's node. Only the main thread writes it. */
static int32_t mg_main_step;

MG_EXPORT(mg_abi_version) int32_t mg_abi_version(void) { return MG_ABI_VERSION; }
MG_EXPORT(mg_current_step) int32_t mg_current_step(void) { return mg_main_step; }
MG_EXPORT(mg_last_error) int32_t mg_last_error(void) { return (int32_t)(uintptr_t)mg_error; }
MG_EXPORT(mg_kernel_names) int32_t mg_kernel_names(void) { return (int32_t)(uintptr_t)mg_names; }

/* Name of opcode op, copied into the error buffer after msg. */
static int32_t mg_fail_op(const char *msg, int32_t op) {
    if (!mg_error_claim()) return 1;
    const char *s = mg_names;
    for (int32_t i = 0; i < op; i++) while (*s++) {}
    mg_error_put(mg_error_put(0, msg, sizeof mg_error - 1), s, sizeof mg_error - 1);
    return 1;
}

/* The step after w (its counts unchecked: only for steps the walker passes over or checks afterwards). */
MG_INLINE const int32_t *mg_skip(const int32_t *w) { return w + 3 + w[1] + w[2]; }

/* Checks step w's opcode and counts against the table and runs it: 0, or non-zero with the message set. */
static int32_t mg_step(const int32_t *w) {
    int32_t op = w[0], nt = w[1], ni = w[2];
    const uint32_t *tensors = (const uint32_t *)(w + 3);
    const int32_t *ints = w + 3 + nt;
    if (op < 0 || op >= MG_N_KERNELS) return mg_fail_got("mg_run: unknown opcode", op);
    const mg_entry *e = &mg_table[op];
    int32_t want_ni = e->n_ints;
    if (want_ni < 0) { /* nd-prefixed: validate nd first, the kernel re-checks it */
        want_ni = (ni >= 1 && ints[0] >= 1 && ints[0] <= 6) ? 1 + 3 * ints[0] : ni;
    }
    if (nt != e->n_tensors) return mg_fail_op("mg_run: wrong number of tensors for ", op);
    if (ni != want_ni || ni < 1) return mg_fail_op("mg_run: wrong number of ints for ", op);
    return e->fn(tensors, ints);
}

#ifdef MG_THREADS
/* ---- the worker pool (kernels_mt.wasm: shared memory, one instance per thread, each on its own stack) --
 * Workers park inside WebAssembly in mg_worker. For a u8_parallel group, mg_run posts a job (bumps seq),
 * then the main thread and the workers claim its steps one at a time and count them done; mg_run returns
 * when all n are done. A claim is a compare-and-swap on `next`, which holds the job's number beside the
 * next index: a worker that wakes late (a job it saw is over, another may be posted) fails the swap and
 * claims nothing, so the main thread never waits for a worker that has not started, and under load it
 * simply runs the parts itself. The main thread writes `next` (new number) before the job's fields, so a
 * successful swap also proves the fields the worker read belong to its job.
 * Waiting spins `spin` rounds, then sleeps on memory.atomic.wait32; a sleeper is only notified when it
 * says it sleeps (seq_cst on both sides: either the poster sees the sleeper or the sleeper's wait sees the
 * new value). */
#define MG_MAX_WORKERS 64
typedef struct {
    int64_t next;  /* job number << 32 | index of the next step to claim */
    int32_t seq, quit, nworkers, spin, sleepers, main_sleeps, main_in_step;
    const int32_t *job;
    int32_t n, first, done, status;
    int32_t running[MG_MAX_WORKERS];
} mg_pool_t;
static mg_pool_t mg_pool;

#define MG_LOAD_SC(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define MG_STORE_SC(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define MG_ADD_SC(x, v) __atomic_fetch_add(&(x), (v), __ATOMIC_SEQ_CST)

static void mg_pool_failed(int32_t step) {
    int32_t zero = 0;
    __atomic_compare_exchange_n(&mg_pool.status, &zero, 1 + step, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static void mg_pool_count_done(void) {
    MG_ADD_SC(mg_pool.done, 1);
    if (MG_LOAD_SC(mg_pool.main_sleeps)) __builtin_wasm_memory_atomic_notify(&mg_pool.done, 1);
}

/* Claims and runs steps of job number `number` until none is left; tid -1 is the main thread. */
static void mg_pool_work(int32_t tid, int32_t number) {
    const int32_t *job = mg_pool.job;
    int32_t n = mg_pool.n, first = mg_pool.first;
    for (;;) {
        int64_t c = MG_LOAD_SC(mg_pool.next);
        if ((int32_t)(c >> 32) != number || (int32_t)c >= n) return;
        if (!__atomic_compare_exchange_n(&mg_pool.next, &c, c + 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) continue;
        int32_t i = (int32_t)c;
        const int32_t *w = job;
        for (int32_t k = 0; k < i; k++) w = mg_skip(w);
        if (tid >= 0) {
            MG_STORE_SC(mg_pool.running[tid], first + i);
        } else {
            mg_main_step = first + i;
            MG_STORE_SC(mg_pool.main_in_step, 1);
        }
        if (mg_step(w) != 0) mg_pool_failed(first + i);
        if (tid < 0) MG_STORE_SC(mg_pool.main_in_step, 0);
        mg_pool_count_done();
    }
}

/* Waits (spin, then sleep) until the current job's n steps are done. */
static void mg_pool_join(void) {
    int32_t want = mg_pool.n, k = 0, got;
    while ((got = MG_LOAD_SC(mg_pool.done)) < want) {
        if (++k < mg_pool.spin) continue;
        MG_STORE_SC(mg_pool.main_sleeps, 1);
        got = MG_LOAD_SC(mg_pool.done);
        if (got < want) __builtin_wasm_memory_atomic_wait32(&mg_pool.done, got, -1);
        MG_STORE_SC(mg_pool.main_sleeps, 0);
    }
}

/* Runs the n steps at job (step indices first.. of the caller's program) on every thread: 0 or 1 + index. */
static int32_t mg_pool_run(const int32_t *job, int32_t n, int32_t first) {
    int32_t number = mg_pool.seq + 1;
    MG_STORE_SC(mg_pool.next, (int64_t)number << 32);
    mg_pool.job = job;
    mg_pool.n = n;
    mg_pool.first = first;
    MG_STORE_SC(mg_pool.status, 0);
    MG_STORE_SC(mg_pool.done, 0);
    MG_STORE_SC(mg_pool.seq, number);
    if (MG_LOAD_SC(mg_pool.sleepers)) __builtin_wasm_memory_atomic_notify(&mg_pool.seq, (uint32_t)mg_pool.nworkers);
    mg_pool_work(-1, number);
    mg_pool_join();
    return MG_LOAD_SC(mg_pool.status);
}

/* Before starting the workers: nworkers threads will call mg_worker(0 .. nworkers-1). */
MG_EXPORT(mg_pool_init) int32_t mg_pool_init(int32_t nworkers, int32_t spin) {
    if (nworkers < 0 || nworkers > MG_MAX_WORKERS) return mg_fail_got("mg_pool_init: nworkers must be in 0..64", nworkers);
    mg_pool.quit = mg_pool.seq = mg_pool.sleepers = mg_pool.main_sleeps = mg_pool.main_in_step = 0;
    mg_pool.n = mg_pool.done = mg_pool.status = 0;
    mg_pool.spin = spin < 1 ? 1 : spin;
    MG_STORE_SC(mg_pool.next, 0);
    MG_STORE_SC(mg_pool.nworkers, nworkers);
    return 0;
}

/* A worker thread's loop (on its own instance and stack): returns 0 when mg_pool_stop is called. After a
 * trap the host calls mg_worker_trapped, resets the instance's stack pointer and calls this again. */
MG_EXPORT(mg_worker) int32_t mg_worker(int32_t tid) {
    int32_t seen = MG_LOAD_SC(mg_pool.seq); /* then quit: a stop before this load is seen, after it wakes us */
    (void)tid;
    if (MG_LOAD_SC(mg_pool.quit)) return 0;
    for (;;) {
        int32_t s, k = 0;
        while ((s = MG_LOAD_SC(mg_pool.seq)) == seen) {
            if (++k < mg_pool.spin) continue;
            MG_ADD_SC(mg_pool.sleepers, 1);
            __builtin_wasm_memory_atomic_wait32(&mg_pool.seq, seen, -1);
            MG_ADD_SC(mg_pool.sleepers, -1);
            k = 0;
        }
        seen = s;
        if (MG_LOAD_SC(mg_pool.quit)) return 0;
        mg_pool_work(tid, s);
    }
}

/* Called by the host after worker tid trapped in a step: that step fails the job and counts as done.
 * Returns the step's index. */
MG_EXPORT(mg_worker_trapped) int32_t mg_worker_trapped(int32_t tid) {
    int32_t step = MG_LOAD_SC(mg_pool.running[tid]);
    mg_pool_failed(step);
    mg_pool_count_done();
    return step;
}

/* After a trap on the main thread: counts the step it was in (if it was in a job's) as done, cancels the
 * job's unclaimed steps (a worker may never come for them) and waits for the claimed ones. */
MG_EXPORT(mg_pool_wait) int32_t mg_pool_wait(void) {
    if (MG_LOAD_SC(mg_pool.main_in_step)) {
        MG_STORE_SC(mg_pool.main_in_step, 0);
        mg_pool_failed(mg_main_step);
        MG_ADD_SC(mg_pool.done, 1);
    }
    int64_t c = MG_LOAD_SC(mg_pool.next);
    while ((int32_t)c < mg_pool.n) {
        int64_t end = (c >> 32 << 32) | mg_pool.n;
        if (__atomic_compare_exchange_n(&mg_pool.next, &c, end, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            MG_ADD_SC(mg_pool.done, mg_pool.n - (int32_t)c);
            break;
        }
    }
    mg_pool_join();
    return 0;
}

/* Tells every worker to return from mg_worker; the pool runs nothing in parallel afterwards. */
MG_EXPORT(mg_pool_stop) int32_t mg_pool_stop(void) {
    MG_STORE_SC(mg_pool.nworkers, 0);
    MG_STORE_SC(mg_pool.quit, 1);
    MG_ADD_SC(mg_pool.seq, 1);
    __builtin_wasm_memory_atomic_notify(&mg_pool.seq, MG_MAX_WORKERS);
    return 0;
}
#endif

MG_EXPORT(mg_run) int32_t mg_run(const int32_t *program, int32_t n_steps) {
    mg_error[0] = 0;
    const int32_t *w = program;
#ifdef MG_THREADS
    MG_STORE_SC(mg_error_taken, 0);
#endif
    for (int32_t step = 0; step < n_steps; step++) {
#ifdef MG_THREADS
        if (w[0] == MG_OP_PARALLEL && w[1] == 0 && w[2] == 1 && MG_LOAD_SC(mg_pool.nworkers) > 0) {
            int32_t n = w[3] < n_steps - step - 1 ? w[3] : n_steps - step - 1;
            const int32_t *job = mg_skip(w);
            int32_t status = n > 0 ? mg_pool_run(job, n, step + 1) : 0;
            if (status) return status;
            for (w = job; n > 0; n--, step++) w = mg_skip(w);
            continue;
        }
#endif
        mg_main_step = step;
        if (mg_step(w) != 0) return 1 + step;
        w = mg_skip(w);
    }
    return 0;
}
