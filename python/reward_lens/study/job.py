"""One run of the study in its own process: train (or resume), then evaluate the final policy.

    python -m reward_lens.study job --spec RUN_DIR/spec.json

The trainer runs in this process through its own entry point (`reward_lens.train.main`), so a
run's events, checkpoints and SIGTERM handling are exactly a normal run's. Exit codes: 0 done
(eval.json written), 3 stopped by SIGTERM (resumable), anything else failed.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

STOPPED = 3


def log(msg: str) -> None:
    print(f"[reward_lens.study] {msg}", file=sys.stderr, flush=True)


def write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)  # whole or absent


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return run_dir / "checkpoints" / f"step-{step:06d}.pt"


def train(spec: dict) -> int:
    from .. import train as trainer

    run_dir = Path(spec["run_dir"])
    cfg_path = run_dir / "config.json"
    write_json(cfg_path, spec["config"])
    resume = any((run_dir / "checkpoints").glob("step-*.pt"))
    if not resume and (run_dir / "events.jsonl").exists():
        # Stopped before its first checkpoint: nothing to resume, so the run starts again cleanly.
        (run_dir / "events.jsonl").unlink()
    log(f"{run_dir.name}: {'resuming' if resume else 'training'}")
    t0 = time.perf_counter()
    rc = trainer.main(["--config", str(cfg_path), "--run-dir", str(run_dir)] + (["--resume"] if resume else []))
    timing = _timing(run_dir)
    timing["train_s"] = timing.get("train_s", 0.0) + time.perf_counter() - t0
    write_json(run_dir / "timing.json", timing)
    return rc


def _timing(run_dir: Path) -> dict:
    p = run_dir / "timing.json"
    try:
        return json.loads(p.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def complete(final: Path) -> bool:
    """The run's last checkpoint exists and is not one written by a stop inside the warm start
    (a warm start's checkpoint is step 0, like its final one, until the warm start is done)."""
    if not final.exists():
        return False
    import torch

    return bool(torch.load(final, map_location="cpu", weights_only=False).get("sft_done", True))


def prune_checkpoints(run_dir: Path, keep: Path) -> None:
    for p in (run_dir / "checkpoints").glob("step-*.pt"):
        if p != keep:
            p.unlink()


def run_job(spec: dict) -> int:
    run_dir = Path(spec["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    final = checkpoint_path(run_dir, spec["config"]["steps"])
    if not complete(final):
        rc = train(spec)
        if rc != 0:
            return rc
        if not complete(final):
            return STOPPED  # SIGTERM: the trainer checkpointed and ended the run as stopped
    prune_checkpoints(run_dir, final)

    def stop(signum, frame):  # noqa: ARG001 - evaluation restarts from scratch on resume
        raise SystemExit(STOPPED)

    signal.signal(signal.SIGTERM, stop)
    from .evaluate import evaluate_checkpoint

    ev = spec["eval"]
    log(f"{run_dir.name}: evaluating {final.name}")
    t0 = time.perf_counter()
    result = evaluate_checkpoint(spec["config"], final, ev["splits"], ev["samples"], log=log)
    timing = _timing(run_dir)
    timing["eval_s"] = time.perf_counter() - t0
    result["timing"] = timing
    write_json(run_dir / "timing.json", timing)
    write_json(run_dir / "eval.json", result)
    return 0


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    try:
        return run_job(spec)
    except SystemExit as e:
        return int(e.code) if isinstance(e.code, int) else 1
