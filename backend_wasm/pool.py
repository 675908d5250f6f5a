"""The worker threads of a threaded Executor: each parks inside WebAssembly (mg_worker, on its own instance,
Store and stack over the shared arena) until the main thread's mg_run posts the parts of a u8_parallel
group, so a dispatch costs no Python (kernels/run.c has the protocol)."""
from __future__ import annotations

import threading
import weakref

from msgraph.errors import KernelError

from .loader import Instance

# Rounds a waiting thread spins on an atomic load before it sleeps on memory.atomic.wait32: ~100-200 us
# here, enough to bridge the unsplit steps between two groups. A spinning worker joins a group within ~1 us
# (kernels/README.md, Threads); a sleeping one first needs a futex wake-up (~25 us, more on a busy machine).
SPIN = 200000


class WorkerPool:
    """len(instances) - 1 worker threads beside the main instance instances[0]. close() (or garbage
    collection of the pool, or interpreter exit) stops and joins them."""

    def __init__(self, instances: list[Instance], spin: int = SPIN):
        main = instances[0]
        if main.exports["mg_pool_init"](main.store, len(instances) - 1, spin):
            raise KernelError(f"cannot start the worker pool: {main.error_text()}")
        self._main = main
        self.trap: str | None = None  # the message of a worker's trap, until the main thread reports it
        me = weakref.ref(self)  # the threads must not keep the pool alive: its finalizer stops them
        threads = [threading.Thread(target=_work, args=(me, inst, tid), name=f"msgraph-worker-{tid}", daemon=True)
                   for tid, inst in enumerate(instances[1:])]
        self._finalizer = weakref.finalize(self, _stop, main, threads)
        for t in threads:
            t.start()

    def after_trap(self) -> None:
        """After a trap in the main thread's mg_run: waits for the workers to finish the group it was in and
        gives the main instance its stack back."""
        self._main.exports["mg_pool_wait"](self._main.store)
        self._main.reset_stack()
        self.trap = None  # a worker's trap in the same group: the main thread's is the one raised

    def take_trap(self) -> str | None:
        trap, self.trap = self.trap, None
        return trap

    def close(self) -> None:
        self._finalizer()


def _work(pool_ref: weakref.ref, inst: Instance, tid: int) -> None:
    """A worker thread: mg_worker until the pool stops; a trap fails the step it was in (the main thread
    raises it as a KernelError) and the worker goes back to waiting on a fresh stack."""
    worker, trapped = inst.exports["mg_worker"], inst.exports["mg_worker_trapped"]
    while True:
        try:
            worker(inst.store, tid)
            return
        except Exception as e:  # noqa: BLE001 - a trap (or any failure) is reported, never left to hang mg_run
            pool = pool_ref()
            if pool is not None:
                pool.trap = f"{type(e).__name__}: {e}"
            del pool
            inst.reset_stack()
            trapped(inst.store, tid)


def _stop(main: Instance, threads: list[threading.Thread]) -> None:
    """Idle workers return at once; the timeout only keeps interpreter exit from ever hanging on one."""
    main.exports["mg_pool_stop"](main.store)
    for t in threads:
        if t is not threading.current_thread():
            t.join(timeout=10)
