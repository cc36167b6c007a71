"""A pool of verifier worker processes with a wall-clock timeout per item.

Why not multiprocessing.Pool: it cannot kill one stuck task. Math-Verify (sympy) can hang on a
pathological answer, and a user's verifier can loop forever or crash the interpreter. Here every
worker holds one item at a time; a worker past its deadline is killed and replaced, and its item
becomes `error: timeout after Xs`; a worker that dies becomes `error: crashed (...)`. Nothing is
ever reported as a silent "wrong".

Thread safety: the pool's workers belong to one driving loop at a time. `run`/`run_source` hold
the pool for the whole pass (a second thread waits for it). `submit` is the concurrent entry: any
number of threads (verl calls a synchronous reward function from a thread pool over the whole
batch) hand in items and get a `concurrent.futures.Future` each; one dispatcher thread feeds them
all through the same workers, so every worker stays busy and no caller's result is lost.

Workers are fresh interpreters (`python -m reward_lens.verifier.worker`), not forks: the caller may
be a training process holding threads and CUDA state, and multiprocessing's spawn/forkserver would
re-execute the caller's unguarded top-level script code in every worker.
"""

from __future__ import annotations

import json
import os
import queue
import selectors
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .loader import error_result

_END = object()
NOTHING_YET = object()
_STOP = object()

# The folder holding the reward_lens package, so workers import this very copy of it.
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])

# A worker that has not said "ready" within this long (interpreter + Math-Verify import) is broken.
_START_TIMEOUT_S = 60.0


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def end_marker() -> Any:
    return _END


@dataclass
class _Worker:
    process: subprocess.Popen
    buffer: bytearray = field(default_factory=bytearray)
    ready: bool = False
    index: int | None = None
    deadline: float = 0.0
    limit: float = 0.0
    spawned: float = 0.0


class VerifierPool:
    """Persistent worker processes for one verifier spec. Use as a context manager or call close()."""

    def __init__(self, spec: str | None = None, workers: int | None = None, timeout_s: float = 5.0):
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.spec = spec
        self.size = max(1, workers if workers is not None else default_workers())
        self.timeout_s = float(timeout_s)
        self._workers: list[_Worker] = []
        self._selector = selectors.DefaultSelector()
        self.restarts = 0
        self._closed = False
        # Held by whichever loop drives the workers: a run()/run_source() pass or the dispatcher.
        self._drive_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._dispatcher: threading.Thread | None = None

    # -- worker lifecycle -------------------------------------------------------------------
    def _spawn(self) -> _Worker:
        env = dict(os.environ)
        env["PYTHONPATH"] = _PACKAGE_PARENT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONIOENCODING"] = "utf-8"
        process = subprocess.Popen(
            [sys.executable, "-m", "reward_lens.verifier.worker", self.spec or ""],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # a verifier's prints and tracebacks go where the caller's stderr goes
            env=env,
            close_fds=True,
        )
        assert process.stdout is not None
        os.set_blocking(process.stdout.fileno(), False)
        worker = _Worker(process=process, spawned=time.monotonic())
        self._selector.register(process.stdout, selectors.EVENT_READ, worker)
        return worker

    def _ensure_workers(self) -> None:
        while len(self._workers) < self.size:
            self._workers.append(self._spawn())

    def _kill(self, worker: _Worker) -> None:
        try:
            self._selector.unregister(worker.process.stdout)
        except (KeyError, ValueError):
            pass
        try:
            worker.process.kill()
        except OSError:
            pass
        try:
            worker.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        for stream in (worker.process.stdin, worker.process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def _replace(self, worker: _Worker) -> None:
        self._kill(worker)
        self._workers[self._workers.index(worker)] = self._spawn()
        self.restarts += 1

    def close(self) -> None:
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            dispatcher = self._dispatcher
        if dispatcher is not None:
            self._inbox.put(_STOP)
            if dispatcher is not threading.current_thread():
                dispatcher.join(timeout=max(5.0, 2 * self.timeout_s))
        # Items handed in but never started (closed mid-run) are answered, never dropped.
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                _settle(item[3], error_result("error: verifier pool closed before this item ran"))
        if not self._drive_lock.acquire(timeout=max(5.0, 2 * self.timeout_s)):
            return  # a pass is still running in another thread; its own exit path cleans up
        try:
            self._close_workers()
        finally:
            self._drive_lock.release()

    def _close_workers(self) -> None:
        for worker in self._workers:
            try:
                if worker.process.stdin is not None:
                    worker.process.stdin.close()
            except OSError:
                pass
        deadline = time.monotonic() + 1.0
        for worker in self._workers:
            try:
                worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            self._kill(worker)
        self._workers = []
        self._selector.close()

    def __enter__(self) -> VerifierPool:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def start(self) -> None:
        """Starts the workers now (their interpreter start overlaps with whatever comes next)."""
        if self._closed:
            raise RuntimeError("the pool is closed")
        with self._drive_lock:
            self._ensure_workers()

    def reload(self, spec: str | None) -> None:
        """Switches every worker to another verifier (or a new version of the same file) without
        restarting the interpreters. Call between runs. A worker that does not acknowledge within
        the start timeout is replaced (a fresh one loads the new spec)."""
        if self._closed:
            raise RuntimeError("the pool is closed")
        with self._drive_lock:
            self._reload(spec)

    def _reload(self, spec: str | None) -> None:
        self.spec = spec
        self._ensure_workers()
        waiting: dict[int, _Worker] = {}
        for worker in list(self._workers):
            line = json.dumps({"reload": spec or ""}) + "\n"
            try:
                assert worker.process.stdin is not None
                worker.process.stdin.write(line.encode("utf-8"))
                worker.process.stdin.flush()
                waiting[id(worker)] = worker
            except (OSError, ValueError):
                self._replace(worker)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while waiting and time.monotonic() < deadline:
            for key, _ in self._selector.select(timeout=max(0.0, deadline - time.monotonic())):
                worker = key.data
                if id(worker) not in waiting:
                    continue
                lines, eof = self._read_lines(worker)
                for line in lines:
                    if line.get("ready"):
                        worker.ready = True
                    elif line.get("reloaded"):
                        waiting.pop(id(worker), None)
                if eof:
                    waiting.pop(id(worker), None)
                    self._replace(worker)
        for worker in waiting.values():
            self._replace(worker)

    # -- I/O ----------------------------------------------------------------------------------
    def _send(self, worker: _Worker, index: int, response: Any, gold: Any) -> bool:
        line = json.dumps({"i": index, "r": response, "g": gold}) + "\n"
        try:
            assert worker.process.stdin is not None
            worker.process.stdin.write(line.encode("utf-8", "surrogatepass"))
            worker.process.stdin.flush()
            return True
        except (OSError, ValueError):
            return False

    def _read_lines(self, worker: _Worker) -> tuple[list[dict[str, Any]], bool]:
        """Drains what the worker wrote; returns the complete lines and whether it hit EOF."""
        assert worker.process.stdout is not None
        eof = False
        while True:
            try:
                chunk = os.read(worker.process.stdout.fileno(), 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                eof = True
                break
            if not chunk:
                eof = True
                break
            worker.buffer.extend(chunk)
        lines: list[dict[str, Any]] = []
        while True:
            newline = worker.buffer.find(b"\n")
            if newline < 0:
                break
            raw = bytes(worker.buffer[:newline])
            del worker.buffer[: newline + 1]
            try:
                lines.append(json.loads(raw.decode("utf-8", "replace")))
            except ValueError:
                lines.append({"garbage": raw[:200].decode("utf-8", "replace")})
        return lines, eof

    # -- running ------------------------------------------------------------------------------
    def run(self, items: Iterable[tuple[Any, Any]], timeout_s: float | None = None) -> Iterator[dict[str, Any]]:
        """Yields one result per (response, gold) pair, in input order, as soon as it is known."""
        iterator = iter(items)
        return self.run_source(lambda: next(iterator, _END), timeout_s)

    def run_source(self, poll: Callable[[], Any], timeout_s: float | None = None) -> Iterator[dict[str, Any]]:
        """Like run, but `poll()` returns the next (response, gold), NOTHING_YET when none is ready
        yet (a streaming reader), or `end_marker()` when the input is over. The pass holds the pool:
        another thread's pass, or the submit() dispatcher, waits until it is over."""
        if self._closed:
            raise RuntimeError("the pool is closed")
        with self._drive_lock:
            yield from self._drive(poll, timeout_s)

    # -- concurrent submission ------------------------------------------------------------------
    def submit(self, response: Any, gold: Any, timeout_s: float | None = None) -> Future[dict[str, Any]]:
        """Queues one item from any thread; the future's result is its verdict dict (never an
        exception: a timeout, crash or closed pool is an `error: ...` result). Await it from asyncio
        with `asyncio.wrap_future`."""
        future: Future[dict[str, Any]] = Future()
        limit = self.timeout_s if timeout_s is None else float(timeout_s)
        with self._state_lock:
            if self._closed:
                future.set_result(error_result("error: verifier pool is closed"))
                return future
            self._inbox.put((response, gold, limit, future))
            if self._dispatcher is None:
                self._dispatcher = threading.Thread(target=self._dispatch, name="reward-lens-verifier", daemon=True)
                self._dispatcher.start()
        return future

    def _dispatch(self) -> None:
        """The one loop that feeds submitted items to the workers, in passes: a pass starts with
        the first item, admits everything handed in while it runs, and ends when nothing is left
        in flight. Between passes it sleeps on the queue (no polling while idle)."""
        carried: Any = None
        while True:
            item = carried if carried is not None else self._inbox.get()
            carried = None
            if item is _STOP:
                return
            in_flight: deque[Future] = deque()
            first = [item]

            # poll runs only inside this pass (self._drive below), so it always sees this pass's
            # first and in_flight: ruff's B023 (late binding in loops) does not apply.
            def poll() -> Any:
                nonlocal carried
                if first:  # noqa: B023
                    got = first.pop()  # noqa: B023
                else:
                    try:
                        got = self._inbox.get_nowait()
                    except queue.Empty:
                        return NOTHING_YET if in_flight else _END  # noqa: B023
                if got is _STOP:
                    carried = _STOP
                    return _END
                response, gold, limit, future = got
                in_flight.append(future)  # noqa: B023
                return (response, gold, limit)

            try:
                with self._drive_lock:
                    if self._closed:
                        raise RuntimeError("the pool is closed")
                    for result in self._drive(poll, None):
                        _settle(in_flight.popleft(), result)
            except BaseException as exc:  # noqa: BLE001 - every waiting caller gets an answer
                reason = f"error: verifier pool failed: {type(exc).__name__}: {exc}"[:500]
                if first:
                    in_flight.append(first.pop()[3])
                while in_flight:
                    _settle(in_flight.popleft(), error_result(reason))
            if carried is _STOP:
                return

    def _drive(self, poll: Callable[[], Any], timeout_s: float | None) -> Iterator[dict[str, Any]]:
        limit = self.timeout_s if timeout_s is None else float(timeout_s)
        self._ensure_workers()
        pending: deque[tuple[int, Any, Any, float]] = deque()
        done: dict[int, dict[str, Any]] = {}
        next_index = 0
        next_out = 0
        input_open = True
        while True:
            while input_open and len(pending) < self.size:
                item = poll()
                if item is _END:
                    input_open = False
                    break
                if item is NOTHING_YET:
                    break
                # (response, gold) or, from submit(), (response, gold, per-item timeout)
                response, gold = item[0], item[1]
                pending.append((next_index, response, gold, float(item[2]) if len(item) > 2 else limit))
                next_index += 1
            for worker in list(self._workers):
                if worker.ready and worker.index is None and pending:
                    index, response, gold, item_limit = pending.popleft()
                    if not self._send(worker, index, response, gold):
                        done[index] = error_result("error: crashed (worker closed its input)")
                        self._replace(worker)
                        continue
                    worker.index = index
                    worker.limit = item_limit
                    worker.deadline = time.monotonic() + item_limit
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            busy = [w for w in self._workers if w.index is not None]
            starting = [w for w in self._workers if not w.ready]
            if not busy and not pending and not input_open:
                return
            now = time.monotonic()
            deadlines = [w.deadline for w in busy] + [w.spawned + _START_TIMEOUT_S for w in starting]
            wait_for = (min(deadlines) if deadlines else now + 0.05) - now
            if input_open and not pending:
                wait_for = min(wait_for, 0.02)
            events = self._selector.select(timeout=max(0.0, wait_for))
            for key, _ in events:
                worker = key.data
                if worker not in self._workers:
                    continue
                lines, eof = self._read_lines(worker)
                for line in lines:
                    if line.get("ready"):
                        worker.ready = True
                    elif worker.index is not None and line.get("i") == worker.index and isinstance(line.get("res"), dict):
                        done[worker.index] = line["res"]
                        worker.index = None
                    elif worker.index is not None:
                        done[worker.index] = error_result("error: crashed (worker answered out of turn)")
                        worker.index = None
                        eof = True
                if eof:
                    code = worker.process.poll()
                    if code is None:
                        try:
                            code = worker.process.wait(timeout=1)
                        except subprocess.TimeoutExpired:
                            code = None
                    if worker.index is not None:
                        done[worker.index] = error_result(f"error: crashed (worker exited with code {code})")
                    elif not worker.ready and pending:
                        # A worker that cannot even start would otherwise be restarted forever.
                        index = pending.popleft()[0]
                        done[index] = error_result(f"error: crashed (worker failed to start, exit code {code})")
                    self._replace(worker)
            now = time.monotonic()
            for worker in list(self._workers):
                if worker.index is not None and now >= worker.deadline:
                    done[worker.index] = error_result(f"error: timeout after {worker.limit:g}s")
                    self._replace(worker)
                elif not worker.ready and now >= worker.spawned + _START_TIMEOUT_S:
                    if pending:
                        index = pending.popleft()[0]
                        done[index] = error_result(f"error: timeout (worker did not start within {_START_TIMEOUT_S:g}s)")
                    self._replace(worker)


def _settle(future: Future, result: dict[str, Any]) -> None:
    if not future.done():
        try:
            future.set_result(result)
        except Exception:  # noqa: BLE001 - cancelled by its caller in the meantime
            pass
