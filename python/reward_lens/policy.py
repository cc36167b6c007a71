"""The policy: a causal LM with its tokenizer, prompt formatting, sampling and per-token statistics.

`model` in the config is either a local path (loaded with transformers, nothing downloaded:
HF_HUB_OFFLINE is honoured by transformers itself) or {"tiny": {...}}: a random Qwen2 or GPT-2
created from a config with the character tokenizer of chartok.py (tests and the CPU demo).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .chartok import CharTokenizer
from .config import PAPER_PLAIN_TEMPLATE, TrainConfig
from .loss import token_logprobs_and_entropy


class TokenizerAdapter:
    """One interface over the char tokenizer and HF tokenizers (encode without special tokens)."""

    def __init__(self, tok: Any, kind: str):
        self.tok = tok
        self.kind = kind
        if kind == "hf":
            if tok.pad_token_id is None:
                tok.pad_token = tok.eos_token
            self.eos_token_id = tok.eos_token_id
            self.pad_token_id = tok.pad_token_id
            self.vocab_size = len(tok)
        else:
            self.eos_token_id = tok.eos_token_id
            self.pad_token_id = tok.pad_token_id
            self.vocab_size = tok.vocab_size

    def encode(self, text: str) -> list[int]:
        if self.kind == "hf":
            return self.tok.encode(text, add_special_tokens=False)
        return self.tok.encode(text)

    def decode(self, ids: list[int]) -> str:
        if self.kind == "hf":
            return self.tok.decode(ids, skip_special_tokens=True)
        return self.tok.decode(ids)

    def char_offsets(self, ids: list[int], positions: list[int]) -> list[int]:
        """Character offset in decode(ids) where each token at `positions` starts."""
        if self.kind != "hf":
            out, acc, want = [], 0, set(positions)
            for i, t in enumerate(ids):
                if i in want:
                    out.append(acc)
                acc += len(self.tok.token_text(int(t)))
            return out
        # Subword decoding is not additive (merges, byte fallback): decode each prefix instead.
        return [len(self.tok.decode(ids[:p], skip_special_tokens=True)) for p in positions]

    def format_prompt(self, question: str, system: str, template: str | None) -> str:
        if template is None and self.kind == "hf" and getattr(self.tok, "chat_template", None):
            msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": question}]
            return self.tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return (template or PAPER_PLAIN_TEMPLATE).replace("{system}", system).replace("{question}", question)


def _tiny_model(spec: dict, vocab_size: int, pad_id: int, eos_id: int):
    from transformers import GPT2Config, GPT2LMHeadModel, Qwen2Config, Qwen2ForCausalLM

    arch = spec.get("arch", "qwen2")
    hidden = int(spec.get("hidden_size", 128))
    layers = int(spec.get("layers", 2))
    heads = int(spec.get("heads", 4))
    max_pos = int(spec.get("max_positions", 512))
    if arch == "gpt2":
        conf = GPT2Config(vocab_size=vocab_size, n_positions=max_pos, n_embd=hidden, n_layer=layers, n_head=heads, bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=pad_id)
        return GPT2LMHeadModel(conf)
    conf = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=int(spec.get("intermediate_size", hidden * 4)),
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=int(spec.get("kv_heads", heads)),
        max_position_embeddings=max_pos,
        tie_word_embeddings=bool(spec.get("tie_embeddings", True)),
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        rope_theta=float(spec.get("rope_theta", 10000.0)),
    )
    return Qwen2ForCausalLM(conf)


def pick_device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("config.device = \"cuda\" but no CUDA device is visible")
        return torch.device("cuda")
    return torch.device("cpu")


def describe_model(cfg: TrainConfig) -> str:
    if isinstance(cfg.model, dict):
        t = cfg.model["tiny"]
        return f"tiny-{t.get('arch', 'qwen2')}-h{t.get('hidden_size', 128)}-l{t.get('layers', 2)}-char"
    return str(cfg.model)


def build_policy(cfg: TrainConfig, device: torch.device):
    """(model, TokenizerAdapter) on the device, with LoRA and gradient checkpointing as configured."""
    if isinstance(cfg.model, dict):
        spec = cfg.model["tiny"]
        tok = TokenizerAdapter(CharTokenizer(spec.get("alphabet")), "char")
        model = _tiny_model(spec, tok.vocab_size, tok.pad_token_id, tok.eos_token_id)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = TokenizerAdapter(AutoTokenizer.from_pretrained(cfg.model), "hf")
        model = AutoModelForCausalLM.from_pretrained(cfg.model, torch_dtype=torch.float32)
    if cfg.lora:
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError as e:
            raise RuntimeError("config.lora is set but peft is not installed (pip install 'reward-lens[gpu]')") from e
        lcfg = LoraConfig(
            r=int(cfg.lora.get("r", 16)),
            lora_alpha=int(cfg.lora.get("alpha", 32)),
            lora_dropout=float(cfg.lora.get("dropout", 0.0)),
            target_modules=cfg.lora.get("target_modules", ["q_proj", "k_proj", "v_proj", "o_proj"]),
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lcfg)
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        if hasattr(model, "config"):
            model.config.use_cache = False
    model.to(device)
    return model, tok


def autocast(cfg: TrainConfig, device: torch.device):
    if device.type == "cuda" and cfg.bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


@torch.no_grad()
def sample(model, tok: TokenizerAdapter, prompts: list[list[int]], n: int, temperature: float, top_p: float, max_new_tokens: int, cfg: TrainConfig, device) -> list[list[list[int]]]:
    """N responses per prompt (token ids, EOS kept when generated). Greedy when temperature is 0."""
    was_training = model.training
    model.eval()
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), tok.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):  # left padding, as decoder-only generation needs
        ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
        mask[i, width - len(p):] = 1
    kwargs: dict[str, Any] = dict(
        input_ids=ids.to(device),
        attention_mask=mask.to(device),
        max_new_tokens=max_new_tokens,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        num_return_sequences=n,
        use_cache=True,
    )
    if temperature > 0:
        # top_k=0: the exact tempered distribution, so H_last is the entropy we sampled from.
        kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
    else:
        kwargs.update(do_sample=False)
    with autocast(cfg, device):
        out = model.generate(**kwargs)
    if was_training:
        model.train()
    gen = out[:, width:].tolist()
    result: list[list[list[int]]] = []
    for i in range(len(prompts)):
        group = []
        for seq in gen[i * n:(i + 1) * n]:
            resp: list[int] = []
            for t in seq:
                resp.append(t)
                if t == tok.eos_token_id:
                    break
            while resp and resp[-1] == tok.pad_token_id and tok.pad_token_id != tok.eos_token_id:
                resp.pop()
            group.append(resp)
        result.append(group)
    return result


@dataclass
class SeqStats:
    logp: torch.Tensor  # (B, T) log-probs of response tokens at the temperature
    entropy: torch.Tensor  # (B, T) entropy (nats) of each response position's distribution
    mask: torch.Tensor  # (B, T) 1 on response tokens


def response_stats(model, prompts: list[list[int]], responses: list[list[int]], temperature: float, pad_id: int, device, cfg: TrainConfig) -> SeqStats:
    """Forward prompt+response (right-padded); statistics aligned to response tokens."""
    seqs = [p + r for p, r in zip(prompts, responses)]
    width = max(len(s) for s in seqs)
    tmax = max(1, max(len(r) for r in responses))
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(seqs), width), dtype=torch.long)
    gather_pos = torch.zeros((len(seqs), tmax), dtype=torch.long)
    targets = torch.full((len(seqs), tmax), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), tmax))
    for i, (p, r) in enumerate(zip(prompts, responses)):
        s = p + r
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        attn[i, : len(s)] = 1
        if r:
            # logits at position t predict token t+1: response token j sits at len(p)+j.
            gather_pos[i, : len(r)] = torch.arange(len(p) - 1, len(p) - 1 + len(r))
            targets[i, : len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, : len(r)] = 1
    ids, attn, gather_pos, targets, mask = (x.to(device) for x in (ids, attn, gather_pos, targets, mask))
    with autocast(cfg, device):
        logits = model(input_ids=ids, attention_mask=attn).logits
    picked = torch.gather(logits, 1, gather_pos.unsqueeze(-1).expand(-1, -1, logits.shape[-1]))
    logp, entropy = token_logprobs_and_entropy(picked, targets, temperature)
    return SeqStats(logp, entropy, mask)
