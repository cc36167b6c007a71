"""The one training config: a dataclass validated in full before anything starts.

Every error names the field and the bad value, e.g. `config.replace = -1: must be an integer >= 0`,
and all errors are reported together so a user fixes a config in one pass.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .reward import STD_MODES, VARIANTS

# The paper's Table 5 system prompt (the text luffy_valid.parquet carries in its prompts).
PAPER_SYSTEM_PROMPT = (
    "Your task is to follow a systematic, thorough reasoning process before providing the final solution. "
    "This involves analyzing, summarizing, exploring, reassessing, and refining your thought process through "
    "multiple iterations. Structure your response into two sections: Thought and Solution. In the Thought "
    'section, present your reasoning using the format: "<think>\n {thoughts} </think>\n". Each thought should '
    "include detailed analysis, brainstorming, verification, and refinement of ideas. After \"</think>\n,\" in "
    "the Solution section, provide the final, logical, and accurate answer, clearly derived from the exploration "
    "in the Thought section. If applicable, include the answer in \\boxed{} for closed-form results like multiple "
    "choices or mathematical solutions."
)
# Table 5's layout for models without a chat template. The response starts after the opening tag,
# as in LUFFY, whose verifier puts "<think>\n" back in front of the decoded response.
PAPER_PLAIN_TEMPLATE = "{system}\nUser: This is the problem: {question}\nAssistant: <think>\n"

LOSS_AGGREGATIONS = ("token-sum-norm", "token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm")
# The opening of the response, put at the end of every prompt (LUFFY's Qwen2.5-Math chat template
# ends its assistant header with it, and its verifier puts it back in front of the response).
THINK_OPENING = "<think>\n"
# Fields that were replaced: a config that still sets one is refused with what to use instead.
REPLACED_FIELDS = {
    "micro_batch": "replaced by max_tokens_per_micro_batch (micro-batches are now cut by a token budget, not a count of sequences)",
}
POOLINGS = ("cls", "mean")
STRATEGIES = ("truncate", "chunk-mean")
DEVICES = ("auto", "cpu", "cuda")
TINY_ARCHS = ("qwen2", "gpt2")


class ConfigError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("invalid config:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass
class TrainConfig:
    # Either a local path / hub id already in the cache, or {"tiny": {...}} to build a random model
    # from a config with the character tokenizer (tests and the CPU demo; nothing is downloaded).
    model: Any = None
    data: str = ""
    eval_data: str | None = None
    variant: str = "oger"
    replace: int = 1
    advantage: dict = field(default_factory=lambda: {"std": "sample", "eps": 1e-6})
    encoder: dict = field(default_factory=lambda: {"path": None, "pooling": "cls", "strategy": "truncate", "max_length": 512, "batch_size": 32})
    verifier: str | None = None
    verifier_timeout_s: float = 5.0
    verifier_workers: int | None = None
    # Labels exported by Reward Lens ("Export Labels…", JSON Lines): their verdicts win over the
    # verifier's for matching (response, gold) pairs, so a relabel corrects the next run's reward.
    verifier_overrides: str | None = None
    system_prompt: str = PAPER_SYSTEM_PROMPT
    # None: the tokenizer's chat template when it has one, else PAPER_PLAIN_TEMPLATE.
    prompt_template: str | None = None
    # Every prompt is made to end with this text (once), after the chat template's assistant header
    # or the template: the response then starts inside the reasoning, as in LUFFY. "" turns it off.
    prompt_ends_with: str = THINK_OPENING
    rollout_n: int = 8
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 1024
    max_prompt_tokens: int = 1024
    # Teacher trajectories longer than this (in policy tokens) are left out, as the paper's 8k filter.
    max_teacher_tokens: int = 8192
    lr: float = 1e-6
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    steps: int = 100
    batch_prompts: int = 8
    # PPO mini-batches: prompts (with all their group members) per optimizer step, and passes over
    # the batch. None = the whole batch, one optimizer step. LUFFY/OGER: batch 128, mini-batch 64.
    ppo_mini_batch: int | None = None
    ppo_epochs: int = 1
    # Rows are packed into micro-batches whose padded size (rows x longest prompt+response) stays
    # within this many tokens (LUFFY: ppo_max_token_len_per_gpu 32768 with dynamic batch size).
    max_tokens_per_micro_batch: int = 16384
    # The LM head runs over response positions in chunks of this many tokens (float32 per chunk):
    # the only vocabulary-wide buffers the log-prob path holds (logprobs.py).
    logits_chunk_tokens: int = 512
    entropy_coef: float = 0.01
    off_policy_gamma: float = 0.1
    # None/None: no clipping (LUFFY's loss_remove_clip); PPO clip = 0.2/0.2; DAPO clip-higher = 0.2/0.28.
    clip_ratio_low: float | None = None
    clip_ratio_high: float | None = None
    # token-sum-norm is LUFFY's loss_remove_token_mean (docs/conventions.md).
    loss_agg: str = "token-sum-norm"
    # Policy weights to start from (a checkpoint .pt of an earlier run); the warm start is skipped.
    init_from: str | None = None
    # Supervised warm start on the teacher traces before RL: plain NLL for sft_steps steps. A
    # shorthand for warm_start {"method": "sft", "steps": sft_steps, "lr": sft_lr, "batch": sft_batch}.
    sft_steps: int = 0
    sft_lr: float = 1e-3
    sft_batch: int = 32
    # The warm start in full (warm_start.py, docs/oxa.md): {"method": "sft" | "oxa", "steps", "lr",
    # "batch", ...}; OXA adds its selection and unlikelihood fields. null: none (or sft_steps).
    # With init_from, the warm start trains from those weights.
    warm_start: dict | None = None
    device: str = "auto"
    bf16: bool = True
    gradient_checkpointing: bool = False
    lora: dict | None = None
    # Generate rollouts with vLLM's offline engine on the training GPU (vllm_sampler.py); the
    # policy's weights are pushed into it after each optimizer step. Needs vLLM and CUDA.
    vllm: bool = False
    # Share of the GPU's memory vLLM may take for its copy of the weights and its KV cache; the
    # rest is the trainer's (fp32 weights, gradients, AdamW moments, activations).
    vllm_gpu_memory_utilization: float = 0.3
    token_entropy_stride: int = 8
    checkpoint_dir: str | None = None
    checkpoint_every: int = 50
    eval_every: int = 0
    # The paper evaluates at T = 0.8, pass@1 from one sample (32 for AIME and AMC: eval.py).
    eval_samples: int = 1
    eval_temperature: float = 0.8
    eval_max_prompts: int = 200
    seed: int = 0
    threads: int | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _bad(problems: list[str], name: str, value: Any, why: str) -> None:
    problems.append(f"config.{name} = {json.dumps(value, default=str)}: {why}")


def _int(problems, name, value, minimum=0, allow_none=False):
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        _bad(problems, name, value, f"must be an integer >= {minimum}")


def _num(problems, name, value, minimum=None, maximum=None, exclusive_min=False, allow_none=False):
    if value is None and allow_none:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        _bad(problems, name, value, "must be a finite number")
        return
    if minimum is not None and (value <= minimum if exclusive_min else value < minimum):
        _bad(problems, name, value, f"must be {'>' if exclusive_min else '>='} {minimum}")
    if maximum is not None and value > maximum:
        _bad(problems, name, value, f"must be <= {maximum}")


def _choice(problems, name, value, choices):
    if value not in choices:
        _bad(problems, name, value, "must be one of " + ", ".join(choices))


def _bool(problems, name, value):
    if not isinstance(value, bool):
        _bad(problems, name, value, "must be true or false")


def _vllm_importable() -> bool:
    # find_spec, not import: importing vllm takes seconds and initialises CUDA state.
    return importlib.util.find_spec("vllm") is not None


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _vllm_problems(p: list[str], cfg: TrainConfig) -> None:
    """Everything that would make `vllm: true` fail after minutes of start-up, found up front."""
    if not _vllm_importable():
        _bad(p, "vllm", True, "vLLM is not installed in this environment; pip install vllm (needs a CUDA GPU) or set vllm: false")
    if cfg.device == "cpu":
        _bad(p, "vllm", True, 'config.device is "cpu", and vLLM generates on a CUDA GPU; set device: "cuda" (or "auto") on a GPU machine, or set vllm: false')
    elif not _cuda_available():
        _bad(p, "vllm", True, "no CUDA device is visible (torch.cuda.is_available() is false), and vLLM needs a CUDA GPU; run on a GPU machine or set vllm: false")
    if isinstance(cfg.model, dict):
        _bad(p, "vllm", True, "config.model is a tiny model with the built-in character tokenizer, which vLLM cannot load; use a local Hugging Face model folder, or set vllm: false")


def validate(cfg: TrainConfig) -> TrainConfig:
    p: list[str] = []
    if cfg.model is None or (isinstance(cfg.model, str) and not cfg.model.strip()):
        _bad(p, "model", cfg.model, "is required: a model path or {\"tiny\": {...}}")
    elif isinstance(cfg.model, dict):
        tiny = cfg.model.get("tiny")
        if not isinstance(tiny, dict):
            _bad(p, "model", cfg.model, 'an object must be {"tiny": {...}}')
        else:
            _choice(p, "model.tiny.arch", tiny.get("arch", "qwen2"), TINY_ARCHS)
            for k in ("hidden_size", "layers", "heads"):
                if k in tiny:
                    _int(p, f"model.tiny.{k}", tiny[k], 1)
            if "hidden_size" in tiny and "heads" in tiny and isinstance(tiny["hidden_size"], int) and isinstance(tiny["heads"], int) and tiny["heads"] > 0 and tiny["hidden_size"] % tiny["heads"]:
                _bad(p, "model.tiny.heads", tiny["heads"], f"must divide hidden_size {tiny['hidden_size']}")
    elif not isinstance(cfg.model, str):
        _bad(p, "model", cfg.model, "must be a path or an object")
    if not isinstance(cfg.data, str) or not cfg.data:
        _bad(p, "data", cfg.data, "is required: a JSONL or Parquet file of prompts")
    elif not Path(cfg.data).is_file():
        _bad(p, "data", cfg.data, "no such file")
    if cfg.eval_data is not None and not Path(str(cfg.eval_data)).is_file():
        _bad(p, "eval_data", cfg.eval_data, "no such file")
    _choice(p, "variant", cfg.variant, VARIANTS)
    _int(p, "replace", cfg.replace, 0)
    if not isinstance(cfg.advantage, dict):
        _bad(p, "advantage", cfg.advantage, 'must be an object {"std": ..., "eps": ...}')
    else:
        cfg.advantage = {"std": "sample", "eps": 1e-6, **cfg.advantage}
        _choice(p, "advantage.std", cfg.advantage["std"], STD_MODES)
        _num(p, "advantage.eps", cfg.advantage["eps"], 0)
    if not isinstance(cfg.encoder, dict):
        _bad(p, "encoder", cfg.encoder, "must be an object {path, pooling, strategy, max_length}")
    elif cfg.encoder.get("kind") == "hashed-ngrams":
        # the study's cheap deterministic encoder (ngram_encoder.py): no model, no pooling
        cfg.encoder = {"kind": "hashed-ngrams", "dim": 256, "ngram_min": 2, "ngram_max": 4, "max_length": 4096, "batch_size": 64, **cfg.encoder}
        extra = sorted(set(cfg.encoder) - {"kind", "dim", "ngram_min", "ngram_max", "max_length", "batch_size"})
        for k in extra:
            _bad(p, f"encoder.{k}", cfg.encoder[k], "unknown field for kind hashed-ngrams (dim, ngram_min, ngram_max, max_length, batch_size)")
        for k in ("dim", "ngram_min", "ngram_max", "max_length", "batch_size"):
            _int(p, f"encoder.{k}", cfg.encoder[k], 1)
    else:
        if cfg.encoder.get("kind") not in (None, "transformer"):
            _bad(p, "encoder.kind", cfg.encoder["kind"], "must be transformer (default) or hashed-ngrams")
        cfg.encoder = {"path": None, "pooling": "cls", "strategy": "truncate", "max_length": 512, "batch_size": 32, **cfg.encoder}
        if cfg.encoder["path"] is not None and not isinstance(cfg.encoder["path"], str):
            _bad(p, "encoder.path", cfg.encoder["path"], "must be a path or null (the packaged all-MiniLM-L6-v2)")
        if cfg.encoder["pooling"] is not None:  # null: the model folder's own pooling config
            _choice(p, "encoder.pooling", cfg.encoder["pooling"], POOLINGS)
        _choice(p, "encoder.strategy", cfg.encoder["strategy"], STRATEGIES)
        _int(p, "encoder.max_length", cfg.encoder["max_length"], 2)
        _int(p, "encoder.batch_size", cfg.encoder["batch_size"], 1)
    if cfg.verifier is not None and (not isinstance(cfg.verifier, str) or not cfg.verifier):
        _bad(p, "verifier", cfg.verifier, "must be null (default Math-Verify), module:function or a file path")
    _num(p, "verifier_timeout_s", cfg.verifier_timeout_s, 0, exclusive_min=True)
    _int(p, "verifier_workers", cfg.verifier_workers, 1, allow_none=True)
    if cfg.verifier_overrides is not None:
        if not isinstance(cfg.verifier_overrides, str) or not cfg.verifier_overrides:
            _bad(p, "verifier_overrides", cfg.verifier_overrides, "must be null or the path of an exported labels .jsonl file")
        elif not Path(cfg.verifier_overrides).is_file():
            _bad(p, "verifier_overrides", cfg.verifier_overrides, "no such file (export labels from Reward Lens first)")
    if not isinstance(cfg.system_prompt, str):
        _bad(p, "system_prompt", cfg.system_prompt, "must be a string")
    if cfg.prompt_template is not None and (not isinstance(cfg.prompt_template, str) or "{question}" not in cfg.prompt_template):
        _bad(p, "prompt_template", cfg.prompt_template, "must contain {question} (and may contain {system})")
    if not isinstance(cfg.prompt_ends_with, str):
        _bad(p, "prompt_ends_with", cfg.prompt_ends_with, 'must be a string ("<think>\\n" by default, "" for none)')
    _int(p, "rollout_n", cfg.rollout_n, 1)
    _num(p, "temperature", cfg.temperature, 0, exclusive_min=True)
    _num(p, "top_p", cfg.top_p, 0, 1, exclusive_min=True)
    _int(p, "max_new_tokens", cfg.max_new_tokens, 1)
    _int(p, "max_prompt_tokens", cfg.max_prompt_tokens, 1)
    _int(p, "max_teacher_tokens", cfg.max_teacher_tokens, 1)
    _num(p, "lr", cfg.lr, 0)
    _num(p, "weight_decay", cfg.weight_decay, 0)
    _num(p, "grad_clip", cfg.grad_clip, 0)
    _int(p, "steps", cfg.steps, 0)
    _int(p, "batch_prompts", cfg.batch_prompts, 1)
    _int(p, "ppo_mini_batch", cfg.ppo_mini_batch, 1, allow_none=True)
    if isinstance(cfg.ppo_mini_batch, int) and isinstance(cfg.batch_prompts, int) and cfg.ppo_mini_batch > cfg.batch_prompts:
        _bad(p, "ppo_mini_batch", cfg.ppo_mini_batch, f"cannot exceed batch_prompts ({cfg.batch_prompts}): it counts prompts per optimizer step")
    _int(p, "ppo_epochs", cfg.ppo_epochs, 1)
    _int(p, "max_tokens_per_micro_batch", cfg.max_tokens_per_micro_batch, 1)
    _int(p, "logits_chunk_tokens", cfg.logits_chunk_tokens, 1)
    _num(p, "entropy_coef", cfg.entropy_coef)
    _num(p, "off_policy_gamma", cfg.off_policy_gamma, 0, exclusive_min=True)
    _num(p, "clip_ratio_low", cfg.clip_ratio_low, 0, 1, allow_none=True)
    _num(p, "clip_ratio_high", cfg.clip_ratio_high, 0, allow_none=True)
    if (cfg.clip_ratio_low is None) != (cfg.clip_ratio_high is None):
        _bad(p, "clip_ratio_high", cfg.clip_ratio_high, f"must be set together with clip_ratio_low ({cfg.clip_ratio_low}); both null means no clipping")
    _choice(p, "loss_agg", cfg.loss_agg, LOSS_AGGREGATIONS)
    if cfg.init_from is not None and not Path(str(cfg.init_from)).is_file():
        _bad(p, "init_from", cfg.init_from, "no such checkpoint file")
    _int(p, "sft_steps", cfg.sft_steps, 0)
    _num(p, "sft_lr", cfg.sft_lr, 0)
    _int(p, "sft_batch", cfg.sft_batch, 1)
    _warm_start_problems(p, cfg)
    _choice(p, "device", cfg.device, DEVICES)
    _bool(p, "bf16", cfg.bf16)
    _bool(p, "gradient_checkpointing", cfg.gradient_checkpointing)
    _bool(p, "vllm", cfg.vllm)
    u = cfg.vllm_gpu_memory_utilization
    if not isinstance(u, (int, float)) or isinstance(u, bool) or not math.isfinite(u) or not 0 < u < 1:
        _bad(p, "vllm_gpu_memory_utilization", u, "must be a number strictly between 0 and 1 (the share of GPU memory vLLM may take)")
    if cfg.vllm is True:
        _vllm_problems(p, cfg)
    if cfg.lora is not None:
        if not isinstance(cfg.lora, dict):
            _bad(p, "lora", cfg.lora, "must be null or an object {r, alpha, dropout, target_modules}")
        else:
            _int(p, "lora.r", cfg.lora.get("r", 16), 1)
    _int(p, "token_entropy_stride", cfg.token_entropy_stride, 1)
    _int(p, "checkpoint_every", cfg.checkpoint_every, 0)
    _int(p, "eval_every", cfg.eval_every, 0)
    _int(p, "eval_samples", cfg.eval_samples, 1)
    _num(p, "eval_temperature", cfg.eval_temperature, 0)
    _int(p, "eval_max_prompts", cfg.eval_max_prompts, 1)
    _int(p, "seed", cfg.seed, 0)
    _int(p, "threads", cfg.threads, 1, allow_none=True)
    if cfg.variant == "luffy" and cfg.replace == 0:
        _bad(p, "replace", cfg.replace, "luffy puts teacher trajectories in the group: use replace >= 1 (or variant grpo)")
    if isinstance(cfg.replace, int) and isinstance(cfg.rollout_n, int) and cfg.replace > cfg.rollout_n:
        _bad(p, "replace", cfg.replace, f"cannot exceed rollout_n ({cfg.rollout_n})")
    _context_problems(p, cfg)
    if p:
        raise ConfigError(p)
    return cfg


WARM_START_METHODS = ("sft", "oxa")
# Every warm-start field with its default; the OXA ones are refused under method "sft".
WARM_START_COMMON = {"method": None, "steps": None, "lr": 1e-3, "batch": 32, "log_every": 25, "entropy_probe_prompts": 16}
WARM_START_OXA = {
    "lambda": 1e-4,  # weight of the suppress set's unlikelihood (the reference's value)
    "n": None,  # promote sequences selected; null: half of the verified teacher traces
    "mu": "auto",  # Gaussian target over PPL; "auto": the pool's 75th percentile
    "sigma": "auto",  # "auto": half the pool's interquartile range
    "ppl_range": "auto",  # [lo, hi]; "auto": the pool's [min, max] (the reference: [1, 5])
    "bin_width": "auto",  # "auto": (hi - lo) / 80 (the reference: 80 bins of 0.05)
    "max_per_question": 1,
    "suppress_k": None,  # suppress sequences kept; null: as many as promote ones
    "suppress_prompts": None,  # training prompts the policy samples for the suppress set; null: all
    "suppress_samples": 4,  # samples per prompt
    "suppress_temperature": 1.0,
    "min_ppl": 1.2,  # suppress candidates below this PPL are dropped (degenerate loops)
}


def _auto_or_num(p, name, value, exclusive_min=None):
    if value == "auto":
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        _bad(p, name, value, '"auto" or a finite number')
        return
    _num(p, name, value, exclusive_min, exclusive_min=exclusive_min is not None)


def _warm_start_problems(p: list[str], cfg: TrainConfig) -> None:
    """Validates warm_start and normalises it (defaults filled in); sft_steps > 0 becomes method sft."""
    ws = cfg.warm_start
    if ws is None:
        if isinstance(cfg.sft_steps, int) and not isinstance(cfg.sft_steps, bool) and cfg.sft_steps > 0:
            cfg.warm_start = {**WARM_START_COMMON, "method": "sft", "steps": cfg.sft_steps, "lr": cfg.sft_lr, "batch": cfg.sft_batch}
        return
    if not isinstance(ws, dict):
        _bad(p, "warm_start", ws, 'must be null or an object {"method": "sft" | "oxa", "steps", ...}')
        return
    if isinstance(cfg.sft_steps, int) and cfg.sft_steps > 0 and ws != {**WARM_START_COMMON, "method": "sft", "steps": cfg.sft_steps, "lr": cfg.sft_lr, "batch": cfg.sft_batch}:
        # (a validated config's own to_dict() holds both, the one expanded from the other: accepted)
        _bad(p, "sft_steps", cfg.sft_steps, "is a shorthand for warm_start.method sft: set one of sft_steps and warm_start, not both")
    method = ws.get("method")
    _choice(p, "warm_start.method", method, WARM_START_METHODS)
    known = dict(WARM_START_COMMON, **(WARM_START_OXA if method == "oxa" else {}))
    for k in sorted(set(ws) - set(known)):
        why = "only for method oxa" if k in WARM_START_OXA else "unknown field (" + ", ".join(known) + ")"
        _bad(p, f"warm_start.{k}", ws[k], why)
    ws = {**known, **{k: v for k, v in ws.items() if k in known}}
    cfg.warm_start = ws
    if ws["steps"] is None:
        _bad(p, "warm_start.steps", None, "is required: the number of optimizer steps of the warm start")
    else:
        _int(p, "warm_start.steps", ws["steps"], 1)
    _num(p, "warm_start.lr", ws["lr"], 0, exclusive_min=True)
    _int(p, "warm_start.batch", ws["batch"], 1)
    _int(p, "warm_start.log_every", ws["log_every"], 1)
    _int(p, "warm_start.entropy_probe_prompts", ws["entropy_probe_prompts"], 0)
    if method != "oxa":
        return
    _num(p, "warm_start.lambda", ws["lambda"], 0)
    _int(p, "warm_start.n", ws["n"], 1, allow_none=True)
    _auto_or_num(p, "warm_start.mu", ws["mu"])
    _auto_or_num(p, "warm_start.sigma", ws["sigma"], 0)
    r = ws["ppl_range"]
    if r != "auto" and not (isinstance(r, list) and len(r) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in r) and r[0] < r[1]):
        _bad(p, "warm_start.ppl_range", r, '"auto" or [lo, hi] with finite lo < hi')
    _auto_or_num(p, "warm_start.bin_width", ws["bin_width"], 0)
    _int(p, "warm_start.max_per_question", ws["max_per_question"], 1)
    _int(p, "warm_start.suppress_k", ws["suppress_k"], 0, allow_none=True)
    _int(p, "warm_start.suppress_prompts", ws["suppress_prompts"], 1, allow_none=True)
    _int(p, "warm_start.suppress_samples", ws["suppress_samples"], 1)
    _num(p, "warm_start.suppress_temperature", ws["suppress_temperature"], 0, exclusive_min=True)
    _num(p, "warm_start.min_ppl", ws["min_ppl"], 0)


def _context_problems(p: list[str], cfg: TrainConfig) -> None:
    """The prompt budget plus max_new_tokens must fit the model's positions (read from its config.json)."""
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (cfg.max_prompt_tokens, cfg.max_new_tokens)):
        return
    from .model_info import read_model_info

    try:
        info = read_model_info(cfg.model)
    except Exception:  # noqa: BLE001 - a model we cannot describe is reported where it is loaded
        return
    if info is None or not isinstance(info.max_position_embeddings, int):
        return
    need = cfg.max_prompt_tokens + cfg.max_new_tokens
    if need > info.max_position_embeddings:
        _bad(
            p, "max_new_tokens", cfg.max_new_tokens,
            f"max_prompt_tokens ({cfg.max_prompt_tokens}) + max_new_tokens ({cfg.max_new_tokens}) = {need} exceeds the model's "
            f"max_position_embeddings ({info.max_position_embeddings}, {info.source}); lower one of them, or use a model with a longer context",
        )


def from_dict(d: Any) -> TrainConfig:
    if not isinstance(d, dict):
        raise ConfigError([f"config = {json.dumps(d, default=str)[:80]}: must be an object"])
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError([f"config.{k} = {json.dumps(d[k], default=str)[:80]}: " + REPLACED_FIELDS.get(k, "unknown field") for k in unknown])
    return validate(TrainConfig(**d))


def load(path: str | Path) -> TrainConfig:
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml  # optional: only when pyyaml is installed
        except ImportError as e:
            raise ConfigError([f"config file {path.name}: YAML needs pyyaml (pip install pyyaml), or use JSON"]) from e
        data = yaml.safe_load(text)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError([f"config file {path.name}: not valid JSON ({e})"]) from e
    return from_dict(data)
