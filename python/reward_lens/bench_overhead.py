"""`python -m reward_lens.bench_overhead`: the OGER reward's share of step time, against GRPO and LUFFY.

One process, one config (the demo task's policy and data, warm-started identically), the same
seed for every variant. For each variant: `--warmup` steps, then `--steps` measured steps of the
real trainer. OGER's reward cost is the embedding of the online responses (teachers are cached
after their first step) plus divergence, replacement and scoring (timing/embed_s + timing/plan_s +
timing/score_s).
Prints a table and, last, one JSON line. Paper anchor: OGER 168 GPU-hours vs LUFFY 120 (x1.40).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from . import config as config_mod
from .demo_task import write_demo


def measure(variant: str, base: dict, tmp: Path, warmup: int, steps: int) -> dict:
    from .train import Trainer

    cfg = config_mod.from_dict({**base, "variant": variant})
    tr = Trainer(cfg, tmp / variant, resume=False)
    rows = []
    for k in range(warmup + steps):
        m = tr.rl_step()
        if k >= warmup:
            rows.append(m)
    tr.events.close()

    def mean(key: str) -> float:
        return statistics.mean(r.get(key, 0.0) or 0.0 for r in rows)

    step = mean("timing/step_s")
    reward = mean("timing/plan_s") + mean("timing/score_s")
    oger = mean("timing/embed_s") + (reward if variant.startswith("oger") else 0.0)
    return {
        "variant": variant,
        "step_s": step,
        "gen_s": mean("timing/gen_s"),
        "verify_s": mean("timing/verify_s"),
        "embed_s": mean("timing/embed_s"),
        "reward_s": reward,
        "old_logp_s": mean("timing/old_logp_s"),
        "update_s": mean("timing/update_s"),
        "oger_reward_s": oger,
        "oger_share": oger / step if step else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reward_lens.bench_overhead")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--variants", default="grpo,luffy,oger")
    ap.add_argument("--rollout-n", type=int, default=8)
    ap.add_argument("--batch-prompts", type=int, default=8)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rl-bench-") as d:
        tmp = Path(d)
        base = json.loads(write_demo(tmp / "data", steps=1000, sft_steps=0).read_text())
        base.update(rollout_n=args.rollout_n, batch_prompts=args.batch_prompts, eval_data=None, checkpoint_every=0)
        t0 = time.perf_counter()
        rows = [measure(v, base, tmp, args.warmup, args.steps) for v in args.variants.split(",")]
        wall = time.perf_counter() - t0
    by = {r["variant"]: r for r in rows}
    print(f"CPU, demo policy (tiny Qwen2), {args.batch_prompts} prompts x {args.rollout_n} samples, mean of {args.steps} steps after {args.warmup} warm-up")
    print("| variant | step s | gen | verify | embed | reward | old logp | update | OGER reward share |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['variant']} | {r['step_s']:.2f} | {r['gen_s']:.2f} | {r['verify_s']:.2f} | {r['embed_s']:.2f} | {r['reward_s']:.3f} "
            f"| {r['old_logp_s']:.2f} | {r['update_s']:.2f} | {r['oger_share']:.1%} |"
        )
    summary = {"device": "cpu", "steps": args.steps, "rows": rows, "wall_s": wall}
    if "grpo" in by and "oger" in by:
        summary["oger_over_grpo"] = by["oger"]["step_s"] / by["grpo"]["step_s"]
    if "luffy" in by and "oger" in by:
        summary["oger_over_luffy"] = by["oger"]["step_s"] / by["luffy"]["step_s"]
        summary["paper_oger_over_luffy"] = 168 / 120
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
