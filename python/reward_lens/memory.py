"""An estimate of the trainer's peak accelerator memory for a config, from the model's sizes alone.

`python -m reward_lens.train --check-config` prints it, and warns when it exceeds the visible
device. It is an estimate for choosing settings (a rule of thumb within tens of percent, not a
measurement): the allocator's fragmentation, CUDA context (~0.5 GB) and library workspaces come on
top. What it counts, in bytes:

- weights: the trainer keeps float32 master weights (bf16 is autocast), 4 B per parameter;
- gradients: 4 B per trainable parameter (all of them, or the LoRA adapters only);
- optimizer: AdamW's two float32 moments, 8 B per trainable parameter;
- activations of one micro-batch of `max_tokens_per_micro_batch` tokens, per token and layer
  about (6 H + 4 I) values in the compute dtype without checkpointing (attention via SDPA, no
  S x S scores kept); with `gradient_checkpointing`, one H-wide input per layer plus one layer's
  activations;
- the log-prob head: a few `logits_chunk_tokens` x vocab float32 buffers (logprobs.py keeps three
  alive at most, in backward);
- generation: the KV cache of batch_prompts x rollout_n sequences of prompt + max_new_tokens
  tokens (2 x layers x kv_heads x head_dim values each), plus one vocab-wide float32 row per
  sequence; generation and the update do not overlap, so the peak takes the larger.
With vLLM, `vllm_gpu_memory_utilization` of the device is reserved on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model_info import ModelInfo

GB = 1024**3


@dataclass
class MemoryEstimate:
    parts: dict[str, float] = field(default_factory=dict)  # bytes
    peak: float = 0.0
    device: str = ""
    device_bytes: float | None = None
    notes: list[str] = field(default_factory=list)

    def warning(self) -> str | None:
        if self.device_bytes is None:
            return None
        if self.peak > self.device_bytes:
            return (
                f"estimated peak {self.peak / GB:.1f} GiB exceeds the visible device ({self.device}, {self.device_bytes / GB:.1f} GiB): "
                "lower max_tokens_per_micro_batch, rollout_n or max_new_tokens, or set gradient_checkpointing: true, or train LoRA adapters"
            )
        return None

    def lines(self) -> list[str]:
        out = [f"memory estimate (peak, {self.device or 'no device'}): {self.peak / GB:.2f} GiB"]
        for k, v in self.parts.items():
            out.append(f"  {k:<44} {v / GB:9.3f} GiB")
        out += [f"  note: {n}" for n in self.notes]
        return out

    def to_dict(self) -> dict:
        return {
            "peak_gib": self.peak / GB,
            "parts_gib": {k: v / GB for k, v in self.parts.items()},
            "device": self.device,
            "device_gib": None if self.device_bytes is None else self.device_bytes / GB,
            "notes": self.notes,
        }


def lora_parameters(info: ModelInfo, lora: dict) -> int:
    r = int(lora.get("r", 16))
    targets = lora.get("target_modules", ["q_proj", "k_proj", "v_proj", "o_proj"])
    h, i = info.hidden_size, info.intermediate_size
    kv = (h // max(1, info.heads)) * info.kv_heads
    shapes = {"q_proj": (h, h), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (h, h), "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}
    per_layer = sum(r * (a + b) for name, (a, b) in shapes.items() if name in targets)
    return info.layers * per_layer


def estimate(cfg, info: ModelInfo, device: str, device_bytes: float | None) -> MemoryEstimate:
    """Peak bytes of one RL step (generation, statistics and update) for cfg on a model like info."""
    est = MemoryEstimate(device=device, device_bytes=device_bytes)
    on_cuda = device.startswith("cuda")
    act_bytes = 2 if (on_cuda and cfg.bf16) else 4
    params = info.parameters()
    trainable = lora_parameters(info, cfg.lora) if cfg.lora else params
    est.parts["weights (fp32)"] = 4.0 * params
    est.parts["gradients"] = 4.0 * trainable
    est.parts["optimizer (AdamW)"] = 8.0 * trainable
    tokens = cfg.max_tokens_per_micro_batch
    h, i, layers = info.hidden_size, info.intermediate_size, info.layers
    full_layer = tokens * (6 * h + 4 * i) * act_bytes
    if cfg.gradient_checkpointing:
        act = layers * tokens * h * act_bytes + full_layer
    else:
        act = layers * full_layer
    chunk = min(cfg.logits_chunk_tokens, tokens)
    head = 3.0 * chunk * info.vocab_size * 4
    est.parts[f"activations ({tokens} tokens{', checkpointed' if cfg.gradient_checkpointing else ''})"] = float(act)
    est.parts[f"log-prob head ({chunk}-token chunks)"] = head
    seqs = cfg.batch_prompts * cfg.rollout_n
    head_dim = h // max(1, info.heads)
    kv = seqs * (cfg.max_prompt_tokens + cfg.max_new_tokens) * 2 * layers * info.kv_heads * head_dim * act_bytes
    gen = kv + seqs * info.vocab_size * 4.0
    est.parts[f"generation KV cache ({seqs} sequences)"] = float(gen)
    fixed = est.parts["weights (fp32)"] + est.parts["gradients"] + est.parts["optimizer (AdamW)"]
    est.peak = fixed + max(act + head, gen)
    if cfg.vllm and device_bytes is not None:
        est.parts["vLLM reservation"] = cfg.vllm_gpu_memory_utilization * device_bytes
        est.peak += est.parts["vLLM reservation"]
        est.notes.append("with vLLM, generation runs in its reservation; the KV cache line above is transformers' generate")
    if info.max_position_embeddings is not None and cfg.max_prompt_tokens + cfg.max_new_tokens > info.max_position_embeddings:
        est.notes.append(f"max_prompt_tokens + max_new_tokens = {cfg.max_prompt_tokens + cfg.max_new_tokens} > max_position_embeddings {info.max_position_embeddings}")
    est.notes.append(f"{params / 1e6:.1f}M parameters ({trainable / 1e6:.1f}M trainable), vocab {info.vocab_size}, from {info.source}")
    return est


def visible_device() -> tuple[str, float | None]:
    """('cuda:0 NAME', total bytes) of the first visible CUDA device, or a CPU description and None."""
    try:
        import torch

        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            return f"cuda:0 {props.name}", float(props.total_memory)
    except Exception:  # noqa: BLE001 - an estimate must never fail the config check
        pass
    return "no CUDA device visible", None
