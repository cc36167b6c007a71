"""The CPU demo's verifiable task: two-digit addition answered in the real reasoning format.

A response looks like `<think>\\n...steps...\\n</think>\\n\\boxed{85}` and is checked by the default
verifier (LUFFY's format gate + Math-Verify), like any other run. Three teachers reason
differently, so their embeddings differ and OGER's divergence has something to measure:
- column:     units first, carrying ("7+8=15 write 5 carry 1")
- decompose:  add the tens, then the units ("47+30=77, 77+8=85")
- compensate: round the second number up to a ten, then take the excess back ("38=40-2 ...")

`python -m reward_lens.demo_task --out DIR` writes train.jsonl, heldout.jsonl and config.json.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

PROMPT_TEMPLATE = "Q: {question}\n<think>\n"


def column(a: int, b: int) -> str:
    au, at, bu, bt = a % 10, a // 10, b % 10, b // 10
    u = au + bu
    carry = u // 10
    t = at + bt + carry
    lines = [f"units {au}+{bu}={u}" + (f" write {u % 10} carry 1" if carry else f" write {u}")]
    lines.append(f"tens {at}+{bt}" + ("+1" if carry else "") + f"={t}")
    lines.append(f"so {a + b}")
    return "\n".join(lines)


def decompose(a: int, b: int) -> str:
    bt, bu = (b // 10) * 10, b % 10
    return f"{b}={bt}+{bu}\n{a}+{bt}={a + bt}\n{a + bt}+{bu}={a + b}"


def compensate(a: int, b: int) -> str:
    if b % 10 == 0:
        return f"{b} is a round ten\n{a}+{b}={a + b}"
    up = (b // 10 + 1) * 10
    excess = up - b
    return f"{b}={up}-{excess}\n{a}+{up}={a + up}\n{a + up}-{excess}={a + b}"


STYLES = {"column": column, "decompose": decompose, "compensate": compensate}


def trace(style: str, a: int, b: int) -> str:
    # The prompt ends with the opening tag (LUFFY's layout); the response closes it and boxes the answer.
    return f"{STYLES[style](a, b)}\n</think>\n\\boxed{{{a + b}}}"


def make_split(seed: int, heldout: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    pairs = [(a, b) for a in range(10, 100) for b in range(10, 100)]
    random.Random(seed).shuffle(pairs)
    return pairs[heldout:], pairs[:heldout]


def row(a: int, b: int, with_teachers: bool) -> dict:
    r = {"id": f"{a}+{b}", "prompt": f"{a}+{b}", "gold": str(a + b)}
    if with_teachers:
        r["teachers"] = [{"teacher": name, "text": trace(name, a, b)} for name in STYLES]
    return r


def demo_config(out: Path, steps: int, sft_steps: int, variant: str = "oger", seed: int = 0) -> dict:
    return {
        "model": {"tiny": {"arch": "qwen2", "hidden_size": 128, "layers": 3, "heads": 4, "intermediate_size": 384, "max_positions": 128}},
        "data": str(out / "train.jsonl"),
        "eval_data": str(out / "heldout.jsonl"),
        "variant": variant,
        "replace": 1,
        "encoder": {"path": None, "pooling": None, "strategy": "truncate", "max_length": 128, "batch_size": 64},
        "prompt_template": PROMPT_TEMPLATE,
        "system_prompt": "",
        "rollout_n": 8,
        "temperature": 1.0,
        "max_new_tokens": 64,
        "max_prompt_tokens": 32,
        # 5e-5, not 1e-4: from the same warm starts, 20 OGER steps at 1e-4 reached 58% / 70.5% greedy
        # (seeds 0 / 1) and at 5e-5 60% / 82%; 2e-4 and 3e-4 fell to 27.5% and 6% (seed 0).
        "lr": 5e-5,
        "steps": steps,
        "batch_prompts": 8,
        "max_tokens_per_micro_batch": 16384,
        "entropy_coef": 0.01,
        "loss_agg": "seq-mean-token-sum-norm",
        "sft_steps": sft_steps,
        "sft_lr": 3e-3,
        "sft_batch": 64,
        "device": "cpu",
        "bf16": False,
        "token_entropy_stride": 4,
        "checkpoint_every": 0,
        "eval_every": steps,
        "eval_samples": 1,
        "eval_temperature": 1.0,
        "eval_max_prompts": 200,
        "seed": seed,
        # One intra-op thread: OpenMP threads spin-wait, which wastes a 2-core machine that also
        # runs the verifier workers and the encoder.
        "threads": 1,
        "verifier_workers": 2,
        # Generous: on a loaded 2-core machine a worker can take seconds just to start.
        "verifier_timeout_s": 30.0,
    }


BASE_STYLE = "column"


def base_config(out: Path, base_steps: int, seed: int = 0) -> dict:
    """The OXA demo's base policy: random weights trained on the column traces only, the stand-in
    for a pretrained model that already answers one way. OXA scores confidence under the model it
    fine-tunes, and under random weights every trace has the same PPL (nothing to select by)."""
    cfg = demo_config(out, 0, 0, "grpo", seed)
    cfg.pop("encoder")
    cfg.update(
        data=str(out / f"train-{BASE_STYLE}.jsonl"), replace=0, eval_data=None, eval_every=0, checkpoint_every=1,
        checkpoint_dir=str(out / "base-checkpoints"), sft_steps=0,
        warm_start={"method": "sft", "steps": base_steps, "lr": 3e-3, "batch": 64, "entropy_probe_prompts": 0, "log_every": 100},
    )
    return cfg


def oxa_warm_start(steps: int, batch: int = 32, lr: float = 1e-3, promote: int = 2000, suppress_prompts: int = 1024, probe_prompts: int = 16) -> dict:
    """OXA on the demo task from the base: n promote traces by Gaussian quotas over the base's PPL
    (mu, sigma auto), the base's lowest-PPL wrong self-samples suppressed 1:1."""
    return {"method": "oxa", "steps": steps, "lr": lr, "batch": batch, "log_every": max(1, steps // 8), "entropy_probe_prompts": probe_prompts,
            "n": promote, "suppress_prompts": suppress_prompts, "suppress_samples": 4}


def write_demo(out: Path, steps: int = 20, sft_steps: int = 600, heldout: int = 200, seed: int = 0, variant: str = "oger", warm_start: str = "sft") -> Path:
    """The demo's data and config.json. warm_start "oxa": half of sft_steps train a column-only
    base (base.json, run first), the other half are OXA's warm start from it (config.json)."""
    out.mkdir(parents=True, exist_ok=True)
    train, held = make_split(seed, heldout)
    with (out / "train.jsonl").open("w") as f, (out / f"train-{BASE_STYLE}.jsonl").open("w") as base:
        for a, b in train:
            r = row(a, b, True)
            f.write(json.dumps(r) + "\n")
            base.write(json.dumps({**r, "teachers": [t for t in r["teachers"] if t["teacher"] == BASE_STYLE]}) + "\n")
    with (out / "heldout.jsonl").open("w") as f:
        for a, b in held:
            f.write(json.dumps(row(a, b, False)) + "\n")
    cfg = demo_config(out, steps, sft_steps, variant, seed)
    if warm_start == "oxa":
        base_steps = sft_steps // 2
        (out / "base.json").write_text(json.dumps(base_config(out, base_steps, seed), indent=2))
        cfg.update(sft_steps=0, init_from=str(out / "base-checkpoints" / "step-000000.pt"), warm_start=oxa_warm_start(sft_steps - base_steps))
    elif warm_start != "sft":
        raise ValueError(f"warm_start = {warm_start!r}: must be sft or oxa")
    cfg_path = out / "config.json"
    cfg_path.write_text(json.dumps(cfg, indent=2))
    return cfg_path


def summarize(events_path: Path) -> dict:
    """Held-out accuracy before the warm start, after it, and after the RL steps, from the events."""
    before = after_sft = final = None
    steps = 0
    status = None
    with events_path.open(encoding="utf-8") as f:
        for line in f:
            try:
                e = json.loads(line)
            except json.JSONDecodeError:
                continue
            m = e.get("metrics") or {}
            if e.get("type") == "step" and e.get("step") == 0:
                before = {k[: -len("_before_sft")]: v for k, v in m.items() if k.endswith("_before_sft")}
                after_sft = {k: v for k, v in m.items() if k.startswith("eval/") and not k.endswith("_before_sft")}
            elif e.get("type") == "step":
                steps = max(steps, e["step"])
                if "eval/greedy_accuracy" in m:
                    final = {k: v for k, v in m.items() if k.startswith("eval/")}
            elif e.get("type") == "run_end":
                status = e.get("status")
    return {"before": before, "after_warm_start": after_sft, "after_rl": final, "rl_steps": steps, "status": status}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reward_lens.demo_task")
    ap.add_argument("--summary", help="print held-out accuracy from a demo run's events.jsonl and exit")
    ap.add_argument("--out")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--sft-steps", type=int, default=600)
    ap.add_argument("--variant", default="oger")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--warm-start", choices=["sft", "oxa"], default="sft", help="oxa: a column-only base (base.json) for half the warm-start steps, then OXA")
    args = ap.parse_args(argv)
    if args.summary:
        s = summarize(Path(args.summary))

        def fmt(d):
            if not d:
                return "n/a"
            parts = [f"greedy {d['eval/greedy_accuracy']:.1%}"] if "eval/greedy_accuracy" in d else []
            if "eval/accuracy" in d:
                parts.append(f"sampled pass@1 {d['eval/accuracy']:.1%}")
            return ", ".join(parts) or "n/a"

        print(f"held-out accuracy: before {fmt(s['before'])} | after warm start {fmt(s['after_warm_start'])} | after {s['rl_steps']} OGER steps {fmt(s['after_rl'])} (run {s['status']})")
        print(json.dumps(s))
        return 0
    if not args.out:
        ap.error("--out DIR is required")
    print(write_demo(Path(args.out), args.steps, args.sft_steps, seed=args.seed, variant=args.variant, warm_start=args.warm_start))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
