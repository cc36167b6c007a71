"""The final evaluation of one policy checkpoint: greedy accuracy, pass@k over a temperature
sweep (unbiased estimator, n samples per prompt), and which strategy the correct answers follow.

Uses the trainer's own pieces (config validation, `build_policy`, `eval.evaluate` with the
default verifier), so the study measures exactly the policy the trainer wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from .. import config as config_mod
from ..data import load_prompts
from ..eval import evaluate as generate_and_verify
from ..eval import pass_at_k
from ..policy import build_policy
from ..verify import load_verifier
from . import strategy


def pass_curve(counts: list[int], n: int) -> dict[str, float]:
    """Mean over prompts of the unbiased pass@k, for every k from 1 to n."""
    if not counts:
        return {str(k): 0.0 for k in range(1, n + 1)}
    return {str(k): sum(pass_at_k(n, c, k) for c in counts) / len(counts) for k in range(1, n + 1)}


def strategy_summary(rows) -> dict:
    """Style shares over every correct response (pooled), and the mean per-prompt style entropy."""
    pooled: list[str] = []
    per_prompt: list[float] = []
    for _, texts, res, _ in rows:
        labels = [strategy.classify(t) for t, r in zip(texts, res) if r.get("correct") is True]
        pooled += labels
        if labels:
            per_prompt.append(strategy.entropy_bits(strategy.distribution(labels)))
    shares = strategy.distribution(pooled)
    return {
        "correct_responses": len(pooled),
        "shares": shares,
        "entropy_bits": strategy.entropy_bits(shares),
        "per_prompt_entropy_bits": (sum(per_prompt) / len(per_prompt)) if per_prompt else None,
        "solved_prompts": len(per_prompt),
    }


def evaluate_checkpoint(cfg_dict: dict, checkpoint: Path, splits: dict[str, dict], samples: int, log: Callable[[str], None] = print) -> dict:
    """splits: name -> {path, greedy_prompts, prompts, temperatures}. Greedy accuracy on the first
    `greedy_prompts` rows; pass@k and styles from `samples` per prompt on the first `prompts` rows."""
    cfg = config_mod.from_dict(cfg_dict)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed + 4242)  # sampling is paired across arms of a seed, and repeatable
    device = torch.device("cpu") if cfg.device == "cpu" else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model, tok = build_policy(cfg, device)
    state = torch.load(checkpoint, map_location=device, weights_only=False)
    model.load_state_dict(state["model"])
    model.eval()
    fn = load_verifier(cfg.verifier)

    def verify(items):
        return fn(items, timeout_s=cfg.verifier_timeout_s, workers=cfg.verifier_workers)

    out: dict = {"checkpoint_step": int(state.get("step", 0)), "samples": samples, "splits": {}}
    for name, sp in splits.items():
        items = load_prompts(str(sp["path"]))[0][: max(sp["greedy_prompts"], sp["prompts"])]
        for it in items:
            it.prompt_text = tok.format_prompt(it.question, "", cfg.prompt_template, *([cfg.prompt_ends_with] if hasattr(cfg, "prompt_ends_with") else []))
            it.prompt_ids = tok.encode(it.prompt_text)[-cfg.max_prompt_tokens:]
        greedy = generate_and_verify(model, tok, cfg, device, items[: sp["greedy_prompts"]], 1, 0.0, verify, batch=128)
        res: dict = {
            "greedy_prompts": len(greedy),
            "greedy_accuracy": sum(1 for _, _, r, _ in greedy if r[0].get("correct") is True) / max(1, len(greedy)),
            "greedy_strategy": strategy_summary(greedy),
            "prompts": min(len(items), sp["prompts"]),
            "by_temperature": {},
        }
        for temp in sp["temperatures"]:
            rows = generate_and_verify(model, tok, cfg, device, items[: sp["prompts"]], samples, temp, verify, batch=max(1, 1024 // samples))
            counts = [sum(1 for r in rr if r.get("correct") is True) for _, _, rr, _ in rows]
            lengths = [len(r) for _, _, _, resp in rows for r in resp]
            bt = res["by_temperature"][f"{temp:g}"] = {
                "pass_at_k": pass_curve(counts, samples),
                "verifier_errors": sum(1 for _, _, rr, _ in rows for r in rr if r.get("correct") is None),
                "mean_response_tokens": sum(lengths) / max(1, len(lengths)),
                "strategy": strategy_summary(rows),
            }
            log(f"  {name} T={temp:g}: pass@1 {bt['pass_at_k']['1']:.3f} pass@{samples} {bt['pass_at_k'][str(samples)]:.3f}")
        out["splits"][name] = res
    return out
