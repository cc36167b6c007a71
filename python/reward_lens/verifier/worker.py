"""One verifier worker process: `python -m reward_lens.verifier.worker SPEC`.

Reads {"i": index, "r": response, "g": gold} lines on stdin and answers {"i": index, "res": result}
on stdout, one item at a time, so the pool knows exactly which item a stuck worker was holding.
It is a fresh interpreter rather than a fork: forking a training process (threads, CUDA) is unsafe,
and multiprocessing's spawn/forkserver would re-run a script's unguarded top-level code.
"""

from __future__ import annotations

import json
import os
import sys

from .loader import call_verifier, error_result, load_function


def main() -> int:
    spec = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] != "" else None
    # Results get a private copy of stdout; fd 1 then points at stderr, so a verifier that prints
    # (or a C library that writes to fd 1) cannot corrupt the result stream.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", errors="surrogatepass")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        fn = load_function(spec)
        load_error = None
    except BaseException as exc:  # noqa: BLE001 - reported per item, the pool keeps running
        fn = None
        load_error = f"error: cannot load verifier {spec!r}: {type(exc).__name__}: {exc}"[:500]
    # Math-Verify and sympy are imported before the first item, so their import is not charged to it.
    from . import default  # noqa: F401

    out.write('{"ready": true}\n')
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict):
            continue
        if "reload" in message:
            # A new version of the verifier: re-execute its file in a fresh module object, keeping
            # this interpreter (and its Math-Verify/sympy import) alive. Much cheaper than a restart.
            spec = message["reload"] or None
            try:
                fn = load_function(spec)
                load_error = None
            except BaseException as exc:  # noqa: BLE001
                fn = None
                load_error = f"error: cannot load verifier {spec!r}: {type(exc).__name__}: {exc}"[:500]
            out.write(json.dumps({"reloaded": True}) + "\n")
            out.flush()
            continue
        index = message.get("i")
        if not isinstance(index, int):
            continue
        result = error_result(load_error) if fn is None else call_verifier(fn, message.get("r"), message.get("g"))
        out.write(json.dumps(result_line(index, result)) + "\n")
        out.flush()
    return 0


def result_line(index: int, result: dict) -> dict:
    # Bound what one answer can carry: a verifier returning a megabyte "reason" must not stall the pool.
    reason = result.get("reason")
    extracted = result.get("extracted")
    if isinstance(reason, str) and len(reason) > 2000:
        result = {**result, "reason": reason[:2000] + "…"}
    if isinstance(extracted, str) and len(extracted) > 2000:
        result = {**result, "extracted": extracted[:2000] + "…"}
    return {"i": index, "res": result}


if __name__ == "__main__":
    try:
        code = main()
    except KeyboardInterrupt:
        code = 130
    sys.stderr.flush()
    os._exit(code)
