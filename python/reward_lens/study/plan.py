"""What a study runs: presets, arms, seeds, and the training config of every run.

A seed fixes everything arms share: the task's prompts and evaluation sets, the warm-started
checkpoint (trained once per seed), the trainer's seed (prompt order and sampling) and the
evaluation's sampling seed. Arms of a seed differ only in what the issue compares.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .task import PROMPT_TEMPLATE

HASHED_ENCODER = {"kind": "hashed-ngrams", "dim": 256, "ngram_min": 2, "ngram_max": 4, "max_length": 4096, "batch_size": 64}
MINILM_ENCODER = {"path": None, "pooling": None, "strategy": "truncate", "max_length": 128, "batch_size": 64}


@dataclass(frozen=True)
class Arm:
    name: str
    variant: str
    replace: int = 1
    encoder: str = "hashed"  # "hashed" (cheap, deterministic) or "minilm" (the packaged all-MiniLM-L6-v2)
    one_teacher: bool = False  # LUFFY's layout: one teacher trajectory per prompt
    about: str = ""


ARMS: dict[str, Arm] = {
    a.name: a
    for a in (
        Arm("grpo", "grpo", 0, about="on-policy only; the teachers are never seen"),
        Arm("luffy", "luffy", 1, one_teacher=True, about="one teacher per prompt (LUFFY's layout) in the last slot of the group"),
        Arm("oger", "oger", 1, about="the three teachers as references; the lowest-divergence member replaced by one of them; R_OGER = D·exp(−H_last)·R_m"),
        Arm("oger-no-refine", "oger-no-refine", 1, about="R_OGER = D·R_m (no entropy refinement)"),
        Arm("oger-no-reward", "oger-no-reward", 1, about="replacement kept, R_OGER = 0"),
        Arm("oger-2replace", "oger", 2, about="OGER replacing the two lowest-divergence members"),
        Arm("oger-minilm", "oger", 1, encoder="minilm", about="OGER with the packaged all-MiniLM-L6-v2 instead of hashed n-grams: does the encoder matter?"),
    )
}
BASELINE = "grpo"


@dataclass(frozen=True)
class Preset:
    name: str
    seeds: int
    steps: int
    arms: tuple[str, ...]
    model: dict
    sft_steps: int
    warm_styles: tuple[str, ...]
    train_prompts: int
    eval_prompts: int  # prompts per evaluation split for pass@k and styles
    greedy_prompts: int  # prompts per evaluation split for greedy accuracy (cheap: one sample each)
    samples: int  # samples per prompt for pass@k (k = 1 .. samples)
    temperatures: tuple[float, ...]  # the in-distribution split's sweep
    ood_temperatures: tuple[float, ...]  # the longer-sums split's sweep
    batch_prompts: int
    rollout_n: int
    max_new_tokens: int
    lr: float
    sft_lr: float
    sft_batch: int
    checkpoint_every: int
    jobs: int
    extra: dict = field(default_factory=dict)  # further training-config fields


PRESETS: dict[str, Preset] = {
    # Sized from measured step times on a shared 2-core machine (docs/variant-study.md, "Cost").
    "full": Preset(
        name="full", seeds=5, steps=150, arms=tuple(ARMS),
        model={"tiny": {"arch": "qwen2", "hidden_size": 128, "layers": 3, "heads": 4, "intermediate_size": 384, "max_positions": 128}},
        sft_steps=250, warm_styles=("column",), train_prompts=2000, eval_prompts=16, greedy_prompts=100, samples=64,
        temperatures=(0.6, 1.0, 1.2), ood_temperatures=(1.0,), batch_prompts=8, rollout_n=8, max_new_tokens=56,
        lr=3e-5, sft_lr=1e-3, sft_batch=64, checkpoint_every=25, jobs=2,
    ),
    # CI: the whole pipeline on a model too small to learn, to check it runs and writes every field.
    "ci": Preset(
        name="ci", seeds=2, steps=2, arms=tuple(ARMS),
        model={"tiny": {"arch": "qwen2", "hidden_size": 16, "layers": 1, "heads": 2, "intermediate_size": 32, "max_positions": 96}},
        sft_steps=2, warm_styles=("column",), train_prompts=16, eval_prompts=2, greedy_prompts=2, samples=4,
        temperatures=(0.6, 1.0, 1.2), ood_temperatures=(1.0,), batch_prompts=2, rollout_n=4, max_new_tokens=56,
        lr=3e-5, sft_lr=1e-3, sft_batch=8, checkpoint_every=1, jobs=2,
    ),
}


def plan_dict(p: Preset) -> dict:
    return dataclasses.asdict(p)


def preset_from_dict(d: dict) -> Preset:
    d = dict(d)
    for k in ("arms", "warm_styles", "temperatures", "ood_temperatures"):
        d[k] = tuple(d[k])
    return Preset(**d)


def _base(p: Preset, seed: int, data: Path, eval_data: Path) -> dict[str, Any]:
    cfg = {
        "model": p.model,
        "data": str(data),
        "eval_data": str(eval_data),
        "prompt_template": PROMPT_TEMPLATE,
        "system_prompt": "",
        "rollout_n": p.rollout_n,
        "temperature": 1.0,
        "max_new_tokens": p.max_new_tokens,
        "max_prompt_tokens": 32,
        "lr": p.lr,
        "steps": p.steps,
        "batch_prompts": p.batch_prompts,
        "entropy_coef": 0.01,
        "sft_lr": p.sft_lr,
        "sft_batch": p.sft_batch,
        "device": "cpu",
        "bf16": False,
        "token_entropy_stride": 4,
        "checkpoint_every": p.checkpoint_every,
        "eval_every": 0,
        "eval_max_prompts": p.greedy_prompts,
        "seed": seed,
        # One intra-op thread per run, two runs at a time: both cores, no OpenMP spin-waits.
        "threads": 1,
        "verifier_workers": 1,
        "verifier_timeout_s": 30.0,
    }
    cfg.update(p.extra)
    return cfg


def warm_config(p: Preset, seed: int, data_dir: Path) -> dict[str, Any]:
    """Supervised warm start on the warm-start styles only, written as checkpoint step 0."""
    cfg = _base(p, seed, data_dir / "warm.jsonl", data_dir / "test-id.jsonl")
    cfg.update(variant="grpo", replace=0, steps=0, sft_steps=p.sft_steps, checkpoint_every=1)
    return cfg


def arm_config(p: Preset, seed: int, arm: Arm, data_dir: Path, warm_checkpoint: Path) -> dict[str, Any]:
    cfg = _base(p, seed, data_dir / ("train-luffy.jsonl" if arm.one_teacher else "train.jsonl"), data_dir / "test-id.jsonl")
    cfg.update(variant=arm.variant, replace=arm.replace, sft_steps=0, init_from=str(warm_checkpoint))
    if arm.variant.startswith("oger"):
        cfg["encoder"] = dict(HASHED_ENCODER if arm.encoder == "hashed" else MINILM_ENCODER)
    return cfg
