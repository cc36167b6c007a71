"""Verifying responses against gold answers: the API the trainer calls and the CLI the extension runs.

API
- verify_batch(items, timeout_s=5.0, workers=None): items are {id, response, gold}; returns
  [{id, correct: True|False|None, reason, extracted}] in order, with the default verifier.
- verify_one(response, gold, timeout_s=5.0): one item, same result shape without the id.
- submit_one(response, gold, timeout_s=5.0, spec=None, workers=None): one item without blocking,
  a Future of the same result shape. All of these are thread-safe: threads share a pool's workers.
- load_verifier(spec=None, overrides=None): a callable with verify_batch's signature for any spec
  (None = default, "module:function", or a .py file's verify function); `overrides` is an exported
  labels JSONL whose correct/wrong labels win for matching (response, gold) pairs.
- verifier_identity(spec): {id: sha256 of the verifier's source, name, path}.

CLI: python -m reward_lens.verify [--verifier SPEC] [--workers N] [--timeout S] [--overrides FILE]
reads JSON Lines {"id","response","gold"} on stdin and writes {"id","correct","reason","extracted"}
per line, in order, as results become known. A line {"control": "verifier", "spec": SPEC} switches
the verifier for the lines after it (the persistent regression runner re-verifies on every save
without paying the interpreter start-up again) and is answered with {"control": "verifier",
"identity": {...}} or {"control": "error", "reason": ...}.
`--test FILE` verifies an exported labels file and exits 1 on any disagreement, printing each.

Every item's result is computed in a worker process with a wall-clock timeout: an exception or a
timeout is `correct: null` with an `error: ...` reason, never a silent false.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from .verifier.loader import error_result, verifier_identity
from .verifier.pool import NOTHING_YET, VerifierPool, default_workers, end_marker

__all__ = [
    "verify_batch",
    "verify_one",
    "submit_one",
    "load_verifier",
    "verifier_identity",
    "read_labels",
    "label_key",
    "VerifierPool",
]

BatchVerifier = Callable[..., list[dict[str, Any]]]

# One pool per (spec, workers), reused across calls: a training loop verifies every step.
_pools: dict[tuple[str | None, int], VerifierPool] = {}
_pools_lock = threading.Lock()


def _shared_pool(spec: str | None, workers: int | None, timeout_s: float) -> VerifierPool:
    size = workers if workers is not None else default_workers()
    key = (spec, size)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None or pool._closed:  # noqa: SLF001 - same package
            pool = VerifierPool(spec, workers=size, timeout_s=timeout_s)
            _pools[key] = pool
        return pool


@atexit.register
def _close_pools() -> None:
    for pool in list(_pools.values()):
        pool.close()
    _pools.clear()


def label_key(response: str, gold: str) -> str:
    """Labels are matched on the exact (response, gold) pair; ids differ between runs."""
    return hashlib.sha256(response.encode("utf-8", "surrogatepass") + b"\x00" + gold.encode("utf-8", "surrogatepass")).hexdigest()


def read_labels(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Exported labels: rows with id, response, gold, label (correct|wrong), note. Returns the valid
    rows and a message per malformed line (counted and reported, never fatal)."""
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"line {number}: not JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                problems.append(f"line {number}: not an object")
                continue
            if not isinstance(row.get("response"), str) or not isinstance(row.get("gold"), str):
                problems.append(f"line {number}: response and gold must be strings")
                continue
            if row.get("label") not in ("correct", "wrong"):
                problems.append(f"line {number}: label must be 'correct' or 'wrong', got {row.get('label')!r}")
                continue
            rows.append(row)
    return rows, problems


def _override_table(path: str | Path | None) -> dict[str, dict[str, Any]]:
    if path is None:
        return {}
    rows, _ = read_labels(path)
    table: dict[str, dict[str, Any]] = {}
    for row in rows:
        note = row.get("note")
        reason = f"label override: {row['label']}" + (f" ({note})" if isinstance(note, str) and note else "")
        # The newest label of a pair wins: exports are oldest first.
        table[label_key(row["response"], row["gold"])] = {"correct": row["label"] == "correct", "reason": reason, "extracted": None}
    return table


def _run(pool: VerifierPool, items: Sequence[dict[str, Any]], timeout_s: float, overrides: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    results: list[dict[str, Any] | None] = [None] * len(items)
    to_verify: list[int] = []
    for position, item in enumerate(items):
        response, gold = item.get("response"), item.get("gold")
        if not isinstance(response, str) or not isinstance(gold, str):
            results[position] = error_result("error: response and gold must be strings")
            continue
        hit = overrides.get(label_key(response, gold)) if overrides else None
        if hit is not None:
            results[position] = dict(hit)
        else:
            to_verify.append(position)
    # submit(), not run(): the shared pool may be fed by several threads at once (verl calls the
    # reward function from a thread pool), and every caller must get its own results back.
    futures = [pool.submit(items[p]["response"], items[p]["gold"], timeout_s=timeout_s) for p in to_verify]
    for position, future in zip(to_verify, futures):
        results[position] = future.result()
    return [{"id": item.get("id"), **(result or error_result("error: no result"))} for item, result in zip(items, results)]


def load_verifier(spec: str | None = None, overrides: str | Path | None = None) -> BatchVerifier:
    """A callable fn(items, timeout_s=5.0, workers=None) -> results for the given verifier spec."""
    table = _override_table(overrides)
    verifier_identity(spec)  # fail now, in the caller, when the spec names nothing

    def batch(items: Sequence[dict[str, Any]], timeout_s: float = 5.0, workers: int | None = None) -> list[dict[str, Any]]:
        return _run(_shared_pool(spec, workers, timeout_s), items, timeout_s, table)

    batch.spec = spec  # type: ignore[attr-defined]
    return batch


def verify_batch(items: Sequence[dict[str, Any]], timeout_s: float = 5.0, workers: int | None = None) -> list[dict[str, Any]]:
    return _run(_shared_pool(None, workers, timeout_s), items, timeout_s, {})


def verify_one(response: str, gold: str, timeout_s: float = 5.0) -> dict[str, Any]:
    result = verify_batch([{"id": None, "response": response, "gold": gold}], timeout_s=timeout_s, workers=1)[0]
    result.pop("id", None)
    return result


def submit_one(response: Any, gold: Any, timeout_s: float = 5.0, spec: str | None = None, workers: int | None = None) -> Future[dict[str, Any]]:
    """One item to the shared pool of `spec` from any thread, without blocking: a Future of its
    result dict (`asyncio.wrap_future` awaits it in an event loop). Thread-safe; concurrent callers
    share the pool's workers."""
    if not isinstance(response, str) or not isinstance(gold, str):
        future: Future[dict[str, Any]] = Future()
        future.set_result(error_result("error: response and gold must be strings"))
        return future
    return _shared_pool(spec, workers, timeout_s).submit(response, gold, timeout_s=timeout_s)


# ----------------------------------------------------------------------------------------------
# CLI


def _write(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _serve(args: argparse.Namespace) -> int:
    """Streams stdin to the pool. A reader thread keeps the pool fed while results stream out."""
    lines: queue.Queue[str | None] = queue.Queue(maxsize=4096)

    def reader() -> None:
        for raw in sys.stdin:
            lines.put(raw)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    overrides = _override_table(args.overrides)
    spec: str | None = args.verifier
    pool = VerifierPool(spec, workers=args.workers, timeout_s=args.timeout)
    pool.start()
    # Items whose result is known without the pool (overrides, malformed lines) still keep their place.
    order: list[tuple[Any, dict[str, Any] | None]] = []
    state = {"end": False, "control": None}

    def flush_decided() -> None:
        # Lines answered without the pool (overrides, malformed input) go out as soon as every
        # line before them has been answered, not when the next pool result happens to arrive.
        while order and order[0][1] is not None:
            item_id, known = order.pop(0)
            _write({"id": item_id, **known})

    def poll() -> Any:
        while True:
            flush_decided()
            try:
                raw = lines.get(timeout=0.01) if not order else lines.get_nowait()
            except queue.Empty:
                return NOTHING_YET
            if raw is None:
                state["end"] = True
                return end_marker()
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
            except json.JSONDecodeError as exc:
                order.append((None, error_result(f"error: malformed input line ({exc.msg})")))
                continue
            if not isinstance(item, dict):
                order.append((None, error_result("error: malformed input line (not an object)")))
                continue
            if "control" in item:
                state["control"] = item
                return end_marker()
            response, gold = item.get("response"), item.get("gold")
            if not isinstance(response, str) or not isinstance(gold, str):
                order.append((item.get("id"), error_result("error: response and gold must be strings")))
                continue
            hit = overrides.get(label_key(response, gold)) if overrides else None
            if hit is not None:
                order.append((item.get("id"), dict(hit)))
                continue
            order.append((item.get("id"), None))
            return (response, gold)

    try:
        while True:
            results = pool.run_source(poll, timeout_s=args.timeout)
            for result in results:
                # Flush the pre-decided lines queued before this pool result, then this one.
                flush_decided()
                item_id, _ = order.pop(0)
                _write({"id": item_id, **result})
            for item_id, known in order:
                _write({"id": item_id, **(known or error_result("error: no result"))})
            order.clear()
            control = state["control"]
            if control is None:
                return 0
            state["control"] = None
            if control.get("control") == "verifier":
                new_spec = control.get("spec")
                try:
                    identity = verifier_identity(new_spec)
                except Exception as exc:  # noqa: BLE001 - reported on the stream, the server stays up
                    _write({"control": "error", "reason": f"error: {type(exc).__name__}: {exc}"})
                    continue
                spec = new_spec
                pool.reload(spec)
                _write({"control": "verifier", "identity": identity})
            elif control.get("control") == "ping":
                _write({"control": "pong"})
            else:
                _write({"control": "error", "reason": f"unknown control {control.get('control')!r}"})
    finally:
        pool.close()


def _test(args: argparse.Namespace) -> int:
    rows, problems = read_labels(args.test)
    for problem in problems:
        print(f"MALFORMED {args.test}: {problem}", file=sys.stderr)
    with VerifierPool(args.verifier, workers=args.workers, timeout_s=args.timeout) as pool:
        results = list(pool.run(((r["response"], r["gold"]) for r in rows), timeout_s=args.timeout))
    disagreements = 0
    for row, result in zip(rows, results):
        expected = row["label"] == "correct"
        if result["correct"] is expected:
            continue
        disagreements += 1
        got = {True: "correct", False: "wrong", None: "error"}[result["correct"]]
        note = f" note={row.get('note')!r}" if row.get("note") else ""
        print(
            f"DISAGREE id={row.get('id')!r}: labelled {row['label']}, verifier says {got} ({result['reason']});"
            f" extracted={result.get('extracted')!r} gold={row['gold']!r}{note}"
        )
    identity = verifier_identity(args.verifier)
    print(f"{len(rows) - disagreements}/{len(rows)} labels agree with verifier {identity['name']} ({identity['id'][:12]}); {len(problems)} malformed lines")
    return 1 if disagreements or problems else 0


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reward_lens.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--verifier", default=None, help="default | module:function | path/to/verifier.py")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: CPU count, at most 8)")
    parser.add_argument("--timeout", type=float, default=5.0, help="wall-clock seconds per item")
    parser.add_argument("--overrides", default=None, help="exported labels JSONL whose labels win for matching pairs")
    parser.add_argument("--test", default=None, metavar="FILE", help="check exported labels; exit 1 on any disagreement")
    parser.add_argument("--identity", action="store_true", help="print the verifier's identity as JSON and exit")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    try:
        if args.identity:
            _write(verifier_identity(args.verifier))
            return 0
        if args.test:
            return _test(args)
        return _serve(args)
    except (FileNotFoundError, ValueError, ImportError, AttributeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
