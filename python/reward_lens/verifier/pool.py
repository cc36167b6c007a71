"""A pool of verifier worker processes with a wall-clock timeout per item.

Why not multiprocessing.Pool: it cannot kill one stuck task. Math-Verify (sympy) can hang on a
pathological answer, and a user's verifier can loop forever or crash the interpreter. Here every
worker holds one item at a time; a worker past its deadline is killed and replaced, and its item
becomes `error: timeout after Xs`; a worker that dies becomes `error: crashed (...)`. Nothing is
ever reported as a silent "wrong".

Workers start from a forkserver that has Math-Verify and sympy imported already, so replacing a
worker costs milliseconds, and the parent (possibly a training process holding threads and CUDA
state) is never forked itself.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from .loader import call_verifier, error_result, load_function

_PRELOAD = ["reward_lens.verifier.default", "math_verify", "sympy"]

_END = object()
NOTHING_YET = object()


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def _worker_main(conn: Any, spec: str | None) -> None:
    try:
        fn = load_function(spec)
        load_error = None
    except BaseException as exc:  # noqa: BLE001 - reported per item, the pool keeps running
        fn = None
        load_error = f"error: cannot load verifier {spec!r}: {type(exc).__name__}: {exc}"[:500]
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        index, response, gold = message
        result = error_result(load_error) if fn is None else call_verifier(fn, response, gold)
        try:
            conn.send((index, result))
        except (BrokenPipeError, OSError):
            return


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


@dataclass
class _Worker:
    process: Any
    conn: Any
    index: int | None = None
    deadline: float = 0.0
    started: float = 0.0


class VerifierPool:
    """Persistent worker processes for one verifier spec. Use as a context manager or call close()."""

    def __init__(self, spec: str | None = None, workers: int | None = None, timeout_s: float = 5.0):
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.spec = spec
        self.size = max(1, workers if workers is not None else default_workers())
        self.timeout_s = float(timeout_s)
        self._ctx = _context()
        self._workers: list[_Worker] = []
        self.restarts = 0
        self._closed = False

    # -- worker lifecycle -------------------------------------------------------------------
    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_worker_main, args=(child, self.spec), daemon=True)
        process.start()
        child.close()
        return _Worker(process=process, conn=parent)

    def _ensure_workers(self) -> None:
        while len(self._workers) < self.size:
            self._workers.append(self._spawn())

    def _replace(self, worker: _Worker) -> None:
        try:
            worker.process.kill()
        except (OSError, AttributeError):
            pass
        worker.process.join(timeout=2)
        worker.conn.close()
        self._workers[self._workers.index(worker)] = self._spawn()
        self.restarts += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            try:
                worker.conn.send(None)
            except (OSError, ValueError):
                pass
        for worker in self._workers:
            worker.process.join(timeout=1)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=1)
            worker.conn.close()
        self._workers = []

    def __enter__(self) -> "VerifierPool":
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    # -- running ------------------------------------------------------------------------------
    def run(self, items: Iterable[tuple[str, str]], timeout_s: float | None = None) -> Iterator[dict[str, Any]]:
        """Yields one result per (response, gold) pair, in input order, as soon as it is known."""
        iterator = iter(items)

        def poll() -> Any:
            return next(iterator, _END)

        return self.run_source(poll, timeout_s)

    def run_source(self, poll: Callable[[], Any], timeout_s: float | None = None) -> Iterator[dict[str, Any]]:
        """Like run, but `poll()` returns the next (response, gold), NOTHING_YET when none is ready
        (a streaming reader), or the module's _END sentinel via `end_marker()` when input is over."""
        if self._closed:
            raise RuntimeError("the pool is closed")
        limit = self.timeout_s if timeout_s is None else float(timeout_s)
        self._ensure_workers()
        pending: deque[tuple[int, Any, Any]] = deque()
        done: dict[int, dict[str, Any]] = {}
        next_index = 0
        next_out = 0
        input_open = True
        while True:
            # Pull input until every worker has something to do and one item waits in reserve.
            while input_open and len(pending) < self.size:
                item = poll()
                if item is _END:
                    input_open = False
                    break
                if item is NOTHING_YET:
                    break
                response, gold = item
                pending.append((next_index, response, gold))
                next_index += 1
            for worker in self._workers:
                if worker.index is None and pending:
                    index, response, gold = pending.popleft()
                    try:
                        worker.conn.send((index, response, gold))
                    except (OSError, ValueError) as exc:
                        done[index] = error_result(f"error: crashed (could not send to worker: {exc})")
                        self._replace(worker)
                        continue
                    worker.index = index
                    worker.started = time.monotonic()
                    worker.deadline = worker.started + limit
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            busy = [w for w in self._workers if w.index is not None]
            if not busy and not pending and not input_open:
                return
            now = time.monotonic()
            wait_for = min((w.deadline for w in busy), default=now + 0.05) - now
            if input_open and (len(busy) < self.size or not busy):
                wait_for = min(wait_for, 0.02)
            ready = multiprocessing.connection.wait([w.conn for w in busy], timeout=max(0.0, wait_for)) if busy else []
            if not busy and wait_for > 0:
                time.sleep(wait_for)
            for worker in busy:
                if worker.conn not in ready:
                    continue
                index = worker.index
                assert index is not None
                try:
                    got_index, result = worker.conn.recv()
                except (EOFError, OSError):
                    worker.process.join(timeout=1)
                    code = worker.process.exitcode
                    done[index] = error_result(f"error: crashed (worker exited with code {code})")
                    self._replace(worker)
                    continue
                if got_index != index:
                    done[index] = error_result("error: crashed (worker answered out of turn)")
                    self._replace(worker)
                    continue
                done[index] = result
                worker.index = None
            now = time.monotonic()
            for worker in list(self._workers):
                if worker.index is not None and now >= worker.deadline:
                    done[worker.index] = error_result(f"error: timeout after {limit:g}s")
                    self._replace(worker)


def end_marker() -> Any:
    return _END
