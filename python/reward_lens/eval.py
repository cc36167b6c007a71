"""`python -m reward_lens.eval`: pass@1 averaged over k samples, unbiased pass@k, temperature sweep.

    python -m reward_lens.eval --config RUN_CONFIG.json [--checkpoint step-000030.pt]
        --data ../shared/data/eval/math500.jsonl [--data ...] [--k 8] [--pass-k 1,4,8]
        [--temperatures 0.8,1.0] --out DIR [--max-prompts N]

Defaults are the OGER paper's protocol: temperature 0.8; pass@1 averaged over 32 samples for the
small sets (AIME 2024/2025, AMC: a data file whose name starts with aime or amc) and from one
sample for the others. `--k N` uses N samples for every set.

Data rows: problem | question | prompt, and answer | gold (the ../shared/data/eval layout; LUFFY's
parquet works too). The policy, tokenizer and prompt format come from the training config, the
weights from the checkpoint when given. Results go to DIR/eval.json and, as protocol-v1 events
(one `step` per temperature, one `group` per prompt with its k samples), to DIR/events.jsonl.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import uuid
from pathlib import Path

import torch

from . import config as config_mod
from .data import load_prompts
from .events import EventWriter
from .group_events import OnlineMember, group_event
from .policy import build_policy, describe_model, pick_device, sample
from .vllm_sampler import generation_seed

PAPER_TEMPERATURE = 0.8
# The paper reports pass@1 over 32 rollouts where a benchmark has few problems.
PAPER_SMALL_SETS = ("aime", "amc")
PAPER_SMALL_SET_SAMPLES = 32


def paper_samples(data_path: str) -> int:
    """Samples per prompt under the paper's protocol: 32 for AIME and AMC files, 1 otherwise."""
    return PAPER_SMALL_SET_SAMPLES if Path(data_path).stem.lower().startswith(PAPER_SMALL_SETS) else 1


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimator 1 - C(n-c, k) / C(n, k) (Chen et al. 2021); needs k <= n."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per prompt, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def evaluate(model, tok, cfg, device, items, k: int, temperature: float, verify, batch: int = 32, vllm_sampler=None):
    """Per prompt: (item, texts, verdicts). Generation by transformers unless a VLLMSampler is given."""
    out = []
    for s in range(0, len(items), batch):
        chunk = items[s:s + batch]
        prompts = [it.prompt_ids for it in chunk]
        if vllm_sampler is None:
            resp = sample(model, tok, prompts, k, temperature, 1.0, cfg.max_new_tokens, cfg, device)
        else:
            resp = vllm_sampler.sample(prompts, k, temperature, 1.0, cfg.max_new_tokens, seed=generation_seed(cfg.seed, 0, f"eval/t{temperature}", s))
        texts = [[tok.decode([t for t in r if t != tok.eos_token_id]) for r in group] for group in resp]
        flat = [{"id": f"{gi}/{i}", "response": texts[gi][i], "gold": it.gold} for gi, it in enumerate(chunk) for i in range(k)]
        res = verify(flat)
        for gi, it in enumerate(chunk):
            out.append((it, texts[gi], res[gi * k:(gi + 1) * k], resp[gi]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reward_lens.eval", description="pass@k evaluation with a temperature sweep")
    ap.add_argument("--config", required=True)
    ap.add_argument("--checkpoint")
    ap.add_argument("--data", action="append", required=True)
    ap.add_argument("--k", type=int, default=None, help="samples per prompt (default: the paper's, 32 for AIME/AMC files and 1 otherwise)")
    ap.add_argument("--pass-k", default="1")
    ap.add_argument("--temperatures", default=str(PAPER_TEMPERATURE))
    ap.add_argument("--max-prompts", type=int)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    try:
        cfg = config_mod.load(args.config)
        ks = [int(x) for x in args.pass_k.split(",")]
        temps = [float(x) for x in args.temperatures.split(",")]
    except (config_mod.ConfigError, ValueError) as e:
        print(f"reward_lens.eval: {e}", file=sys.stderr)
        return 2
    k_of = {path: args.k if args.k is not None else paper_samples(path) for path in args.data}
    k_min = min(k_of.values())
    bad = [x for x in ks if x < 1 or x > k_min]
    if bad or k_min < 1 or any(t < 0 for t in temps):
        print(f"reward_lens.eval: --pass-k values must be in [1, k={k_min}] (samples per prompt: {k_of}) and temperatures >= 0 (got {args.pass_k}, {args.temperatures})", file=sys.stderr)
        return 2
    device = pick_device(cfg)
    model, tok = build_policy(cfg, device)
    if args.checkpoint:
        state = torch.load(args.checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
    model.eval()
    # Chosen once; the checkpoint loaded above reaches vLLM before its first generation.
    vllm_sampler = None
    if cfg.vllm:
        from .vllm_sampler import VLLMSampler

        vllm_sampler = VLLMSampler(cfg, model, tok.eos_token_id)
    from .verify import load_verifier, verifier_identity

    fn = load_verifier(cfg.verifier)
    verify = lambda items: fn(items, timeout_s=cfg.verifier_timeout_s, workers=cfg.verifier_workers)  # noqa: E731
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = EventWriter(out_dir / "events.jsonl")
    run_id = f"eval-{uuid.uuid4().hex[:8]}"
    writer.write({
        "type": "run_start", "run_id": run_id, "variant": cfg.variant, "config": {**cfg.to_dict(), "eval": vars(args)},
        "model": describe_model(cfg) + (f"@{Path(args.checkpoint).name}" if args.checkpoint else ""),
        "reward": {"variant": cfg.variant, "replace": 0, "advantage": {"std": cfg.advantage["std"], "eps": float(cfg.advantage["eps"])}},
        "encoder": None, "verifier": verifier_identity(cfg.verifier),
    })
    results: dict = {"run_id": run_id, "k": k_of, "datasets": {}}
    step = 0
    for path in args.data:
        k = k_of[path]
        items, report = load_prompts(path)
        items = items[: args.max_prompts] if args.max_prompts else items
        name = Path(path).stem
        for it in items:
            system = it.system if it.system is not None else cfg.system_prompt
            it.prompt_text = tok.format_prompt(it.question, system, cfg.prompt_template, cfg.prompt_ends_with)
            it.prompt_ids = tok.encode(it.prompt_text)[-cfg.max_prompt_tokens:]
        per_temp = {}
        for temp in temps:
            rows = evaluate(model, tok, cfg, device, items, k, temp, verify, vllm_sampler=vllm_sampler)
            counts = [sum(1 for r in res if r.get("correct") is True) for _, _, res, _ in rows]
            metrics = {f"pass@{kk}": sum(pass_at_k(k, c, kk) for c in counts) / max(1, len(counts)) for kk in ks}
            metrics["pass@1_avg"] = sum(c / k for c in counts) / max(1, len(counts))
            metrics["verifier_errors"] = sum(1 for _, _, res, _ in rows for r in res if r.get("correct") is None)
            per_temp[str(temp)] = {**metrics, "k": k, "prompts": len(rows), "skipped_rows": report.skipped}
            for it, texts, res, resp in rows:
                online = [
                    OnlineMember(index=i, text=text, tokens=len(resp[i]), truncated=tok.eos_token_id not in resp[i], verifier=r, r_total=1.0 if r.get("correct") is True else 0.0)
                    for i, (text, r) in enumerate(zip(texts, res))
                ]
                writer.write(group_event(run_id, step, f"{name}/{it.id}", it.prompt_text, it.gold, online))
            writer.write({"type": "step", "run_id": run_id, "step": step, "metrics": {f"eval/{name}/{key}@t{temp}": v for key, v in metrics.items()}})
            writer.sync()
            print(f"{name} T={temp}: " + ", ".join(f"{key} {v:.3f}" for key, v in metrics.items()), file=sys.stderr)
            step += 1
        results["datasets"][name] = per_temp
    writer.write({"type": "run_end", "run_id": run_id, "status": "completed", "reason": None, "step": max(0, step - 1)})
    writer.close()
    (out_dir / "eval.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
