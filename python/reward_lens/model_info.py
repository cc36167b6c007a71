"""What a policy is, read from its config alone (no weights, no torch): sizes, context, RoPE.

Used before anything starts: the config check refuses a prompt budget plus `max_new_tokens` that
the model cannot attend over, `--check-config` estimates peak memory from these sizes, and
`run_start` records the context and RoPE settings the run trained with.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class ModelInfo:
    source: str  # where the sizes came from: "<path>/config.json" or "tiny spec"
    architecture: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    layers: int
    heads: int
    kv_heads: int
    max_position_embeddings: int | None
    tie_word_embeddings: bool
    rope_theta: float | None
    rope_scaling: Any
    attention_dropout: float
    dtype: str | None

    def to_dict(self) -> dict:
        return asdict(self)

    def parameters(self) -> int:
        """Parameter count of a decoder-only transformer of these sizes (Qwen2/Llama layout).

        Per layer: q and o (H x H), k and v (H x kv_dim) with biases as Qwen2, a gated MLP
        (3 x H x I) and two norms; plus the embedding, a final norm and an untied head.
        """
        h, i, v = self.hidden_size, self.intermediate_size, self.vocab_size
        head_dim = h // max(1, self.heads)
        kv = head_dim * self.kv_heads
        attn = 2 * h * h + 2 * h * kv + (h + 2 * kv)
        mlp = 3 * h * i if self.architecture != "gpt2" else 2 * h * i + i + h
        per_layer = attn + mlp + 2 * h
        head = 0 if self.tie_word_embeddings else v * h
        return v * h + self.layers * per_layer + h + head


def _rope(conf: dict) -> tuple[float | None, Any]:
    # transformers >= 5 writes rope_parameters; older checkpoints (Qwen2.5-Math's) rope_theta and rope_scaling.
    params = conf.get("rope_parameters")
    theta = conf.get("rope_theta")
    scaling = conf.get("rope_scaling")
    if isinstance(params, dict):
        theta = params.get("rope_theta", theta)
        rest = {k: v for k, v in params.items() if k != "rope_theta"}
        if rest and rest != {"rope_type": "default"}:
            scaling = rest
    return (float(theta) if isinstance(theta, (int, float)) else None), scaling


def from_hf_config(conf: dict, source: str) -> ModelInfo:
    if conf.get("model_type") == "gpt2":
        h = int(conf.get("n_embd", 768))
        return ModelInfo(
            source, "gpt2", int(conf.get("vocab_size", 50257)), h, int(conf.get("n_inner") or 4 * h), int(conf.get("n_layer", 12)),
            int(conf.get("n_head", 12)), int(conf.get("n_head", 12)), conf.get("n_positions"), bool(conf.get("tie_word_embeddings", True)),
            None, None, float(conf.get("attn_pdrop", 0.0) or 0.0), conf.get("dtype") or conf.get("torch_dtype"),
        )
    text = conf.get("text_config") if isinstance(conf.get("text_config"), dict) else conf
    h = int(text.get("hidden_size", 0))
    heads = int(text.get("num_attention_heads", 1))
    theta, scaling = _rope(text)
    arch = (conf.get("architectures") or [conf.get("model_type", "unknown")])[0]
    return ModelInfo(
        source, str(arch), int(text.get("vocab_size", 0)), h, int(text.get("intermediate_size") or 4 * h), int(text.get("num_hidden_layers", 0)),
        heads, int(text.get("num_key_value_heads") or heads), text.get("max_position_embeddings"), bool(conf.get("tie_word_embeddings", text.get("tie_word_embeddings", False))),
        theta, scaling, float(text.get("attention_dropout", 0.0) or 0.0), conf.get("dtype") or conf.get("torch_dtype"),
    )


def from_tiny_spec(spec: dict, vocab_size: int) -> ModelInfo:
    """The sizes policy._tiny_model builds from a {"tiny": {...}} spec (same defaults)."""
    h = int(spec.get("hidden_size", 128))
    heads = int(spec.get("heads", 4))
    arch = spec.get("arch", "qwen2")
    return ModelInfo(
        "tiny spec", "gpt2" if arch == "gpt2" else "Qwen2ForCausalLM", vocab_size, h, int(spec.get("intermediate_size", h * 4)), int(spec.get("layers", 2)),
        heads, int(spec.get("kv_heads", heads)), int(spec.get("max_positions", 512)), bool(spec.get("tie_embeddings", True)) if arch != "gpt2" else True,
        None if arch == "gpt2" else float(spec.get("rope_theta", 10000.0)), None, 0.1 if arch == "gpt2" else 0.0, "float32",
    )


def read_model_info(model: Any) -> ModelInfo | None:
    """ModelInfo for a config's `model` field, or None when its config.json cannot be read."""
    if isinstance(model, dict) and isinstance(model.get("tiny"), dict):
        from .chartok import CharTokenizer

        return from_tiny_spec(model["tiny"], CharTokenizer(model["tiny"].get("alphabet")).vocab_size)
    if not isinstance(model, str):
        return None
    path = Path(model) / "config.json"
    try:
        conf = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(conf, dict):
        return None
    return from_hf_config(conf, str(path))
