"""A pool of verifier worker processes with a wall-clock timeout per item.

Why not multiprocessing.Pool: it cannot kill one stuck task. Math-Verify (sympy) can hang on a
pathological answer, and a user's verifier can loop forever or crash the interpreter. Here every
worker holds one item at a time; a worker past its deadline is killed and replaced, and its item
becomes `error: timeout after Xs`; a worker that dies becomes `error: crashed (...)`. Nothing is
ever reported as a silent "wrong".

Workers are fresh interpreters (`python -m reward_lens.verifier.worker`), not forks: the caller may
be a training process holding threads and CUDA state, and multiprocessing's spawn/forkserver would
re-execute the caller's unguarded top-level script code in every worker.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .loader import error_result

_END = object()
NOTHING_YET = object()

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
        if self._closed:
            return
        self._closed = True
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

    def __enter__(self) -> "VerifierPool":
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
        self._ensure_workers()

    def reload(self, spec: str | None) -> None:
        """Switches every worker to another verifier (or a new version of the same file) without
        restarting the interpreters. Call between runs. A worker that does not acknowledge within
        the start timeout is replaced (a fresh one loads the new spec)."""
        if self._closed:
            raise RuntimeError("the pool is closed")
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
        yet (a streaming reader), or `end_marker()` when the input is over."""
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
            for worker in list(self._workers):
                if worker.ready and worker.index is None and pending:
                    index, response, gold = pending.popleft()
                    if not self._send(worker, index, response, gold):
                        done[index] = error_result("error: crashed (worker closed its input)")
                        self._replace(worker)
                        continue
                    worker.index = index
                    worker.deadline = time.monotonic() + limit
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
                        index, _, _ = pending.popleft()
                        done[index] = error_result(f"error: crashed (worker failed to start, exit code {code})")
                    self._replace(worker)
            now = time.monotonic()
            for worker in list(self._workers):
                if worker.index is not None and now >= worker.deadline:
                    done[worker.index] = error_result(f"error: timeout after {limit:g}s")
                    self._replace(worker)
                elif not worker.ready and now >= worker.spawned + _START_TIMEOUT_S:
                    if pending:
                        index, _, _ = pending.popleft()
                        done[index] = error_result(f"error: timeout (worker did not start within {_START_TIMEOUT_S:g}s)")
                    self._replace(worker)
