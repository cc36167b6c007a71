"""`python -m reward_lens.compare_variants --out DIR`: GRPO vs LUFFY vs OGER on the demo task.

One shared warm start (so the variants differ only in their RL steps), then the same number of RL
steps per variant with the same seed, then held-out evaluation of each final policy:
greedy accuracy, unbiased pass@k at several k (k samples at temperature 1.0), and the mean policy
entropy over training (actor/entropy of the step events). Writes DIR/compare.md and compare.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

from . import config as config_mod
from .data import load_prompts
from .demo_task import write_demo
from .eval import evaluate, pass_at_k
from .policy import build_policy


def train(cfg: dict, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "config.json"
    path.write_text(json.dumps(cfg, indent=2))
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "reward_lens.train", "--config", str(path), "--run-dir", str(run_dir)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"training in {run_dir} failed:\n{out.stderr[-3000:]}")
    print(f"  {run_dir.name}: {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reward_lens.compare_variants")
    ap.add_argument("--out", required=True)
    ap.add_argument("--variants", default="grpo,luffy,oger")
    ap.add_argument("--sft-steps", type=int, default=300)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--eval-prompts", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    cfg_path = write_demo(out / "data", steps=args.steps, sft_steps=args.sft_steps, seed=args.seed)
    base = json.loads(cfg_path.read_text())
    base.update(eval_every=0, eval_max_prompts=args.eval_prompts)

    warm_dir = out / "warm-start"
    print("warm start", file=sys.stderr)
    train({**base, "variant": "grpo", "steps": 0, "checkpoint_every": 1}, warm_dir)
    warm_ckpt = warm_dir / "checkpoints" / "step-000000.pt"

    held = load_prompts(base["eval_data"])[0][: args.eval_prompts]
    rows = []
    for variant in args.variants.split(","):
        print(variant, file=sys.stderr)
        run_dir = out / variant
        train({**base, "variant": variant, "sft_steps": 0, "init_from": str(warm_ckpt), "checkpoint_every": args.steps}, run_dir)
        events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
        ent = [e["metrics"]["actor/entropy"] for e in events if e["type"] == "step" and "actor/entropy" in e["metrics"]]
        score = [e["metrics"]["critic/score/mean"] for e in events if e["type"] == "step" and "critic/score/mean" in e["metrics"]]
        cfg = config_mod.from_dict({**base, "variant": variant})
        model, tok = build_policy(cfg, torch.device("cpu"))
        model.load_state_dict(torch.load(run_dir / "checkpoints" / f"step-{args.steps:06d}.pt", weights_only=False)["model"])
        model.eval()
        for it in held:
            it.prompt_ids = tok.encode(tok.format_prompt(it.question, "", cfg.prompt_template, cfg.prompt_ends_with))
        from .verify import load_verifier

        fn = load_verifier(None)
        # bound now: the loop rebinds fn and cfg for the next variant
        verify = lambda items, fn=fn, cfg=cfg: fn(items, timeout_s=5.0, workers=cfg.verifier_workers)
        greedy = evaluate(model, tok, cfg, torch.device("cpu"), held, 1, 0.0, verify)
        acc = sum(1 for _, _, res, _ in greedy if res[0].get("correct") is True) / len(greedy)
        sampled = evaluate(model, tok, cfg, torch.device("cpu"), held, args.k, 1.0, verify)
        counts = [sum(1 for r in res if r.get("correct") is True) for _, _, res, _ in sampled]
        ks = sorted({1, 2, 4, args.k} & set(range(1, args.k + 1)))
        row = {
            "variant": variant,
            "greedy_accuracy": acc,
            **{f"pass@{k}": sum(pass_at_k(args.k, c, k) for c in counts) / len(counts) for k in ks},
            "mean_entropy": sum(ent) / len(ent) if ent else None,
            "mean_train_score": sum(score) / len(score) if score else None,
            "steps": len(ent),
        }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    ks = [k for k in rows[0] if k.startswith("pass@")]
    lines = [
        f"Demo task (two-digit addition), shared warm start of {args.sft_steps} supervised steps, then {args.steps} RL steps per variant, seed {args.seed}; "
        f"held-out: {len(held)} prompts; pass@k from {args.k} samples at T=1.0 (unbiased estimator).",
        "",
        "| Variant | Greedy accuracy | " + " | ".join(ks) + " | Mean policy entropy (nats) | Mean train score |",
        "|---|---|" + "---|" * len(ks) + "---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['greedy_accuracy']:.1%} | " + " | ".join(f"{r[k]:.1%}" for k in ks) + f" | {r['mean_entropy']:.3f} | {r['mean_train_score']:.3f} |")
    table = "\n".join(lines)
    (out / "compare.md").write_text(table + "\n")
    (out / "compare.json").write_text(json.dumps(rows, indent=2))
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
