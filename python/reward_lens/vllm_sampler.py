"""Rollouts with vLLM's offline engine, colocated with the policy on the training GPU.

Used only when the config says `vllm: true` (config.py refuses that before anything starts when
vLLM is not importable, CUDA is absent, or the model is a tiny character-tokenizer model). The
sampler returns token ids only, in the shape of `policy.sample`; H_last, per-token entropies and
log-probs are still computed by `logprobs.py` with the trained model, so the reward
maths does not depend on which engine sampled.

On-policy rollouts: the engine starts from the model folder, and the policy's current weights are
pushed into it lazily, before the first generation after any optimizer step (a post-step hook on
the optimizer marks the copy stale), and before the very first generation, which also covers
`init_from`, `--resume` and `eval --checkpoint`. LoRA adapters are merged for the push and
unmerged after it. After a push the prefix cache is reset: cached KV blocks were computed with the
old weights.

The functions above the class are pure (no vLLM, no GPU) so the glue can be tested against inputs
that have the shape vLLM documents: `RequestOutput.prompt_token_ids`, `.outputs` (a list of
`CompletionOutput` with `token_ids`, `finish_reason` "stop" | "length", `stop_reason`).

The import of vllm is lazy: this module imports without it.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

SEED_MODULUS = 2**31  # vLLM hands the seed to torch.Generator.manual_seed; stay well inside its range


def generation_seed(run_seed: int, step: int, purpose: str, chunk: int = 0) -> int:
    """One seed per generation call, from the run seed and where the call sits in the run.

    Derived from the step rather than from a call counter, so a resumed run draws with the seeds
    the uninterrupted run used at the same step (vLLM's batched logits may still differ slightly
    between runs, so identical rollouts are likely, not guaranteed).
    """
    digest = hashlib.sha256(f"{run_seed}/{step}/{purpose}/{chunk}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SEED_MODULUS


def sampling_params_kwargs(temperature: float, top_p: float, max_new_tokens: int, eos_token_id: int, seed: int | None) -> dict[str, Any]:
    """Keyword arguments of one vLLM `SamplingParams` (one request = one response).

    Every knob that could bend the distribution is set explicitly rather than left to vLLM's
    defaults or the model folder's generation_config: the entropy H_last is computed from the
    plain tempered softmax, so the sampler must draw from exactly that (top_k off, no penalties,
    no min_p), truncated only by the config's top_p.
    """
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    kwargs: dict[str, Any] = {
        "n": 1,
        "max_tokens": int(max_new_tokens),
        # Stop on the policy tokenizer's EOS only, as transformers' generate does with
        # eos_token_id=tok.eos_token_id; the engine is started with generation_config="vllm" so the
        # model folder's extra EOS ids are not added behind our back.
        "stop_token_ids": [int(eos_token_id)],
        "ignore_eos": False,
        "detokenize": False,  # the trainer decodes with its own tokenizer adapter
        "top_k": -1,  # -1 disables top-k in every vLLM release (0 does too in recent ones, not old ones)
        "min_p": 0.0,
        "repetition_penalty": 1.0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
    }
    if temperature > 0:
        kwargs.update(temperature=float(temperature), top_p=float(top_p), seed=None if seed is None else int(seed) % SEED_MODULUS)
    else:
        # Greedy: the seed is irrelevant and vLLM ignores top_p; state both so nothing is implied.
        kwargs.update(temperature=0.0, top_p=1.0, seed=None)
    return kwargs


def token_prompts(prompts: Sequence[Sequence[int]], n: int) -> list[dict[str, list[int]]]:
    """vLLM token prompts (the TokensPrompt dict), each prompt repeated n times, prompt-major.

    One request per response rather than SamplingParams(n=N): each response then has its own
    seed, so reproducibility does not depend on how a vLLM version fans out n > 1 internally.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return [{"prompt_token_ids": [int(t) for t in p]} for p in prompts for _ in range(n)]


def request_seeds(base_seed: int, count: int) -> list[int]:
    return [(base_seed + k) % SEED_MODULUS for k in range(count)]


def completion_ids(completion: Any, eos_token_id: int, max_new_tokens: int) -> list[int]:
    """Token ids of one `CompletionOutput`, EOS kept when generated, at most max_new_tokens.

    vLLM keeps the stop token in `token_ids` for stop_token_ids and EOS; if an engine version hid
    it, finish_reason "stop" with stop_reason None (EOS) or our EOS id says it was generated, and it
    is put back, because downstream `truncated` is "EOS not in the response" and H_last is read at
    the EOS position.
    """
    ids = [int(t) for t in completion.token_ids]
    if eos_token_id in ids:
        ids = ids[: ids.index(eos_token_id) + 1]
    elif getattr(completion, "finish_reason", None) == "stop" and getattr(completion, "stop_reason", None) in (None, eos_token_id):
        ids.append(int(eos_token_id))
    return ids[:max_new_tokens]


def group_responses(outputs: Sequence[Any], prompts: Sequence[Sequence[int]], n: int, eos_token_id: int, max_new_tokens: int) -> list[list[list[int]]]:
    """Request outputs (in request order, as built by token_prompts) -> per prompt, n responses.

    Refuses rather than guesses when the engine's answer does not line up with the requests: a
    response attached to the wrong prompt would silently train on garbage.
    """
    if len(outputs) != len(prompts) * n:
        raise RuntimeError(f"vLLM returned {len(outputs)} request outputs for {len(prompts)} prompts x {n} samples = {len(prompts) * n} requests")
    result: list[list[list[int]]] = []
    for i, prompt in enumerate(prompts):
        group: list[list[int]] = []
        for j in range(n):
            out = outputs[i * n + j]
            got = getattr(out, "prompt_token_ids", None)
            if got is not None and [int(t) for t in got] != [int(t) for t in prompt]:
                raise RuntimeError(f"vLLM request output {i * n + j} belongs to another prompt (its prompt_token_ids differ from prompt {i}'s)")
            if len(out.outputs) != 1:
                raise RuntimeError(f"vLLM request output {i * n + j} has {len(out.outputs)} completions; each request asks for exactly 1")
            group.append(completion_ids(out.outputs[0], eos_token_id, max_new_tokens))
        result.append(group)
    return result


def vllm_param_name(name: str, adapter_prefix: str | None) -> str | None:
    """The Hugging Face checkpoint name vLLM's `load_weights` expects, or None to leave it out.

    For a PEFT model (adapter_prefix set, e.g. "lora_") the names carry PEFT's wrapping:
    `base_model.model.` in front, `.base_layer` on wrapped linears, the adapter matrices
    themselves, and `modules_to_save` copies. After merge_adapter the base layers hold
    base + adapter, so only they are sent, under their plain names. Gradient checkpointing does
    not rename parameters in transformers, so it needs nothing here.
    """
    if adapter_prefix is None:
        return name
    if adapter_prefix in name or "original_module" in name:
        return None
    name = name.removeprefix("base_model.model.").replace(".base_layer", "")
    return name.replace("modules_to_save.default.", "")


def is_peft_model(model: Any) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "merge_adapter") and hasattr(model, "unmerge_adapter")


def vllm_weight_items(model: torch.nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) pairs of the policy for vLLM, adapters already merged by the caller."""
    prefix = getattr(model, "prefix", "lora_") if is_peft_model(model) else None
    for name, param in model.named_parameters():
        mapped = vllm_param_name(name, prefix)
        if mapped is not None:
            yield mapped, param.detach()


def engine_model(llm: Any) -> Any:
    """The torch module inside an in-process vLLM engine (V1 first, then V0's layout)."""
    executor = getattr(getattr(llm, "llm_engine", None), "model_executor", None)
    worker = getattr(executor, "driver_worker", None)
    for holder in (getattr(worker, "worker", None), worker):
        model = getattr(getattr(holder, "model_runner", None), "model", None)
        if model is not None and hasattr(model, "load_weights"):
            return model
    raise RuntimeError(
        "cannot reach the model inside the vLLM engine (llm.llm_engine.model_executor.driver_worker[.worker].model_runner.model): "
        "this vLLM version lays its engine out differently, so the policy's weights cannot be pushed; set vllm: false"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vllm_dtype(bf16: bool) -> str:
    return "bfloat16" if bf16 else "float32"


def build_engine(cfg: Any) -> tuple[Any, Callable[..., Any]]:
    """(vllm.LLM, vllm.SamplingParams) for the config's model, in this process, on this GPU."""
    # In-process engine: the trainer reaches its model object to load weights. V1 runs its engine
    # core in a separate process unless told not to; external_launcher reads the torch.distributed
    # variables, which a single-process run does not set.
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    for key, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_ADDR", "127.0.0.1")):
        os.environ.setdefault(key, value)
    os.environ.setdefault("MASTER_PORT", str(_free_port()))
    try:
        import vllm
    except Exception as e:  # ImportError, or a CUDA/torch mismatch raised while importing
        raise RuntimeError(f"config.vllm = true: importing vllm failed ({type(e).__name__}: {e}); fix the vLLM install or set vllm: false") from e
    llm = vllm.LLM(
        model=str(cfg.model),
        tokenizer=str(cfg.model),
        dtype=vllm_dtype(cfg.bf16),
        gpu_memory_utilization=float(cfg.vllm_gpu_memory_utilization),
        max_model_len=int(cfg.max_prompt_tokens + cfg.max_new_tokens),
        seed=int(cfg.seed),
        tensor_parallel_size=1,
        distributed_executor_backend="external_launcher",
        enable_prefix_caching=True,  # the N requests of a prompt share its KV blocks
        generation_config="vllm",  # the sampling knobs come from our config, never from the model folder
    )
    return llm, vllm.SamplingParams


class VLLMSampler:
    """`sample(prompts, n, temperature, top_p, max_new_tokens, seed)` -> per prompt, n id lists.

    `engine` and `params_factory` default to a freshly built vllm.LLM and vllm.SamplingParams;
    passing them is for callers that already hold an engine.
    """

    def __init__(self, cfg: Any, model: torch.nn.Module, eos_token_id: int, engine: Any = None, params_factory: Callable[..., Any] | None = None):
        self.model = model
        self.eos_token_id = int(eos_token_id)
        if engine is None:
            engine, default_factory = build_engine(cfg)
            params_factory = params_factory or default_factory
        if params_factory is None:
            raise ValueError("params_factory is required when an engine is passed in")
        self.llm = engine
        self.params_factory = params_factory
        self.stale = True  # the engine holds the folder's weights, not necessarily the policy's
        self.syncs = 0
        self.last_sync_s = 0.0

    def watch(self, optimizer: torch.optim.Optimizer) -> None:
        """Mark the engine's copy stale after every step of this optimizer (RL and warm start)."""
        optimizer.register_step_post_hook(lambda opt, args, kwargs: self.mark_stale())

    def mark_stale(self) -> None:
        self.stale = True

    @torch.no_grad()
    def sync_weights(self) -> None:
        t0 = time.perf_counter()
        target = engine_model(self.llm)
        peft = is_peft_model(self.model)
        if peft:
            self.model.merge_adapter()
        try:
            target.load_weights(vllm_weight_items(self.model))
        finally:
            if peft:
                self.model.unmerge_adapter()
        reset = getattr(self.llm, "reset_prefix_cache", None)
        if callable(reset):
            reset()
        self.stale = False
        self.syncs += 1
        self.last_sync_s = time.perf_counter() - t0

    def sample(self, prompts: Sequence[Sequence[int]], n: int, temperature: float, top_p: float, max_new_tokens: int, seed: int) -> list[list[list[int]]]:
        if not prompts:
            return []
        self.last_sync_s = 0.0
        if self.stale:
            self.sync_weights()
        requests = token_prompts(prompts, n)
        params = [self.params_factory(**sampling_params_kwargs(temperature, top_p, max_new_tokens, self.eos_token_id, s)) for s in request_seeds(seed, len(requests))]
        outputs = self.llm.generate(requests, sampling_params=params, use_tqdm=False)
        return group_responses(outputs, prompts, n, self.eos_token_id, max_new_tokens)

